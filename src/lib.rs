//! pianoscribe: piano transcription (audio in, MIDI out), natively or in the browser.
//!
//! Data flows one way: [`audio`] (decode, resample) -> a model [`family`]'s front-end (features), network and
//! decoder -> notes ([`notes`]) -> [`midi`], or -> [`score`] (beats, bars, hands, key) -> MusicXML and
//! beat-aligned MIDI. [`pipeline`] cuts the recording into segments and drives any family through one
//! interface; [`bundle`] reads and writes model files, [`model`] runs their graphs with tract; [`metrics`]
//! scores transcriptions mir_eval's way.

pub mod audio;
pub mod bundle;
pub mod config;
pub mod error;
pub mod family;
pub mod features;
pub mod metrics;
pub mod midi;
pub mod model;
pub mod notes;
pub mod pipeline;
pub mod score;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use config::{Segments, TranscribeOptions};
pub use error::{Error, Result};
pub use family::transkun::{DEFAULT_SEGMENT_HOP_SECONDS, FAST_SEGMENT_HOP_SECONDS};
pub use family::ModelInfo;
pub use notes::{Note, Pedal, PedalKind, Transcription};
pub use pipeline::{Engine, Flow, Progress, Stage, StageSeconds, Transcriber};
