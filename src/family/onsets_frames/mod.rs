//! Onsets & Frames (`onsets-frames`, made by tools/oaf/export.py from a checkpoint of tools/train): a log-mel
//! front-end of the mono mix, conv stacks and BiLSTM heads for onset, offset, frame and velocity, and
//! onset-gated decoding (a note starts only where its key's onset probability passes its threshold). Windows
//! of 20 s, 16 s apart, each keeping its middle 16 s; the decoder's state carries across them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::bundle::Bundle;
use crate::config::{KeyThresholds, Segments, TranscribeOptions};
use crate::error::{Error, Result};
use crate::features::Features;
use crate::model::side_by_side;
use crate::notes::{Note, Transcription};

use super::{Decoding, Family, Model, ModelInfo};

mod calibrate;
mod config;
mod decoder;
mod front_end;
mod network;
mod thresholds;

pub use calibrate::{calibrate, CalibrateOptions, Calibration, Piece, RegisterResult};
pub use config::{OnsetGatedConfig, OnsetsFramesConfig};
pub use decoder::{FrameRoll, OnsetGatedDecoder};
pub use front_end::LogMelFrontEnd;
pub use network::FrameProbabilities;
pub use thresholds::{key_name, read_thresholds, write_thresholds};

use network::OnsetsFramesNetwork;

pub const FAMILY: Family = Family { name: "onsets-frames", describe, load: load_dyn };

fn describe(bundle: &Bundle) -> Result<ModelInfo> {
    Ok(info(&OnsetsFramesConfig::from_bundle(bundle)?, bundle))
}

fn info(cfg: &OnsetsFramesConfig, bundle: &Bundle) -> ModelInfo {
    let o = &cfg.decoder;
    let range = |v: &[f32]| {
        let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo} to {hi}")
        }
    };
    ModelInfo {
        family: FAMILY.name,
        segments: cfg.segments.clone(),
        // Already the fast family: its "Faster" mode is its own hop.
        default_hop_seconds: cfg.segments.segment_hop_seconds,
        faster_hop_seconds: cfg.segments.segment_hop_seconds,
        mel: cfg.mel.clone(),
        details: vec![(
            "keys".into(),
            format!(
                "{} from {}; thresholds: onset {}, frame {}",
                o.keys(),
                key_name(o.lowest_key as usize),
                range(&o.thresholds.onset),
                range(&o.thresholds.frame)
            ),
        )],
        provenance: bundle.provenance(),
    }
}

fn load_dyn(bundle: &Bundle) -> Result<Arc<dyn Model>> {
    Ok(OnsetsFrames::from_bundle(bundle)?)
}

/// A loaded Onsets & Frames model.
pub struct OnsetsFrames {
    info: ModelInfo,
    config: OnsetsFramesConfig,
    front_end: LogMelFrontEnd,
    network: OnsetsFramesNetwork,
}

/// Where a recording decoding leaves its stitched probabilities when it finishes.
pub type Recorded = Arc<Mutex<Option<FrameRoll>>>;

impl OnsetsFrames {
    fn from_bundle(bundle: &Bundle) -> Result<Arc<Self>> {
        let config = OnsetsFramesConfig::from_bundle(bundle)?;
        Ok(Arc::new(OnsetsFrames {
            info: info(&config, bundle),
            front_end: LogMelFrontEnd::new(&config),
            network: OnsetsFramesNetwork::load(bundle, &config)?,
            config,
        }))
    }

    /// Loads a bundle that must be of this family; `why` says what needs it, for the message.
    pub fn load(bytes: &[u8], why: &str) -> Result<Arc<Self>> {
        Self::from_bundle(&ours(bytes, why)?)
    }

    pub fn config(&self) -> &OnsetsFramesConfig {
        &self.config
    }

    /// The network's outputs for one segment's features.
    pub fn probabilities(&self, feats: &Features) -> Result<FrameProbabilities> {
        self.network.run(feats)
    }

    /// A transcription's decoding that also keeps the probabilities of every frame it decodes, left in the
    /// returned slot when it finishes (what `pianoscribe calibrate` decodes again with other thresholds).
    pub fn recording(self: &Arc<Self>, options: &TranscribeOptions) -> Result<(Box<dyn Decoding>, Recorded)> {
        let mut d = self.decoding(options)?;
        let slot = Recorded::default();
        d.decoder.record();
        d.recorded = Some(slot.clone());
        Ok((Box::new(d), slot))
    }

