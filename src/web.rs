//! The wasm-bindgen surface for the browser, used from a Web Worker:
//! - [`Engine`]: a loaded model, and the options it uses by default;
//! - [`Stream`] (`Transcriber` in JS): a transcription fed piece by piece (`push(pcm)`, progress and notes so
//!   far per segment, `finish()` -> MIDI), the same pipeline the CLI runs;
//! - [`Demuxer`]: a file read in pieces (FileReaderSync, so it is never held whole), its packets with their
//!   times for the browser's decoders (WebCodecs), their decoded output placed sample-exactly, or, for the
//!   lossless formats (WAV, FLAC), decoded here.
//!
//! Errors come back as JS exceptions with the library's message.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};

use js_sys::{Array, Float32Array, Float64Array, Function, Object, Reflect, Uint8Array};
use send_wrapper::SendWrapper;
use symphonia::core::codecs::{
    CodecRegistry, Decoder, DecoderOptions, CODEC_TYPE_AAC, CODEC_TYPE_MP3, CODEC_TYPE_OPUS, CODEC_TYPE_VORBIS,
};
use symphonia::core::formats::Packet;
use symphonia::core::io::MediaSource;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, FileReaderSync};

use crate::audio::container::{planar, Demuxer as Container, PacketTime};
use crate::audio::timeline::Timeline;
use crate::audio::AacConfig;
use crate::notes::Note;
use crate::score::{self, ScoreOptions};
use crate::{midi, Flow, Session, TranscribeOptions, Transcriber, Transcription};

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

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Notes as a flat Float64Array: [onset, offset, pitch, velocity] per note.
fn notes_array(notes: &[Note]) -> Float64Array {
    let flat: Vec<f64> = notes.iter().flat_map(|n| [n.onset, n.offset, n.pitch as f64, n.velocity as f64]).collect();
    Float64Array::from(flat.as_slice())
}

/// A JS value as serde sees it (through JSON: options objects are small).
fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return serde_json::from_str("{}").map_err(js_err);
    }
    let json = js_sys::JSON::stringify(value).map_err(|_| JsError::new(&format!("{what} cannot be read")))?;
    serde_json::from_str(&String::from(json)).map_err(|e| JsError::new(&format!("invalid {what}: {e}")))
}

fn to_js(value: &impl serde::Serialize) -> JsValue {
    js_sys::JSON::parse(&serde_json::to_string(value).unwrap_or_default()).unwrap_or(JsValue::NULL)
}

/// A loaded model; create once per worker and reuse.
#[wasm_bindgen]
pub struct Engine {
    inner: Transcriber,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a model bundle from its bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8]) -> Result<Engine, JsError> {
        Ok(Engine { inner: Transcriber::from_bytes(model).map_err(js_err)? })
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
/// object (camelCase keys, missing ones take their defaults). `progress(fraction, secondsDone, notesSoFar)` is
/// called after each segment; returning `false` cancels.
#[wasm_bindgen(js_name = Transcriber)]
pub struct Stream {
    session: Option<Session>,
}

#[wasm_bindgen(js_class = Transcriber)]
impl Stream {
    #[wasm_bindgen(constructor)]
    pub fn new(
        engine: &Engine,
        sample_rate: u32,
        channels: usize,
        total_frames: Option<f64>,
        options: JsValue,
    ) -> Result<Stream, JsError> {
        let options: TranscribeOptions = from_js(&options, "options")?;
        let total = total_frames.filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64);
        let session = engine.inner.start(sample_rate, channels, total, options).map_err(js_err)?;
        Ok(Stream { session: Some(session) })
    }

    /// Adds PCM: an Array of Float32Array, one per channel, all the same length. Runs the segments it completes.
    pub fn push(&mut self, channels: Array, progress: Option<Function>) -> Result<(), JsError> {
        let pcm = planes(&channels)?;
        let session = self.session.as_mut().ok_or_else(|| JsError::new("the transcription is finished"))?;
        session.push(&pcm, &mut reporter(progress.as_ref())).map_err(js_err)
    }

    /// Runs the rest and returns the result; the transcriber cannot be used after.
    pub fn finish(&mut self, progress: Option<Function>) -> Result<Transcript, JsError> {
        let session = self.session.take().ok_or_else(|| JsError::new("the transcription is finished"))?;
        let t = session.finish(&mut reporter(progress.as_ref())).map_err(js_err)?;
        Ok(Transcript { midi: midi::write(&t), t })
    }
}

