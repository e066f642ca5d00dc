// pianoscribe page: the UI's state and wiring. A file goes to the engine worker (engine-client.js), which reads
// and decodes it in pieces and transcribes as it goes; the piano roll (roll.js) fills in segment by segment;
// playback (playback.js) plays the original file and the transcription; the MIDI file is offered for download.
// Nothing here sends data anywhere: every request is for the app's own files.
import { buildHashes } from './store.js';
import { listModels, loadModel, modelPath } from './model.js';
import { EngineClient, UserError } from './engine-client.js';
import { drawRoll, timeAt, pitchAt, pitchName } from './roll.js';
import { Player } from './playback.js';
import { ScoreView } from './score-view.js';

const $ = (id) => document.getElementById(id);
const RELOAD_FLAG = 'pianoscribe-isolation-reload';
const MODEL_CHOICE = 'pianoscribe-model';
const params = new URLSearchParams(location.search);

const state = {
  engine: null, // an EngineClient once the model is loaded
  starting: null, // the promise of the engine being ready (null after a failure: the next file tries again)
  notice: null, // said once the engine is ready (a model the address named that the site does not offer)
  progress: null, // the engine's last report during a run: { fraction, stage }
  busy: false,
  notes: new Float64Array(0),
  pedals: new Float64Array(0),
  transcription: null, // the id of the worker's copy of the last transcription (its score is written there)
  duration: 0,
  name: 'transcription',
  midiUrl: null,
  view: 'roll', // or 'score'
  score: null, // the score of the current transcription: { musicxml, midi, beatTimes, quartersPerBeat, summary }
  scoreKey: '', // the options it was made with
  scoreUrls: [],
};
const scoreView = new ScoreView(document.getElementById('score'));

const player = new Player({
  onTick: (t) => { $('clock').textContent = `${clock(t)} / ${clock(state.duration)}`; draw(t); },
  onStop: () => { $('play').textContent = '▶ Play'; draw(); },
  onStatus: (text) => { $('play-status').textContent = text; },
});

function say(text, isError = false) {
  $('message').textContent = text;
  $('message').className = isError ? 'error' : '';
}

function setBar(id, fraction, label) {
  const bar = $(id);
  bar.hidden = fraction === null;
  if (fraction === null) return;
  const percent = Math.round(Math.min(1, Math.max(0, fraction)) * 1000) / 10;
  bar.firstElementChild.style.width = `${percent}%`;
  bar.lastElementChild.textContent = label;
  bar.setAttribute('aria-valuenow', String(percent));
  bar.setAttribute('aria-valuetext', label);
}

function clock(seconds) {
  if (!isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function draw(cursor = null) {
  if (state.view === 'score') {
    if (cursor !== null) scoreView.follow(cursor);
    return;
  }
  drawRoll($('roll'), { notes: state.notes, pedals: state.pedals, duration: state.duration, cursor });
}

// ---- the score view ----
// The score options come from the engine's defaults (ScoreOptions), with the page's one control on top.
function scoreOptions() {
  const base = (state.engine && state.engine.info && state.engine.info.scoreDefaults) || {};
  return { ...base, hands: $('hands').checked };
}

function forgetScore() {
  state.score = null;
  state.scoreKey = '';
  for (const u of state.scoreUrls) URL.revokeObjectURL(u);
  state.scoreUrls = [];
  $('download-xml').hidden = true;
  $('download-score-midi').hidden = true;
  $('score-status').textContent = '';
  scoreView.clear();
}

function link(id, blob, name, text) {
  const url = URL.createObjectURL(blob);
  state.scoreUrls.push(url);
  const a = $(id);
  a.href = url;
  a.download = name;
  a.textContent = text;
  a.hidden = false;
}

async function showView(view) {
  state.view = view;
  $('view-roll').setAttribute('aria-selected', String(view === 'roll'));
  $('view-score').setAttribute('aria-selected', String(view === 'score'));
  $('roll-panel').hidden = view !== 'roll';
  $('score').hidden = view !== 'score';
  $('hands-label').hidden = view !== 'score';
  if (view === 'roll') { draw(); return; }
  const options = scoreOptions();
  const key = JSON.stringify(options);
  if (state.score && state.scoreKey === key) { scoreView.fit(); return; } // drawn: at this width's scale
  if (!state.notes.length) { $('score-status').textContent = 'No notes to write a score of.'; return; }
  forgetScore();
  $('score-status').textContent = 'Writing the score…';
  $('view-score').disabled = true;
  try {
    const engine = await startEngine();
    const score = await engine.score(state.transcription, options, state.name);
    state.score = score;
    state.scoreKey = key;
    $('score-status').textContent = `${score.summary.bars} bars of ${score.summary.timeSignature}; drawing…`;
    link('download-xml', new Blob([score.musicxml], { type: 'application/vnd.recordare.musicxml+xml' }),
      `${state.name}.musicxml`, 'Download MusicXML');
    link('download-score-midi', new Blob([score.midi], { type: 'audio/midi' }), `${state.name}-score.mid`,
      'beat-aligned MIDI');
    await scoreView.show(score);
    $('score-status').textContent = `${score.summary.bars} bars of ${score.summary.timeSignature}`;
  } catch (err) {
    $('score-status').textContent = err instanceof UserError ? err.message : `The score could not be shown: ${err.message || err}`;
  } finally {
    $('view-score').disabled = false;
  }
}

function setBusy(busy) {
  state.busy = busy;
  if (busy) document.body.dataset.busy = '1';
  else delete document.body.dataset.busy;
  $('file').disabled = busy;
  $('try-sample').disabled = busy;
  $('model').disabled = busy;
  $('cancel').hidden = !busy;
  $('cancel').disabled = false;
}

// ---- isolation: threads need cross-origin isolation; a same-origin service worker can provide it ----
// Resolves to the promise's value, or to `fallback` after `ms` (service workers can be blocked or stall).
function within(ms, promise, fallback) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(fallback), ms))]);
}

