// The engine's worker: owns the wasm module and its thread pool; the page only does UI.
import init, { initThreadPool, threadCount, Engine } from './pkg/pianoscribe.js';

let engine = null;

function fail(stage, err) {
  postMessage({ type: 'error', stage, message: String((err && err.message) || err) });
}

self.onmessage = async (event) => {
  const m = event.data;
  if (m.type === 'init') {
    try {
      await init();
    } catch (err) {
      return fail('wasm', err);
    }
    // Threads need SharedArrayBuffer, which only cross-origin isolated pages have. If the pool cannot start,
    // the engine still runs on this one thread.
    if (m.threads > 1 && self.crossOriginIsolated) {
      try {
        await initThreadPool(m.threads);
      } catch (err) {
        console.warn('thread pool unavailable, running on one thread:', err);
      }
    }
    try {
      engine = new Engine(new Uint8Array(m.model));
    } catch (err) {
      return fail('model', err);
    }
    postMessage({ type: 'ready', threads: threadCount() });
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
