// pianoscribe page: file in, audio decoded by the browser, transcription in a worker, piano roll, playback,
// MIDI download. Nothing here sends data anywhere: every request is for the app's own files.
import { CACHE, buildHashes, cacheKey, dropStale } from './store.js';

const $ = (id) => document.getElementById(id);
const MODEL_PATH = 'model/transkun-v2.pscb';
const MODEL_URL = new URL(MODEL_PATH, import.meta.url).href;
const RELOAD_FLAG = 'pianoscribe-isolation-reload';

const state = {
  worker: null, ready: null, threads: 1, simd: null, hashes: {}, model: null, busy: false, cancel: null,
  audio: null, notes: new Float64Array(0), pedals: new Float64Array(0), duration: 0, name: 'transcription',
  playback: null, midiUrl: null,
};

class UserError extends Error {}

function say(text, isError = false) {
  $('message').textContent = text;
  $('message').className = isError ? 'error' : '';
}

function setBar(id, fraction, label) {
  const bar = $(id);
  bar.hidden = fraction === null;
  if (fraction === null) return;
  bar.firstElementChild.style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 1000) / 10}%`;
  bar.lastElementChild.textContent = label;
}

function clock(seconds) {
  if (!isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
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

// ---- model: fetched once from this site, with progress, then kept in the Cache API ----
async function loadModel() {
  let cache = null;
  const key = cacheKey(MODEL_URL, state.hashes[MODEL_PATH]);
  try {
    cache = await caches.open(CACHE);
    const hit = await cache.match(key);
    if (hit) {
      await dropStale(cache, MODEL_URL, key);
      return await hit.arrayBuffer();
    }
  } catch (err) {
    cache = null; // no Cache API (e.g. not a secure context): fetch every time
  }
  const response = await fetch(MODEL_URL);
  if (!response.ok) throw new Error(`the model download failed (HTTP ${response.status})`);
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    setBar('model-bar', total ? got / total : 0, `Downloading the model: ${(got / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB (once; kept for offline use)`);
  }
  setBar('model-bar', null);
  const bytes = new Uint8Array(got);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  if (cache) {
    try {
      await cache.put(key, new Response(bytes.slice(), { headers: { 'content-type': 'application/octet-stream' } }));
      await dropStale(cache, MODEL_URL, key);
    } catch (_) { /* quota: fine */ }
  }
  return bytes.buffer;
}

function startWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  // ?threads=N caps the pool (for comparisons); by default every core is used.
  const cap = Number(new URLSearchParams(location.search).get('threads')) || Infinity;
  const threads = window.crossOriginIsolated ? Math.max(1, Math.min(cap, navigator.hardwareConcurrency || 1)) : 1;
  state.worker = worker;
  state.ready = new Promise((resolve, reject) => {
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === 'ready') { state.threads = m.threads; state.simd = m.simd; resolve(); }
      else if (m.type === 'error') reject(new Error(m.stage === 'model' ? `The model failed to load: ${m.message}` : `The engine failed to start: ${m.message}`));
    };
    worker.onerror = (e) => reject(new Error(`The engine failed to start: ${e.message || 'worker error'}`));
  });
  worker.postMessage({ type: 'init', model: state.model.slice(0), threads, search: location.search, hashes: state.hashes });
  return state.ready;
}

function describeEngine() {
  const iso = window.crossOriginIsolated;
  $('engine-line').textContent = iso
    ? `Engine ready: ${state.threads} threads, WebAssembly ${state.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD'}. Your audio stays on this device.`
    : 'Engine ready on 1 thread: this page is not cross-origin isolated here, so threads are unavailable (it works, only slower). Your audio stays on this device.';
  $('engine-line').dataset.threads = String(state.threads);
  $('engine-line').dataset.simd = state.simd;
}

// ---- decoding: the browser decodes; at the file's own rate where the header tells it ----
function sniffSampleRate(buffer) {
  const v = new DataView(buffer);
  const tag = (o) => String.fromCharCode(v.getUint8(o), v.getUint8(o + 1), v.getUint8(o + 2), v.getUint8(o + 3));
  let rate = null;
  try {
    if (buffer.byteLength > 44 && tag(0) === 'RIFF' && tag(8) === 'WAVE') {
      for (let o = 12; o + 8 <= buffer.byteLength;) {
        const size = v.getUint32(o + 4, true);
        if (tag(o) === 'fmt ') { rate = v.getUint32(o + 12, true); break; }
        o += 8 + size + (size & 1);
      }
    } else if (buffer.byteLength > 22 && tag(0) === 'fLaC') {
      rate = (v.getUint8(18) << 12) | (v.getUint8(19) << 4) | (v.getUint8(20) >> 4);
    }
  } catch (_) { rate = null; }
  return rate && rate >= 8000 && rate <= 192000 ? rate : null;
}

async function decode(file) {
  if (file.size === 0) throw new UserError(`“${file.name}” is empty (0 bytes).`);
  const bytes = await file.arrayBuffer();
  const rate = sniffSampleRate(bytes) || 44100;
  const ctx = new OfflineAudioContext(1, 1, rate);
  let audio;
  try {
    audio = await ctx.decodeAudioData(bytes);
  } catch (err) {
    throw new UserError(`“${file.name}” could not be decoded as audio by this browser (${err.message || err}). Try MP3, WAV, FLAC or OGG.`);
  }
  if (audio.length === 0) throw new UserError(`“${file.name}” contains no audio samples.`);
  return audio;
}

// ---- transcription ----
async function transcribe(file) {
  if (state.busy) return;
  state.busy = true;
  stopPlayback();
  $('result').hidden = true;
  $('download').hidden = true;
  state.name = file.name.replace(/\.[^.]*$/, '') || 'transcription';
  try {
    say(`Decoding “${file.name}”…`);
    const audio = await decode(file);
    await state.ready;
    state.audio = audio;
    state.duration = audio.duration;
    state.notes = new Float64Array(0);
    state.pedals = new Float64Array(0);
    $('result').hidden = false;
    draw();
    const channels = [];
    for (let c = 0; c < audio.numberOfChannels; c++) channels.push(audio.getChannelData(c).slice());
    const shared = typeof SharedArrayBuffer !== 'undefined' && window.crossOriginIsolated ? new SharedArrayBuffer(4) : null;
    state.cancel = shared ? new Int32Array(shared) : null;
    $('cancel').hidden = false;
    const started = performance.now();
    say(`Transcribing ${clock(audio.duration)} of audio…`);
    setBar('progress-bar', 0, 'starting…');
    const result = await new Promise((resolve, reject) => {
      state.worker.onmessage = (e) => {
        const m = e.data;
        if (m.type === 'progress') {
          const elapsed = (performance.now() - started) / 1000;
          const eta = m.fraction > 0 ? elapsed * (1 - m.fraction) / m.fraction : NaN;
          setBar('progress-bar', m.fraction, `${Math.round(m.fraction * 100)}% · ${clock(elapsed)} elapsed · about ${clock(eta)} left`);
          state.notes = m.notes;
          draw();
        } else if (m.type === 'done') resolve(m);
        else if (m.type === 'error') reject(new UserError(m.message === 'transcription cancelled' ? 'Cancelled.' : `Transcription failed: ${m.message}`));
      };
      state.rejectRun = reject;
      state.worker.postMessage({
        type: 'transcribe', channels, sampleRate: audio.sampleRate, cancel: shared,
        pedalExtend: $('pedal-extend').checked, includePedals: $('include-pedals').checked, fast: $('fast').checked,
      }, channels.map((c) => c.buffer));
    });
    state.notes = result.notes;
    state.pedals = result.pedals;
    const secs = (performance.now() - started) / 1000;
    document.body.dataset.lastRunSeconds = secs.toFixed(3);
    setBar('progress-bar', 1, `done in ${secs.toFixed(1)} s (${(secs / audio.duration).toFixed(2)} × real time)`);
    say(`${result.notes.length / 4} notes found in ${clock(audio.duration)} of audio.`);
    if (state.midiUrl) URL.revokeObjectURL(state.midiUrl);
    state.midiUrl = URL.createObjectURL(new Blob([result.midi], { type: 'audio/midi' }));
    const a = $('download');
    a.href = state.midiUrl;
    a.download = `${state.name}.mid`;
    a.textContent = `Download ${state.name}.mid`;
    a.hidden = false;
    $('play').disabled = false;
    draw();
  } catch (err) {
    setBar('progress-bar', null);
    say(err instanceof UserError ? err.message : `Something went wrong: ${err.message || err}`, true);
  } finally {
    $('cancel').hidden = true;
    $('cancel').disabled = false;
    state.busy = false;
    state.rejectRun = null;
  }
}

function cancel() {
  if (!state.busy) return;
  if (state.cancel) {
    // The engine stops once the segments it is running now are done (up to one per thread, several seconds).
    Atomics.store(state.cancel, 0, 1);
    $('cancel').disabled = true;
    say('Cancelling: finishing the segments in progress…');
  } else {
    // Without shared memory the worker cannot be told mid-run: replace it.
    state.worker.terminate();
    if (state.rejectRun) state.rejectRun(new UserError('Cancelled.'));
    startWorker().catch((err) => say(err.message, true));
  }
}

// ---- piano roll ----
const LOW = 21, HIGH = 108;
function draw(cursor = null) {
  const canvas = $('roll');
  const w = (canvas.width = canvas.clientWidth * devicePixelRatio);
  const h = canvas.height = 360 * devicePixelRatio;
  const g = canvas.getContext('2d');
  g.fillStyle = '#11141b';
  g.fillRect(0, 0, w, h);
  const dur = Math.max(state.duration, 1);
  const x = (t) => (t / dur) * w;
  const rowH = (h - 14 * devicePixelRatio) / (HIGH - LOW + 1);
  for (let p = LOW; p <= HIGH; p++) {
    if ([1, 3, 6, 8, 10].includes(p % 12)) { g.fillStyle = '#171b24'; g.fillRect(0, (HIGH - p) * rowH, w, rowH); }
  }
  const n = state.notes;
  for (let i = 0; i + 3 < n.length; i += 4) {
    const v = n[i + 3] / 127;
    g.fillStyle = `hsl(${220 - 180 * v}, 80%, ${45 + 20 * v}%)`;
    g.fillRect(x(n[i]), (HIGH - n[i + 2]) * rowH, Math.max(2, x(n[i + 1]) - x(n[i])), Math.max(2, rowH));
  }
  const p = state.pedals;
  for (let i = 0; i + 3 < p.length; i += 4) {
    g.fillStyle = p[i + 2] === 64 ? '#e0a43588' : '#8fd3ff66';
    g.fillRect(x(p[i]), h - (p[i + 2] === 64 ? 12 : 6) * devicePixelRatio, x(p[i + 1]) - x(p[i]), 5 * devicePixelRatio);
  }
  if (cursor !== null) {
    g.fillStyle = '#fff';
    g.fillRect(x(cursor), 0, 2 * devicePixelRatio, h);
  }
}

// ---- playback: the original and a small synth of the transcription, mixed by a slider ----
function stopPlayback() {
  const pb = state.playback;
  if (!pb) return;
  clearInterval(pb.timer);
  cancelAnimationFrame(pb.frame);
  pb.ctx.close();
  state.playback = null;
  $('play').textContent = '▶ Play';
}

function play(from = 0) {
  stopPlayback();
  if (!state.audio) return;
  const ctx = new AudioContext();
  const original = ctx.createGain();
  const synth = ctx.createGain();
  const mix = Number($('mix').value);
  original.gain.value = 1 - mix;
  synth.gain.value = mix;
  original.connect(ctx.destination);
  synth.connect(ctx.destination);
  const src = ctx.createBufferSource();
  src.buffer = state.audio;
  src.connect(original);
  const t0 = ctx.currentTime + 0.1;
  src.start(t0, from);
  const pb = { ctx, original, synth, t0, from, next: 0, timer: 0, frame: 0 };
  state.playback = pb;
  // Schedule synth voices a little ahead of time.
  const n = state.notes;
  while (pb.next + 3 < n.length && n[pb.next] < from) pb.next += 4;
  const schedule = () => {
    const now = ctx.currentTime - t0 + from;
    while (pb.next + 3 < n.length && n[pb.next] < now + 0.4) {
      voice(ctx, synth, t0 + n[pb.next] - from, t0 + n[pb.next + 1] - from, n[pb.next + 2], n[pb.next + 3]);
      pb.next += 4;
    }
  };
  schedule();
  pb.timer = setInterval(schedule, 100);
  const tick = () => {
    const t = ctx.currentTime - t0 + from;
    $('clock').textContent = `${clock(t)} / ${clock(state.duration)}`;
    draw(Math.max(from, t));
    if (t >= state.duration) { stopPlayback(); return; }
    pb.frame = requestAnimationFrame(tick);
  };
  pb.frame = requestAnimationFrame(tick);
  $('play').textContent = '■ Stop';
}

function voice(ctx, out, on, off, pitch, velocity) {
  if (off <= ctx.currentTime) return;
  on = Math.max(on, ctx.currentTime);
  const f = 440 * Math.pow(2, (pitch - 69) / 12);
  const amp = 0.04 + 0.22 * (velocity / 127) ** 2;
  const g = ctx.createGain();
  g.gain.setValueAtTime(0, on);
  g.gain.linearRampToValueAtTime(amp, on + 0.005);
  g.gain.setTargetAtTime(amp * 0.25, on + 0.005, 0.6);
  g.gain.setTargetAtTime(0, off, 0.08);
  g.connect(out);
  for (const [type, mult, level] of [['triangle', 1, 1], ['sine', 2, 0.3]]) {
    const o = ctx.createOscillator();
    o.type = type;
    o.frequency.value = f * mult;
    const lg = ctx.createGain();
    lg.gain.value = level;
    o.connect(lg).connect(g);
    o.start(on);
    o.stop(off + 0.6);
  }
}

// ---- wiring ----
function pick(files) {
  const file = files && files[0];
  if (file) transcribe(file);
}

async function main() {
  await setUpServiceWorker();
  $('file').addEventListener('change', (e) => pick(e.target.files));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); pick(e.dataTransfer.files); });
  $('cancel').addEventListener('click', cancel);
  $('play').addEventListener('click', () => (state.playback ? stopPlayback() : play(0)));
  $('mix').addEventListener('input', () => {
    const pb = state.playback;
    if (!pb) return;
    const mix = Number($('mix').value);
    pb.original.gain.setTargetAtTime(1 - mix, pb.ctx.currentTime, 0.02);
    pb.synth.gain.setTargetAtTime(mix, pb.ctx.currentTime, 0.02);
  });
  $('roll').addEventListener('click', (e) => {
    if (!state.audio || state.busy) return;
    const r = e.target.getBoundingClientRect();
    play(((e.clientX - r.left) / r.width) * state.duration);
  });
  window.addEventListener('resize', () => draw());
  try {
    $('engine-line').textContent = 'Loading the model…';
    state.hashes = await buildHashes();
    state.model = await loadModel();
    $('engine-line').textContent = 'Starting the engine…';
    await startWorker();
    describeEngine();
  } catch (err) {
    setBar('model-bar', null);
    $('engine-line').textContent = '';
    say(err.message.startsWith('The ') ? err.message : `The model failed to load: ${err.message}`, true);
  }
}

main();
