// The Score view: the engine's MusicXML drawn by OpenSheetMusicDisplay (BSD-3-Clause, served from this site's
// vendor/ folder). The renderer is loaded only when the view first opens; the service worker then keeps it for
// offline use. During playback a cursor follows the score: playback time -> beat (the score's beat times) ->
// position in whole notes, which is how the renderer counts.

let loading = null;

function loadRenderer() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = new URL('./vendor/opensheetmusicdisplay.min.js', import.meta.url).href;
      s.onload = () => (window.opensheetmusicdisplay ? resolve(window.opensheetmusicdisplay) : reject(new Error('the score renderer did not start')));
      s.onerror = () => { loading = null; reject(new Error('the score renderer could not be loaded')); };
      document.head.appendChild(s);
    });
  }
  return loading;
}

export class ScoreView {
  constructor(container) {
    this.container = container;
    this.osmd = null;
    this.beats = null;
    this.quartersPerBeat = 1;
    this.at = -1; // the cursor's position in whole notes
  }

  // Draws `score` ({ musicxml, beatTimes, quartersPerBeat }).
  async show(score) {
    const lib = await loadRenderer();
    this.container.replaceChildren();
    this.osmd = new lib.OpenSheetMusicDisplay(this.container, {
      backend: 'svg', autoResize: false, autoBeam: true, drawTitle: true, drawPartNames: false, followCursor: true,
      drawingParameters: 'compact',
    });
    // Notes closer together than the renderer's default, so that a bar of sixteenths leaves room for others.
    this.osmd.EngravingRules.VoiceSpacingMultiplierVexflow = 0.65;
    this.osmd.EngravingRules.VoiceSpacingAddendVexflow = 2.0;
    await this.osmd.load(score.musicxml);
    this.osmd.zoom = this.zoomFor();
    this.osmd.render();
    this.beats = score.beatTimes;
    this.quartersPerBeat = score.quartersPerBeat;
    this.osmd.cursor.show();
    this.at = 0;
    this.describe();
  }

  // The drawing's scale for the container's width: full size from 1000 px, down to half on a phone, so that
  // several bars fit on a line and none is wider than the screen.
  zoomFor() {
    return Math.min(1, Math.max(0.5, this.container.clientWidth / 1000));
  }

  // After a resize: redrawn at the scale for the new width, once the width has settled (the renderer's own
  // resizing is off: it would redraw at the old scale).
  fit() {
    clearTimeout(this.fitting);
    this.fitting = setTimeout(() => {
      const width = this.container.clientWidth;
      if (!this.osmd || this.container.hidden || width === this.drawnWidth) return;
      this.osmd.zoom = this.zoomFor();
      this.osmd.render();
      this.describe();
    }, 200);
  }

  // What was drawn, for the page tests: measures, staves per system, systems, scale.
  describe() {
    const measures = this.osmd.GraphicSheet.MeasureList; // [measure][staff]
    const systems = this.osmd.GraphicSheet.MusicPages.reduce((n, p) => n + p.MusicSystems.length, 0);
    this.container.dataset.staves = String(measures.length ? measures[0].length : 0);
    this.container.dataset.measures = String(measures.length);
    this.container.dataset.systems = String(systems);
    this.container.dataset.zoom = this.osmd.zoom.toFixed(2);
    this.drawnWidth = this.container.clientWidth;
  }

  // Whole notes from the score's start at playback time t (seconds): linear between beats, the edge beat
  // periods outside them.
  wholeNotesAt(t) {
    const b = this.beats;
    const n = b.length;
    let pos;
    if (t <= b[0]) pos = (t - b[0]) / (b[1] - b[0]);
    else if (t >= b[n - 1]) pos = n - 1 + (t - b[n - 1]) / (b[n - 1] - b[n - 2]);
    else {
      let lo = 0, hi = n - 1;
      while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (b[mid] <= t) lo = mid; else hi = mid; }
      pos = lo + (t - b[lo]) / (b[lo + 1] - b[lo]);
    }
    return Math.max(0, pos) * this.quartersPerBeat / 4;
  }

  // Moves the cursor to the last note or rest that has started by playback time t.
  follow(t) {
    if (!this.osmd || !this.beats || this.beats.length < 2) return;
    const target = this.wholeNotesAt(t);
    const cursor = this.osmd.cursor;
    const now = () => cursor.iterator.currentTimeStamp.RealValue;
    if (now() > target + 1e-9) cursor.reset();
    while (!cursor.iterator.EndReached) {
      cursor.next();
      if (cursor.iterator.EndReached || now() > target + 1e-9) { cursor.previous(); break; }
    }
    this.at = now();
    this.container.dataset.cursor = this.at.toFixed(4);
  }

  clear() {
    this.osmd = null;
    this.beats = null;
    this.container.replaceChildren();
    delete this.container.dataset.measures;
    delete this.container.dataset.staves;
    delete this.container.dataset.systems;
  }
}
