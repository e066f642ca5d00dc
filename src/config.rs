//! The numbers every model family shares (how a recording is cut into overlapping segments: [`Segments`],
//! read from the bundle's header) and the user-facing options ([`TranscribeOptions`]). Each family's own
//! numbers live in its folder under `family/`; nothing here is a literal copy of a model: the bundle is the
//! one source.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a family pads the recording's start, so that its first instant is seen with context before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadIn {
    /// A whole overlap between segments, in samples (Transkun's reference pads so at both ends and stitches
    /// segments by their events).
    Overlap,
    /// Half the overlap, in whole frames: each segment keeps its middle `step` frames (Onsets & Frames).
    HalfOverlapFrames,
}

/// How a model cuts a recording into segments. Read from the bundle's header by [`Segments::from_header`];
/// the segment hop is then set by the options ([`Segments::with_hop`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Segments {
    /// The rate the front-end reads (the engine resamples to it).
    pub sample_rate: u32,
    /// Samples between frames.
    pub hop: usize,
    /// STFT window length in samples.
    pub window: usize,
    /// Seconds of audio the network sees at once.
    pub segment_seconds: f64,
    /// Seconds between segment starts.
    pub segment_hop_seconds: f64,
    pub frames_per_segment: usize,
    pub lead_in: LeadIn,
}

/// The shared part of a header (field names as the converters write them).
#[derive(Deserialize)]
struct RawSegments {
    sample_rate: u32,
    hop: usize,
    window: usize,
    segment_seconds: f64,
    segment_hop_seconds: f64,
    frames_per_segment: usize,
}

impl Segments {
    /// The header's segment numbers, checked; `frames_per_segment` must be what `frames` (the family's
    /// framing) gives for a segment of that many samples.
    pub fn from_header(header: &serde_json::Value, lead_in: LeadIn, frames: fn(usize, usize) -> usize) -> Result<Self> {
        let r: RawSegments = serde_json::from_value(header.clone()).map_err(crate::bundle::header_error)?;
        let s = Segments {
            sample_rate: r.sample_rate,
            hop: r.hop,
            window: r.window,
            segment_seconds: r.segment_seconds,
            segment_hop_seconds: r.segment_hop_seconds,
            frames_per_segment: r.frames_per_segment,
            lead_in,
        };
        let bad = |m: String| Err(Error::ModelMismatch(m));
        if s.hop == 0 || s.window <= s.hop || s.sample_rate == 0 {
            return bad("hop, window or sample rate are out of range".into());
        }
        if !(s.segment_hop_seconds > 0.0 && s.segment_hop_seconds <= s.segment_seconds) {
            return bad(format!(
                "segment hop {} s does not fit segments of {} s",
                s.segment_hop_seconds, s.segment_seconds
            ));
        }
        if s.frames_per_segment != frames(s.segment_samples(), s.hop) {
            return bad(format!("frames_per_segment {} does not follow from the segment length", s.frames_per_segment));
        }
        Ok(s)
    }

    /// Samples in one model segment.
    pub fn segment_samples(&self) -> usize {
        (self.segment_seconds * self.sample_rate as f64).ceil() as usize
    }

    /// Samples between segment starts: a whole number of frames.
    pub fn step_samples(&self) -> usize {
        (self.segment_hop_seconds * self.sample_rate as f64 / self.hop as f64).ceil() as usize * self.hop
    }

    /// Zeros in front of the recording (see [`LeadIn`]).
    pub fn lead_in_samples(&self) -> usize {
        match self.lead_in {
            LeadIn::Overlap => (self.overlap_seconds() * self.sample_rate as f64).ceil() as usize,
            LeadIn::HalfOverlapFrames => self.lead_in_frames() * self.hop,
        }
    }

    /// [`lead_in_samples`](Self::lead_in_samples) in seconds.
    pub fn lead_in_seconds(&self) -> f64 {
        match self.lead_in {
            LeadIn::Overlap => self.overlap_seconds(),
            LeadIn::HalfOverlapFrames => self.lead_in_samples() as f64 / self.sample_rate as f64,
        }
    }

    /// Frames of context before the frames a segment keeps ([`LeadIn::HalfOverlapFrames`]).
    pub fn lead_in_frames(&self) -> usize {
        (self.segment_samples() / self.hop).saturating_sub(self.step_samples() / self.hop) / 2
    }

    fn overlap_seconds(&self) -> f64 {
        self.segment_seconds - self.segment_hop_seconds
    }

    /// Index of the last frame whose interval end counts as a real offset in a segment.
    pub fn last_frame_index(&self) -> usize {
        (self.segment_samples() as f64 / self.hop as f64).round() as usize
    }

    pub fn frame_seconds(&self) -> f64 {
        self.hop as f64 / self.sample_rate as f64
    }

    /// These segments with another hop, which must be at least an eighth of a segment (smaller hops multiply
    /// the work for no measured gain) and, once rounded up to whole frames, leave no gap between segments.
    pub fn with_hop(&self, seconds: f64) -> Result<Segments> {
        let min = self.segment_seconds / 8.0;
        // Rounded down to the millisecond, so that the range the error message states is all accepted.
        let max = ((self.segment_samples() / self.hop * self.hop) as f64 / self.sample_rate as f64 * 1e3).floor() / 1e3;
        if !(seconds >= min && seconds <= max) {
            return Err(Error::InvalidOption(format!(
                "segment hop {seconds} s: expected {min} to {max} s (the model's segments are {} s long)",
                self.segment_seconds
            )));
        }
        Ok(Segments { segment_hop_seconds: seconds, ..self.clone() })
    }
}

