//! The wasm-bindgen surface for the browser, used from a Web Worker. It only marshals: every decision is the
//! library's.
//! - [`Engine`]: a loaded model, and the options it uses by default;
//! - [`Transcriber`]: a transcription fed piece by piece, from a [`Demuxer`] (`pushFrom`) or
//!   with PCM the page decoded (`push`), with progress and notes so far per segment; `finish()` gives a
//!   [`Transcription`] (MIDI, notes, pedals) that the worker keeps to write its score (`score(options, title)`);
//! - [`Demuxer`]: a file read in pieces (FileReaderSync, so it is never held whole) as an
//!   [`audio::FileStream`](crate::audio::FileStream): decoded here (WAV, FLAC), or its packets handed to the
//!   browser's WebCodecs decoder and the decoded audio handed back, which stays in wasm from there on.
//!
//! Errors come back as JS `Error`s with the library's message and a `kind` (`Error::kind`: "cancelled",
//! "unsupported", "corrupt", "no-audio", "bad-model", ...) that the page switches on.

use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;

use js_sys::{Array, Float32Array, Float64Array, Function, Object, Reflect, Uint8Array};
use send_wrapper::SendWrapper;
use symphonia::core::codecs::CodecRegistry;
use symphonia::core::io::MediaSource;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, FileReaderSync};

use crate::audio::FileStream;
use crate::notes::Note;
use crate::score::{self, ScoreOptions};
use crate::{midi, notes, pipeline, Error, Flow, Stage, TranscribeOptions};

pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Threads in the pool (1 when `initThreadPool` was not called, e.g. without cross-origin isolation). Call it
/// after `initThreadPool`: the first use of the pool fixes its size.
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    rayon::current_num_threads()
}

/// A library error as a JS `Error` with its `kind`.
fn js_err(e: Error) -> JsValue {
    js_error(e.kind(), &e.to_string())
}

/// A JS `Error` with this message and `kind`.
fn js_error(kind: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = Reflect::set(&e, &"kind".into(), &kind.into());
    e.into()
}

/// A misuse of this API by the page (a bug there, not the user's input).
fn misuse(message: &str) -> JsValue {
    js_error("misuse", message)
}

/// Notes as a flat Float64Array: [onset, offset, pitch, velocity] per note.
fn notes_array(notes: &[Note]) -> Float64Array {
    let flat: Vec<f64> = notes.iter().flat_map(|n| [n.onset, n.offset, n.pitch as f64, n.velocity as f64]).collect();
    Float64Array::from(flat.as_slice())
}

/// A JS value as serde sees it (through JSON: options objects are small).
fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, JsValue> {
    let invalid = |detail: String| js_err(Error::InvalidOption(detail));
    if value.is_undefined() || value.is_null() {
        return serde_json::from_str("{}").map_err(|e| invalid(format!("{what}: {e}")));
    }
    let json = js_sys::JSON::stringify(value).map_err(|_| invalid(format!("{what} cannot be read")))?;
    serde_json::from_str(&String::from(json)).map_err(|e| invalid(format!("invalid {what}: {e}")))
}

fn to_js(value: &impl serde::Serialize) -> JsValue {
    js_sys::JSON::parse(&serde_json::to_string(value).unwrap_or_default()).unwrap_or(JsValue::NULL)
}

/// A loaded model; create once per worker and reuse.
#[wasm_bindgen]
pub struct Engine {
    inner: pipeline::Engine,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a model bundle from its bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8]) -> Result<Engine, JsValue> {
        Ok(Engine { inner: pipeline::Engine::from_bytes(model).map_err(js_err)? })
    }

    /// This model's default options (`TranscribeOptions`, camelCase keys, the segment hop filled in).
    #[wasm_bindgen(js_name = defaultOptions)]
    pub fn default_options(&self) -> JsValue {
        let hop = self.inner.info().default_hop_seconds;
        to_js(&TranscribeOptions { segment_hop_seconds: Some(hop), ..Default::default() })
    }

    /// The options of this model's "Faster" mode.
    #[wasm_bindgen(js_name = fasterOptions)]
    pub fn faster_options(&self) -> JsValue {
        let hop = self.inner.info().faster_hop_seconds;
        to_js(&TranscribeOptions { segment_hop_seconds: Some(hop), ..Default::default() })
    }

    /// What the model is: `{ family, segmentSeconds, sampleRate }`.
    pub fn model(&self) -> JsValue {
        let info = self.inner.info();
        let o = Object::new();
        let _ = Reflect::set(&o, &"family".into(), &info.family.into());
        let _ = Reflect::set(&o, &"segmentSeconds".into(), &info.segments.segment_seconds.into());
        let _ = Reflect::set(&o, &"sampleRate".into(), &info.segments.sample_rate.into());
        o.into()
    }
}

