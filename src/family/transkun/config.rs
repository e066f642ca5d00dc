//! Transkun's numbers, read from the bundle's header (written by tools/convert).

use serde::Deserialize;

use crate::bundle::{header_error, Bundle};
use crate::config::{LeadIn, MelBands, Segments};
use crate::error::{Error, Result};

/// The default segment hop: 4 s of overlap between 16 s segments instead of the reference's 8 s, about a third
/// less work at the same accuracy (README, Accuracy).
pub const DEFAULT_SEGMENT_HOP_SECONDS: f64 = 12.0;

/// The "Faster" mode's segment hop (2 s of overlap).
pub const FAST_SEGMENT_HOP_SECONDS: f64 = 14.0;

/// A Transkun model's numbers.
#[derive(Debug, Clone)]
pub struct TranskunConfig {
    pub segments: Segments,
    pub front_end: FrontEndConfig,
    pub crf: SemiCrfConfig,
}

/// transkun's MelSpectrum: gain normalisation, Hann and learned Gaussian windows, scaled log.
#[derive(Debug, Clone)]
pub struct FrontEndConfig {
    pub mel: MelBands,
    pub log_eps: f64,
    pub gain_eps: f64,
    pub gaussian_windows: GaussianWindows,
}

impl FrontEndConfig {
    /// Analysis windows per frame (the network input's last axis): Hann plus the learned ones.
    pub fn windows(&self) -> usize {
        1 + self.gaussian_windows.center_logits.len()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GaussianWindows {
    pub center_logits: Vec<f64>,
    pub sigma_logits: Vec<f64>,
}

/// The semi-CRF over note intervals, with attribute heads.
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

/// The header's JSON (field names as tools/convert writes them).
#[derive(Deserialize)]
struct Raw {
    mel: RawMel,
    gain_eps: f64,
    gaussian_windows: GaussianWindows,
    tracks: Vec<i32>,
    context_size: usize,
    refine: RefineConfig,
    velocities: usize,
}

#[derive(Deserialize)]
struct RawMel {
    f_min: f64,
    f_max: f64,
    n_mels: usize,
    scale: String,
    log_eps: f64,
}

impl TranskunConfig {
    /// Reads and checks a bundle's header: a header that lacks Transkun's numbers is [`Error::ModelCorrupt`],
    /// one whose numbers this version cannot run [`Error::ModelMismatch`].
    pub fn from_bundle(bundle: &Bundle) -> Result<Self> {
        let h = &bundle.header;
        // Framing with half a window of left padding and one frame past the segment's end.
        let segments = Segments::from_header(h, LeadIn::Overlap, |samples, hop| samples.div_ceil(hop) + 1)?;
        let r: Raw = serde_json::from_value(h.clone()).map_err(header_error)?;
        if r.mel.scale != "htk" {
            return Err(Error::ModelMismatch(format!("mel scale '{}' is not supported", r.mel.scale)));
        }
        let mel = MelBands { f_min: r.mel.f_min, f_max: r.mel.f_max, n_mels: r.mel.n_mels, slaney_norm: false };
        mel.check()?;
        let g = &r.gaussian_windows;
        if g.center_logits.len() != g.sigma_logits.len() {
            return Err(Error::ModelMismatch("gaussian window parameters differ in length".into()));
        }
        if r.tracks.is_empty() {
            return Err(Error::ModelMismatch("the model has no tracks".into()));
        }
        Ok(TranskunConfig {
            segments,
            front_end: FrontEndConfig {
                mel,
                log_eps: r.mel.log_eps,
                gain_eps: r.gain_eps,
                gaussian_windows: r.gaussian_windows,
            },
            crf: SemiCrfConfig {
                tracks: r.tracks,
                context_size: r.context_size,
                refine: r.refine,
                velocities: r.velocities,
            },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The numbers of the shipped Transkun V2 bundle, for unit tests that need no model file.
    pub(crate) fn config() -> TranskunConfig {
        let mut tracks = vec![-64, -67];
        tracks.extend(21..=108);
        TranskunConfig {
            segments: crate::config::tests::transkun_segments(),
            front_end: FrontEndConfig {
                mel: MelBands { f_min: 30.0, f_max: 8000.0, n_mels: 229, slaney_norm: false },
                log_eps: 1e-5,
                gain_eps: 1e-8,
                gaussian_windows: GaussianWindows { center_logits: vec![0.0; 5], sigma_logits: vec![-1.0; 5] },
            },
            crf: SemiCrfConfig {
                tracks,
                context_size: 256,
                refine: RefineConfig { scale: 0.99, clamp: 0.5 },
                velocities: 128,
            },
        }
    }

    #[test]
    fn reads_the_shipped_header() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/transkun-v2.pscb")).unwrap();
        let c = TranskunConfig::from_bundle(&Bundle::parse(&bytes).unwrap()).unwrap();
        let want = config();
        assert_eq!(c.segments, want.segments);
        assert_eq!(c.front_end.mel, want.front_end.mel);
        assert_eq!((c.front_end.windows(), &c.crf.tracks, c.crf.context_size), (6, &want.crf.tracks, 256));
    }
}
