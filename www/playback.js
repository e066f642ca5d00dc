// Playback: the original file through an <audio> element (the browser streams it from the file: no decoded copy
// is kept), the transcription through a sampled piano (a small synth until, or unless, the samples load), mixed
// by a slider, with the time for the cursor.
import { loadPiano } from './piano.js';

// A plain synth voice: used while the piano samples load, or if they cannot.
function synthVoice(ctx, out, on, off, pitch, velocity) {
  const f = 440 * 2 ** ((pitch - 69) / 12);
  const amp = 0.04 + 0.22 * (velocity / 127) ** 2;
  const g = ctx.createGain();
  g.gain.setValueAtTime(0, on);
  g.gain.linearRampToValueAtTime(amp, on + 0.005);
  g.gain.setTargetAtTime(amp * 0.25, on + 0.005, 0.6);
  g.gain.setTargetAtTime(0, Math.max(on, off), 0.08);
  g.connect(out);
  for (const [type, mult, level] of [['triangle', 1, 1], ['sine', 2, 0.3]]) {
    const o = ctx.createOscillator();
    o.type = type;
    o.frequency.value = f * mult;
    const lg = ctx.createGain();
    lg.gain.value = level;
    o.connect(lg).connect(g);
    o.start(on);
    o.stop(Math.max(on, off) + 0.6);
  }
}

export class Player {
  // onTick(seconds) while playing; onStop() when playback ends; onStatus(text) for the piano's loading.
  constructor({ onTick = () => {}, onStop = () => {}, onStatus = () => {} } = {}) {
    Object.assign(this, { onTick, onStop, onStatus });
    this.audio = new Audio();
    this.audio.preload = 'metadata';
    this.url = null;
    this.notes = new Float64Array(0);
    this.mix = 0.5;
    this.session = null;
  }

  // The original recording (a File): played from the file itself.
  setSource(file) {
    this.stop();
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = URL.createObjectURL(file);
    this.audio.src = this.url;
  }

  setNotes(notes) {
    this.notes = notes;
  }

  get playing() {
    return this.session !== null;
  }

  setMix(mix) {
    this.mix = mix;
    this.audio.volume = 1 - mix;
    if (this.session) this.session.synth.gain.setTargetAtTime(mix, this.session.ctx.currentTime, 0.02);
  }

  async play(from = 0) {
    this.stop();
    const ctx = new AudioContext();
    const synth = ctx.createGain();
    synth.gain.value = this.mix;
    synth.connect(ctx.destination);
    const session = { ctx, synth, voice: synthVoice, next: 0, timer: 0, frame: 0 };
    this.session = session;
    // The piano the first time (then from the Cache API); the synth meanwhile, or if it cannot load.
    loadPiano(ctx, (f) => this.onStatus(`Loading the piano sound: ${Math.round(f * 100)}%`)).then(
      (voice) => { session.voice = voice; this.onStatus(''); },
      (err) => this.onStatus(`The piano sound could not be loaded (${err.message}); playing a simple synth instead.`));
    this.audio.volume = 1 - this.mix;
    this.audio.currentTime = from;
    try {
      await this.audio.play();
    } catch (err) {
      this.stop();
      throw err;
    }
    const n = this.notes;
    while (session.next + 3 < n.length && n[session.next] < from) session.next += 4;
    // Voices are scheduled a little ahead on the audio context's clock, anchored to the element's time.
    const schedule = () => {
      if (this.session !== session) return;
      const now = this.audio.currentTime;
      const offset = ctx.currentTime - now;
      while (session.next + 3 < n.length && n[session.next] < now + 0.4) {
        const on = Math.max(ctx.currentTime, n[session.next] + offset);
        session.voice(ctx, synth, on, n[session.next + 1] + offset, n[session.next + 2], n[session.next + 3]);
        session.next += 4;
      }
    };
    schedule();
    session.timer = setInterval(schedule, 100);
    const tick = () => {
      if (this.session !== session) return;
      this.onTick(this.audio.currentTime);
      if (this.audio.ended || this.audio.paused) { this.stop(); return; }
      session.frame = requestAnimationFrame(tick);
    };
    session.frame = requestAnimationFrame(tick);
  }

  stop() {
    const s = this.session;
    if (!s) return;
    this.session = null;
    clearInterval(s.timer);
    cancelAnimationFrame(s.frame);
    this.audio.pause();
    s.ctx.close();
    this.onStop();
  }
}
