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
      backend: 'svg', autoResize: true, autoBeam: true, drawTitle: true, drawPartNames: false, followCursor: true,
    });
    await this.osmd.load(score.musicxml);
    this.osmd.render();
    this.beats = score.beatTimes;
    this.quartersPerBeat = score.quartersPerBeat;
    this.osmd.cursor.show();
    this.at = 0;
    const measures = this.osmd.GraphicSheet.MeasureList; // [measure][staff]
    this.container.dataset.staves = String(measures.length ? measures[0].length : 0);
    this.container.dataset.measures = String(measures.length);
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
  }
}
