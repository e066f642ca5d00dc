//! The model boundary: reads a pianoscribe model bundle (header JSON + ONNX graphs) from bytes and runs it
//! with tract. This is the only module that imports tract; its types do not leak out. One runner per model
//! family: [`TranskunModel`] here, [`OnsetsFramesModel`] in `onsets_frames`; [`Model`] is either.
//!
//! Bundle layout (written by tools/convert/convert.py and tools/oaf/export.py):
//! `b"PSCBNDL1"`, u32 LE header length, header JSON (the [`ModelConfig`]'s numbers, `family` first among
//! them, plus `parts`: name, bytes, crc32), then the parts' bytes in order.

use std::sync::Arc;

use serde::Deserialize;
use tract_onnx::prelude::*;

use tract_linalg::multithread::Executor;

use crate::config::{Family, KeyThresholds, ModelConfig, SemiCrfConfig, MAX_PARALLEL_SEGMENTS};
use crate::error::{Error, Result};
use crate::features::Features;

mod onsets_frames;
pub use onsets_frames::{FrameProbabilities, OnsetsFramesModel};

const MAGIC: &[u8; 8] = b"PSCBNDL1";

#[derive(Deserialize)]
struct Part {
    name: String,
    bytes: usize,
    crc32: u32,
}

#[derive(Deserialize)]
struct Header {
    parts: Vec<Part>,
}

/// A parsed bundle: the model's numbers and its named ONNX graphs.
struct Bundle<'a> {
    config: ModelConfig,
    parts: Vec<(String, &'a [u8])>,
}

impl<'a> Bundle<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(Error::ModelFormat(format!(
                "expected a bundle starting with {:?} ({} bytes read)",
                String::from_utf8_lossy(MAGIC),
                bytes.len()
            )));
        }
        let header_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let header_bytes = bytes
            .get(12..12 + header_len)
            .ok_or_else(|| Error::ModelCorrupt(format!("header of {header_len} bytes is cut off")))?;
        let header: Header = serde_json::from_slice(header_bytes)
            .map_err(|e| Error::ModelCorrupt(format!("header is not valid: {e}")))?;
        let config = ModelConfig::from_header(header_bytes)?;
        let mut offset = 12 + header_len;
        let mut parts = vec![];
        for p in &header.parts {
            let blob = bytes.get(offset..offset + p.bytes).ok_or_else(|| {
                Error::ModelCorrupt(format!(
                    "part '{}' needs {} bytes at offset {offset} but the file has {}",
                    p.name,
                    p.bytes,
                    bytes.len()
                ))
            })?;
            let crc = crc32(blob);
            if crc != p.crc32 {
                return Err(Error::ModelCorrupt(format!(
                    "checksum of part '{}' is {crc:08x}, expected {:08x}",
                    p.name, p.crc32
                )));
            }
            parts.push((p.name.clone(), blob));
            offset += p.bytes;
        }
        if offset != bytes.len() {
            return Err(Error::ModelCorrupt(format!("{} unexpected bytes after the last part", bytes.len() - offset)));
        }
        Ok(Bundle { config, parts })
    }

    fn part(&self, name: &str) -> Result<&'a [u8]> {
        self.parts.iter().find(|(n, _)| n == name).map(|(_, b)| *b).ok_or_else(|| {
            Error::ModelMismatch(format!(
                "the bundle has no '{name}' graph (made by an older converter? convert it again with \
                     tools/convert/run.sh)"
            ))
        })
    }
}

/// Reads only the model's numbers from a bundle (checksums included), without building the network.
pub fn read_config(bytes: &[u8]) -> Result<ModelConfig> {
    Ok(Bundle::parse(bytes)?.config)
}

/// A copy of an Onsets & Frames bundle with other default thresholds in its header (its graphs unchanged),
/// and `note` saying where they come from in its provenance.
pub fn with_thresholds(bytes: &[u8], thresholds: &KeyThresholds, note: &str) -> Result<Vec<u8>> {
    let bundle = Bundle::parse(bytes)?;
    let keys = bundle.config.onset_gated().map(|o| o.keys());
    if keys != Some(thresholds.onset.len()) || thresholds.frame.len() != thresholds.onset.len() {
        return Err(Error::InvalidOption(format!(
            "{} thresholds per head do not fit this {} model",
            thresholds.onset.len(),
            bundle.config.family.name()
        )));
    }
    let header_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[12..12 + header_len])
        .map_err(|e| Error::ModelCorrupt(format!("header is not valid: {e}")))?;
    header["thresholds"] = serde_json::json!({ "onset": thresholds.onset, "frame": thresholds.frame });
    if !header["provenance"].is_object() {
        header["provenance"] = serde_json::json!({});
    }
    header["provenance"]["thresholds"] = note.into();
    let json = serde_json::to_vec_pretty(&header).map_err(|e| Error::ModelCorrupt(e.to_string()))?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[12 + header_len..]);
    Bundle::parse(&out)?;
    Ok(out)
}

