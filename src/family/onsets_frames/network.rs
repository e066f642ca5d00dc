//! The Onsets & Frames network: one graph, `network` (log-mel `[1, frames, n_mels]` -> onset, offset and frame
//! probabilities and the velocity head's output, `[1, frames, keys]` each), written by tools/oaf/export.py.

use super::config::OnsetsFramesConfig;
use crate::bundle::Bundle;
use crate::error::Result;
use crate::features::Features;
use crate::model::{Fact, Graph, Input, Plane, Threads};

/// One segment's network outputs, `[frame][key]` each, copied out of tract (a 20 s window: 626 x 88 floats
/// per head, 220 KB).
#[derive(Debug, Clone)]
pub struct FrameProbabilities {
    pub frames: usize,
    pub keys: usize,
    pub onset: Vec<f32>,
    pub offset: Vec<f32>,
    pub frame: Vec<f32>,
    /// The velocity head's output, not yet clipped to [0, 1].
    pub velocity: Vec<f32>,
}

pub struct OnsetsFramesNetwork {
    keys: usize,
    network: Graph,
}

impl OnsetsFramesNetwork {
    pub fn load(bundle: &Bundle, cfg: &OnsetsFramesConfig) -> Result<Self> {
        let input = Fact::F32(vec![1, cfg.segments.frames_per_segment, cfg.mel.n_mels]);
        let network = Graph::load(bundle.part("network")?, "network", &[input])?;
        network.expect_outputs(4, "onset, offset, frame, velocity")?;
        Ok(OnsetsFramesNetwork { keys: cfg.decoder.keys(), network })
    }

    pub fn run(&self, feats: &Features) -> Result<FrameProbabilities> {
        let (frames, keys) = (feats.frames, self.keys);
        let out = self.network.run(vec![Input::Data(&[1, frames, feats.mels], &feats.data)], Threads::Pool)?;
        let shape = [1, frames, keys];
        let mut heads = out.into_iter();
        let mut next = |what| Plane::to_vec(heads.next().expect("4 outputs, checked at load"), &shape, what);
        Ok(FrameProbabilities {
            frames,
            keys,
            onset: next("onset probabilities")?,
            offset: next("offset probabilities")?,
            frame: next("frame probabilities")?,
            velocity: next("velocities")?,
        })
    }
}