async function setUpServiceWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  try {
    const reg = await within(5000, navigator.serviceWorker.register('./sw.js', { scope: './' }), null);
    if (!reg) return;
  } catch (err) {
    console.warn('service worker unavailable:', err);
    return;
  }
  if (!window.crossOriginIsolated && !sessionStorage.getItem(RELOAD_FLAG)) {
    // The service worker adds the isolation headers once it controls the page: reload once to get them.
    const ready = await within(10000, navigator.serviceWorker.ready, null);
    if (!ready) return;
    sessionStorage.setItem(RELOAD_FLAG, '1');
    location.reload();
    return new Promise(() => {});
  }
}

// ---- the engine: model download, worker start; after a failure the next file tries again ----
// The model picker: the site's models with size and figures; the choice is ?model=FILE, else the last one
// picked here, else the list's first (the default).
async function chosenModel() {
  const select = $('model');
  if (!select.options.length) {
    const list = await listModels();
    for (const m of list) {
      // Figures come from the bundle's provenance (build.sh reads them with `pianoscribe info --json`).
      const f1 = m.scores?.['maps-dev']?.note;
      // The figure in words: note F1 on maps-dev (real piano recordings the model was not trained on).
      const figures = [m.about, f1 ? `${(f1 * 100).toFixed(1)}% of notes right on test recordings` : ''].filter(Boolean).join('; ');
      const option = new Option(`${m.name} (${(m.bytes / 1e6).toFixed(1)} MB${figures ? `; ${figures}` : ''})`, m.file);
      option.dataset.family = m.family;
      select.add(option);
    }
    const asked = params.get('model');
    const wanted = asked || localStorage.getItem(MODEL_CHOICE);
    if (list.some((m) => m.file === wanted)) select.value = wanted;
    else if (asked) {
      // The address names a model this site does not offer: say so, run the default, and take the name out of
      // the address so that it no longer claims what runs.
      state.notice = `The address asked for the model “${asked}”, which this page does not offer; `
        + `running ${select.selectedOptions[0].textContent.replace(/ \(.*/, '')} instead.`;
      params.delete('model');
      history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
    }
  }
  return select.value;
}

// A new model: the engine restarts with it when the next file comes (or now, to show it is ready).
function switchModel() {
  if (state.busy) return;
  localStorage.setItem(MODEL_CHOICE, $('model').value);
  if (state.engine) state.engine.stop();
  state.engine = null;
  state.starting = null;
  const line = $('engine-line');
  delete line.dataset.threads;
  delete line.dataset.family;
  startEngine().catch(() => {});
}

