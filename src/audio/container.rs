//! Containers: which files the engine reads, and where each packet of encoded audio belongs in the recording.
//! The same demuxing serves the CLI (which decodes with symphonia) and the page (which decodes with the
//! browser's codecs), so both trim the same encoder delay and keep time across the same damage.
//!
//! Every packet comes out with symphonia's gapless convention: its timestamp counts from the first sample of the
//! recording (encoder delay excluded), and `trim_start` / `trim_end` say how many of the samples its decoder
//! returns are delay or padding. Symphonia applies that for MP3 (our demuxer) and Ogg; for AAC in MP4 (edit
//! list, iTunSMPB) and Opus (pre-skip) it is applied here.

use std::io::SeekFrom;
use std::sync::OnceLock;
use symphonia::core::audio::{AudioBuffer, AudioBufferRef, Signal};
use symphonia::core::codecs::{CodecParameters, CodecType, CODEC_TYPE_AAC, CODEC_TYPE_NULL, CODEC_TYPE_OPUS};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, Packet};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::{Hint, Probe};
use symphonia::default::formats::{FlacReader, IsoMp4Reader, OggReader, WavReader};

use super::check_format;
use super::mp3::Mp3Reader;
use super::mp4;
use crate::error::{Error, Result};

/// The containers the engine reads: symphonia's, with our MP3 demuxer in place of its own (see `mp3`).
fn probe() -> &'static Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    PROBE.get_or_init(|| {
        let mut p = Probe::default();
        p.register_all::<WavReader>();
        p.register_all::<FlacReader>();
        p.register_all::<OggReader>();
        p.register_all::<IsoMp4Reader>();
        #[cfg(not(target_arch = "wasm32"))]
        p.register_all::<symphonia::default::formats::AdtsReader>();
        p.register_all::<Mp3Reader>();
        p.register_all::<symphonia_metadata::id3v2::Id3v2Reader>();
        p
    })
}

/// Where a packet's decoded samples go, in samples at the stream's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketTime {
    /// The recording's sample that the packet's first kept sample is.
    pub start: u64,
    /// Samples it contributes once trimmed.
    pub frames: u64,
    /// Samples of the decoder's output to drop at its start and its end (encoder delay, padding).
    pub trim_start: u64,
    pub trim_end: u64,
}

/// An opened file: its audio track's packets, in order, with their times.
pub struct Demuxer {
    what: String,
    format: Box<dyn FormatReader>,
    track_id: u32,
    params: CodecParameters,
    rate: u32,
    /// The track's time base as (numerator, denominator) per second, when it is not 1 / rate.
    time_base: Option<(u64, u64)>,
    /// Delay and length (in the track's time base) that symphonia leaves to us.
    retrim: Option<(u64, Option<u64>)>,
    frames: Option<u64>,
}

impl Demuxer {
    /// Opens a file (`what` names it in messages; `extension` helps tell formats apart).
    pub fn open(mut source: Box<dyn MediaSource>, extension: Option<&str>, what: &str) -> Result<Demuxer> {
        let unsupported = |detail: String| Error::UnsupportedFormat { what: what.into(), detail };
        let io = |e: std::io::Error| Error::UnsupportedFormat { what: what.into(), detail: e.to_string() };
        // MP4's gapless information, which symphonia reads but does not apply (read before symphonia takes it).
        let mp4_trim = match source.byte_len() {
            Some(len) => {
                let t = mp4::gapless_trim(&mut source, len);
                source.seek(SeekFrom::Start(0)).map_err(io)?;
                t
            }
            None => None,
        };
        let mss = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let options = FormatOptions { enable_gapless: true, ..Default::default() };
        let format = probe()
            .format(&hint, mss, &options, &MetadataOptions::default())
            .map_err(|e| unsupported(e.to_string()))?
            .format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| Error::NoAudio { what: what.into() })?;
        let params = track.codec_params.clone();
        let track_id = track.id;
        let rate = params.sample_rate.ok_or_else(|| unsupported("the stream does not state its sample rate".into()))?;
        check_format(rate, params.channels.map_or(1, |c| c.count()))?;
        let time_base = params
            .time_base
            .filter(|tb| !(tb.numer == 1 && tb.denom == rate))
            .map(|tb| (tb.numer as u64, tb.denom as u64));
        let to_ticks = |samples: u64| match time_base {
            Some((n, d)) => (samples as u128 * d as u128 / (n as u128 * rate as u128)) as u64,
            None => samples,
        };
        let retrim = match params.codec {
            // The edit list is in the track's timescale (the time base); iTunSMPB in samples.
            CODEC_TYPE_AAC => mp4_trim.map(|t| match t.timescale {
                Some(_) => (t.skip, t.frames),
                None => (to_ticks(t.skip), t.frames.map(to_ticks)),
            }),
            // Opus's pre-skip (the Ogg reader trims the end by granule position, but not the start).
            CODEC_TYPE_OPUS => Some((to_ticks(params.delay.unwrap_or(0) as u64), None)),
            _ => None,
        };
        let mut this = Demuxer { what: what.into(), format, track_id, params, rate, time_base, retrim, frames: None };
        this.frames = match retrim {
            Some((_, Some(frames))) => Some(this.samples(frames)),
            Some((skip, None)) => this.params.n_frames.map(|n| this.samples(n.saturating_sub(skip))),
            None => this.params.n_frames.map(|n| this.samples(n)),
        };
        Ok(this)
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    /// The codec and its setup (extra data: the decoder configuration that the container carries).
    pub fn codec_params(&self) -> &CodecParameters {
        &self.params
    }

