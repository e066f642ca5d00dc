//! A file decoded into a continuous recording, packet by packet: demuxed by [`Demuxer`], each packet decoded
//! either here (a symphonia decoder: the CLI decodes everything so, the page WAV and FLAC) or by someone else
//! (the browser's WebCodecs decoder, configured as [`WebCodecConfig`] says: the page's MP3, AAC, Opus and
//! Vorbis), and placed sample-exactly by [`Timeline`]. One error policy for both: a packet that cannot be
//! decoded becomes silence of its length (with a warning), a stream that cannot be read is an error.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;

use symphonia::core::codecs::{CodecRegistry, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::Packet;
use symphonia::core::io::MediaSource;

use super::container::{planar, Demuxer, PacketTime};
use super::timeline::Timeline;
use super::webcodecs::WebCodecConfig;
use super::{DecodeWarning, PcmSource};
use crate::error::{Error, Result};

/// Who decodes a stream's packets.
enum Codec {
    /// A decoder of ours.
    Here(Box<dyn Decoder>),
    /// The caller's (the browser's): packets go out with [`FileStream::next_packet`], their audio comes back
    /// with [`FileStream::decoded`], in order.
    Elsewhere(WebCodecConfig),
}

/// A packet for a decoder outside the engine, timed as WebCodecs wants it: in microseconds, where the
/// decoder's output starts (encoder delay included).
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingPacket {
    pub data: Vec<u8>,
    pub timestamp_us: f64,
    pub duration_us: f64,
}

pub struct FileStream {
    demuxer: Demuxer,
    codec: Codec,
    timeline: Timeline,
    /// Packets handed out whose decoded output has not come back yet.
    in_flight: VecDeque<PacketTime>,
    /// Samples trimmed from the start so far: a packet's raw position (where a decoder puts it, delay
    /// included) is its place plus this.
    trimmed: u64,
    done: bool,
}

impl FileStream {
    /// Opens a stream (`what` names it in messages; `extension` helps tell formats apart). Its packets are
    /// decoded by `codecs` unless `browser` is set and the browser has a WebCodecs decoder for them.
    pub fn open(
        source: Box<dyn MediaSource>,
        extension: Option<&str>,
        what: &str,
        codecs: &CodecRegistry,
        browser: bool,
    ) -> Result<Self> {
        let demuxer = Demuxer::open(source, extension, what)?;
        let codec = match WebCodecConfig::for_stream(&demuxer).filter(|_| browser) {
            Some(config) => Codec::Elsewhere(config),
            None => Codec::Here(
                codecs
                    .make(demuxer.codec_params(), &DecoderOptions::default())
                    .map_err(|e| Error::UnsupportedFormat { what: what.into(), detail: e.to_string() })?,
            ),
        };
        let timeline = Timeline::new(what, demuxer.sample_rate(), demuxer.channels());
        Ok(FileStream { demuxer, codec, timeline, in_flight: VecDeque::new(), trimmed: 0, done: false })
    }

    pub fn sample_rate(&self) -> u32 {
        self.demuxer.sample_rate()
    }

    /// Channels, once known (the first decoded packet tells, where the container does not).
    pub fn channels(&self) -> Option<usize> {
        self.timeline.channels()
    }

    /// Samples per channel in the recording, when the container says.
    pub fn total_frames(&self) -> Option<u64> {
        self.demuxer.total_frames()
    }

    /// The codec's parameters as the container gives them (what a decoder elsewhere is made from).
    pub fn codec_params(&self) -> &symphonia::core::codecs::CodecParameters {
        self.demuxer.codec_params()
    }

    /// The browser decoder's configuration, when the browser decodes this stream.
    pub fn web_codec(&self) -> Option<&WebCodecConfig> {
        match &self.codec {
            Codec::Elsewhere(c) => Some(c),
            Codec::Here(_) => None,
        }
    }

    /// Places where the file could not be decoded and silence stands in (empty for an undamaged file).
    pub fn warnings(&self) -> &[DecodeWarning] {
        self.timeline.warnings()
    }

    /// Decoded audio ready to take.
    pub fn has_ready(&self) -> bool {
        self.timeline.has_ready()
    }

    /// Decoded audio, in the order of the recording, as one Vec per channel; None when none is ready.
    pub fn take(&mut self) -> Option<Vec<Vec<f32>>> {
        self.timeline.take()
    }

    /// Whether every packet has been read (and, decoded here, decoded).
    pub fn ended(&self) -> bool {
        self.done
    }

    /// Decodes packets here until some audio is ready or the stream ends (nothing for a stream the browser
    /// decodes).
    pub fn fill(&mut self) -> Result<()> {
        while !self.timeline.has_ready() && !self.done {
            let Codec::Here(decoder) = &mut self.codec else { return Ok(()) };
            let Some((packet, time)) = self.demuxer.next_packet()? else {
                self.done = true;
                break;
            };
            // The timeline trims: the decoder gets the packet without its trims, whichever decoder it is.
            let packet = Packet::new_from_boxed_slice(packet.track_id(), packet.ts, packet.dur, packet.data);
            // A decode or I/O error means this packet is undecodable and the next may be fine (symphonia's
            // contract). So does an unsupported feature once the stream has decoded (damaged bytes that read as
            // one), and a panic (symphonia's AAC decoder indexes out of bounds on some damaged frames), after
            // which the decoder starts afresh. Anything else ends the stream.
            match std::panic::catch_unwind(AssertUnwindSafe(|| decoder.decode(&packet).map(planar))) {
                Ok(Ok((rate, pcm))) => self.timeline.decoded(&time, rate, pcm)?,
                Ok(Err(SymError::DecodeError(e))) => self.timeline.failed(&time, e.to_string())?,
                Ok(Err(SymError::IoError(e))) => self.timeline.failed(&time, e.to_string())?,
                Ok(Err(SymError::Unsupported(e))) if self.timeline.delivered() > 0 => {
                    self.timeline.failed(&time, e.to_string())?
                }
                Ok(Err(e)) => {
                    return Err(Error::CorruptAudio { what: self.demuxer.what().into(), detail: e.to_string() })
                }
                Err(_) => {
                    decoder.reset();
                    self.timeline.failed(&time, "the decoder failed on it".into())?
                }
            }
        }
        Ok(())
    }

    /// The next packet for the browser's decoder, or None at the end (or for a stream decoded here).
    pub fn next_packet(&mut self) -> Result<Option<OutgoingPacket>> {
        if !matches!(self.codec, Codec::Elsewhere(_)) {
            return Ok(None);
        }
        let Some((packet, time)) = self.demuxer.next_packet()? else {
            self.done = true;
            return Ok(None);
        };
        let raw_len = time.frames + time.trim_start + time.trim_end;
        let raw_start = time.start + self.trimmed;
        self.trimmed += time.trim_start;
        // A packet that decodes to nothing (Vorbis's first, which only primes the decoder) still goes to the
        // decoder, but no output is awaited for it.
        if raw_len > 0 {
            self.in_flight.push_back(time);
        }
        let rate = self.sample_rate() as f64;
        Ok(Some(OutgoingPacket {
            data: packet.data.into_vec(),
            timestamp_us: (raw_start as f64 * 1e6 / rate).round(),
            duration_us: (raw_len as f64 * 1e6 / rate).round(),
        }))
    }

    /// Packets handed out whose decoded output has not come back.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The browser decoder's output for the oldest packet in flight (planar, at `rate` Hz).
    pub fn decoded(&mut self, rate: u32, pcm: Vec<Vec<f32>>) -> Result<()> {
        let time = self.in_flight.pop_front().ok_or_else(|| self.out_of_order("decoded audio"))?;
        self.timeline.decoded(&time, rate, pcm)
    }

    /// The oldest packet in flight could not be decoded: silence in its place.
    pub fn failed(&mut self, detail: String) -> Result<()> {
        let time = self.in_flight.pop_front().ok_or_else(|| self.out_of_order("a decoder error"))?;
        self.timeline.failed(&time, detail)
    }

    fn out_of_order(&self, what: &str) -> Error {
        Error::CorruptAudio {
            what: self.demuxer.what().into(),
            detail: format!("{what} came back for no packet in flight"),
        }
    }

    /// After the last packet's output: an error if nothing could be decoded or the file stops well short of the
    /// length it states.
    pub fn finish(&self) -> Result<()> {
        self.timeline.finish(self.demuxer.total_frames())
    }
}

/// A stream decoded here, read as PCM.
impl PcmSource for FileStream {
    fn sample_rate(&self) -> u32 {
        FileStream::sample_rate(self)
    }
    fn channels(&self) -> usize {
        self.timeline.channels().unwrap_or(0)
    }
    fn total_frames(&self) -> Option<u64> {
        self.demuxer.total_frames()
    }

    fn next_chunk(&mut self) -> Result<Option<Vec<Vec<f32>>>> {
        self.fill()?;
        match self.timeline.take() {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                self.finish()?;
                Ok(None)
            }
        }
    }
}
