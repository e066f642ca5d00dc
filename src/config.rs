//! The model's numbers, read from the model bundle's header (written by tools/convert for Transkun, by
//! tools/oaf for Onsets & Frames), and the user-facing options. Nothing here is a literal copy of a model: the
//! bundle is the one source.
//!
//! A model belongs to a family, named by the header's `family`, and each family is a variant at every stage:
//! the front-end ([`FrontEndConfig`]), the network (model.rs, one runner per family) and the decoder
//! ([`DecoderConfig`]). What all families share is how a recording is cut into overlapping segments.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod thresholds;
pub use thresholds::{key_name, read_thresholds, write_thresholds};

/// The model families this engine runs, by the name a bundle's header gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Transkun V2 (tools/convert): a transformer scoring note intervals, decoded by a semi-CRF.
    Transkun,
    /// Onsets & Frames (tools/oaf): onset, offset, frame and velocity heads, onset-gated decoding.
    OnsetsFrames,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Transkun, Family::OnsetsFrames];

    pub fn name(self) -> &'static str {
        match self {
            Family::Transkun => "transkun-v2",
            Family::OnsetsFrames => "onsets-frames",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Family::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
            let known: Vec<_> = Family::ALL.iter().map(|f| f.name()).collect();
            Error::ModelMismatch(format!(
                "model family '{name}' is not supported by this version (it runs {})",
                known.join(" and ")
            ))
        })
    }
}

/// A model's numbers. Built from the bundle header by [`ModelConfig::from_header`].
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub family: Family,
    /// The rate the front-end reads (the engine resamples to it).
    pub sample_rate: u32,
    /// Samples between frames.
    pub hop: usize,
    /// STFT window length in samples.
    pub window: usize,
    /// Seconds of audio the network sees at once.
    pub segment_seconds: f64,
    /// Seconds between segment starts (the options can change it).
    pub segment_hop_seconds: f64,
    pub frames_per_segment: usize,
    pub front_end: FrontEndConfig,
    pub decoder: DecoderConfig,
    /// Where the weights come from (free-form, for `pianoscribe info`).
    pub provenance: serde_json::Value,
}

/// The front-end of each family.
#[derive(Debug, Clone)]
pub enum FrontEndConfig {
    /// transkun's MelSpectrum: gain normalisation, Hann and learned Gaussian windows, scaled log.
    Transkun { mel: MelBands, log_eps: f64, gain_eps: f64, gaussian_windows: GaussianWindows },
    /// A log-mel spectrogram of the mono mix (Onsets & Frames): centred frames, Hann window, power, mel,
    /// `10 log10(max(mel, amin))`.
    LogMel { mel: MelBands, amin: f64 },
}

