//! Audio files for the CLI: a [`FileStream`] decoded entirely by the engine (symphonia's decoders and a
//! pure-Rust one for Opus).

use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use symphonia::core::codecs::CodecRegistry;

use super::opus::OpusDecoder;
use super::stream::FileStream;
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
    stream: FileStream,
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
        let mut stream = FileStream::open(Box::new(file), extension, &what, codecs(), false)?;
        if stream.channels().is_none() {
            // Some containers (MP4) leave the channel count to the codec: decode the first packet to learn it.
            stream.fill()?;
        }
        check_format(stream.sample_rate(), PcmSource::channels(&stream))?;
        Ok(AudioFile { stream })
    }

    /// Places where the file could not be decoded and silence stands in (empty for an undamaged file).
    pub fn warnings(&self) -> &[DecodeWarning] {
        self.stream.warnings()
    }
}

impl PcmSource for AudioFile {
    fn sample_rate(&self) -> u32 {
        self.stream.sample_rate()
    }
    fn channels(&self) -> usize {
        PcmSource::channels(&self.stream)
    }
    fn total_frames(&self) -> Option<u64> {
        self.stream.total_frames()
    }
    fn next_chunk(&mut self) -> Result<Option<Vec<Vec<f32>>>> {
        self.stream.next_chunk()
    }
}