/// A mel filterbank: HTK scale, `n_mels` triangles from `f_min` to `f_max`, each scaled to unit area when
/// `slaney_norm` (librosa's default) or peaking at 1 (torchaudio's default).
#[derive(Debug, Clone, PartialEq)]
pub struct MelBands {
    pub f_min: f64,
    pub f_max: f64,
    pub n_mels: usize,
    pub slaney_norm: bool,
}

impl MelBands {
    /// Checks that the bands make sense (a model's header could say anything).
    pub fn check(&self) -> Result<()> {
        if self.n_mels == 0 || !(self.f_min >= 0.0 && self.f_min < self.f_max) {
            return Err(Error::ModelMismatch(format!(
                "mel bands {} from {} to {} Hz are out of range",
                self.n_mels, self.f_min, self.f_max
            )));
        }
        Ok(())
    }
}

/// What the user chooses: the CLI's flags and the page's options object (camelCase keys, any left out take
/// their default; `web` reads it with serde) are this struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TranscribeOptions {
    /// Extend each note while the sustain pedal is held (the Onsets & Frames convention). Default: off, since
    /// Transkun transcribes the key release and writes the pedal separately (Onsets & Frames writes no pedal,
    /// its frames already last as long as the pedal holds the note).
    pub pedal_extend: bool,
    /// Write sustain (CC64) and soft (CC67) pedal events. Default: on.
    pub include_pedals: bool,
    /// Seconds between segment starts. Default (`None`): the model's ([`ModelInfo::default_hop_seconds`](crate::family::ModelInfo::default_hop_seconds): 12 s
    /// for Transkun, the bundle's own for Onsets & Frames). Segments overlap by the segment length minus this,
    /// so a longer hop does less work ([`ModelInfo::faster_hop_seconds`](crate::family::ModelInfo::faster_hop_seconds) is the "Faster" mode; 8 s is what
    /// Transkun's Python reference does).
    pub segment_hop_seconds: Option<f64>,
    /// Onsets & Frames: one onset threshold for every key, over the model's (or `thresholds`') per-key ones.
    pub onset_threshold: Option<f32>,
    /// Onsets & Frames: one frame threshold for every key, likewise.
    pub frame_threshold: Option<f32>,
    /// Onsets & Frames: thresholds per key, e.g. read from a thresholds file (`family::onsets_frames::read_thresholds`). Default:
    /// the model's.
    pub thresholds: Option<KeyThresholds>,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions {
            pedal_extend: false,
            include_pedals: true,
            segment_hop_seconds: None,
            onset_threshold: None,
            frame_threshold: None,
            thresholds: None,
        }
    }
}

/// Onset and frame probability thresholds, one per key (index 0 is the lowest key): an option of the
/// families that threshold per-key probabilities (Onsets & Frames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyThresholds {
    pub onset: Vec<f32>,
    pub frame: Vec<f32>,
}

impl KeyThresholds {
    pub fn uniform(keys: usize, onset: f32, frame: f32) -> Self {
        KeyThresholds { onset: vec![onset; keys], frame: vec![frame; keys] }
    }

    /// Checks that there are `keys` of each and all lie in 0..1; `what` names them in the message.
    pub fn check(&self, keys: usize, what: &str) -> Result<()> {
        if self.onset.len() != keys || self.frame.len() != keys {
            return Err(Error::InvalidOption(format!(
                "{what}: {} onset and {} frame thresholds for a model of {keys} keys",
                self.onset.len(),
                self.frame.len()
            )));
        }
        if let Some(t) = self.onset.iter().chain(&self.frame).find(|t| !(0.0..=1.0).contains(*t)) {
            return Err(Error::InvalidOption(format!("{what}: threshold {t} is outside 0..1")));
        }
        Ok(())
    }
}

/// Segments whose network runs at the same time, at most (one per thread of the pool). Each holds its own
/// activations and output until it is decoded (README, Memory), so more threads than this share segments'
/// matrix products instead.
pub const MAX_PARALLEL_SEGMENTS: usize = 2;

/// Limits on input that the engine accepts.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
pub const MAX_SAMPLE_RATE: u32 = 192_000;
pub const MAX_CHANNELS: usize = 8;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Transkun V2's segments, for unit tests that need no model file.
    pub(crate) fn transkun_segments() -> Segments {
        Segments {
            sample_rate: 44100,
            hop: 1024,
            window: 4096,
            segment_seconds: 16.0,
            segment_hop_seconds: 8.0,
            frames_per_segment: 691,
            lead_in: LeadIn::Overlap,
        }
    }

    #[test]
    fn derived_numbers_match_transkun() {
        let c = transkun_segments();
        assert_eq!(c.segment_samples(), 705_600);
        assert_eq!(c.step_samples(), 353_280);
        assert_eq!(c.lead_in_samples(), 352_800);
        assert_eq!(c.last_frame_index(), 689);
        assert_eq!(c.with_hop(12.0).unwrap().step_samples(), 529_408);
        assert!(matches!(c.with_hop(1.0), Err(Error::InvalidOption(m)) if m.contains("expected 2 to 15.998 s")));
    }

    #[test]
    fn onsets_frames_keeps_the_middle_of_each_window() {
        let s = Segments {
            sample_rate: 16000,
            hop: 512,
            window: 2048,
            segment_seconds: 20.0,
            segment_hop_seconds: 16.0,
            frames_per_segment: 626,
            lead_in: LeadIn::HalfOverlapFrames,
        };
        // 625 frames of 512 samples in a 20 s window, 500 kept, 62 of context before them.
        assert_eq!((s.segment_samples(), s.step_samples(), s.lead_in_frames()), (320_000, 256_000, 62));
        assert_eq!(s.lead_in_samples(), 62 * 512);
    }
}