impl FrontEndConfig {
    /// Analysis windows per frame (the network input's last axis): Hann plus Transkun's learned ones.
    pub fn windows(&self) -> usize {
        match self {
            FrontEndConfig::Transkun { gaussian_windows, .. } => 1 + gaussian_windows.center_logits.len(),
            FrontEndConfig::LogMel { .. } => 1,
        }
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

#[derive(Debug, Clone, Deserialize)]
pub struct GaussianWindows {
    pub center_logits: Vec<f64>,
    pub sigma_logits: Vec<f64>,
}

/// The decoder of each family.
#[derive(Debug, Clone)]
pub enum DecoderConfig {
    /// Transkun's semi-CRF over note intervals, with attribute heads.
    SemiCrf(SemiCrfConfig),
    /// Onsets & Frames' onset-gated decoding of frame probabilities.
    OnsetGated(OnsetGatedConfig),
}

#[derive(Debug, Clone)]
pub struct SemiCrfConfig {
    /// Track index -> MIDI pitch; negative values are pedals (-64 sustain, -67 soft).
    pub tracks: Vec<i32>,
    pub context_size: usize,
    pub refine: RefineConfig,
    pub velocities: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefineConfig {
    pub scale: f32,
    pub clamp: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OnsetGatedConfig {
    /// MIDI number of the first key (21, A0); the network has one output per key from it.
    pub lowest_key: u8,
    /// Default thresholds per key, from the bundle (the options can override them).
    pub thresholds: KeyThresholds,
    /// MIDI velocity = `velocity_scale * v + velocity_offset` for the velocity head's `v` clipped to [0, 1].
    pub velocity_scale: f32,
    pub velocity_offset: f32,
}

impl OnsetGatedConfig {
    pub fn keys(&self) -> usize {
        self.thresholds.onset.len()
    }
}

/// Onset and frame probability thresholds, one per key (index 0 is the lowest key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyThresholds {
    pub onset: Vec<f32>,
    pub frame: Vec<f32>,
}

impl KeyThresholds {
    pub fn uniform(keys: usize, onset: f32, frame: f32) -> Self {
        KeyThresholds { onset: vec![onset; keys], frame: vec![frame; keys] }
    }

    fn check(&self, keys: usize, what: &str) -> Result<()> {
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

/// The header's JSON, one shape per family (field names as the converters write them).
#[derive(Deserialize)]
struct RawTiming {
    sample_rate: u32,
    hop: usize,
    window: usize,
    segment_seconds: f64,
    segment_hop_seconds: f64,
    frames_per_segment: usize,
    #[serde(default)]
    provenance: serde_json::Value,
}

#[derive(Deserialize)]
struct RawTranskun {
    mel: RawTranskunMel,
    gain_eps: f64,
    gaussian_windows: GaussianWindows,
    tracks: Vec<i32>,
    context_size: usize,
    refine: RefineConfig,
    velocities: usize,
}

#[derive(Deserialize)]
struct RawTranskunMel {
    f_min: f64,
    f_max: f64,
    n_mels: usize,
    scale: String,
    log_eps: f64,
}

#[derive(Deserialize)]
struct RawOnsetsFrames {
    mel: RawMel,
    log: RawLog,
    keys: RawKeys,
    thresholds: KeyThresholds,
    velocity: RawVelocity,
}

#[derive(Deserialize)]
struct RawMel {
    f_min: f64,
    f_max: f64,
    n_mels: usize,
    scale: String,
    norm: Option<String>,
}

#[derive(Deserialize)]
struct RawLog {
    kind: String,
    amin: f64,
}

#[derive(Deserialize)]
struct RawKeys {
    lowest: u8,
    count: usize,
}

#[derive(Deserialize)]
struct RawVelocity {
    scale: f32,
    offset: f32,
}

impl ModelConfig {
    /// Reads and checks a bundle's header JSON. An unknown family is a [`Error::ModelMismatch`] that names it;
    /// a header that does not hold its family's numbers is [`Error::ModelCorrupt`].
    pub fn from_header(json: &[u8]) -> Result<Self> {
        let corrupt = |e: serde_json::Error| Error::ModelCorrupt(format!("header is not valid: {e}"));
        let value: serde_json::Value = serde_json::from_slice(json).map_err(corrupt)?;
        let family = match value.get("family").and_then(|f| f.as_str()) {
            Some(name) => Family::from_name(name)?,
            None => return Err(Error::ModelCorrupt("header names no model family".into())),
        };
        let t: RawTiming = serde_json::from_value(value.clone()).map_err(corrupt)?;
        let unsupported = |what: &str, v: &str| Err(Error::ModelMismatch(format!("{what} '{v}' is not supported")));
        let (front_end, decoder) = match family {
            Family::Transkun => {
                let r: RawTranskun = serde_json::from_value(value).map_err(corrupt)?;
                if r.mel.scale != "htk" {
                    return unsupported("mel scale", &r.mel.scale);
                }
                let mel = MelBands { f_min: r.mel.f_min, f_max: r.mel.f_max, n_mels: r.mel.n_mels, slaney_norm: false };
                (
                    FrontEndConfig::Transkun {
                        mel,
                        log_eps: r.mel.log_eps,
                        gain_eps: r.gain_eps,
                        gaussian_windows: r.gaussian_windows,
                    },
                    DecoderConfig::SemiCrf(SemiCrfConfig {
                        tracks: r.tracks,
                        context_size: r.context_size,
                        refine: r.refine,
                        velocities: r.velocities,
                    }),
                )
            }
            Family::OnsetsFrames => {
                let r: RawOnsetsFrames = serde_json::from_value(value).map_err(corrupt)?;
                if r.mel.scale != "htk" {
                    return unsupported("mel scale", &r.mel.scale);
                }
                let slaney_norm = match r.mel.norm.as_deref() {
                    None => false,
                    Some("slaney") => true,
                    Some(other) => return unsupported("mel norm", other),
                };
                if r.log.kind != "power_db" {
                    return unsupported("log scale", &r.log.kind);
                }
                r.thresholds.check(r.keys.count, "the model's thresholds")?;
                let mel = MelBands { f_min: r.mel.f_min, f_max: r.mel.f_max, n_mels: r.mel.n_mels, slaney_norm };
                (
                    FrontEndConfig::LogMel { mel, amin: r.log.amin },
                    DecoderConfig::OnsetGated(OnsetGatedConfig {
                        lowest_key: r.keys.lowest,
                        thresholds: r.thresholds,
                        velocity_scale: r.velocity.scale,
                        velocity_offset: r.velocity.offset,
                    }),
                )
            }
        };
        let cfg = ModelConfig {
            family,
            sample_rate: t.sample_rate,
            hop: t.hop,
            window: t.window,
            segment_seconds: t.segment_seconds,
            segment_hop_seconds: t.segment_hop_seconds,
            frames_per_segment: t.frames_per_segment,
            front_end,
            decoder,
            provenance: t.provenance,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::ModelMismatch(m));
        if let FrontEndConfig::Transkun { gaussian_windows: g, .. } = &self.front_end {
            if g.center_logits.len() != g.sigma_logits.len() {
                return bad("gaussian window parameters differ in length".into());
            }
        }
        let mel = self.mel();
        if mel.n_mels == 0 || !(mel.f_min >= 0.0 && mel.f_min < mel.f_max) {
            return bad(format!("mel bands {} from {} to {} Hz are out of range", mel.n_mels, mel.f_min, mel.f_max));
        }
        let keys = match &self.decoder {
            DecoderConfig::SemiCrf(s) => s.tracks.len(),
            DecoderConfig::OnsetGated(o) => o.keys(),
        };
        if self.hop == 0 || self.window <= self.hop || self.sample_rate == 0 || keys == 0 {
            return bad("hop, window, sample rate or tracks are out of range".into());
        }
        if !(self.segment_hop_seconds > 0.0 && self.segment_hop_seconds <= self.segment_seconds) {
            return bad(format!(
                "segment hop {} s does not fit segments of {} s",
                self.segment_hop_seconds, self.segment_seconds
            ));
        }
        // Transkun frames the segment with half a window of left padding and one frame past its end; the
        // log-mel front-end centres frames (librosa's center=True): one frame per hop plus one.
        let expected = match self.family {
            Family::Transkun => self.segment_samples().div_ceil(self.hop) + 1,
            Family::OnsetsFrames => self.segment_samples() / self.hop + 1,
        };
        if self.frames_per_segment != expected {
            return bad(format!(
                "frames_per_segment {} does not follow from the segment length",
                self.frames_per_segment
            ));
        }
        Ok(())
    }

    /// The mel bands of the front-end, whatever the family.
    pub fn mel(&self) -> &MelBands {
        match &self.front_end {
            FrontEndConfig::Transkun { mel, .. } | FrontEndConfig::LogMel { mel, .. } => mel,
        }
    }

    /// Samples in one model segment.
    pub fn segment_samples(&self) -> usize {
        (self.segment_seconds * self.sample_rate as f64).ceil() as usize
    }

    /// Samples between segment starts: a whole number of frames.
    pub fn step_samples(&self) -> usize {
        (self.segment_hop_seconds * self.sample_rate as f64 / self.hop as f64).ceil() as usize * self.hop
    }

    /// Zeros in front of the recording, so that its first instant is seen with context before it. Transkun
    /// (as the reference does) pads a whole overlap at both ends and stitches segments by their events; Onsets
    /// & Frames keeps the middle `step` frames of each segment and pads half the overlap, in whole frames.
    pub fn lead_in_samples(&self) -> usize {
        match self.family {
            Family::Transkun => (self.pad_seconds() * self.sample_rate as f64).ceil() as usize,
            Family::OnsetsFrames => self.lead_in_frames() * self.hop,
        }
    }

    /// [`lead_in_samples`](Self::lead_in_samples) in seconds.
    pub fn lead_in_seconds(&self) -> f64 {
        match self.family {
            Family::Transkun => self.pad_seconds(),
            Family::OnsetsFrames => self.lead_in_samples() as f64 / self.sample_rate as f64,
        }
    }

    /// Onsets & Frames: frames of context before the frames a segment keeps.
    pub fn lead_in_frames(&self) -> usize {
        (self.segment_samples() / self.hop).saturating_sub(self.step_samples() / self.hop) / 2
    }

    /// Transkun's padding: the overlap between segments.
    fn pad_seconds(&self) -> f64 {
        self.segment_seconds - self.segment_hop_seconds
    }

    /// Index of the last frame whose interval end counts as a real offset in a segment.
    pub fn last_frame_index(&self) -> usize {
        (self.segment_samples() as f64 / self.hop as f64).round() as usize
    }

    pub fn frame_seconds(&self) -> f64 {
        self.hop as f64 / self.sample_rate as f64
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

    /// The semi-CRF decoder's numbers (Transkun).
    pub fn semi_crf(&self) -> Option<&SemiCrfConfig> {
        match &self.decoder {
            DecoderConfig::SemiCrf(s) => Some(s),
            DecoderConfig::OnsetGated(_) => None,
        }
    }

    /// The onset-gated decoder's numbers (Onsets & Frames).
    pub fn onset_gated(&self) -> Option<&OnsetGatedConfig> {
        match &self.decoder {
            DecoderConfig::OnsetGated(o) => Some(o),
            DecoderConfig::SemiCrf(_) => None,
        }
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
    /// Seconds between segment starts. Default (`None`): the model's ([`ModelConfig::default_hop_seconds`]:
    /// [`DEFAULT_SEGMENT_HOP_SECONDS`] for Transkun, the bundle's own for Onsets & Frames). Segments overlap by
    /// the segment length minus this, so a longer hop does less work ([`ModelConfig::faster_hop_seconds`] is
    /// the "Faster" mode; 8 s is what Transkun's Python reference does).
    pub segment_hop_seconds: Option<f64>,
    /// Onsets & Frames: one onset threshold for every key, over the model's (or `thresholds`') per-key ones.
    pub onset_threshold: Option<f32>,
    /// Onsets & Frames: one frame threshold for every key, likewise.
    pub frame_threshold: Option<f32>,
    /// Onsets & Frames: thresholds per key, e.g. read from a thresholds file ([`read_thresholds`]). Default:
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

impl ModelConfig {
    /// The segment hop when the options name none.
    pub fn default_hop_seconds(&self) -> f64 {
        match self.family {
            Family::Transkun => DEFAULT_SEGMENT_HOP_SECONDS,
            Family::OnsetsFrames => self.segment_hop_seconds,
        }
    }

    /// The "Faster" mode's segment hop. Onsets & Frames has none of its own: it is already the fast family.
    pub fn faster_hop_seconds(&self) -> f64 {
        match self.family {
            Family::Transkun => FAST_SEGMENT_HOP_SECONDS,
            Family::OnsetsFrames => self.segment_hop_seconds,
        }
    }

    /// This model as the options configure it: the segment hop, and for Onsets & Frames the thresholds (the
    /// bundle's, then `thresholds`, then the single onset / frame thresholds). Threshold options on a model
    /// without thresholds are an error, not ignored.
    pub fn with_options(&self, options: &TranscribeOptions) -> Result<ModelConfig> {
        let mut cfg = self.with_segment_hop(options.segment_hop_seconds.unwrap_or(self.default_hop_seconds()))?;
        let asks =
            options.onset_threshold.is_some() || options.frame_threshold.is_some() || options.thresholds.is_some();
        match &mut cfg.decoder {
            DecoderConfig::SemiCrf(_) if asks => Err(Error::InvalidOption(format!(
                "thresholds apply to Onsets & Frames models; this one is {}",
                self.family.name()
            ))),
            DecoderConfig::SemiCrf(_) => Ok(cfg),
            DecoderConfig::OnsetGated(o) => {
                let keys = o.keys();
                if let Some(t) = &options.thresholds {
                    t.check(keys, "the thresholds")?;
                    o.thresholds = t.clone();
                }
                for (value, slot, what) in [
                    (options.onset_threshold, &mut o.thresholds.onset, "onset threshold"),
                    (options.frame_threshold, &mut o.thresholds.frame, "frame threshold"),
                ] {
                    if let Some(v) = value {
                        if !(0.0..=1.0).contains(&v) {
                            return Err(Error::InvalidOption(format!("{what} {v} is outside 0..1")));
                        }
                        slot.iter_mut().for_each(|t| *t = v);
                    }
                }
                Ok(cfg)
            }
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
            family: Family::Transkun,
            sample_rate: 44100,
            hop: 1024,
            window: 4096,
            segment_seconds: 16.0,
            segment_hop_seconds: 8.0,
            frames_per_segment: 691,
            front_end: FrontEndConfig::Transkun {
                mel: MelBands { f_min: 30.0, f_max: 8000.0, n_mels: 229, slaney_norm: false },
                log_eps: 1e-5,
                gain_eps: 1e-8,
                gaussian_windows: GaussianWindows { center_logits: vec![0.0; 5], sigma_logits: vec![-1.0; 5] },
            },
            decoder: DecoderConfig::SemiCrf(SemiCrfConfig {
                tracks,
                context_size: 256,
                refine: RefineConfig { scale: 0.99, clamp: 0.5 },
                velocities: 128,
            }),
            provenance: serde_json::Value::Null,
        }
    }

    /// An Onsets & Frames header as tools/oaf/export.py writes it (20 s windows, 16 s apart).
    pub(crate) fn onsets_frames_header() -> serde_json::Value {
        serde_json::json!({
            "family": "onsets-frames", "sample_rate": 16000, "hop": 512, "window": 2048,
            "segment_seconds": 20.0, "segment_hop_seconds": 16.0, "frames_per_segment": 626,
            "mel": {"f_min": 30.0, "f_max": 8000.0, "n_mels": 229, "scale": "htk", "norm": "slaney"},
            "log": {"kind": "power_db", "amin": 1e-10},
            "keys": {"lowest": 21, "count": 88},
            "thresholds": {"onset": vec![0.5; 88], "frame": vec![0.5; 88]},
            "velocity": {"scale": 80.0, "offset": 10.0},
            "network": {"size": "2019"},
        })
    }

    fn header_bytes(v: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    #[test]
    fn reads_an_onsets_frames_header() {
        let c = ModelConfig::from_header(&header_bytes(&onsets_frames_header())).unwrap();
        assert_eq!(c.family, Family::OnsetsFrames);
        assert_eq!(c.mel(), &MelBands { f_min: 30.0, f_max: 8000.0, n_mels: 229, slaney_norm: true });
        let o = c.onset_gated().unwrap();
        assert_eq!((o.lowest_key, o.keys(), o.velocity_scale, o.velocity_offset), (21, 88, 80.0, 10.0));
        // 625 frames of 512 samples in a 20 s window, 500 kept, 62 of context before them.
        assert_eq!((c.segment_samples(), c.step_samples(), c.lead_in_frames()), (320_000, 256_000, 62));
        assert_eq!(c.lead_in_samples(), 62 * 512);
        assert_eq!(c.default_hop_seconds(), 16.0);
    }

    #[test]
    fn wrong_headers_say_what_is_wrong() {
        let mut unknown = onsets_frames_header();
        unknown["family"] = "basic-pitch".into();
        match ModelConfig::from_header(&header_bytes(&unknown)) {
            Err(Error::ModelMismatch(m)) => {
                assert!(m.contains("'basic-pitch'") && m.contains("transkun-v2 and onsets-frames"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let mut missing = onsets_frames_header();
        missing.as_object_mut().unwrap().remove("thresholds");
        assert!(
            matches!(ModelConfig::from_header(&header_bytes(&missing)), Err(Error::ModelCorrupt(m)) if m.contains("thresholds"))
        );
        let mut short = onsets_frames_header();
        short["thresholds"]["onset"] = serde_json::json!(vec![0.5; 87]);
        assert!(ModelConfig::from_header(&header_bytes(&short)).is_err());
        let mut frames = onsets_frames_header();
        frames["frames_per_segment"] = 627.into();
        assert!(matches!(ModelConfig::from_header(&header_bytes(&frames)), Err(Error::ModelMismatch(_))));
        assert!(matches!(ModelConfig::from_header(b"{}"), Err(Error::ModelCorrupt(_))));
    }

    #[test]
    fn options_set_thresholds_only_where_they_exist() {
        let oaf = ModelConfig::from_header(&header_bytes(&onsets_frames_header())).unwrap();
        let o = TranscribeOptions { onset_threshold: Some(0.9), ..Default::default() };
        let set = oaf.with_options(&o).unwrap();
        let t = &set.onset_gated().unwrap().thresholds;
        assert!(t.onset.iter().all(|&v| v == 0.9) && t.frame.iter().all(|&v| v == 0.5));
        let bad = TranscribeOptions { frame_threshold: Some(1.5), ..Default::default() };
        assert!(matches!(oaf.with_options(&bad), Err(Error::InvalidOption(_))));
        let e = transkun_config().with_options(&o).unwrap_err().to_string();
        assert!(e.contains("Onsets & Frames") && e.contains("transkun-v2"), "{e}");
        assert_eq!(transkun_config().with_options(&Default::default()).unwrap().segment_hop_seconds, 12.0);
    }

    #[test]
    fn derived_numbers_match_transkun() {
        let c = transkun_config();
        c.validate().unwrap();
        assert_eq!(c.segment_samples(), 705_600);
        assert_eq!(c.step_samples(), 353_280);
        assert_eq!(c.lead_in_samples(), 352_800);
        assert_eq!(c.last_frame_index(), 689);
    }
}