/// A transcription fed piece by piece. `new Transcriber(engine, sampleRate, channels, totalFrames, options)`:
/// `totalFrames` (samples per channel, for progress) may be undefined; `options` is a `TranscribeOptions`
/// object (camelCase keys, missing ones take their defaults). `progress(fraction, secondsDone, notesSoFar,
/// stage)` is called when the network starts on a batch of segments, when each segment's decoding starts and
/// when each is done (`stage`: `{ kind: "network" | "decoding" | "done", first, last, total }`); returning
/// `false` cancels.
#[wasm_bindgen]
pub struct Transcriber {
    session: Option<pipeline::Transcriber>,
}

#[wasm_bindgen]
impl Transcriber {
    #[wasm_bindgen(constructor)]
    pub fn new(
        engine: &Engine,
        sample_rate: u32,
        channels: usize,
        total_frames: Option<f64>,
        options: JsValue,
    ) -> Result<Transcriber, JsValue> {
        let options: TranscribeOptions = from_js(&options, "options")?;
        let total = total_frames.filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64);
        let session = engine.inner.start(sample_rate, channels, total, options).map_err(js_err)?;
        Ok(Transcriber { session: Some(session) })
    }

    fn session(&mut self) -> Result<&mut pipeline::Transcriber, JsValue> {
        self.session.as_mut().ok_or_else(|| misuse("the transcription is finished"))
    }

    /// Adds PCM the page decoded: an Array of Float32Array, one per channel, all the same length. Runs the
    /// segments it completes.
    pub fn push(&mut self, channels: Array, progress: Option<Function>) -> Result<(), JsValue> {
        let pcm = planes(&channels)?;
        self.session()?.push(&pcm, &mut reporter(progress.as_ref())).map_err(js_err)
    }

    /// Moves the demuxer's decoded audio into the transcription (it never leaves wasm) and runs the segments it
    /// completes. Returns the samples per channel it moved.
    #[wasm_bindgen(js_name = pushFrom)]
    pub fn push_from(&mut self, demuxer: &mut Demuxer, progress: Option<Function>) -> Result<f64, JsValue> {
        let stream = &mut demuxer.stream;
        let session = self.session()?;
        let mut moved = 0;
        while let Some(chunk) = stream.take() {
            moved += chunk.first().map_or(0, Vec::len);
            session.push(&chunk, &mut reporter(progress.as_ref())).map_err(js_err)?;
        }
        Ok(moved as f64)
    }

    /// Runs the rest and returns the result; the transcriber cannot be used after.
    pub fn finish(&mut self, progress: Option<Function>) -> Result<Transcription, JsValue> {
        let session = self.session.take().ok_or_else(|| misuse("the transcription is finished"))?;
        let t = session.finish(&mut reporter(progress.as_ref())).map_err(js_err)?;
        Ok(Transcription { midi: midi::write(&t), t })
    }
}

/// An Array of Float32Array as one Vec per channel.
fn planes(channels: &Array) -> Result<Vec<Vec<f32>>, JsValue> {
    channels
        .iter()
        .map(|c| c.dyn_into::<Float32Array>().map(|a| a.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|_| misuse("channels must be an Array of Float32Array"))
}

/// The progress callback as the pipeline calls it.
fn reporter(progress: Option<&Function>) -> impl FnMut(&crate::Progress) -> Flow + '_ {
    move |p| {
        let Some(f) = progress else { return Flow::Continue };
        // The stage as { kind: "network" | "decoding" | "done", first, last, total } (segments from 1; total
        // when the length is known).
        let stage = Object::new();
        let (kind, first, last) = match p.stage {
            Stage::Network { first, last } => ("network", first, last),
            Stage::Decoding { segment } => ("decoding", segment, segment),
            Stage::Done { segment } => ("done", segment, segment),
        };
        let _ = Reflect::set(&stage, &"kind".into(), &kind.into());
        let _ = Reflect::set(&stage, &"first".into(), &(first as f64).into());
        let _ = Reflect::set(&stage, &"last".into(), &(last as f64).into());
        if let Some(total) = p.segments_total {
            let _ = Reflect::set(&stage, &"total".into(), &(total as f64).into());
        }
        let args: Array = [
            JsValue::from(p.fraction.unwrap_or(0.0)),
            JsValue::from(p.seconds_done),
            notes_array(&p.notes_so_far()).into(),
            stage.into(),
        ]
        .into_iter()
        .collect();
        let r = f.apply(&JsValue::NULL, &args);
        match r {
            Ok(v) if v == JsValue::FALSE => Flow::Cancel,
            _ => Flow::Continue,
        }
    }
}

/// The score stage's default options (`ScoreOptions`, camelCase keys), for the page's controls.
#[wasm_bindgen(js_name = defaultScoreOptions)]
pub fn default_score_options() -> JsValue {
    to_js(&ScoreOptions::default())
}

