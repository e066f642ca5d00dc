//! The model's numbers, read from the model bundle's header (written by tools/convert), and the user-facing
//! options. Nothing here is a literal copy of the model: the bundle is the one source.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Numbers that describe a Transkun-style model, exactly as the converter wrote them.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelConfig {
    pub family: String,
    pub sample_rate: u32,
    pub hop: usize,
    pub window: usize,
    pub segment_seconds: f64,
    pub segment_hop_seconds: f64,
    pub frames_per_segment: usize,
    pub mel: MelConfig,
    pub gain_eps: f64,
    pub gaussian_windows: GaussianWindows,
    /// Track index -> MIDI pitch; negative values are pedals (-64 sustain, -67 soft).
    pub tracks: Vec<i32>,
    pub context_size: usize,
    pub refine: RefineConfig,
    pub velocities: usize,
    #[serde(default)]
    pub provenance: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MelConfig {
    pub f_min: f64,
    pub f_max: f64,
    pub n_mels: usize,
    pub scale: String,
    pub log_eps: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GaussianWindows {
    pub center_logits: Vec<f64>,
    pub sigma_logits: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefineConfig {
    pub scale: f32,
    pub clamp: f32,
}

impl ModelConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::ModelMismatch(m));
        if self.family != "transkun-v2" {
            return bad(format!("model family '{}' is not supported (expected 'transkun-v2')", self.family));
        }
        if self.mel.scale != "htk" {
            return bad(format!("mel scale '{}' is not supported (expected 'htk')", self.mel.scale));
        }
        if self.gaussian_windows.center_logits.len() != self.gaussian_windows.sigma_logits.len() {
            return bad("gaussian window parameters differ in length".into());
        }
        if self.hop == 0 || self.window <= self.hop || self.sample_rate == 0 || self.tracks.is_empty() {
            return bad("hop, window, sample rate or tracks are out of range".into());
        }
        if self.frames_per_segment != self.segment_samples().div_ceil(self.hop) + 1 {
            return bad(format!(
                "frames_per_segment {} does not follow from the segment length",
                self.frames_per_segment
            ));
        }
        Ok(())
    }

    /// Samples in one model segment.
    pub fn segment_samples(&self) -> usize {
        (self.segment_seconds * self.sample_rate as f64).ceil() as usize
    }

    /// Samples between segment starts: a whole number of frames.
    pub fn step_samples(&self) -> usize {
        (self.segment_hop_seconds * self.sample_rate as f64 / self.hop as f64).ceil() as usize * self.hop
    }

    /// Zeros added at both ends of the recording so that every instant is seen with context on both sides.
    pub fn pad_seconds(&self) -> f64 {
        self.segment_seconds - self.segment_hop_seconds
    }

    pub fn pad_samples(&self) -> usize {
        (self.pad_seconds() * self.sample_rate as f64).ceil() as usize
    }

    /// Index of the last frame whose interval end counts as a real offset in a segment.
    pub fn last_frame_index(&self) -> usize {
        (self.segment_samples() as f64 / self.hop as f64).round() as usize
    }

    pub fn frame_seconds(&self) -> f64 {
        self.hop as f64 / self.sample_rate as f64
    }

    pub fn n_windows(&self) -> usize {
        1 + self.gaussian_windows.center_logits.len()
    }

    /// This configuration with another segment hop, which must be at least an eighth of a segment (smaller hops
    /// multiply the work for no measured gain) and, once rounded up to whole frames, leave no gap between
    /// segments.
    pub fn with_segment_hop(&self, seconds: f64) -> Result<ModelConfig> {
        let min = self.segment_seconds / 8.0;
        // Rounded down to the millisecond, so that the range the error message states is all accepted.
        let max = ((self.segment_samples() / self.hop * self.hop) as f64 / self.sample_rate as f64 * 1e3).floor() / 1e3;
        if !(seconds >= min && seconds <= max) {
            return Err(Error::InvalidOption(format!(
                "segment hop {seconds} s: expected {min} to {max} s (the model's segments are {} s long)",
                self.segment_seconds
            )));
        }
        Ok(ModelConfig { segment_hop_seconds: seconds, ..self.clone() })
    }
}

