//! The Onsets & Frames runner: one graph, `network` (log-mel `[1, frames, n_mels]` -> onset, offset and frame
//! probabilities and the velocity head's output, `[1, frames, keys]` each), written by tools/oaf/export.py.

use tract_onnx::prelude::*;

use super::{inference, load_graph, to_vec, Bundle, Plan};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::features::Features;

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

pub struct OnsetsFramesModel {
    config: ModelConfig,
    network: Plan,
}

impl OnsetsFramesModel {
    pub(super) fn from_bundle(bundle: Bundle) -> Result<Self> {
        let cfg = bundle.config.clone();
        let input = f32::fact([1, cfg.frames_per_segment, cfg.mel().n_mels]);
        let network = load_graph(bundle.part("network")?, "network", |_| vec![input.clone()])?;
        let outputs = network.model().outputs.len();
        if outputs != 4 {
            return Err(Error::ModelMismatch(format!(
                "the network has {outputs} outputs, expected 4 (onset, offset, frame, velocity)"
            )));
        }
        Ok(OnsetsFramesModel { config: cfg, network })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub(super) fn run(&self, feats: &Features) -> Result<FrameProbabilities> {
        let keys = self.config.onset_gated().map_or(0, |o| o.keys());
        let (frames, mels) = (feats.frames, feats.mels);
        let input = Tensor::from_shape(&[1, frames, mels], &feats.data).map_err(inference("features"))?;
        let out = self.network.run(tvec!(input.into())).map_err(inference("network"))?;
        let shape = [1, frames, keys];
        Ok(FrameProbabilities {
            frames,
            keys,
            onset: to_vec(&out[0], &shape, "onset probabilities")?,
            offset: to_vec(&out[1], &shape, "offset probabilities")?,
            frame: to_vec(&out[2], &shape, "frame probabilities")?,
            velocity: to_vec(&out[3], &shape, "velocities")?,
        })
    }
}