    pub fn codec(&self) -> CodecType {
        self.params.codec
    }

    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Channels, when the container says (MP4 leaves it to the codec).
    pub fn channels(&self) -> Option<usize> {
        self.params.channels.map(|c| c.count())
    }

    /// Samples per channel in the recording (trimmed), when the container says.
    pub fn total_frames(&self) -> Option<u64> {
        self.frames
    }

    /// Samples at the stream's rate in `ticks` of the track's time base.
    fn samples(&self, ticks: u64) -> u64 {
        match self.time_base {
            Some((n, d)) => (ticks as u128 * n as u128 * self.rate as u128 / d as u128) as u64,
            None => ticks,
        }
    }

    /// The next packet of the audio track and where its samples go; None at the end of the stream.
    pub fn next_packet(&mut self) -> Result<Option<(Packet, PacketTime)>> {
        loop {
            let mut packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(SymError::ResetRequired) => {
                    return Err(self.corrupt("the stream changes its format midway".into()));
                }
                Err(e) => return Err(self.corrupt(e.to_string())),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            if let Some((delay, frames)) = self.retrim {
                retrim(&mut packet, delay, frames);
            }
            let time = PacketTime {
                start: self.samples(packet.ts),
                frames: self.samples(packet.dur),
                trim_start: packet.trim_start as u64,
                trim_end: packet.trim_end as u64,
            };
            return Ok(Some((packet, time)));
        }
    }

    fn corrupt(&self, detail: String) -> Error {
        Error::CorruptAudio { what: self.what.clone(), detail }
    }
}

/// A symphonia decoder's output as one Vec per channel, with its sample rate.
pub fn planar(decoded: AudioBufferRef<'_>) -> (u32, Vec<Vec<f32>>) {
    let spec = *decoded.spec();
    let mut buf = AudioBuffer::<f32>::new(decoded.capacity() as u64, spec);
    decoded.convert(&mut buf);
    (spec.rate, (0..spec.channels.count()).map(|c| buf.chan(c).to_vec()).collect())
}

/// Moves a packet `delay` ticks earlier, trimming what falls before the start, and trims what falls after
/// `frames` (keeping trims the container already set).
fn retrim(p: &mut Packet, delay: u64, frames: Option<u64>) {
    let cut = delay.saturating_sub(p.ts).min(p.dur);
    p.trim_start += cut as u32;
    p.dur -= cut;
    p.ts = p.ts.saturating_sub(delay);
    if let Some(n) = frames {
        let over = (p.ts + p.dur).saturating_sub(n).min(p.dur);
        p.trim_end += over as u32;
        p.dur -= over;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retrim_moves_and_cuts() {
        let packet = |ts, dur| Packet::new_from_slice(0, ts, dur, &[]);
        // 1024 samples of priming in 1024-sample packets, 2500 samples of audio.
        let mut first = packet(0, 1024);
        retrim(&mut first, 1024, Some(2500));
        assert_eq!((first.ts, first.dur, first.trim_start, first.trim_end), (0, 0, 1024, 0));
        let mut second = packet(1024, 1024);
        retrim(&mut second, 1024, Some(2500));
        assert_eq!((second.ts, second.dur, second.trim_start, second.trim_end), (0, 1024, 0, 0));
        let mut last = packet(3072, 1024);
        retrim(&mut last, 1024, Some(2500));
        assert_eq!((last.ts, last.dur, last.trim_start, last.trim_end), (2048, 452, 0, 572));
        // Opus: 312 of pre-skip inside a 960-sample packet, the end already trimmed by the Ogg reader.
        let mut p = packet(0, 960);
        p.trim_end = 10;
        retrim(&mut p, 312, None);
        assert_eq!((p.ts, p.dur, p.trim_start, p.trim_end), (0, 648, 312, 10));
    }
}