/// What the user chooses: the CLI's flags and the page's options object (camelCase keys, any left out take
/// their default; `web` reads it with serde) are this struct.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TranscribeOptions {
    /// Extend each note while the sustain pedal is held (the Onsets & Frames convention). Default: off, since
    /// this model transcribes the key release and writes the pedal separately.
    pub pedal_extend: bool,
    /// Write sustain (CC64) and soft (CC67) pedal events. Default: on.
    pub include_pedals: bool,
    /// Seconds between segment starts. Default: [`DEFAULT_SEGMENT_HOP_SECONDS`]; `None` keeps the model's own
    /// (8 s for Transkun V2: what the Python reference does). Segments overlap by the segment length minus
    /// this, so a longer hop does less work ([`FAST_SEGMENT_HOP_SECONDS`] is the "Faster" mode).
    pub segment_hop_seconds: Option<f64>,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions {
            pedal_extend: false,
            include_pedals: true,
            segment_hop_seconds: Some(DEFAULT_SEGMENT_HOP_SECONDS),
        }
    }
}

/// The default segment hop: 4 s of overlap between 16 s segments instead of the reference's 8 s, about a third
/// less work at the same accuracy. On 36 held-out MAPS pieces (60 s each), note / +offset / +velocity / frame
/// F1: hop 8 s 0.8904 / 0.5544 / 0.4211 / 0.7530, hop 12 s 0.8903 / 0.5644 / 0.4290 / 0.7583 (README,
/// Accuracy, has the maps-dev figures).
pub const DEFAULT_SEGMENT_HOP_SECONDS: f64 = 12.0;

/// The "Faster" mode's segment hop (2 s of overlap): on the same 36 pieces 0.8902 / 0.5576 / 0.4234 / 0.7547.
pub const FAST_SEGMENT_HOP_SECONDS: f64 = 14.0;

/// Segments whose network runs at the same time, at most (one per thread of the pool). Each holds its own
/// activations and output (the backbone peaks at 209 MB of heap above the model, and its 65 MB of context stay
/// until the segment is decoded; the CLI's peak on chpn-p14 is 0.35 GB on one thread and 0.65 GB with two
/// segments, the model alone 0.28 GB), so more threads than this share segments' matrix products instead.
pub const MAX_PARALLEL_SEGMENTS: usize = 2;

/// Limits on input that the engine accepts.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
pub const MAX_SAMPLE_RATE: u32 = 192_000;
pub const MAX_CHANNELS: usize = 8;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The numbers of the shipped Transkun V2 bundle, for unit tests that need no model file.
    pub(crate) fn transkun_config() -> ModelConfig {
        let mut tracks = vec![-64, -67];
        tracks.extend(21..=108);
        ModelConfig {
            family: "transkun-v2".into(),
            sample_rate: 44100,
            hop: 1024,
            window: 4096,
            segment_seconds: 16.0,
            segment_hop_seconds: 8.0,
            frames_per_segment: 691,
            mel: MelConfig { f_min: 30.0, f_max: 8000.0, n_mels: 229, scale: "htk".into(), log_eps: 1e-5 },
            gain_eps: 1e-8,
            gaussian_windows: GaussianWindows { center_logits: vec![0.0; 5], sigma_logits: vec![-1.0; 5] },
            tracks,
            context_size: 256,
            refine: RefineConfig { scale: 0.99, clamp: 0.5 },
            velocities: 128,
            provenance: serde_json::Value::Null,
        }
    }

    #[test]
    fn derived_numbers_match_transkun() {
        let c = transkun_config();
        c.validate().unwrap();
        assert_eq!(c.segment_samples(), 705_600);
        assert_eq!(c.step_samples(), 353_280);
        assert_eq!(c.pad_samples(), 352_800);
        assert_eq!(c.last_frame_index(), 689);
    }
}
