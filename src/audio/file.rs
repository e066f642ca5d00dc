//! Decoding audio files (WAV, FLAC, MP3, OGG/Vorbis) with symphonia, streaming packet by packet.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::{AudioBuffer, AudioBufferRef, Signal};
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{check_format, PcmSource};
use crate::error::{Error, Result};

pub struct AudioFile {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    rate: u32,
    channels: usize,
    frames: Option<u64>,
    decoded: u64,
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
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
            .map_err(|e| Error::UnsupportedFormat { what: what.clone(), detail: e.to_string() })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| Error::NoAudio { what: what.clone() })?;
        let params = track.codec_params.clone();
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| Error::UnsupportedFormat { what: what.clone(), detail: e.to_string() })?;
        let rate = params.sample_rate.ok_or_else(|| Error::UnsupportedFormat {
            what: what.clone(),
            detail: "the stream does not state its sample rate".into(),
        })?;
        let channels = params.channels.map(|c| c.count()).unwrap_or(0);
        check_format(rate, channels)?;
        Ok(AudioFile {
            path: path.into(),
            track_id: track.id,
            format,
            decoder,
            rate,
            channels,
            frames: params.n_frames,
            decoded: 0,
            done: false,
        })
    }

    fn what(&self) -> String {
        self.path.display().to_string()
    }

    fn corrupt(&self, detail: impl Into<String>) -> Error {
        Error::CorruptAudio { what: self.what(), detail: detail.into() }
    }

    /// At the end of the stream: a stream that stops well short of the length its header states is truncated.
    fn check_complete(&self) -> Result<()> {
        if self.decoded == 0 {
            return Err(Error::NoAudio { what: self.what() });
        }
        if let Some(expected) = self.frames {
            // Compressed formats state their length only approximately (encoder delay and padding).
            let slack = (expected / 200).max(4096);
            if self.decoded + slack < expected {
                return Err(self.corrupt(format!(
                    "truncated: the header announces {expected} samples per channel but only {} could be decoded",
                    self.decoded
                )));
            }
        }
        Ok(())
    }
}

impl PcmSource for AudioFile {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn total_frames(&self) -> Option<u64> {
        self.frames
    }

    fn next_chunk(&mut self) -> Result<Option<Vec<Vec<f32>>>> {
        while !self.done {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                    break;
                }
                Err(SymError::ResetRequired) => {
                    return Err(self.corrupt("the stream changes its format midway"));
                }
                Err(e) => return Err(self.corrupt(e.to_string())),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                    break;
                }
                Err(e) => return Err(self.corrupt(e.to_string())),
            };
            if decoded.frames() == 0 {
                continue;
            }
            let spec = *decoded.spec();
            if spec.rate != self.rate || spec.channels.count() != self.channels {
                return Err(self.corrupt("the stream changes its sample rate or channel count midway"));
            }
            let chunk = to_planar(decoded);
            self.decoded += chunk[0].len() as u64;
            return Ok(Some(chunk));
        }
        self.check_complete()?;
        Ok(None)
    }
}

fn to_planar(decoded: AudioBufferRef<'_>) -> Vec<Vec<f32>> {
    let mut buf = AudioBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
    decoded.convert(&mut buf);
    (0..buf.spec().channels.count()).map(|c| buf.chan(c).to_vec()).collect()
}
