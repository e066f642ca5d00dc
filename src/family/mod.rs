//! Model families. Each folder holds one family whole: its numbers (read from the bundle's header), its
//! front-end, its network runner and its decoder, paired once when a bundle is loaded ([`load`]), so that no
//! other pairing can be written down. The pipeline drives any family through [`Model`] and [`Decoding`] and
//! names none. Adding a family: a folder beside these, and a line in [`FAMILIES`].
//!
//! - [`transkun`]: Transkun V2, a transformer scoring note intervals, decoded by a semi-CRF.
//! - [`onsets_frames`]: Onsets & Frames, onset / offset / frame / velocity heads, onset-gated decoding.

use std::sync::Arc;

use crate::bundle::Bundle;
use crate::config::{MelBands, Segments, TranscribeOptions};
use crate::error::{Error, Result};
use crate::features::Features;
use crate::notes::{Note, Transcription};

pub mod onsets_frames;
pub mod transkun;

/// The families this engine runs, by the name a bundle's header gives them.
const FAMILIES: [Family; 2] = [transkun::FAMILY, onsets_frames::FAMILY];

/// One family's entry points.
pub struct Family {
    /// The header's `family`.
    pub name: &'static str,
    /// The model's numbers from the header alone (no graph is built).
    describe: fn(&Bundle) -> Result<ModelInfo>,
    load: fn(&Bundle) -> Result<Arc<dyn Model>>,
}

/// What a bundle is: its family's numbers as `pianoscribe info` and the page show them.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub family: &'static str,
    /// The segments with the bundle's own hop.
    pub segments: Segments,
    /// The segment hop when the options name none.
    pub default_hop_seconds: f64,
    /// The "Faster" mode's segment hop.
    pub faster_hop_seconds: f64,
    pub mel: MelBands,
    /// Lines only this family has, as `(label, value)` (e.g. keys and thresholds).
    pub details: Vec<(String, String)>,
    /// Where the weights come from and what they scored (free-form).
    pub provenance: serde_json::Value,
}

impl ModelInfo {
    /// The segments these options ask for (their hop, else the model's default), checked.
    pub fn segments_for(&self, options: &TranscribeOptions) -> Result<Segments> {
        self.segments.with_hop(options.segment_hop_seconds.unwrap_or(self.default_hop_seconds))
    }
}

/// A loaded model of one family: its numbers, front-end and network.
pub trait Model: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// One segment's features: `segment[c]` holds one segment of samples of channel `c` at the model's rate.
    fn features(&self, segment: &[Vec<f32>]) -> Features;

    /// A new transcription's network and decoder state, set up by the options (a [`Error::InvalidOption`]
    /// for options the family has no use for, such as thresholds on a model without them).
    fn start(self: Arc<Self>, options: &TranscribeOptions) -> Result<Box<dyn Decoding>>;
}

/// One transcription's network and decoder, of one family: segments' features go in, in order, and notes come
/// out. The pipeline cuts the segments, times the stages and reports progress.
pub trait Decoding: Send {
    /// The segments this transcription's options set.
    fn segments(&self) -> &Segments;

    /// Runs the network on these segments' features, side by side; their outputs wait, in order, for
    /// [`decode_next`](Self::decode_next).
    fn run_network(&mut self, feats: &[Features]);

    /// Decodes the oldest waiting output: the segment whose first sample lies at `begin_time` seconds of the
    /// recording (negative while it covers the leading padding). A network error surfaces here.
    fn decode_next(&mut self, begin_time: f64) -> Result<()>;

    /// The recording ends after this many samples at the model's rate: what lies beyond is end padding.
    fn end_of_audio(&mut self, _samples: usize) {}

    /// Notes found so far (the latest ones may still be revised by the next segment).
    fn notes_so_far(&self) -> Vec<Note>;

    /// The transcription, once every segment is decoded.
    fn finish(self: Box<Self>) -> Transcription;
}

/// The family a bundle names, or an error that lists the ones this version runs.
fn family_of(bundle: &Bundle) -> Result<&'static Family> {
    let name = bundle.family()?;
    FAMILIES.iter().find(|f| f.name == name).ok_or_else(|| {
        let known: Vec<_> = FAMILIES.iter().map(|f| f.name).collect();
        if name == "meter" {
            // The score stage's own model (built in): not one to transcribe with.
            return Error::ModelMismatch(format!(
                "this is the score stage's metrical model (family 'meter', built in), not a transcription model \
                 (this version transcribes with {})",
                known.join(" or ")
            ));
        }
        Error::ModelMismatch(format!(
            "model family '{name}' is not supported by this version (it runs {})",
            known.join(" and ")
        ))
    })
}

/// Loads a bundle of any family from its bytes (the header's `family` picks the folder).
pub fn load(bytes: &[u8]) -> Result<Arc<dyn Model>> {
    let bundle = Bundle::parse(bytes)?;
    (family_of(&bundle)?.load)(&bundle)
}

/// What a bundle is, from its header (checksums included), without building its network.
pub fn describe(bytes: &[u8]) -> Result<ModelInfo> {
    let bundle = Bundle::parse(bytes)?;
    (family_of(&bundle)?.describe)(&bundle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_family_is_named() {
        let mut header = onsets_frames::tests::header();
        header["family"] = "basic-pitch".into();
        let bytes = Bundle::write(&header, &[]).unwrap();
        for e in [describe(&bytes).unwrap_err(), load(&bytes).err().unwrap()] {
            match e {
                Error::ModelMismatch(m) => {
                    assert!(m.contains("'basic-pitch'") && m.contains("transkun-v2 and onsets-frames"), "{m}")
                }
                other => panic!("{other:?}"),
            }
        }
        let none = Bundle::write(&serde_json::json!({}), &[]).unwrap();
        assert!(matches!(describe(&none), Err(Error::ModelCorrupt(_))));
    }
}
