//! The tract boundary: ONNX graphs loaded from a bundle's parts and run, their f32 outputs read in place. The
//! only module that imports tract; its types do not leak out. Each family's network runner
//! (`family/*/network.rs`) builds on [`Graph`] and [`Plane`].

use std::sync::Arc;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;

use crate::config::MAX_PARALLEL_SEGMENTS;
use crate::error::{Error, Result};
use crate::features::Features;

type Plan = Arc<TypedRunnableModel>;

/// A graph's input as declared at load: f32 of a fixed shape, or with a first axis of any length.
#[derive(Debug, Clone)]
pub enum Fact {
    F32(Vec<usize>),
    F32AnyRows(Vec<usize>),
    /// The type and shape of a value another graph gave.
    Like(Value),
}

/// One input of a run.
pub enum Input<'a> {
    /// f32 values of this shape, copied in.
    Data(&'a [usize], &'a [f32]),
    /// Another graph's output, as it is.
    Value(Value),
}

/// Which threads a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The caller's rayon pool when it has more than one thread (the CLI's pool, the browser's
    /// wasm-bindgen-rayon pool), else the calling thread.
    Pool,
    /// The calling thread alone (when the caller already runs several of these side by side).
    One,
}

/// A loaded, optimised graph.
pub struct Graph {
    plan: Plan,
    name: String,
}

/// One output of a run: a tensor, not yet checked to be f32.
#[derive(Debug, Clone)]
pub struct Value(TValue);

impl Value {
    pub fn shape(&self) -> &[usize] {
        self.0.shape()
    }
}

impl Graph {
    /// Loads the ONNX graph `name` from its bytes, its inputs declared as `inputs`, and optimises it.
    pub fn load(bytes: &[u8], name: &str, inputs: &[Fact]) -> Result<Graph> {
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| Error::ModelCorrupt(format!("graph '{name}' is not valid ONNX: {e}")))?;
        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| Error::ModelMismatch(format!("graph '{name}' cannot be loaded: {e:#}")))?;
        for (i, fact) in inputs.iter().enumerate() {
            let fact = match fact {
                Fact::F32(shape) => f32::fact(shape),
                Fact::F32AnyRows(shape) => {
                    let mut dims: Vec<TDim> = shape.iter().map(|&d| d.into()).collect();
                    dims[0] = TDim::Sym(model.sym("n"));
                    f32::fact(&dims)
                }
                Fact::Like(v) => TypedFact::shape_and_dt_of(&v.0),
            };
            model = model
                .with_input_fact(i, fact.into())
                .map_err(|e| Error::ModelMismatch(format!("graph '{name}' input {i}: {e:#}")))?;
        }
        // tract's direct spatial convolution (picked for Transkun's first strided downsampling conv) is slower
        // here than im2col and a matrix product.
        let knobs = tract_onnx::tract_core::knobs::KnobScope::new([("TRACT_DISABLE_DIRECT_SPATIAL", "true")])
            .map_err(|e| Error::ModelMismatch(format!("tract knob: {e:#}")))?;
        let plan = knobs
            .enter(|| model.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| Error::ModelMismatch(format!("graph '{name}' cannot be optimised: {e:#}")))?;
        Ok(Graph { plan, name: name.to_string() })
    }

    /// How many outputs the graph has.
    pub fn outputs(&self) -> usize {
        self.plan.model().outputs.len()
    }

    /// Checks that the graph has `n` outputs; `names` says which, for the message.
    pub fn expect_outputs(&self, n: usize, names: &str) -> Result<()> {
        let got = self.outputs();
        if got == n {
            return Ok(());
        }
        Err(Error::ModelMismatch(format!("{} has {got} outputs, expected {n} ({names})", self.name)))
    }

    pub fn run(&self, inputs: Vec<Input>, threads: Threads) -> Result<Vec<Value>> {
        let mut values = TVec::new();
        for (i, input) in inputs.into_iter().enumerate() {
            values.push(match input {
                Input::Data(shape, data) => Tensor::from_shape(shape, data)
                    .map_err(|e| Error::Inference(format!("{} input {i}: {e:#}", self.name)))?
                    .into(),
                Input::Value(v) => v.0,
            });
        }
        let run = || self.plan.run(values);
        let out = match threads {
            Threads::Pool => with_threads(run),
            Threads::One => with_executor(Executor::SingleThread, run),
        }
        .map_err(|e| Error::Inference(format!("{}: {e:#}", self.name)))?;
        Ok(out.into_iter().map(Value).collect())
    }
}

