//! Transkun V2 (`transkun-v2`, made by tools/convert from the pretrained checkpoint): a transformer scoring
//! note intervals, decoded by a semi-CRF Viterbi per track, with attribute heads for velocity and endpoint
//! refinement, and pedals as tracks of their own. Segments of 16 s overlap; their events are stitched.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::bundle::Bundle;
use crate::config::TranscribeOptions;
use crate::error::{Error, Result};
use crate::features::Features;
use crate::model::side_by_side;
use crate::notes::{Note, Transcription};

use super::{Decoding, Family, Model, ModelInfo};

mod config;
mod decoder;
mod front_end;
mod network;

pub use config::{TranskunConfig, DEFAULT_SEGMENT_HOP_SECONDS, FAST_SEGMENT_HOP_SECONDS};
pub use decoder::{viterbi, Event};
pub use front_end::TranskunFrontEnd;
pub use network::TrackScores;

use decoder::{decode_segment, to_transcription, Stitcher};
use network::{SegmentOutput, TranskunNetwork};

pub const FAMILY: Family = Family { name: "transkun-v2", describe, load };

fn describe(bundle: &Bundle) -> Result<ModelInfo> {
    Ok(info(&TranskunConfig::from_bundle(bundle)?, bundle))
}

fn info(cfg: &TranskunConfig, bundle: &Bundle) -> ModelInfo {
    ModelInfo {
        family: FAMILY.name,
        segments: cfg.segments.clone(),
        default_hop_seconds: DEFAULT_SEGMENT_HOP_SECONDS,
        faster_hop_seconds: FAST_SEGMENT_HOP_SECONDS,
        mel: cfg.front_end.mel.clone(),
        details: vec![],
        provenance: bundle.provenance(),
    }
}

fn load(bundle: &Bundle) -> Result<Arc<dyn Model>> {
    let config = TranskunConfig::from_bundle(bundle)?;
    Ok(Arc::new(Transkun {
        info: info(&config, bundle),
        front_end: TranskunFrontEnd::new(&config),
        network: TranskunNetwork::load(bundle, &config)?,
        config,
    }))
}

/// A loaded Transkun model.
pub struct Transkun {
    info: ModelInfo,
    config: TranskunConfig,
    front_end: TranskunFrontEnd,
    network: TranskunNetwork,
}

impl Model for Transkun {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn features(&self, segment: &[Vec<f32>]) -> Features {
        self.front_end.process(segment)
    }

    fn start(self: Arc<Self>, options: &TranscribeOptions) -> Result<Box<dyn Decoding>> {
        let segments = self.info.segments_for(options)?;
        if options.onset_threshold.is_some() || options.frame_threshold.is_some() || options.thresholds.is_some() {
            return Err(Error::InvalidOption(format!(
                "thresholds apply to Onsets & Frames models; this one is {}",
                FAMILY.name
            )));
        }
        let config = TranskunConfig { segments, ..self.config.clone() };
        Ok(Box::new(TranskunDecoding {
            stitcher: Stitcher::new(&config),
            config,
            model: self,
            waiting: VecDeque::new(),
        }))
    }
}

/// One transcription: the backbone's outputs waiting to be decoded, and the stitched events so far.
struct TranskunDecoding {
    model: Arc<Transkun>,
    config: TranskunConfig,
    waiting: VecDeque<Result<SegmentOutput>>,
    stitcher: Stitcher,
}

impl Decoding for TranskunDecoding {
    fn segments(&self) -> &crate::config::Segments {
        &self.config.segments
    }

    fn run_network(&mut self, feats: &[Features]) {
        let network = &self.model.network;
        self.waiting.extend(side_by_side(feats, |f| network.run(f)));
    }

    fn decode_next(&mut self, begin_time: f64) -> Result<()> {
        let Some(out) = self.waiting.pop_front() else { return Ok(()) };
        let out = out?;
        let network = &self.model.network;
        let events = decode_segment(
            &self.config,
            &out,
            self.stitcher.forced_start(),
            |track| network.track_scores(&out, track),
            |b, e| network.attributes(b, e),
        )?;
        drop(out); // before the progress report, which may measure memory
        self.stitcher.push(begin_time, events);
        Ok(())
    }

    fn notes_so_far(&self) -> Vec<Note> {
        let events: Vec<_> = self.stitcher.provisional().copied().collect();
        to_transcription(&events).notes
    }

    fn finish(self: Box<Self>) -> Transcription {
        to_transcription(&self.stitcher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_refused() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/transkun-v2.pscb")).unwrap();
        let model = crate::family::load(&bytes).unwrap();
        let o = TranscribeOptions { onset_threshold: Some(0.9), ..Default::default() };
        let e = model.clone().start(&o).err().unwrap().to_string();
        assert!(e.contains("Onsets & Frames") && e.contains("transkun-v2"), "{e}");
        let d = model.start(&Default::default()).unwrap();
        assert_eq!(d.segments().segment_hop_seconds, DEFAULT_SEGMENT_HOP_SECONDS);
    }
}
