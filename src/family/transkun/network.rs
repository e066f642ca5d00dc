//! Transkun's network, four graphs of the bundle (tools/convert): `positions` (the input-independent position
//! embeddings, run once at load), `backbone` (features and those embeddings -> the context per track and
//! frame), `scorer` (one track's context -> its interval scores, run track by track as the decoder needs them)
//! and `heads` (velocity and endpoint refinement of decoded intervals).

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::features::Features;
use crate::model::{Fact, Graph, Input, Plane, Threads, Value};

use super::config::TranskunConfig;

/// The backbone's output for one segment: per track and frame the context the interval scorer and the
/// attribute heads read. Holds tract's own output buffer (65 MB), read in place. Each track has
/// `stride >= frames` frames in it (the upsampling's whole windows); only the first `frames` are the segment's.
/// The interval scores are computed per track as the decoder needs them ([`TranskunNetwork::track_scores`]),
/// so that a segment in flight does not also hold 130 MB of scores for every track.
#[derive(Debug, Clone)]
pub struct SegmentOutput {
    pub tracks: usize,
    pub frames: usize,
    pub dim: usize,
    stride: usize,
    /// `[track][frame][dim]`
    ctx: Plane,
}

/// What the semi-CRF scores one track's intervals from: per frame an interval query `q` and key `k` (`dim`
/// values each) and a single-frame score `d`, each `row` floats after the previous frame's, so the network's
/// side-by-side layout is read in place. Interval `[b, e]` scores `d[b]` when `b == e`, else
/// `scale * (q[e] . k[b]) * (e - b)`.
#[derive(Debug, Clone, Copy)]
pub struct TrackScores<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub d: &'a [f32],
    pub frames: usize,
    pub dim: usize,
    /// Floats from one frame's `q` (or `k`) to the next's.
    pub row: usize,
    /// Floats from one frame's `d` to the next's.
    pub d_step: usize,
    pub scale: f32,
}

impl<'a> TrackScores<'a> {
    /// Separate, contiguous `q`, `k` (`[frame][dim]`) and `d` (`[frame]`), with the scale already in `q`.
    pub fn contiguous(q: &'a [f32], k: &'a [f32], d: &'a [f32], dim: usize) -> Self {
        assert!(q.len() == d.len() * dim && k.len() == q.len());
        TrackScores { q, k, d, frames: d.len(), dim, row: dim, d_step: 1, scale: 1.0 }
    }
}

/// One track's interval scoring inputs, as the scorer graph computed them: `[frame][q (dim), k (dim), d]`.
#[derive(Debug, Clone)]
pub struct ScoredTrack {
    frames: usize,
    dim: usize,
    scores: Plane,
}

impl ScoredTrack {
    pub fn scores(&self) -> TrackScores<'_> {
        let (dim, row) = (self.dim, 2 * self.dim + 1);
        let t = self.scores.as_slice();
        TrackScores {
            q: t,
            k: &t[dim..],
            d: &t[2 * dim..],
            frames: self.frames,
            dim,
            row,
            d_step: row,
            // transkun's scaled inner product: q . k / sqrt(dim). A power of two for dim 256, so scaling the
            // product instead of q (as transkun does) changes no bit.
            scale: 1.0 / (dim as f32).sqrt(),
        }
    }
}

impl SegmentOutput {
    /// The context rows of one track's frames, `[frame][dim]`.
    fn track_ctx(&self, track: usize) -> &[f32] {
        &self.ctx.as_slice()[track * self.stride * self.dim..][..self.frames * self.dim]
    }

    /// The context row of one track at one frame.
    pub fn ctx_row(&self, track: usize, frame: usize) -> &[f32] {
        &self.ctx.as_slice()[(track * self.stride + frame) * self.dim..][..self.dim]
    }
}

/// Logits for a batch of decoded intervals.
#[derive(Debug, Clone)]
pub struct Attributes {
    /// `[interval][velocities]`
    pub velocity_logits: Vec<f32>,
    /// `[interval][4]`: onset refine, offset refine, onset presence, offset presence.
    pub refine_logits: Vec<f32>,
}

/// Transkun's graphs, loaded.
pub struct TranskunNetwork {
    frames: usize,
    tracks: usize,
    dim: usize,
    velocities: usize,
    backbone: Graph,
    /// One track's context -> its interval scores.
    scorer: Graph,
    heads: Graph,
    /// The backbone's input-independent inputs (position embeddings), computed once at load.
    positions: Vec<Value>,
}