    fn decoding(self: &Arc<Self>, options: &TranscribeOptions) -> Result<OnsetsFramesDecoding> {
        let config = self.config.with_options(options)?;
        Ok(OnsetsFramesDecoding {
            decoder: OnsetGatedDecoder::new(&config),
            config,
            model: self.clone(),
            waiting: VecDeque::new(),
            recorded: None,
        })
    }
}

/// A bundle that must be of this family; `why` says what needs it, for the message.
fn ours<'a>(bytes: &'a [u8], why: &str) -> Result<Bundle<'a>> {
    let bundle = Bundle::parse(bytes)?;
    let family = bundle.family()?;
    if family != FAMILY.name {
        return Err(Error::WrongFamily { needs: why.into(), expected: "an Onsets & Frames", found: family.into() });
    }
    Ok(bundle)
}

/// The numbers of a bundle that must be of this family (see [`OnsetsFrames::load`]), without its network.
pub fn config_of(bytes: &[u8], why: &str) -> Result<OnsetsFramesConfig> {
    OnsetsFramesConfig::from_bundle(&ours(bytes, why)?)
}

/// A copy of an Onsets & Frames bundle with other default thresholds in its header (its graphs unchanged),
/// and `note` saying where they come from in its provenance.
pub fn with_thresholds(bytes: &[u8], thresholds: &KeyThresholds, note: &str) -> Result<Vec<u8>> {
    let bundle = ours(bytes, "thresholds")?;
    let keys = OnsetsFramesConfig::from_bundle(&bundle)?.decoder.keys();
    thresholds.check(keys, "the thresholds")?;
    let mut header = bundle.header.clone();
    header["thresholds"] = serde_json::json!({ "onset": thresholds.onset, "frame": thresholds.frame });
    if !header["provenance"].is_object() {
        header["provenance"] = serde_json::json!({});
    }
    header["provenance"]["thresholds"] = note.into();
    let out = bundle.with_header(&header)?;
    OnsetsFramesConfig::from_bundle(&Bundle::parse(&out)?)?;
    Ok(out)
}

impl Model for OnsetsFrames {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn features(&self, segment: &[Vec<f32>]) -> Features {
        self.front_end.process(segment)
    }

    fn start(self: Arc<Self>, options: &TranscribeOptions) -> Result<Box<dyn Decoding>> {
        Ok(Box::new(self.decoding(options)?))
    }
}

/// One transcription: the network's outputs waiting to be decoded, and the decoder's state across segments.
struct OnsetsFramesDecoding {
    model: Arc<OnsetsFrames>,
    config: OnsetsFramesConfig,
    waiting: VecDeque<Result<FrameProbabilities>>,
    decoder: OnsetGatedDecoder,
    recorded: Option<Recorded>,
}

impl Decoding for OnsetsFramesDecoding {
    fn segments(&self) -> &Segments {
        &self.config.segments
    }

    fn run_network(&mut self, feats: &[Features]) {
        let model = &self.model;
        self.waiting.extend(side_by_side(feats, |f| model.probabilities(f)));
    }

    fn decode_next(&mut self, _begin_time: f64) -> Result<()> {
        if let Some(p) = self.waiting.pop_front() {
            self.decoder.push(&p?);
        }
        Ok(())
    }

    fn end_of_audio(&mut self, samples: usize) {
        // Frames are centred on every hop-th sample: one more than whole hops.
        self.decoder.set_frame_limit(samples / self.config.segments.hop + 1);
    }

    fn notes_so_far(&self) -> Vec<Note> {
        self.decoder.provisional()
    }

    fn finish(mut self: Box<Self>) -> Transcription {
        if let Some(slot) = &self.recorded {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = self.decoder.take_roll();
        }
        Transcription { notes: self.decoder.finish(), pedals: vec![] }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// An Onsets & Frames header as tools/oaf/export.py writes it (20 s windows, 16 s apart).
    pub(crate) fn header() -> serde_json::Value {
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
}