/// How many segments [`side_by_side`] runs at once on this thread pool.
pub fn parallel_segments() -> usize {
    rayon::current_num_threads().clamp(1, MAX_PARALLEL_SEGMENTS)
}

/// Runs a network on several segments' features, each on its own thread when the pool has more than one.
/// tract spreads one segment's matrix products over threads, but everything else it runs on one, so more
/// threads speed one segment up far less than they could; independent segments side by side keep every
/// thread busy (README, Speed). `run` calls [`Graph::run`] with [`Threads::Pool`].
pub fn side_by_side<T: Send>(feats: &[Features], run: impl Fn(&Features) -> Result<T> + Sync) -> Vec<Result<T>> {
    use rayon::prelude::*;
    if feats.len() < 2 || rayon::current_num_threads() < 2 {
        return feats.iter().map(&run).collect();
    }
    // With a thread per segment, each runs tract on its own thread; spare threads help through the pool.
    let inner = if rayon::current_num_threads() > feats.len() { Executor::RayonGlobal } else { Executor::SingleThread };
    feats.par_iter().map(|f| with_executor(inner.clone(), || run(f))).collect()
}

fn with_threads<R>(f: impl FnOnce() -> R) -> R {
    if multithread_scope_is_set() {
        return f();
    }
    let executor = if rayon::current_num_threads() > 1 { Executor::RayonGlobal } else { Executor::SingleThread };
    with_executor(executor, f)
}

thread_local! {
    /// Set while [`side_by_side`] (or [`Threads::One`]) has chosen this thread's executor, so that a
    /// [`Threads::Pool`] run inside keeps that choice.
    static SCOPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn multithread_scope_is_set() -> bool {
    SCOPED.with(|s| s.get())
}

fn with_executor<R>(executor: Executor, f: impl FnOnce() -> R) -> R {
    let before = SCOPED.with(|s| s.replace(true));
    let r = tract_linalg::multithread::multithread_tract_scope(executor, f);
    SCOPED.with(|s| s.set(before));
    r
}

/// One network output, checked once to be a plain f32 tensor of the expected shape, read in place.
#[derive(Debug, Clone)]
pub struct Plane(TValue);

impl Plane {
    pub fn new(v: Value, shape: &[usize], what: &str) -> Result<Self> {
        let t = v.0;
        if t.shape() != shape {
            return Err(Error::ModelMismatch(format!("{what} has shape {:?}, expected {shape:?}", t.shape())));
        }
        t.try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>().map(|_| ()))
            .map_err(|e| Error::Inference(format!("{what}: {e:#}")))?;
        Ok(Plane(t))
    }

    /// A `[tracks][stride][width]` output with `stride >= frames`, and its stride.
    pub fn per_frame(v: Value, tracks: usize, frames: usize, width: usize, what: &str) -> Result<(Self, usize)> {
        let stride = match *v.shape() {
            [tr, s, w] if tr == tracks && s >= frames && w == width => s,
            _ => {
                return Err(Error::ModelMismatch(format!(
                    "{what} has shape {:?}, expected [{tracks}, at least {frames}, {width}]",
                    v.shape()
                )))
            }
        };
        Ok((Plane::new(v, &[tracks, stride, width], what)?, stride))
    }

    /// A (small) output copied out, with the same checks.
    pub fn to_vec(v: Value, shape: &[usize], what: &str) -> Result<Vec<f32>> {
        Ok(Plane::new(v, shape, what)?.as_slice().to_vec())
    }

    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `new` checked that the tensor is plain f32 memory; a TValue is immutable once made.
        unsafe { self.0.as_slice_unchecked::<f32>() }
    }
}
