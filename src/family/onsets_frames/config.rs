//! Onsets & Frames' numbers, read from the bundle's header (written by tools/oaf/export.py).

use serde::Deserialize;

use crate::bundle::{header_error, Bundle};
use crate::config::{KeyThresholds, LeadIn, MelBands, Segments, TranscribeOptions};
use crate::error::{Error, Result};

/// An Onsets & Frames model's numbers.
#[derive(Debug, Clone)]
pub struct OnsetsFramesConfig {
    pub segments: Segments,
    /// The log-mel spectrogram of the mono mix: centred frames, Hann window, power, mel,
    /// `10 log10(max(mel, amin))`.
    pub mel: MelBands,
    pub amin: f64,
    pub decoder: OnsetGatedConfig,
}

/// The onset-gated decoder's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct OnsetGatedConfig {
    /// MIDI number of the first key (21, A0); the network has one output per key from it.
    pub lowest_key: u8,
    /// Thresholds per key: the bundle's, unless the options set others.
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

/// The header's JSON (field names as the exporter writes them).
#[derive(Deserialize)]
struct Raw {
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

impl OnsetsFramesConfig {
    /// Reads and checks a bundle's header: a header that lacks these numbers is [`Error::ModelCorrupt`], one
    /// whose numbers this version cannot run [`Error::ModelMismatch`].
    pub fn from_bundle(bundle: &Bundle) -> Result<Self> {
        Self::from_header(&bundle.header)
    }

    pub fn from_header(h: &serde_json::Value) -> Result<Self> {
        let r: Raw = serde_json::from_value(h.clone()).map_err(header_error)?;
        // Centred frames (librosa's center=True): one per hop, plus one.
        let segments = Segments::from_header(h, LeadIn::HalfOverlapFrames, |samples, hop| samples / hop + 1)?;
        let unsupported = |what: &str, v: &str| Err(Error::ModelMismatch(format!("{what} '{v}' is not supported")));
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
        if r.keys.count == 0 {
            return Err(Error::ModelMismatch("the model has no keys".into()));
        }
        r.thresholds.check(r.keys.count, "the model's thresholds")?;
        let mel = MelBands { f_min: r.mel.f_min, f_max: r.mel.f_max, n_mels: r.mel.n_mels, slaney_norm };
        mel.check()?;
        Ok(OnsetsFramesConfig {
            segments,
            mel,
            amin: r.log.amin,
            decoder: OnsetGatedConfig {
                lowest_key: r.keys.lowest,
                thresholds: r.thresholds,
                velocity_scale: r.velocity.scale,
                velocity_offset: r.velocity.offset,
            },
        })
    }

    /// This model as the options configure it: the segment hop, then the thresholds (the bundle's, then
    /// `thresholds`, then the single onset / frame thresholds).
    pub fn with_options(&self, options: &TranscribeOptions) -> Result<Self> {
        let segments =
            self.segments.with_hop(options.segment_hop_seconds.unwrap_or(self.segments.segment_hop_seconds))?;
        let mut o = self.decoder.clone();
        if let Some(t) = &options.thresholds {
            t.check(o.keys(), "the thresholds")?;
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
        Ok(OnsetsFramesConfig { segments, decoder: o, ..self.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::header;
    use super::*;

    fn config(h: &serde_json::Value) -> Result<OnsetsFramesConfig> {
        OnsetsFramesConfig::from_header(h)
    }

    #[test]
    fn reads_an_onsets_frames_header() {
        let c = config(&header()).unwrap();
        assert_eq!(c.mel, MelBands { f_min: 30.0, f_max: 8000.0, n_mels: 229, slaney_norm: true });
        let o = &c.decoder;
        assert_eq!((o.lowest_key, o.keys(), o.velocity_scale, o.velocity_offset), (21, 88, 80.0, 10.0));
        assert_eq!((c.segments.segment_samples(), c.segments.lead_in_frames()), (320_000, 62));
    }

    #[test]
    fn wrong_headers_say_what_is_wrong() {
        let mut missing = header();
        missing.as_object_mut().unwrap().remove("thresholds");
        assert!(matches!(config(&missing), Err(Error::ModelCorrupt(m)) if m.contains("thresholds")));
        let mut short = header();
        short["thresholds"]["onset"] = serde_json::json!(vec![0.5; 87]);
        assert!(config(&short).is_err());
        let mut frames = header();
        frames["frames_per_segment"] = 627.into();
        assert!(matches!(config(&frames), Err(Error::ModelMismatch(_))));
        assert!(matches!(config(&serde_json::json!({})), Err(Error::ModelCorrupt(_))));
    }

    #[test]
    fn options_set_thresholds() {
        let oaf = config(&header()).unwrap();
        let o = TranscribeOptions { onset_threshold: Some(0.9), ..Default::default() };
        let t = oaf.with_options(&o).unwrap().decoder.thresholds;
        assert!(t.onset.iter().all(|&v| v == 0.9) && t.frame.iter().all(|&v| v == 0.5));
        let bad = TranscribeOptions { frame_threshold: Some(1.5), ..Default::default() };
        assert!(matches!(oaf.with_options(&bad), Err(Error::InvalidOption(_))));
        assert_eq!(oaf.with_options(&Default::default()).unwrap().segments.segment_hop_seconds, 16.0);
    }
}