/// A loaded model of any family.
pub enum Model {
    Transkun(TranskunModel),
    OnsetsFrames(OnsetsFramesModel),
}

/// What the network gives for one segment, per family.
#[derive(Debug, Clone)]
pub enum NetworkOutput {
    /// Transkun: the context the interval scorer and the attribute heads read.
    Intervals(SegmentOutput),
    /// Onsets & Frames: per-frame, per-key probabilities.
    Frames(FrameProbabilities),
}

impl Model {
    /// Loads a bundle of any family from its bytes (the header's `family` picks the runner).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bundle = Bundle::parse(bytes)?;
        Ok(match bundle.config.family {
            Family::Transkun => Model::Transkun(TranskunModel::from_bundle(bundle)?),
            Family::OnsetsFrames => Model::OnsetsFrames(OnsetsFramesModel::from_bundle(bundle)?),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        match self {
            Model::Transkun(m) => m.config(),
            Model::OnsetsFrames(m) => m.config(),
        }
    }

    /// How many segments [`run_segments`](Self::run_segments) runs at once on this thread pool.
    pub fn parallel_segments(&self) -> usize {
        rayon::current_num_threads().clamp(1, MAX_PARALLEL_SEGMENTS)
    }

    /// Runs the network on several segments' features, each on its own thread when the pool has more than
    /// one. tract spreads one segment's matrix products over threads, but everything else it runs on one,
    /// so two threads made one Transkun segment only ~1.45x faster than one thread did; independent segments
    /// side by side keep every thread busy.
    pub fn run_segments(&self, feats: &[Features]) -> Vec<Result<NetworkOutput>> {
        use rayon::prelude::*;
        let run = |f: &Features| match self {
            Model::Transkun(m) => m.run_backbone(f).map(NetworkOutput::Intervals),
            Model::OnsetsFrames(m) => m.run(f).map(NetworkOutput::Frames),
        };
        if feats.len() < 2 || rayon::current_num_threads() < 2 {
            return feats.iter().map(|f| with_threads(|| run(f))).collect();
        }
        // With a thread per segment, each runs tract on its own thread; spare threads help through the pool.
        let inner =
            if rayon::current_num_threads() > feats.len() { Executor::RayonGlobal } else { Executor::SingleThread };
        feats.par_iter().map(|f| with_executor(inner.clone(), || run(f))).collect()
    }
}

/// The backbone's output for one segment: per track and frame the context the interval scorer and the
/// attribute heads read. Holds tract's own output buffer (65 MB), read in place. Each track has
/// `stride >= frames` frames in it (the upsampling's whole windows); only the first `frames` are the segment's.
/// The interval scores are computed per track as the decoder needs them ([`TranskunModel::track_scores`]),
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

/// One network output, checked once to be a plain f32 tensor of the expected shape.
#[derive(Debug, Clone)]
struct Plane(TValue);

impl Plane {
    fn new(t: TValue, shape: &[usize], what: &str) -> Result<Self> {
        if t.shape() != shape {
            return Err(Error::ModelMismatch(format!("{what} has shape {:?}, expected {shape:?}", t.shape())));
        }
        t.try_as_plain_ram().and_then(|v| v.as_slice::<f32>().map(|_| ())).map_err(inference(what))?;
        Ok(Plane(t))
    }

    /// A `[tracks][stride][width]` output with `stride >= frames`, and its stride.
    fn per_frame(t: TValue, tracks: usize, frames: usize, width: usize, what: &str) -> Result<(Self, usize)> {
        let stride = match *t.shape() {
            [tr, s, w] if tr == tracks && s >= frames && w == width => s,
            _ => {
                return Err(Error::ModelMismatch(format!(
                    "{what} has shape {:?}, expected [{tracks}, at least {frames}, {width}]",
                    t.shape()
                )))
            }
        };
        Ok((Plane::new(t, &[tracks, stride, width], what)?, stride))
    }

