//! One error type for the library; each face (CLI, wasm) converts it once.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: the file is empty (0 bytes)")]
    EmptyFile { path: PathBuf },

    #[error("{what}: not a supported audio file ({detail}); expected WAV, FLAC, MP3, OGG (Vorbis or Opus) or M4A/AAC")]
    UnsupportedFormat { what: String, detail: String },

    #[error("{what}: the audio data is corrupt or truncated ({detail})")]
    CorruptAudio { what: String, detail: String },

    #[error("{what}: the file contains no audio samples")]
    NoAudio { what: String },

    #[error("sample rate {rate} Hz is not supported; expected {min} to {max} Hz")]
    SampleRate { rate: u32, min: u32, max: u32 },

    #[error("{channels} audio channels are not supported; expected 1 to {max}")]
    Channels { channels: usize, max: usize },

    #[error(
        "channel {channel} has {actual} samples but channel 0 has {expected}; all channels must be the same length"
    )]
    ChannelLength { channel: usize, expected: usize, actual: usize },

    #[error("the audio contains non-finite samples (NaN or infinity) at channel {channel}, sample {index}")]
    NonFinite { channel: usize, index: usize },

    #[error("not a pianoscribe model file: {0}")]
    ModelFormat(String),

    #[error("the model file is damaged: {0}; download or convert it again")]
    ModelCorrupt(String),

    #[error("the model does not match what this version expects: {0}")]
    ModelMismatch(String),

    #[error("{needs} needs {expected} model; this one is {found}")]
    WrongFamily { needs: String, expected: &'static str, found: String },

    #[error("model inference failed: {0}")]
    Inference(String),

    #[error("cannot read MIDI {what}: {detail}")]
    Midi { what: String, detail: String },

    #[error("cannot read note table {what}, line {line}: {detail}")]
    NoteTable { what: String, line: usize, detail: String },

    #[error("invalid option: {0}")]
    InvalidOption(String),

    #[error("cannot write a score: {0}")]
    Score(String),

    #[error("transcription cancelled")]
    Cancelled,
}

impl Error {
    /// What kind of failure this is, in one stable word, for a face that branches on it (the page chooses its
    /// advice by it; the message is for people).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Cancelled => "cancelled",
            Error::UnsupportedFormat { .. } | Error::SampleRate { .. } | Error::Channels { .. } => "unsupported",
            Error::CorruptAudio { .. } => "corrupt",
            Error::NoAudio { .. } | Error::EmptyFile { .. } => "no-audio",
            Error::ModelFormat(_) | Error::ModelCorrupt(_) | Error::ModelMismatch(_) | Error::WrongFamily { .. } => {
                "bad-model"
            }
            Error::ChannelLength { .. } | Error::NonFinite { .. } | Error::InvalidOption(_) => "invalid-input",
            Error::Io { .. } | Error::Midi { .. } | Error::NoteTable { .. } => "unreadable",
            Error::Inference(_) => "inference",
            Error::Score(_) => "score",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