/// An Array of Float32Array as one Vec per channel.
fn planes(channels: &Array) -> Result<Vec<Vec<f32>>, JsError> {
    channels
        .iter()
        .map(|c| c.dyn_into::<Float32Array>().map(|a| a.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|_| JsError::new("channels must be an Array of Float32Array"))
}

/// The progress callback as the pipeline calls it.
fn reporter(progress: Option<&Function>) -> impl FnMut(&crate::Progress) -> Flow + '_ {
    move |p| {
        let Some(f) = progress else { return Flow::Continue };
        let r = f.call3(
            &JsValue::NULL,
            &JsValue::from(p.fraction.unwrap_or(0.0)),
            &JsValue::from(p.seconds_done),
            &notes_array(&p.notes_so_far()),
        );
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

/// A score of a transcription: `notes` as `Transcript.notes()` gives them ([onset, offset, pitch, velocity]
/// per note), `pedals` as `Transcript.pedals()`, `options` a `ScoreOptions` object, `title` for the score.
#[wasm_bindgen(js_name = makeScore)]
pub fn make_score(notes: &[f64], pedals: &[f64], options: JsValue, title: String) -> Result<ScoreResult, JsError> {
    let options: ScoreOptions = if options.is_undefined() || options.is_null() {
        ScoreOptions::default()
    } else {
        from_js(&options, "score options")?
    };
    let mut t = Transcription::default();
    for n in notes.chunks_exact(4) {
        t.notes.push(crate::Note { onset: n[0], offset: n[1], pitch: n[2] as u8, velocity: n[3] as u8 });
    }
    for p in pedals.chunks_exact(4) {
        if let Some(kind) = crate::PedalKind::from_controller(p[2] as u8) {
            t.pedals.push(crate::Pedal { kind, start: p[0], end: p[1], value: p[3] as u8 });
        }
    }
    let s = score::from_performance(&t, &options).map_err(js_err)?;
    Ok(ScoreResult { musicxml: score::musicxml::write(&s, &title), midi: midi::write_score(&s), score: s })
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

/// The result of a transcription.
#[wasm_bindgen]
pub struct Transcript {
    t: Transcription,
    midi: Vec<u8>,
}

#[wasm_bindgen]
impl Transcript {
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

/// The engine's own decoders for the lossless formats (PCM and ADPCM WAV, FLAC).
fn lossless_codecs() -> CodecRegistry {
    let mut r = CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut r);
    r
}

/// A file opened for transcription: `new Demuxer(file)` (a File or Blob; its name's extension helps).
/// `info()` says how to decode it. Lossless formats: `read()` returns decoded audio until null. The others:
/// `nextPacket()` gives packets (null at the end) for an `AudioDecoder` configured as `info().decoder` says;
/// hand each decoder output to `decoded(planes, sampleRate)` (or `failed(message)` for a packet it could not
/// decode) in order, and take the placed audio with `take()`. `finish()` checks the end.
#[wasm_bindgen]
pub struct Demuxer {
    container: Container,
    timeline: Timeline,
    own_decoder: Option<Box<dyn Decoder>>,
    /// Packets given to the browser's decoder whose output has not come back yet.
    in_flight: VecDeque<PacketTime>,
    /// Samples trimmed from the start so far: a packet's raw position (where the decoder puts it, delay
    /// included) is its place plus this.
    trimmed: u64,
    done: bool,
}

#[wasm_bindgen]
impl Demuxer {
    #[wasm_bindgen(constructor)]
    pub fn new(file: Blob, name: String) -> Result<Demuxer, JsError> {
        if file.size() == 0.0 {
            return Err(JsError::new(&format!("{name}: the file is empty (0 bytes)")));
        }
        let reader = FileReaderSync::new().map_err(|_| JsError::new("files can only be read in a worker"))?;
        let len = file.size() as u64;
        let source = BlobSource { blob: SendWrapper::new(file), reader: SendWrapper::new(reader), pos: 0, len };
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let container = Container::open(Box::new(source), extension.as_deref(), &name).map_err(js_err)?;
        let own_decoder = match web_codec(&container) {
            Some(_) => None,
            None => {
                Some(lossless_codecs().make(container.codec_params(), &DecoderOptions::default()).map_err(|e| {
                    js_err(crate::Error::UnsupportedFormat { what: name.clone(), detail: e.to_string() })
                })?)
            }
        };
        let timeline = Timeline::new(&name, container.sample_rate(), container.channels());
        Ok(Demuxer { container, timeline, own_decoder, in_flight: VecDeque::new(), trimmed: 0, done: false })
    }

    /// `{ sampleRate, channels (null if the codec says), totalFrames (null if unknown), decoder }`, where
    /// `decoder` is null when the engine decodes the file itself, else the `AudioDecoderConfig` for WebCodecs.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let o = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v).map(|_| ());
        let c = &self.container;
        let opt = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from);
        let js = |_| JsError::new("cannot build the info object");
        set("sampleRate", c.sample_rate().into()).map_err(js)?;
        set("channels", opt(c.channels().map(|n| n as f64))).map_err(js)?;
        set("totalFrames", opt(c.total_frames().map(|n| n as f64))).map_err(js)?;
        let decoder = match web_codec(c) {
            None => JsValue::NULL,
            Some(WebCodec { codec, description, channels: codec_channels }) => {
                let d = Object::new();
                let ds = |k: &str, v: JsValue| Reflect::set(&d, &k.into(), &v).map(|_| ());
                ds("codec", codec.into()).map_err(js)?;
                ds("sampleRate", c.sample_rate().into()).map_err(js)?;
                // MP4 leaves the count to the codec's own configuration.
                ds("numberOfChannels", c.channels().or(codec_channels).unwrap_or(2).into()).map_err(js)?;
                if let Some(desc) = description {
                    ds("description", Uint8Array::from(desc.as_slice()).into()).map_err(js)?;
                }
                d.into()
            }
        };
        set("decoder", decoder).map_err(js)?;
        Ok(o.into())
    }

    /// The next packet for the browser's decoder, `{ data: Uint8Array, timestamp, duration }` (microseconds,
    /// where the decoder's output starts, encoder delay included), or null at the end.
    #[wasm_bindgen(js_name = nextPacket)]
    pub fn next_packet(&mut self) -> Result<JsValue, JsError> {
        {
            let Some((packet, time)) = self.container.next_packet().map_err(js_err)? else {
                self.done = true;
                return Ok(JsValue::NULL);
            };
            let raw_len = time.frames + time.trim_start + time.trim_end;
            let raw_start = time.start + self.trimmed;
            self.trimmed += time.trim_start;
            // A packet that decodes to nothing (Vorbis's first, which only primes the decoder) still goes to the
            // decoder, but no output is awaited for it.
            if raw_len > 0 {
                self.in_flight.push_back(time);
            }
            let rate = self.container.sample_rate() as f64;
            let o = Object::new();
            let js = |_| JsError::new("cannot build the packet object");
            Reflect::set(&o, &"data".into(), &Uint8Array::from(&packet.data[..]).into()).map_err(js)?;
            Reflect::set(&o, &"timestamp".into(), &(raw_start as f64 * 1e6 / rate).round().into()).map_err(js)?;
            Reflect::set(&o, &"duration".into(), &(raw_len as f64 * 1e6 / rate).round().into()).map_err(js)?;
            Ok(o.into())
        }
    }

    /// Packets handed out whose decoded output has not come back.
    #[wasm_bindgen(js_name = inFlight)]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The browser decoder's output for the oldest packet in flight: an Array of Float32Array (planar).
    pub fn decoded(&mut self, channels: Array, sample_rate: u32) -> Result<(), JsError> {
        let time = self.in_flight.pop_front().ok_or_else(|| JsError::new("decoder output without a packet"))?;
        self.timeline.decoded(&time, sample_rate, planes(&channels)?).map_err(js_err)
    }

    /// The oldest packet in flight could not be decoded: silence in its place.
    pub fn failed(&mut self, message: String) -> Result<(), JsError> {
        let time = self.in_flight.pop_front().ok_or_else(|| JsError::new("decoder error without a packet"))?;
        self.timeline.failed(&time, message).map_err(js_err)
    }

    /// All decoded audio ready to transcribe, as one piece (an Array of Float32Array), or null.
    pub fn take(&mut self) -> Option<Array> {
        let mut all = self.timeline.take()?;
        while let Some(chunk) = self.timeline.take() {
            all.iter_mut().zip(chunk).for_each(|(a, c)| a.extend_from_slice(&c));
        }
        Some(all.iter().map(|c| JsValue::from(Float32Array::from(&c[..]))).collect())
    }

    /// Lossless formats: the next decoded audio (an Array of Float32Array), or null at the end.
    pub fn read(&mut self) -> Result<Option<Array>, JsError> {
        while !self.timeline.has_ready() && !self.done {
            let decoder =
                self.own_decoder.as_mut().ok_or_else(|| JsError::new("this file is decoded by the browser"))?;
            let Some((packet, time)) = self.container.next_packet().map_err(js_err)? else {
                self.done = true;
                break;
            };
            let packet = Packet::new_from_boxed_slice(packet.track_id(), packet.ts, packet.dur, packet.data);
            match decoder.decode(&packet).map(planar) {
                Ok((rate, pcm)) => self.timeline.decoded(&time, rate, pcm).map_err(js_err)?,
                Err(e) => self.timeline.failed(&time, e.to_string()).map_err(js_err)?,
            }
        }
        if let Some(chunk) = self.timeline.take() {
            return Ok(Some(chunk.iter().map(|c| JsValue::from(Float32Array::from(&c[..]))).collect()));
        }
        self.finish()?;
        Ok(None)
    }

    /// After the last packet's output: an error if nothing could be decoded or the file stops well short of
    /// the length it states.
    pub fn finish(&self) -> Result<(), JsError> {
        self.timeline.finish(self.container.total_frames()).map_err(js_err)
    }

    /// Channels, once known (the first decoded packet tells, where the container does not).
    pub fn channels(&self) -> Option<usize> {
        self.timeline.channels()
    }

    /// Where silence stands in for audio that could not be decoded: one message each.
    pub fn warnings(&self) -> Array {
        self.timeline.warnings().iter().map(|w| JsValue::from(w.to_string())).collect()
    }
}

/// How the browser's `AudioDecoder` is configured for a codec it decodes.
struct WebCodec {
    codec: String,
    description: Option<Vec<u8>>,
    /// The channel count the codec's own configuration gives (MP4 leaves it to the codec).
    channels: Option<usize>,
}

/// The WebCodecs configuration for codecs the browser decodes; None for those decoded here.
fn web_codec(c: &Container) -> Option<WebCodec> {
    let extra = c.codec_params().extra_data.as_deref();
    let plain = |codec: &str, description| Some(WebCodec { codec: codec.into(), description, channels: None });
    match c.codec() {
        CODEC_TYPE_MP3 => plain("mp3", None),
        CODEC_TYPE_AAC => {
            // Without an AudioSpecificConfig, AAC-LC (object type 2) is what the stream almost surely is.
            let asc = extra.and_then(AacConfig::parse);
            Some(WebCodec {
                codec: format!("mp4a.40.{}", asc.map_or(2, |a| a.object_type)),
                description: extra.map(<[u8]>::to_vec),
                channels: asc.and_then(|a| a.channels),
            })
        }
        // Without a description the decoder takes mono or stereo as numberOfChannels says, and leaves the
        // pre-skip to us (the timeline trims it, as in the CLI).
        CODEC_TYPE_OPUS => plain("opus", None),
        CODEC_TYPE_VORBIS => plain("vorbis", extra.map(vorbis_description)),
        _ => None,
    }
}

/// WebCodecs' Vorbis description (Xiph extradata): the three header packets, laced. Symphonia keeps the
/// identification (30 bytes) and setup headers; the comment header is rebuilt empty.
fn vorbis_description(extra: &[u8]) -> Vec<u8> {
    let (ident, setup) = extra.split_at(30.min(extra.len()));
    let mut comment = b"\x03vorbis".to_vec();
    comment.extend_from_slice(&0u32.to_le_bytes()); // vendor string length
    comment.extend_from_slice(&0u32.to_le_bytes()); // comment count
    comment.push(1); // framing bit
    let mut d = vec![2u8];
    for len in [ident.len(), comment.len()] {
        d.extend(std::iter::repeat_n(255u8, len / 255));
        d.push((len % 255) as u8);
    }
    d.extend_from_slice(ident);
    d.extend_from_slice(&comment);
    d.extend_from_slice(setup);
    d
}