function startEngine() {
  if (state.starting) return state.starting;
  const starting = (async () => {
    $('engine-line').textContent = 'Loading the engine and the model (the first visit downloads up to 40 MB; then the page works offline)…';
    const hashes = await buildHashes();
    const file = await chosenModel();
    const path = modelPath(file);
    const model = await loadModel(path, hashes[path], (f, got, total) => setBar('model-bar', f ?? 0,
      `Downloading the model: ${(got / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB (once; kept for offline use)`));
    setBar('model-bar', null);
    $('engine-line').textContent = 'Starting the engine…';
    // ?threads=N caps the pool (for comparisons); by default every core is used.
    const cap = Number(params.get('threads')) || Infinity;
    const threads = window.crossOriginIsolated ? Math.max(1, Math.min(cap, navigator.hardwareConcurrency || 1)) : 1;
    const engine = new EngineClient({
      model, threads, search: location.search, hashes,
      onLoading: ({ got, total }) => setBar('model-bar', total ? got / total : 0,
        `Downloading the engine: ${(got / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB (once; kept for offline use)`),
    });
    await engine.start();
    setBar('model-bar', null);
    if (state.starting !== starting) { // another model was picked meanwhile: that one's engine serves
      engine.stop();
      return state.starting || startEngine();
    }
    state.engine = engine;
    describeEngine(engine.info);
    if (state.notice) { say(state.notice, true); state.notice = null; }
    return engine;
  })();
  state.starting = starting;
  starting.catch((err) => {
    if (state.starting !== starting) return;
    err.reported = true;
    state.starting = null;
    setBar('model-bar', null);
    $('engine-line').textContent = '';
    const what = err.message.startsWith('The ') ? err.message : `The engine could not start: ${err.message}`;
    say(`${what}. Choose a file to try again.`, true);
  });
  return starting;
}

