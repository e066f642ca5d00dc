// The page's side of the engine worker: starts it (and starts a new one after it fails: an error it could not
// recover from, an uncaught error, a message it could not read), runs one transcription at a time with
// progress and cancellation, and decodes a file whole for the worker when it cannot read it in pieces.
// Every failure ends the run with a UserError whose message says what happened and what to try.

export class UserError extends Error {}

const TRY = 'Try the Faster mode, a shorter file, or closing other tabs, then choose the file again.';

// The browser decodes the whole file (the fallback): at the file's own rate when known, so that the
// browser does not resample it (the engine does, as the CLI does).
async function decodeWhole(file, sampleRate) {
  const bytes = await file.arrayBuffer();
  const ctx = new OfflineAudioContext(1, 1, sampleRate || 44100);
  let audio;
  try {
    audio = await ctx.decodeAudioData(bytes);
  } catch (err) {
    throw new UserError(`“${file.name}” is not audio this page can read (${err.message || err}). `
      + 'Choose a recording in MP3, WAV, FLAC, OGG or M4A.');
  }
  if (audio.length === 0) throw new UserError(`“${file.name}” contains no audio samples.`);
  const channels = [];
  for (let c = 0; c < audio.numberOfChannels; c++) channels.push(audio.getChannelData(c).slice());
  return { channels, sampleRate: audio.sampleRate };
}

// What the user reads when a run fails, by the error's kind (src/error.rs `Error::kind`, worker.js `describe`).
function explain(m, file) {
  switch (m.kind) {
    case 'cancelled':
      return 'Cancelled.';
    case 'out-of-memory':
      return `The browser ran out of memory for this recording (${m.message}). ${TRY}`;
    case 'trap':
      return `The engine failed on this recording (${m.message}). ${TRY}`;
    case 'unsupported':
    case 'corrupt':
    case 'no-audio':
      return `“${file.name}” could not be transcribed: ${m.message}.`;
    default:
      return `Transcription failed: ${m.message}`;
  }
}

function explainScore(m) {
  return m.kind === 'out-of-memory' || m.kind === 'trap'
    ? `No score could be written: the engine failed (${m.message}). Transcribe the file again.`
    : `No score could be written: ${m.message}`;
}

export class EngineClient {
  // model: the bundle's bytes (kept to start a new worker); threads: pool size; search: the page's query;
  // onLoading({ what, got, total }): the engine's own download as it arrives.
  constructor({ model, threads, search, hashes, onLoading = () => {} }) {
    Object.assign(this, { model, threads, search, hashes, onLoading });
    this.worker = null;
    this.ready = null;
    this.info = null; // { threads, simd, defaults, faster }
    this.run = null; // the transcription in progress
    this.nextId = 1;
    this.scores = new Map(); // id -> { resolve, reject } of score requests
  }

  // Score requests the worker will never answer (it died or was replaced) fail instead of hanging.
  dropScores(message) {
    for (const pending of this.scores.values()) pending.reject(new UserError(`No score could be written: ${message}`));
    this.scores.clear();
  }

  // Starts a worker; resolves with the engine's info once the model is loaded.
  start() {
    if (this.worker) this.worker.terminate();
    this.dropScores('the engine was restarted.');
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker = worker;
    this.ready = new Promise((resolve, reject) => {
      worker.onmessage = (e) => this.onMessage(e.data, resolve, reject);
      worker.onerror = (e) => {
        e.preventDefault();
        this.died(`The engine stopped unexpectedly (${e.message || 'an error in its worker'}).`, reject);
      };
      worker.onmessageerror = () => this.died('The engine sent a message the page could not read.', reject);
    });
    worker.postMessage({ type: 'init', model: this.model.slice(0), threads: this.threads, search: this.search, hashes: this.hashes });
    return this.ready;
  }

  // The worker cannot be trusted any more: end the run with a message and start a new worker (or, if it never
  // became ready, fail the start).
  died(message, rejectStart) {
    const run = this.run;
    this.run = null;
    if (run) run.reject(new UserError(`${message} ${TRY}`));
    this.dropScores(message);
    if (run || this.worker.readyOnce) this.start().catch(() => {});
    else rejectStart(new Error(message));
  }

  onMessage(m, resolveStart, rejectStart) {
    if (m.type === 'loading') {
      this.onLoading(m);
      return;
    }
    if (m.type === 'ready') {
      this.info = m;
      this.worker.readyOnce = true;
      resolveStart(m);
      return;
    }
    if (m.type === 'error' && m.stage) {
      rejectStart(new Error(m.stage === 'model' ? `The model failed to load: ${m.message}` : `The engine failed to start: ${m.message}`));
      return;
    }
    if (m.type === 'scored' || m.type === 'score-error') {
      const pending = this.scores.get(m.id);
      this.scores.delete(m.id);
      if (!pending) return;
      if (m.type === 'scored') pending.resolve(m);
      else pending.reject(new UserError(explainScore(m)));
      return;
    }
    const run = this.run;
    if (!run || m.id !== run.id) return;
    if (m.type === 'started') run.onStarted(m);
    else if (m.type === 'progress') run.onProgress(m);
    else if (m.type === 'need-pcm') {
      decodeWhole(run.file, m.sampleRate).then(
        ({ channels, sampleRate }) => this.worker.postMessage({ type: 'pcm', id: run.id, channels, sampleRate }, channels.map((c) => c.buffer)),
        (err) => {
          this.worker.postMessage({ type: 'pcm', id: run.id, error: err.message });
          run.reject(err instanceof UserError ? err : new UserError(String(err.message || err)));
          this.run = null;
        });
    } else if (m.type === 'done') {
      this.run = null;
      run.resolve(m);
    } else if (m.type === 'error') {
      this.run = null;
      run.reject(new UserError(explain(m, run.file)));
      // After a wasm trap the engine's memory is in an unknown state: a new worker for the next file.
      if (m.fatal) this.start().catch(() => {});
    }
  }

  // Transcribes a File. Handlers: onStarted({ how, sampleRate, duration }), onProgress({ fraction, seconds,
  // notes }). Resolves with { midi, notes, pedals, warnings, ms }; rejects with a UserError.
  async transcribe(file, options, { onStarted = () => {}, onProgress = () => {}, decodeWhole: whole = false } = {}) {
    await this.ready;
    const shared = typeof SharedArrayBuffer !== 'undefined' && self.crossOriginIsolated ? new SharedArrayBuffer(4) : null;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.run = { id, file, resolve, reject, onStarted, onProgress, cancel: shared ? new Int32Array(shared) : null };
      this.worker.postMessage({ type: 'transcribe', id, file, options, cancel: shared, decodeWhole: whole });
    });
  }

  // A score of a finished transcription (`transcription`: the id its result carried; the worker keeps the
  // last one), options a ScoreOptions object. Resolves with { musicxml, midi, beatTimes, quartersPerBeat,
  // summary }; rejects with a UserError.
  async score(transcription, options, title) {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.scores.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'score', id, transcription, options, title });
    });
  }

  // Ends the worker for good (another model replaces this engine). Only between runs.
  stop() {
    if (this.worker) this.worker.terminate();
    this.dropScores('the engine was stopped.');
    this.worker = null;
  }

  // Stops the run: at once without shared memory (a new worker), else once the segments in progress are done.
  // Returns true when the stop is immediate.
  cancel() {
    const run = this.run;
    if (!run) return true;
    if (run.cancel) {
      Atomics.store(run.cancel, 0, 1);
      return false;
    }
    this.run = null;
    run.reject(new UserError('Cancelled.'));
    this.start().catch(() => {});
    return true;
  }
}