/// A score: MusicXML, beat-aligned MIDI, and the beat times that map playback time to score time.
#[wasm_bindgen]
pub struct ScoreResult {
    score: score::Score,
    musicxml: String,
    midi: Vec<u8>,
}

#[wasm_bindgen]
impl ScoreResult {
    pub fn musicxml(&self) -> String {
        self.musicxml.clone()
    }

    /// Beat-aligned MIDI (tempo map on the beats, notes on the grid).
    pub fn midi(&self) -> Vec<u8> {
        self.midi.clone()
    }

    /// The performance time of every beat (seconds); beat k starts at k * quartersPerBeat quarter notes from
    /// the score's start.
    #[wasm_bindgen(js_name = beatTimes)]
    pub fn beat_times(&self) -> Float64Array {
        Float64Array::from(self.score.beat_times.as_slice())
    }

    #[wasm_bindgen(js_name = quartersPerBeat)]
    pub fn quarters_per_beat(&self) -> f64 {
        self.score.meter.beat_ticks() as f64 / score::DIVISIONS as f64
    }

    /// `{ bars, timeSignature: "n/d", keyFifths, pickupBeats }`.
    pub fn summary(&self) -> JsValue {
        let (n, d) = self.score.meter.time_signature();
        let o = Object::new();
        let _ = Reflect::set(&o, &"bars".into(), &self.score.bars().into());
        let _ = Reflect::set(&o, &"timeSignature".into(), &format!("{n}/{d}").into());
        let _ = Reflect::set(&o, &"keyFifths".into(), &(self.score.keys[0].1.fifths as i32).into());
        let _ = Reflect::set(&o, &"pickupBeats".into(), &self.score.pickup_beats.into());
        o.into()
    }
}

/// The result of a transcription: its notes and pedals, and the MIDI file of them.
#[wasm_bindgen]
pub struct Transcription {
    t: notes::Transcription,
    midi: Vec<u8>,
}

#[wasm_bindgen]
impl Transcription {
    /// The standard MIDI file.
    pub fn midi(&self) -> Vec<u8> {
        self.midi.clone()
    }

    /// [onset, offset, pitch, velocity] per note.
    pub fn notes(&self) -> Float64Array {
        notes_array(&self.t.notes)
    }

    /// [start, end, controller (64 or 67), value] per pedal press.
    pub fn pedals(&self) -> Float64Array {
        let flat: Vec<f64> =
            self.t.pedals.iter().flat_map(|p| [p.start, p.end, p.kind.controller() as f64, p.value as f64]).collect();
        Float64Array::from(flat.as_slice())
    }

    /// A score of this transcription: `options` a `ScoreOptions` object (missing keys take their defaults),
    /// `title` for the score.
    pub fn score(&self, options: JsValue, title: String) -> Result<ScoreResult, JsValue> {
        let options: ScoreOptions = from_js(&options, "score options")?;
        let s = score::from_performance(&self.t, &options).map_err(js_err)?;
        Ok(ScoreResult { musicxml: score::musicxml::write(&s, &title), midi: midi::write_score(&s), score: s })
    }
}

/// A Blob (a File the user chose) read in pieces with FileReaderSync, which only workers have.
struct BlobSource {
    blob: SendWrapper<Blob>,
    reader: SendWrapper<FileReaderSync>,
    pos: u64,
    len: u64,
}

impl Read for BlobSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let end = (self.pos + buf.len() as u64).min(self.len);
        if end <= self.pos {
            return Ok(0);
        }
        let piece = self
            .blob
            .slice_with_f64_and_f64(self.pos as f64, end as f64)
            .and_then(|b| self.reader.read_as_array_buffer(&b))
            .map_err(|e| std::io::Error::other(format!("the file could not be read: {e:?}")))?;
        let n = (end - self.pos) as usize;
        Uint8Array::new(&piece).copy_to(&mut buf[..n]);
        self.pos = end;
        Ok(n)
    }
}

impl Seek for BlobSource {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if pos < 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start"));
        }
        self.pos = pos as u64;
        Ok(self.pos)
    }
}

impl MediaSource for BlobSource {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// The engine's own decoders for the lossless formats (PCM and ADPCM WAV, FLAC); the browser decodes the rest.
fn lossless_codecs() -> &'static CodecRegistry {
    static CODECS: OnceLock<CodecRegistry> = OnceLock::new();
    CODECS.get_or_init(|| {
        let mut r = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut r);
        r
    })
}

