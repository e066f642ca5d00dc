//! pianoscribe: piano transcription (audio in, MIDI out), natively or in the browser.
//!
//! Data flows one way: [`audio`] (decode, resample) -> [`features`] (STFT, mel) -> [`model`] (tract) ->
//! [`decode`] (notes from model outputs) -> [`midi`], or -> [`score`] (beats, bars, hands, key) -> MusicXML and
//! beat-aligned MIDI. [`pipeline`] drives them segment by segment; [`metrics`] scores transcriptions mir_eval's
//! way.

pub mod audio;
pub mod calibrate;
pub mod config;
pub mod decode;
pub mod error;
pub mod features;
pub mod metrics;
pub mod midi;
pub mod model;
pub mod notes;
pub mod pipeline;
pub mod score;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use config::{ModelConfig, TranscribeOptions, DEFAULT_SEGMENT_HOP_SECONDS, FAST_SEGMENT_HOP_SECONDS};
pub use error::{Error, Result};
pub use notes::{Note, Pedal, PedalKind, Transcription};
pub use pipeline::{Flow, Progress, Session, StageSeconds, Transcriber};