function describeEngine(info) {
  const line = $('engine-line');
  const model = $('model').selectedOptions[0]?.textContent.replace(/ \(.*/, '') || info.model.family;
  line.textContent = window.crossOriginIsolated
    ? `Ready: ${model}, using ${info.threads} processor threads. Your audio stays on this device.`
    : `Ready: ${model}, using 1 processor thread (this site is not set up for more here: it works, only slower). Your audio stays on this device.`;
  line.title = `WebAssembly ${info.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD'} build, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  line.dataset.threads = String(info.threads);
  line.dataset.simd = info.simd;
  line.dataset.family = info.model.family;
  const hop = info.faster.segmentHopSeconds;
  const seg = info.model.segmentSeconds;
  // Onsets & Frames models have no Faster mode of their own (they are the fast family).
  $('fast').disabled = hop === info.defaults.segmentHopSeconds;
  $('fast-label').title = $('fast').disabled
    ? 'This model has no Faster mode: it is already fast'
    : `Segments overlap by ${seg - hop} s instead of ${seg - info.defaults.segmentHopSeconds} s: less work, about the same accuracy (see the README)`;
}

// The options object of the engine (TranscribeOptions): its defaults, or the Faster mode's, and the boxes.
function options(info) {
  const base = $('fast').checked ? info.faster : info.defaults;
  return { ...base, pedalExtend: $('pedal-extend').checked, includePedals: $('include-pedals').checked };
}

// ---- transcription ----
// The progress bar's label: what the engine is doing (the network on which segments, or writing down a
// segment's notes), the time elapsed, which a timer keeps moving between the engine's reports, and the time
// left once a segment is done.
function showProgress(started) {
  const { fraction, stage } = state.progress || { fraction: 0, stage: null };
  const elapsed = (performance.now() - started) / 1000;
  const of = stage && stage.total ? ` of ${stage.total}` : '';
  const segments = stage && stage.last > stage.first ? `segments ${stage.first}–${stage.last}` : stage ? `segment ${stage.first}` : '';
  const doing = !stage ? 'reading the audio'
    : stage.kind === 'network' ? `listening to ${segments}${of}`
      : stage.kind === 'decoding' ? `writing down the notes of ${segments}${of}` : `${segments}${of} done`;
  const left = fraction > 0 ? ` · about ${clock(elapsed * (1 - fraction) / fraction)} left` : '';
  setBar('progress-bar', fraction, `${Math.round(fraction * 100)}% · ${doing} · ${clock(elapsed)} elapsed${left}`);
}

async function transcribe(file) {
  if (state.busy) return;
  setBusy(true);
  player.stop();
  $('download').hidden = true;
  $('play').disabled = true;
  state.name = file.name.replace(/\.[^.]*$/, '') || 'transcription';
  const started = performance.now();
  const ticking = setInterval(() => { if (state.progress) showProgress(started); }, 1000);
  state.progress = null;
  try {
    if (file.size === 0) throw new UserError(`“${file.name}” is empty (0 bytes).`);
    const engine = await startEngine();
    say(`Reading “${file.name}”…`);
    state.notes = new Float64Array(0);
    state.pedals = new Float64Array(0);
    state.duration = 0;
    forgetScore();
    await showView('roll');
    $('view-score').disabled = true;
    player.setSource(file);
    const result = await engine.transcribe(file, options(engine.info), {
      decodeWhole: params.get('decode') === 'whole',
      onStarted: (m) => {
        state.duration = m.duration || 0;
        document.body.dataset.decoding = m.how;
        $('result').hidden = false;
        say(m.duration ? `Transcribing ${clock(m.duration)} of audio…` : 'Transcribing…');
        state.progress = { fraction: 0, stage: null };
        showProgress(started);
        draw();
      },
      onProgress: (m) => {
        state.progress = { fraction: m.fraction, stage: m.stage };
        showProgress(started);
        state.duration = Math.max(state.duration, m.seconds);
        state.notes = m.notes;
        draw();
      },
    });
    state.progress = null; // the timer no longer relabels the bar
    state.notes = result.notes;
    state.pedals = result.pedals;
    state.transcription = result.id; // the worker keeps it: the score is written from there
    if (!state.duration) state.duration = result.notes.length ? Math.max(...result.notes.filter((_, i) => i % 4 === 1)) : 0;
    const secs = (performance.now() - started) / 1000;
    document.body.dataset.lastRunSeconds = secs.toFixed(3);
    document.body.dataset.engineBytes = String(result.engineBytes || 0);
    setBar('progress-bar', 1, `done in ${secs.toFixed(1)} s${state.duration ? ` (${(secs / state.duration).toFixed(2)} × real time)` : ''}`);
    const warned = result.warnings.length ? ` Damaged audio was replaced by silence ${result.warnings.join('; ')}.` : '';
    say(`${result.notes.length / 4} notes found in ${clock(state.duration)} of audio.${warned}`);
    if (state.midiUrl) URL.revokeObjectURL(state.midiUrl);
    state.midiUrl = URL.createObjectURL(new Blob([result.midi], { type: 'audio/midi' }));
    const a = $('download');
    a.href = state.midiUrl;
    a.download = `${state.name}.mid`;
    a.textContent = `Download ${state.name}.mid`;
    a.hidden = false;
    player.setNotes(state.notes);
    $('play').disabled = false;
    $('view-score').disabled = false;
    draw();
  } catch (err) {
    setBar('progress-bar', null);
    if (err instanceof UserError) say(err.message, true);
    else if (!err.reported) say(`Something went wrong: ${err.message || err}`, true);
  } finally {
    clearInterval(ticking);
    state.progress = null;
    setBusy(false);
  }
}

function cancel() {
  if (!state.busy || !state.engine) return;
  if (!state.engine.cancel()) {
    // The engine stops once the segments it is running now are done (up to one per thread, several seconds).
    $('cancel').disabled = true;
    say('Cancelling: finishing the segments in progress…');
  }
}

// ---- wiring ----
function pick(files) {
  const file = files && files[0];
  if (file) transcribe(file);
}

async function main() {
  await setUpServiceWorker();
  $('file').addEventListener('change', (e) => { pick(e.target.files); e.target.value = ''; });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); pick(e.dataTransfer.files); });
  // The drop zone is the keyboard's way in: Enter or Space opens the file chooser (the input itself is hidden).
  drop.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ' ') && e.target === drop && !$('file').disabled) {
      e.preventDefault();
      $('file').click();
    }
  });
  // The sample recording (tools/sample/make.sh), fetched from the site only when asked for.
  $('try-sample').addEventListener('click', async () => {
    if (state.busy) return;
    try {
      const r = await fetch('./sample/prelude-bwv846.mp3');
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const blob = await r.blob();
      transcribe(new File([blob], 'prelude-bwv846.mp3', { type: 'audio/mpeg' }));
    } catch (err) {
      say(`The sample could not be downloaded (${err.message}). Check the connection, or choose a recording of your own.`, true);
    }
  });
  $('cancel').addEventListener('click', cancel);
  $('model').addEventListener('change', switchModel);
  $('play').addEventListener('click', () => {
    if (player.playing) { player.stop(); return; }
    player.play(0).then(() => { $('play').textContent = '■ Stop'; }, (err) => say(`Playback failed: ${err.message}`, true));
  });
  $('mix').addEventListener('input', () => player.setMix(Number($('mix').value)));
  $('roll').addEventListener('click', (e) => {
    if (state.busy || $('play').disabled) return;
    player.play(timeAt($('roll'), e, state.duration)).then(() => { $('play').textContent = '■ Stop'; }, () => {});
  });
  // Hover: the time and key under the pointer.
  $('roll').addEventListener('mousemove', (e) => {
    const p = pitchAt($('roll'), e);
    const t = timeAt($('roll'), e, state.duration);
    $('roll-readout').textContent = state.duration ? `${t.toFixed(1)} s${p === null ? '' : ` · ${pitchName(p)}`}` : '';
  });
  $('roll').addEventListener('mouseleave', () => { $('roll-readout').textContent = ''; });
  $('view-roll').addEventListener('click', () => showView('roll'));
  $('view-score').addEventListener('click', () => showView('score'));
  $('hands').addEventListener('change', () => showView('score'));
  window.addEventListener('resize', () => { draw(); scoreView.fit(); });
  startEngine().catch(() => {});
}

main();