impl TranskunNetwork {
    pub fn load(bundle: &Bundle, cfg: &TranskunConfig) -> Result<Self> {
        let (s, crf) = (&cfg.segments, &cfg.crf);
        let feats_shape = [1, s.frames_per_segment, cfg.front_end.mel.n_mels, cfg.front_end.windows()];
        let feats = Fact::F32(feats_shape.to_vec());
        // The position embeddings depend on the segment's shape only: run their graph once, keep its outputs.
        let positions = Graph::load(bundle.part("positions")?, "positions", std::slice::from_ref(&feats))?;
        let zeros = vec![0f32; feats_shape.iter().product()];
        let positions = positions.run(vec![Input::Data(&feats_shape, &zeros)], Threads::Pool)?;
        let mut backbone_inputs = vec![feats];
        backbone_inputs.extend(positions.iter().cloned().map(Fact::Like));
        let backbone = Graph::load(bundle.part("backbone")?, "backbone", &backbone_inputs)?;
        check_backbone_outputs(backbone.outputs())?;
        let scorer = Graph::load(
            bundle.part("scorer")?,
            "scorer",
            &[Fact::F32(vec![1, s.frames_per_segment, crf.context_size])],
        )?;
        let ctx = Fact::F32AnyRows(vec![0, crf.context_size]);
        let heads = Graph::load(bundle.part("heads")?, "heads", &[ctx.clone(), ctx])?;
        Ok(TranskunNetwork {
            frames: s.frames_per_segment,
            tracks: crf.tracks.len(),
            dim: crf.context_size,
            velocities: crf.velocities,
            backbone,
            scorer,
            heads,
            positions,
        })
    }

    /// The backbone on one segment's features.
    pub fn run(&self, feats: &Features) -> Result<SegmentOutput> {
        let shape = [1, feats.frames, feats.mels, feats.windows];
        let mut inputs = vec![Input::Data(&shape, &feats.data)];
        inputs.extend(self.positions.iter().cloned().map(Input::Value));
        let outputs = self.backbone.run(inputs, Threads::Pool)?;
        check_backbone_outputs(outputs.len())?;
        let ctx = outputs.into_iter().next().expect("one output");
        let (tracks, frames, dim) = (self.tracks, self.frames, self.dim);
        let (ctx, stride) = Plane::per_frame(ctx, tracks, frames, dim, "backbone ctx")?;
        Ok(SegmentOutput { tracks, frames, dim, stride, ctx })
    }

    /// One track's interval scores, from its context rows. Runs on the calling thread: the decoder scores
    /// tracks side by side.
    pub fn track_scores(&self, out: &SegmentOutput, track: usize) -> Result<ScoredTrack> {
        let (frames, dim) = (out.frames, out.dim);
        let mut result = self.scorer.run(vec![Input::Data(&[1, frames, dim], out.track_ctx(track))], Threads::One)?;
        if result.len() != 1 {
            return Err(Error::ModelMismatch(format!("scorer has {} outputs, expected 1", result.len())));
        }
        let scores = Plane::new(result.remove(0), &[1, frames, 2 * dim + 1], "interval scores")?;
        Ok(ScoredTrack { frames, dim, scores })
    }

    /// Velocity and endpoint-refinement logits for intervals given by their begin and end context rows
    /// (`n` rows of `context_size` each).
    pub fn attributes(&self, ctx_begin: &[f32], ctx_end: &[f32]) -> Result<Attributes> {
        let dim = self.dim;
        let n = ctx_begin.len() / dim;
        if n == 0 {
            return Ok(Attributes { velocity_logits: vec![], refine_logits: vec![] });
        }
        let out =
            self.heads.run(vec![Input::Data(&[n, dim], ctx_begin), Input::Data(&[n, dim], ctx_end)], Threads::Pool)?;
        let [velocity, refine]: [Value; 2] = out
            .try_into()
            .map_err(|o: Vec<Value>| Error::ModelMismatch(format!("heads has {} outputs, expected 2", o.len())))?;
        Ok(Attributes {
            velocity_logits: Plane::to_vec(velocity, &[n, self.velocities], "velocity logits")?,
            refine_logits: Plane::to_vec(refine, &[n, 4], "refine logits")?,
        })
    }
}

/// The backbone's one output is `ctx`; bundles from before had `scores` and `ctx` (or `q`, `k`, `d`, `ctx`).
fn check_backbone_outputs(n: usize) -> Result<()> {
    if n == 1 {
        return Ok(());
    }
    Err(Error::ModelMismatch(format!(
        "backbone has {n} outputs, expected 1 (ctx; made by an older converter? convert it again with \
         tools/convert/run.sh)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backbone with the outputs of older converters (scores, ctx or q, k, d, ctx) is refused, saying what to do.
    #[test]
    fn names_the_old_output_layout() {
        assert!(check_backbone_outputs(1).is_ok());
        for old in [2, 4] {
            match check_backbone_outputs(old) {
                Err(Error::ModelMismatch(m)) => {
                    assert!(m.contains(&format!("{old} outputs")) && m.contains("convert it again"), "{m}")
                }
                other => panic!("expected a model mismatch, got {other:?}"),
            }
        }
    }

    /// A bundle from before the `positions` graph existed (the shipped one with that part cut out) is refused
    /// with a message naming the part, not run.
    #[test]
    fn names_a_missing_graph() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/transkun-v2.pscb")).unwrap();
        let bundle = Bundle::parse(&bytes).unwrap();
        let parts: Vec<(&str, &[u8])> =
            ["backbone", "scorer", "heads"].iter().map(|&n| (n, bundle.part(n).unwrap())).collect();
        let old = Bundle::write(&bundle.header, &parts).unwrap();
        match crate::family::load(&old) {
            Err(Error::ModelMismatch(m)) => assert!(m.contains("'positions'"), "{m}"),
            other => panic!("expected a model mismatch, got {:?}", other.err()),
        }
    }
}