/// A file opened for transcription: `new Demuxer(file, name)` (a File or Blob; its name's extension helps).
/// `info()` says how it is decoded. When `info().decoder` is null the engine decodes it: while `decode()` says
/// audio is ready, move it into the transcription with `Transcriber.pushFrom`. Else `nextPacket()` gives packets (null at the end) for an
/// `AudioDecoder` configured as `info().decoder` says; hand each decoder output to `decoded(planes,
/// sampleRate)` (or `failed(message)` for a packet it could not decode) in order, and move the audio into the
/// transcription with `Transcriber.pushFrom`. `finish()` checks the end.
#[wasm_bindgen]
pub struct Demuxer {
    stream: FileStream,
}

#[wasm_bindgen]
impl Demuxer {
    #[wasm_bindgen(constructor)]
    pub fn new(file: Blob, name: String) -> Result<Demuxer, JsValue> {
        if file.size() == 0.0 {
            return Err(js_err(Error::EmptyFile { path: name.into() }));
        }
        let reader = FileReaderSync::new().map_err(|_| misuse("files can only be read in a worker"))?;
        let len = file.size() as u64;
        let source = BlobSource { blob: SendWrapper::new(file), reader: SendWrapper::new(reader), pos: 0, len };
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let stream =
            FileStream::open(Box::new(source), extension.as_deref(), &name, lossless_codecs(), true).map_err(js_err)?;
        Ok(Demuxer { stream })
    }

    /// `{ sampleRate, channels (null if the codec says), totalFrames (null if unknown), decoder }`, where
    /// `decoder` is null when the engine decodes the file itself, else the `AudioDecoderConfig` for WebCodecs.
    pub fn info(&self) -> JsValue {
        let o = Object::new();
        let set = |o: &Object, k: &str, v: JsValue| {
            let _ = Reflect::set(o, &k.into(), &v);
        };
        let opt = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from);
        let s = &self.stream;
        set(&o, "sampleRate", s.sample_rate().into());
        set(&o, "channels", opt(s.channels().map(|n| n as f64)));
        set(&o, "totalFrames", opt(s.total_frames().map(|n| n as f64)));
        let decoder = s.web_codec().map_or(JsValue::NULL, |c| {
            let d = to_js(c);
            // WebCodecs takes the description as bytes (a BufferSource), not as JSON's array of numbers.
            if let Some(bytes) = &c.description {
                set(d.unchecked_ref(), "description", Uint8Array::from(bytes.as_slice()).into());
            }
            d
        });
        set(&o, "decoder", decoder);
        o.into()
    }

    /// The next packet for the browser's decoder, `{ data: Uint8Array, timestamp, duration }` (microseconds,
    /// where the decoder's output starts, encoder delay included), or null at the end.
    #[wasm_bindgen(js_name = nextPacket)]
    pub fn next_packet(&mut self) -> Result<JsValue, JsValue> {
        let Some(p) = self.stream.next_packet().map_err(js_err)? else { return Ok(JsValue::NULL) };
        let o = Object::new();
        let _ = Reflect::set(&o, &"data".into(), &Uint8Array::from(p.data.as_slice()).into());
        let _ = Reflect::set(&o, &"timestamp".into(), &p.timestamp_us.into());
        let _ = Reflect::set(&o, &"duration".into(), &p.duration_us.into());
        Ok(o.into())
    }

    /// Packets handed out whose decoded output has not come back.
    #[wasm_bindgen(js_name = inFlight)]
    pub fn in_flight(&self) -> usize {
        self.stream.in_flight()
    }

    /// The browser decoder's output for the oldest packet in flight: an Array of Float32Array (planar).
    pub fn decoded(&mut self, channels: Array, sample_rate: u32) -> Result<(), JsValue> {
        let pcm = planes(&channels)?;
        self.stream.decoded(sample_rate, pcm).map_err(js_err)
    }

    /// The oldest packet in flight could not be decoded: silence in its place.
    pub fn failed(&mut self, message: String) -> Result<(), JsValue> {
        self.stream.failed(message).map_err(js_err)
    }

    /// Where the engine decodes the file: decodes packets until some audio is ready for `Transcriber.pushFrom`
    /// (true) or the file has ended (false).
    pub fn decode(&mut self) -> Result<bool, JsValue> {
        self.stream.fill().map_err(js_err)?;
        Ok(self.stream.has_ready())
    }

    /// Decoded audio waits to be moved into a transcription.
    #[wasm_bindgen(js_name = hasAudio)]
    pub fn has_audio(&self) -> bool {
        self.stream.has_ready()
    }

    /// After the last packet's output: an error if nothing could be decoded or the file stops well short of
    /// the length it states.
    pub fn finish(&self) -> Result<(), JsValue> {
        self.stream.finish().map_err(js_err)
    }

    /// Channels, once known (the first decoded packet tells, where the container does not).
    pub fn channels(&self) -> Option<usize> {
        self.stream.channels()
    }

    /// Where silence stands in for audio that could not be decoded: one message each.
    pub fn warnings(&self) -> Array {
        self.stream.warnings().iter().map(|w| JsValue::from(w.to_string())).collect()
    }
}
