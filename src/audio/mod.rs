//! Audio input: containers (which files, and where each packet's samples go: `container`, `mp3`, `mp4`),
//! decoded packets into a continuous recording (`timeline`), a file decoded packet by packet here or by the
//! browser's WebCodecs decoder (`stream`, configured by `webcodecs`), PCM sources (in memory, or a file on
//! native builds: `file`), and resampling to the model's rate. The CLI and the page share all of it but the
//! codecs. Channels are kept separate: the front-end averages them where the model says.

pub mod container;
#[cfg(not(target_arch = "wasm32"))]
mod file;
mod mp3;
mod mp4;
#[cfg(not(target_arch = "wasm32"))]
mod opus;
mod resample;
pub mod stream;
pub mod timeline;
pub mod webcodecs;

#[cfg(not(target_arch = "wasm32"))]
pub use file::AudioFile;
pub use mp4::AacConfig;
pub use resample::Resampler;
pub use stream::{FileStream, OutgoingPacket};
pub use webcodecs::WebCodecConfig;

use crate::config::{MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use crate::error::{Error, Result};

/// A stream of planar f32 PCM in chunks.
pub trait PcmSource {
    fn sample_rate(&self) -> u32;
    fn channels(&self) -> usize;
    /// Frames (samples per channel) in the whole stream, if known in advance (for progress).
    fn total_frames(&self) -> Option<u64>;
    /// The next chunk, one Vec per channel, or None at the end.
    fn next_chunk(&mut self) -> Result<Option<Vec<Vec<f32>>>>;
}

/// A stretch of a file that could not be decoded; silence of the same length stands in its place, so that the
/// audio after it keeps its time.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeWarning {
    /// Where in the recording, in seconds.
    pub seconds: f64,
    /// How long the silence is.
    pub missing_seconds: f64,
    pub detail: String,
}

impl std::fmt::Display for DecodeWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at {:.2} s: {}; {:.0} ms of silence stand in its place",
            self.seconds,
            self.detail,
            self.missing_seconds * 1e3
        )
    }
}

/// Checks the stream's format against what the engine accepts.
pub fn check_format(sample_rate: u32, channels: usize) -> Result<()> {
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(Error::SampleRate { rate: sample_rate, min: MIN_SAMPLE_RATE, max: MAX_SAMPLE_RATE });
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(Error::Channels { channels, max: MAX_CHANNELS });
    }
    Ok(())
}

/// PCM already in memory (the browser's decoded AudioBuffer, tests), served in chunks.
pub struct PcmBuffer {
    rate: u32,
    data: Vec<Vec<f32>>,
    pos: usize,
}

impl PcmBuffer {
    const CHUNK: usize = 1 << 16;

    pub fn new(rate: u32, data: Vec<Vec<f32>>) -> Result<Self> {
        check_format(rate, data.len())?;
        let expected = data[0].len();
        for (channel, c) in data.iter().enumerate() {
            if c.len() != expected {
                return Err(Error::ChannelLength { channel, expected, actual: c.len() });
            }
        }
        Ok(PcmBuffer { rate, data, pos: 0 })
    }
}

impl PcmSource for PcmBuffer {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn channels(&self) -> usize {
        self.data.len()
    }
    fn total_frames(&self) -> Option<u64> {
        Some(self.data[0].len() as u64)
    }
    fn next_chunk(&mut self) -> Result<Option<Vec<Vec<f32>>>> {
        let len = self.data[0].len();
        if self.pos >= len {
            return Ok(None);
        }
        let end = (self.pos + Self::CHUNK).min(len);
        let chunk = self.data.iter().map(|c| c[self.pos..end].to_vec()).collect();
        self.pos = end;
        Ok(Some(chunk))
    }
}
