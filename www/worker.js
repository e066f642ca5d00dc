// The engine's worker: owns the wasm module and its thread pool; the page only does UI.
import { engineBuild } from './engine.js';
import { cachedFetch } from './store.js';

let engine = null;
let wasm = null; // the chosen build's JS module

function fail(stage, err) {
  postMessage({ type: 'error', stage, message: String((err && err.message) || err) });
}

self.onmessage = async (event) => {
  const m = event.data;
  if (m.type === 'init') {
    const build = engineBuild(m.search);
    try {
      wasm = await import(new URL(`${build.dir}pianoscribe.js`, import.meta.url).href);
      // Kept in the Cache API for offline use (the service worker precaches no .wasm: only one build is needed).
      const path = `${build.dir.slice(2)}pianoscribe_bg.wasm`;
      const url = new URL(path, import.meta.url).href;
      await wasm.default({ module_or_path: cachedFetch(url, (m.hashes || {})[path]) });
    } catch (err) {
      return fail('wasm', err);
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
      return fail('model', err);
    }
    postMessage({ type: 'ready', threads: wasm.threadCount(), simd: build.simd });
  } else if (m.type === 'transcribe') {
    const cancel = m.cancel ? new Int32Array(m.cancel) : null;
    const started = performance.now();
    try {
      const t = engine.transcribe(m.channels, m.sampleRate, m.pedalExtend, m.includePedals, m.fast, (fraction, seconds, notes) => {
        postMessage({ type: 'progress', fraction, seconds, notes }, [notes.buffer]);
        return !(cancel && Atomics.load(cancel, 0) === 1);
      });
      const midi = t.midi();
      const notes = t.notes();
      const pedals = t.pedals();
      t.free();
      postMessage({ type: 'done', midi, notes, pedals, ms: performance.now() - started }, [midi.buffer, notes.buffer, pedals.buffer]);
    } catch (err) {
      fail('transcribe', err);
    }
  }
};
