// The engine's worker: owns the wasm module, its thread pool and the model; reads the chosen file in pieces,
// decodes them (WebCodecs for compressed audio, the engine itself for WAV and FLAC) and feeds the engine as it
// goes, so that neither the file nor its decoded audio is ever held whole. The page only does UI.
import { engineBuild } from './engine.js';
import { cachedFetch } from './store.js';
import { decodePieces } from './decode.js';

let engine = null;
let wasm = null; // the chosen build's JS module
let pcmWaiter = null; // resolves with the page's decoded audio when the file needs the fallback
let kept = null; // { id, transcript }: the last finished transcription, which its score is written from

function post(message, transfer = []) {
  postMessage(message, transfer);
}

// An error of this worker's own, with a kind the page switches on (as the engine's errors have).
function failure(kind, message) {
  return Object.assign(new Error(message), { kind });
}

// What the page needs to know of an error: its message and its kind (the engine's `kind`: "cancelled",
// "unsupported", "corrupt", "no-audio", "bad-model", ...; "out-of-memory" or "trap" for a wasm trap). Traps
// (RuntimeError: an abort, e.g. after a failed allocation) leave the engine unusable: the page starts a new
// worker. The trap itself does not say why, so one after which the engine's memory cannot grow by 512 MB more
// is taken for running out of memory.
function describe(err) {
  const message = String((err && err.message) || err);
  const trap = err instanceof WebAssembly.RuntimeError;
  let outOfMemory = err instanceof RangeError || /allocation failed|out of memory/i.test(message);
  if (trap && !outOfMemory && self.pianoscribeMemory) {
    try {
      self.pianoscribeMemory.grow(8192);
    } catch (_) {
      outOfMemory = true;
    }
  }
  const kind = outOfMemory ? 'out-of-memory' : trap ? 'trap' : (err && err.kind) || 'internal';
  return { message, kind, fatal: trap || outOfMemory };
}

// The engine's download, reported to the page as it arrives (the first visit's largest file after the model;
// a cached copy reports at once). The body passes through unchanged, so the browser still compiles it while
// it streams in.
function counted(responding) {
  return responding.then((r) => {
    if (!r.body || typeof TransformStream === 'undefined') return r;
    const total = Number(r.headers.get('content-length')) || 0;
    let got = 0;
    let said = -Infinity;
    const body = r.body.pipeThrough(new TransformStream({
      transform(chunk, out) {
        got += chunk.byteLength;
        if (got - said >= 256 * 1024 || (total && got >= total)) {
          said = got;
          post({ type: 'loading', what: 'engine', got, total });
        }
        out.enqueue(chunk);
      },
    }));
    return new Response(body, { status: r.status, statusText: r.statusText, headers: r.headers });
  });
}

async function init(m) {
  const build = engineBuild(m.search);
  try {
    wasm = await import(new URL(`${build.dir}pianoscribe.js`, import.meta.url).href);
    // Kept in the Cache API for offline use (the service worker precaches no .wasm: only one build is needed).
    const path = `${build.dir.slice(2)}pianoscribe_bg.wasm`;
    const url = new URL(path, import.meta.url).href;
    const exports = await wasm.default({ module_or_path: counted(cachedFetch(url, (m.hashes || {})[path])) });
    // For the page tests: the engine's memory, which they fill to force an allocation failure.
    self.pianoscribeMemory = exports.memory;
  } catch (err) {
    return post({ type: 'error', stage: 'wasm', message: describe(err).message });
  }
  // Threads need SharedArrayBuffer, which only cross-origin isolated pages have. If the pool cannot start,
  // the engine still runs on this one thread.
  if (m.threads > 1 && self.crossOriginIsolated) {
    try {
      await wasm.initThreadPool(m.threads);
    } catch (err) {
      console.warn('thread pool unavailable, running on one thread:', err);
    }
  }
  try {
    engine = new wasm.Engine(new Uint8Array(m.model));
  } catch (err) {
    return post({ type: 'error', stage: 'model', message: describe(err).message });
  }
  post({
    type: 'ready', threads: wasm.threadCount(), simd: build.simd,
    defaults: engine.defaultOptions(), faster: engine.fasterOptions(), model: engine.model(),
    scoreDefaults: wasm.defaultScoreOptions(),
  });
}

