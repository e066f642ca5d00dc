// Decoding in the worker, piece by piece: the engine's demuxer reads the file in pieces and says where each
// packet's samples belong; compressed audio (MP3, AAC, Opus, Vorbis) is decoded by the browser's own codecs
// (WebCodecs AudioDecoder), whose output goes straight back into the engine, lossless audio (WAV, FLAC) by the
// engine itself. Decoded audio stays in the engine (the worker moves it into the transcription with
// Transcriber.pushFrom). Only a few packets and one piece of decoded audio are held at a time. Where neither
// works (a container the engine does not read, a browser without WebCodecs, ?decode=whole), the page decodes
// the whole file with decodeAudioData instead, and its audio is pushed in pieces.

// Packets handed to the browser's decoder before its output is awaited.
const MAX_IN_FLIGHT = 16;
// Samples per piece pushed to the engine when the page decoded the file whole.
const WHOLE_PIECE = 1 << 18;

function planesOf(data) {
  const planes = [];
  for (let c = 0; c < data.numberOfChannels; c++) {
    const p = new Float32Array(data.numberOfFrames);
    data.copyTo(p, { planeIndex: c, format: 'f32-planar' });
    planes.push(p);
  }
  return planes;
}

// Lets the worker's other tasks run now and then (a message channel: timers would be clamped to 4 ms).
function breather() {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < 100) return;
    await new Promise((resolve) => { const ch = new MessageChannel(); ch.port1.onmessage = resolve; ch.port2.postMessage(0); });
    last = performance.now();
  };
}

async function* webCodecs(demux, info) {
  let outputs = [];
  let failure = null;
  let wake = null;
  const rouse = () => { if (wake) { wake(); wake = null; } };
  const make = () => {
    const d = new AudioDecoder({
      output: (data) => { outputs.push(data); rouse(); },
      error: (e) => { failure = e; rouse(); },
    });
    d.configure(info.decoder);
    return d;
  };
  let decoder = make();
  let ended = false;
  try {
    for (;;) {
      while (!ended && !failure && demux.inFlight() < MAX_IN_FLIGHT) {
        const p = demux.nextPacket();
        if (!p) { ended = true; break; }
        decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: p.timestamp, duration: p.duration, data: p.data }));
      }
      if (ended && !failure) {
        try { await decoder.flush(); } catch (e) { failure = failure || e; }
      } else if (!outputs.length && !failure) {
        await new Promise((resolve) => { wake = resolve; });
      }
      for (const data of outputs.splice(0)) {
        if (demux.inFlight() > 0) demux.decoded(planesOf(data), data.sampleRate);
        data.close();
      }
      if (failure || (ended && demux.inFlight() > 0)) {
        // A WebCodecs error closes the decoder and loses what was in it: silence in its place (the engine says
        // where), and a new decoder for the rest. Packets the decoder gave nothing for are the same.
        const message = failure ? String(failure.message || failure) : 'the decoder gave no audio for it';
        while (demux.inFlight() > 0) demux.failed(message);
        if (failure) {
          failure = null;
          if (decoder.state !== 'closed') decoder.close();
          decoder = make();
        }
      }
      if (demux.hasAudio()) yield { demux, sampleRate: info.sampleRate, channelCount: demux.channels() };
      if (ended && demux.inFlight() === 0) break;
    }
    demux.finish();
  } finally {
    if (decoder.state !== 'closed') decoder.close();
  }
}

// An async iterable of { info } (once, first: how the file is decoded, its rate and length), then each time
// decoded audio is ready, either { demux, sampleRate, channelCount } (the audio waits in the engine's demuxer:
// move it with Transcriber.pushFrom before asking for the next) or, when the page decoded the file,
// { channels, sampleRate } (planes to push). `warnings()` lists where damaged audio was replaced by silence.
// `pcmFromPage(reason, sampleRate)` asks the page to decode the file whole.
export function decodePieces(wasm, file, { whole = false, pcmFromPage }) {
  let demux = null;
  async function* pieces() {
    let info = null;
    let reason = whole ? 'asked to decode whole' : null;
    if (!whole) {
      try {
        demux = new wasm.Demuxer(file, file.name);
        info = demux.info();
      } catch (err) {
        reason = String(err.message || err);
        demux = null;
      }
    }
    if (demux && info.decoder === null) {
      yield { info: { ...info, how: 'engine' } };
      const breathe = breather();
      while (demux.decode()) {
        yield { demux, sampleRate: info.sampleRate, channelCount: demux.channels() };
        await breathe();
      }
      demux.finish();
      return;
    }
    if (demux) {
      const supported = typeof AudioDecoder !== 'undefined'
        && (await AudioDecoder.isConfigSupported(info.decoder).catch(() => ({ supported: false }))).supported;
      if (supported) {
        yield { info: { ...info, how: 'webcodecs' } };
        yield* webCodecs(demux, info);
        return;
      }
      reason = `this browser has no WebCodecs decoder for ${info.decoder.codec}`;
    }
    const { channels, sampleRate } = await pcmFromPage(reason, info ? info.sampleRate : null);
    yield { info: { sampleRate, totalFrames: channels[0].length, how: 'whole' } };
    for (let at = 0; at < channels[0].length; at += WHOLE_PIECE) {
      yield { channels: channels.map((c) => c.subarray(at, at + WHOLE_PIECE)), sampleRate, channelCount: channels.length };
    }
  }
  return {
    [Symbol.asyncIterator]: pieces,
    warnings: () => (demux ? Array.from(demux.warnings()) : []),
    free: () => { if (demux) { demux.free(); demux = null; } },
  };
}