    fn as_slice(&self) -> &[f32] {
        // SAFETY: `new` checked that the tensor is plain f32 memory; a TValue is immutable once made.
        unsafe { self.0.as_slice_unchecked::<f32>() }
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

type Plan = Arc<TypedRunnableModel>;

/// A loaded Transkun-family model, ready to run segments.
pub struct TranskunModel {
    config: ModelConfig,
    backbone: Plan,
    /// One track's context -> its interval scores.
    scorer: Plan,
    heads: Plan,
    /// The backbone's input-independent inputs (position embeddings), computed once at load.
    positions: TVec<TValue>,
}

/// Runs tract on the caller's rayon pool when it has more than one thread (the CLI's pool, the browser's
/// wasm-bindgen-rayon pool), else on the calling thread.
fn with_threads<R>(f: impl FnOnce() -> R) -> R {
    let executor = if rayon::current_num_threads() > 1 { Executor::RayonGlobal } else { Executor::SingleThread };
    with_executor(executor, f)
}

fn with_executor<R>(executor: Executor, f: impl FnOnce() -> R) -> R {
    tract_linalg::multithread::multithread_tract_scope(executor, f)
}

fn inference(context: &str) -> impl FnOnce(TractError) -> Error + '_ {
    move |e| Error::Inference(format!("{context}: {e:#}"))
}

fn load_graph(bytes: &[u8], name: &str, inputs: impl Fn(&InferenceModel) -> Vec<TypedFact>) -> Result<Plan> {
    let onnx = tract_onnx::onnx();
    let proto = onnx
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| Error::ModelCorrupt(format!("graph '{name}' is not valid ONNX: {e}")))?;
    let mut model = onnx
        .model_for_proto_model(&proto)
        .map_err(|e| Error::ModelMismatch(format!("graph '{name}' cannot be loaded: {e:#}")))?;
    for (i, fact) in inputs(&model).into_iter().enumerate() {
        model = model
            .with_input_fact(i, fact.into())
            .map_err(|e| Error::ModelMismatch(format!("graph '{name}' input {i}: {e:#}")))?;
    }
    // tract's direct spatial convolution (picked for the first strided downsampling conv) is slower here than
    // im2col and a matrix product: the 69 s maps-dev piece took 49 s instead of 54 s end to end with the CLI.
    let knobs = tract_onnx::tract_core::knobs::KnobScope::new([("TRACT_DISABLE_DIRECT_SPATIAL", "true")])
        .map_err(|e| Error::ModelMismatch(format!("tract knob: {e:#}")))?;
    knobs
        .enter(|| model.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(|e| Error::ModelMismatch(format!("graph '{name}' cannot be optimised: {e:#}")))
}

impl TranskunModel {
    fn from_bundle(bundle: Bundle) -> Result<Self> {
        let cfg = bundle.config.clone();
        let crf = semi_crf(&cfg)?;
        let feats_shape = [1, cfg.frames_per_segment, cfg.mel().n_mels, cfg.front_end.windows()];
        let feats = f32::fact(feats_shape);
        // The position embeddings depend on the segment's shape only: run their graph once, keep its outputs.
        let positions = load_graph(bundle.part("positions")?, "positions", |_| vec![feats.clone()])?;
        let zeros = Tensor::zero::<f32>(&feats_shape).map_err(inference("positions input"))?;
        let positions = with_threads(|| positions.run(tvec!(zeros.into()))).map_err(inference("positions"))?;
        let backbone = load_graph(bundle.part("backbone")?, "backbone", |_| {
            let mut facts = vec![feats.clone()];
            facts.extend(positions.iter().map(|p| TypedFact::shape_and_dt_of(p)));
            facts
        })?;
        check_backbone_outputs(backbone.model().outputs.len())?;
        let scorer = load_graph(bundle.part("scorer")?, "scorer", |_| {
            vec![f32::fact([1, cfg.frames_per_segment, crf.context_size])]
        })?;
        let heads = load_graph(bundle.part("heads")?, "heads", |m| {
            let ctx = f32::fact(&[TDim::Sym(m.sym("n")), crf.context_size.into()]);
            vec![ctx.clone(), ctx]
        })?;
        Ok(TranskunModel { config: cfg, backbone, scorer, heads, positions })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn run_backbone(&self, feats: &Features) -> Result<SegmentOutput> {
        let cfg = &self.config;
        let input = Tensor::from_shape(&[1, feats.frames, feats.mels, feats.windows], &feats.data)
            .map_err(inference("features"))?;
        let mut inputs = tvec!(input.into());
        inputs.extend(self.positions.iter().cloned());
        let outputs = self.backbone.run(inputs).map_err(inference("backbone"))?;
        let crf = semi_crf(cfg)?;
        let (tracks, frames, dim) = (crf.tracks.len(), cfg.frames_per_segment, crf.context_size);
        check_backbone_outputs(outputs.len())?;
        let ctx = outputs.into_iter().next().unwrap();
        let (ctx, stride) = Plane::per_frame(ctx, tracks, frames, dim, "backbone ctx")?;
        Ok(SegmentOutput { tracks, frames, dim, stride, ctx })
    }

    /// One track's interval scores, from its context rows. Runs on the calling thread: the decoder scores
    /// tracks side by side.
    pub fn track_scores(&self, out: &SegmentOutput, track: usize) -> Result<ScoredTrack> {
        let (frames, dim) = (out.frames, out.dim);
        let input = Tensor::from_shape(&[1, frames, dim], out.track_ctx(track)).map_err(inference("scorer input"))?;
        let mut result = with_executor(Executor::SingleThread, || self.scorer.run(tvec!(input.into())))
            .map_err(inference("scorer"))?;
        if result.len() != 1 {
            return Err(Error::ModelMismatch(format!("scorer has {} outputs, expected 1", result.len())));
        }
        let scores = Plane::new(result.remove(0), &[1, frames, 2 * dim + 1], "interval scores")?;
        Ok(ScoredTrack { frames, dim, scores })
    }

    /// Velocity and endpoint-refinement logits for intervals given by their begin and end context rows
    /// (`n` rows of `context_size` each).
    pub fn attributes(&self, ctx_begin: &[f32], ctx_end: &[f32]) -> Result<Attributes> {
        let crf = semi_crf(&self.config)?;
        let dim = crf.context_size;
        let n = ctx_begin.len() / dim;
        if n == 0 {
            return Ok(Attributes { velocity_logits: vec![], refine_logits: vec![] });
        }
        let b = Tensor::from_shape(&[n, dim], ctx_begin).map_err(inference("ctx_begin"))?;
        let e = Tensor::from_shape(&[n, dim], ctx_end).map_err(inference("ctx_end"))?;
        let out = with_threads(|| self.heads.run(tvec!(b.into(), e.into()))).map_err(inference("heads"))?;
        if out.len() != 2 {
            return Err(Error::ModelMismatch(format!("heads has {} outputs, expected 2", out.len())));
        }
        Ok(Attributes {
            velocity_logits: to_vec(&out[0], &[n, crf.velocities], "velocity logits")?,
            refine_logits: to_vec(&out[1], &[n, 4], "refine logits")?,
        })
    }
}

/// The semi-CRF numbers of a Transkun configuration.
fn semi_crf(cfg: &ModelConfig) -> Result<&SemiCrfConfig> {
    cfg.semi_crf().ok_or_else(|| Error::ModelMismatch(format!("a {} model has no interval scorer", cfg.family.name())))
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

/// Copies a (small) network output out of tract, with the same checks as a [`Plane`].
fn to_vec(t: &TValue, shape: &[usize], what: &str) -> Result<Vec<f32>> {
    Ok(Plane::new(t.clone(), shape, what)?.as_slice().to_vec())
}

/// CRC-32 (IEEE), as Python's zlib.crc32, for the bundle's integrity check.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *t = c;
    }
    !data.iter().fold(!0u32, |c, &b| table[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn rejects_non_bundles() {
        assert!(matches!(Model::from_bytes(b"RIFF....WAVEfmt "), Err(Error::ModelFormat(_))));
        assert!(matches!(Model::from_bytes(b""), Err(Error::ModelFormat(_))));
        let mut truncated = MAGIC.to_vec();
        truncated.extend_from_slice(&100u32.to_le_bytes());
        truncated.extend_from_slice(b"{}");
        assert!(matches!(Model::from_bytes(&truncated), Err(Error::ModelCorrupt(_))));
    }

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
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/transkun-v2.pscb");
        let bytes = std::fs::read(path).unwrap();
        let hlen = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[12..12 + hlen]).unwrap();
        let parts = header["parts"].as_array_mut().unwrap();
        let mut offset = 12 + hlen;
        let mut payload = vec![];
        parts.retain(|p| {
            let n = p["bytes"].as_u64().unwrap() as usize;
            if p["name"] != "positions" {
                payload.extend_from_slice(&bytes[offset..offset + n]);
            }
            offset += n;
            p["name"] != "positions"
        });
        let header = serde_json::to_vec(&header).unwrap();
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&(header.len() as u32).to_le_bytes());
        old.extend_from_slice(&header);
        old.extend_from_slice(&payload);
        match Model::from_bytes(&old) {
            Err(Error::ModelMismatch(m)) => assert!(m.contains("'positions'"), "{m}"),
            other => panic!("expected a model mismatch, got {:?}", other.err()),
        }
    }
}
