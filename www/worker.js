// The engine's worker: owns the wasm module and its thread pool; the page only does UI.
import { engineBuild } from './engine.js';

const CACHE = 'pianoscribe-v1';
let engine = null;
let wasm = null; // the chosen build's JS module

// The chosen build's .wasm, from the Cache API when it is there (offline use), else fetched and kept. The
// service worker does not precache the .wasm files: only one of the two builds is ever needed.
async function wasmResponse(url) {
  try {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(url);
    if (hit) return hit;
    const response = await fetch(url);
    if (response.ok) {
      try { await cache.put(url, response.clone()); } catch (_) { /* quota: fine */ }
    }
    return response;
  } catch (err) {
    return fetch(url); // no Cache API (e.g. not a secure context)
  }
}

function fail(stage, err) {
  postMessage({ type: 'error', stage, message: String((err && err.message) || err) });
}

self.onmessage = async (event) => {
  const m = event.data;
  if (m.type === 'init') {
    const build = engineBuild(m.search);
    try {
      wasm = await import(new URL(`${build.dir}pianoscribe.js`, import.meta.url).href);
      await wasm.default({ module_or_path: wasmResponse(new URL(`${build.dir}pianoscribe_bg.wasm`, import.meta.url).href) });
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