// The page decoded the file itself (formats the engine cannot demux, browsers without WebCodecs): its audio
// arrives whole, once.
function pcmFromPage(id, reason, sampleRate) {
  return new Promise((resolve, reject) => {
    pcmWaiter = { id, resolve, reject };
    post({ type: 'need-pcm', id, reason, sampleRate });
  });
}

async function transcribe(m) {
  const cancel = m.cancel ? new Int32Array(m.cancel) : null;
  const cancelled = () => cancel && Atomics.load(cancel, 0) === 1;
  const started = performance.now();
  let stream = null;
  let totalFrames;
  const progress = (fraction, seconds, notes, stage) => {
    post({ type: 'progress', id: m.id, fraction, seconds, notes, stage: { ...stage } }, [notes.buffer]);
    return !cancelled();
  };
  const source = decodePieces(wasm, m.file, { whole: m.decodeWhole, pcmFromPage: (reason, rate) => pcmFromPage(m.id, reason, rate) });
  try {
    for await (const piece of source) {
      if (piece.info) {
        const duration = piece.info.totalFrames ? piece.info.totalFrames / piece.info.sampleRate : null;
        totalFrames = piece.info.totalFrames || undefined;
        post({ type: 'started', id: m.id, how: piece.info.how, sampleRate: piece.info.sampleRate, duration });
        continue;
      }
      if (!stream) stream = new wasm.Transcriber(engine, piece.sampleRate, piece.channelCount, totalFrames, m.options);
      // Audio the engine decoded (or was handed by the browser's decoder) moves into the transcription inside
      // the engine; only the page's whole-file fallback pushes planes.
      if (piece.demux) stream.pushFrom(piece.demux, progress);
      else stream.push(piece.channels, progress);
      if (cancelled()) throw failure('cancelled', 'transcription cancelled');
    }
    if (!stream) throw failure('no-audio', `${m.file.name}: the file contains no audio samples`);
    const t = stream.finish(progress);
    const midi = t.midi();
    const notes = t.notes();
    const pedals = t.pedals();
    if (kept) kept.transcript.free();
    kept = { id: m.id, transcript: t };
    // The engine's memory (wasm memory only grows: its size is the run's high-water mark), for the page tests.
    const engineBytes = self.pianoscribeMemory ? self.pianoscribeMemory.buffer.byteLength : 0;
    post({ type: 'done', id: m.id, midi, notes, pedals, warnings: source.warnings(), ms: performance.now() - started, engineBytes },
      [midi.buffer, notes.buffer, pedals.buffer]);
  } catch (err) {
    post({ type: 'error', id: m.id, ...describe(err) });
  } finally {
    if (stream) stream.free();
    source.free();
  }
}

// A score of a finished transcription (the last one, which this worker keeps): MusicXML, beat-aligned MIDI
// and the beat times for the cursor.
function score(m) {
  let s = null;
  try {
    if (!kept || kept.id !== m.transcription) {
      throw failure('gone', 'the engine no longer holds this transcription (it was restarted); transcribe the file again');
    }
    s = kept.transcript.score(m.options, m.title);
    const midi = s.midi();
    const beatTimes = s.beatTimes();
    post({
      type: 'scored', id: m.id, musicxml: s.musicxml(), midi, beatTimes, quartersPerBeat: s.quartersPerBeat(),
      summary: s.summary(),
    }, [midi.buffer, beatTimes.buffer]);
  } catch (err) {
    post({ type: 'score-error', id: m.id, ...describe(err) });
  } finally {
    if (s) s.free();
  }
}

self.onmessage = (event) => {
  const m = event.data;
  if (m.type === 'init') init(m);
  else if (m.type === 'transcribe') transcribe(m);
  else if (m.type === 'score') score(m);
  else if (m.type === 'pcm' && pcmWaiter && pcmWaiter.id === m.id) {
    const w = pcmWaiter;
    pcmWaiter = null;
    if (m.error) w.reject(new Error(m.error));
    else w.resolve({ channels: m.channels, sampleRate: m.sampleRate });
  }
};
