//! Audio files for the CLI: demuxed by [`Demuxer`] (WAV, FLAC, MP3, Ogg Vorbis and Opus, M4A/AAC, ADTS),
//! decoded by symphonia (and a pure-Rust Opus decoder), placed sample-exactly by [`Timeline`].

use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::OnceLock;

use symphonia::core::codecs::{CodecRegistry, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::Packet;

use super::container::{planar, Demuxer};
use super::opus::OpusDecoder;
use super::timeline::Timeline;
use super::{check_format, DecodeWarning, PcmSource};
use crate::error::{Error, Result};

/// Symphonia's decoders and ours for Opus.
fn codecs() -> &'static CodecRegistry {
    static CODECS: OnceLock<CodecRegistry> = OnceLock::new();
    CODECS.get_or_init(|| {
        let mut r = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut r);
        r.register_all::<OpusDecoder>();
        r
    })
}

pub struct AudioFile {
    demuxer: Demuxer,
    decoder: Box<dyn Decoder>,
    timeline: Timeline,
    done: bool,
}

impl AudioFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Err(Error::EmptyFile { path: path.into() });
        }
        let what = path.display().to_string();
        let extension = path.extension().and_then(|e| e.to_str());
        let demuxer = Demuxer::open(Box::new(file), extension, &what)?;
        let decoder = codecs()
            .make(demuxer.codec_params(), &DecoderOptions::default())
            .map_err(|e| Error::UnsupportedFormat { what: what.clone(), detail: e.to_string() })?;
        let timeline = Timeline::new(&what, demuxer.sample_rate(), demuxer.channels());
        let mut this = AudioFile { demuxer, decoder, timeline, done: false };
        if this.timeline.channels().is_none() {
            // Some containers (MP4) leave the channel count to the codec: decode the first packet to learn it.
            this.fill()?;
        }
        check_format(this.sample_rate(), this.channels())?;
        Ok(this)
    }

    /// Places where the file could not be decoded and silence stands in (empty for an undamaged file).
    pub fn warnings(&self) -> &[DecodeWarning] {
        self.timeline.warnings()
    }

    /// Decodes packets until some audio is ready or the stream ends.
    fn fill(&mut self) -> Result<()> {
        while !self.timeline.has_ready() && !self.done {
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
            let decoder = &mut self.decoder;
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
                    self.decoder.reset();
                    self.timeline.failed(&time, "the decoder failed on it".into())?
                }
            }
        }
        Ok(())
    }
}

impl PcmSource for AudioFile {
    fn sample_rate(&self) -> u32 {
        self.demuxer.sample_rate()
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
                self.timeline.finish(self.demuxer.total_frames())?;
                Ok(None)
            }
        }
    }
}
