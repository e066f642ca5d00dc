//! Where the network's time and memory go, op by op: loads the bundle's backbone (with the position
//! embeddings computed once, as the library does), runs it on random features a few
//! times on the rayon pool and prints the time per op kind, the slowest nodes, the multiply-adds tract
//! counts (as 2 FLOP each) against the time, and the heap: its peak during a run and the nodes after which
//! the most is held (tract frees each value after its last use).
//! `cargo run --release --example op_profile -- [MODEL.pscb] [RUNS] [THREADS]`
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;
use tract_onnx::prelude::*;

/// The system allocator, counting the bytes held now and at most since the last reset.
struct Counting;
static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = HELD.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MB: f64 = 1024.0 * 1024.0;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).cloned().unwrap_or("models/transkun-v2.pscb".into());
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(2);
    let threads: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(0);
    let bytes = std::fs::read(&path)?;
    let bundle = pianoscribe::bundle::Bundle::parse(&bytes)?;
    let header = &bundle.header;
    let parts: HashMap<&str, &[u8]> =
        ["positions", "backbone"].into_iter().map(|n| Ok((n, bundle.part(n)?))).collect::<pianoscribe::Result<_>>()?;
    let frames = header["frames_per_segment"].as_u64().unwrap() as usize;
    let mels = header["mel"]["n_mels"].as_u64().unwrap() as usize;
    let windows = 1 + header["gaussian_windows"]["center_logits"].as_array().unwrap().len();
    let load = |name: &str, facts: Vec<TypedFact>| -> TractResult<TypedModel> {
        let mut model = tract_onnx::onnx().model_for_read(&mut &parts[name][..])?;
        for (i, fact) in facts.into_iter().enumerate() {
            model = model.with_input_fact(i, fact.into())?;
        }
        // As the library loads it (src/model.rs, Graph::load): im2col rather than tract's direct spatial convolution.
        tract_onnx::tract_core::knobs::KnobScope::new([("TRACT_DISABLE_DIRECT_SPATIAL", "true")])?
            .enter(|| model.into_optimized())
    };
    // The position embeddings, as the library computes them: once, then passed to every run.
    let feats = f32::fact([1, frames, mels, windows]);
    let positions = load("positions", vec![feats.clone()])?
        .into_runnable()?
        .run(tvec!(Tensor::zero::<f32>(&[1, frames, mels, windows])?.into()))?;
    let mut facts = vec![feats];
    facts.extend(positions.iter().map(|p| TypedFact::shape_and_dt_of(p)));
    let t0 = Instant::now();
    let model = load("backbone", facts)?;
    eprintln!("optimised in {:.2} s, {} nodes", t0.elapsed().as_secs_f64(), model.nodes().len());
    let mut fma = 0u64;
    for node in model.nodes() {
        let inputs: Vec<&TypedFact> = node.inputs.iter().map(|o| model.outlet_fact(*o)).collect::<TractResult<_>>()?;
        for (cost, n) in node.op.cost(&inputs)? {
            if let tract_onnx::tract_core::ops::Cost::FMA(_) = cost {
                fma += n.to_i64()? as u64;
            }
        }
    }
    let plan = model.into_runnable()?;
    let input: Tensor = tract_ndarray::Array4::from_shape_fn((1, frames, mels, windows), |(_, t, m, w)| {
        (((t * 31 + m * 7 + w * 3) % 97) as f32) / 97.0
    })
    .into();
    let mut inputs: TVec<TValue> = tvec!(input.into());
    inputs.extend(positions.iter().cloned());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let executor = if pool.current_num_threads() > 1 {
        tract_linalg::multithread::Executor::RayonGlobal
    } else {
        tract_linalg::multithread::Executor::SingleThread
    };
    let mut held_after: Vec<(usize, usize, String)> = vec![]; // (held after the node, peak during it, node)
    let mut by_op: HashMap<String, (f64, usize)> = HashMap::new();
    let mut by_node: HashMap<usize, (f64, String)> = HashMap::new();
    let mut total = 0.0;
    let mut run_peak = 0;
    let base = HELD.load(Relaxed);
    for run in 0..runs {
        let mut state = plan.spawn()?;
        PEAK.store(HELD.load(Relaxed), Relaxed);
        let t = Instant::now();
        pool.install(|| {
            tract_linalg::multithread::multithread_tract_scope(executor.clone(), || {
                state.run_plan_with_eval(inputs.clone(), |ctx, st, node, inputs| {
                    let shapes: Vec<String> = inputs.iter().map(|i| format!("{:?}", i.shape())).collect();
                    let t = Instant::now();
                    let peak_before = PEAK.swap(HELD.load(Relaxed), Relaxed);
                    let r = tract_onnx::tract_core::plan::eval(ctx, st, node, inputs);
                    let dt = t.elapsed().as_secs_f64();
                    let node_peak = PEAK.load(Relaxed);
                    PEAK.store(node_peak.max(peak_before), Relaxed);
                    if run == 0 {
                        held_after.push((HELD.load(Relaxed), node_peak, format!("{} {}", node.name, node.op().name())));
                    }
                    if run > 0 || runs == 1 {
                        let e = by_op.entry(node.op().name().to_string()).or_default();
                        e.0 += dt;
                        e.1 += 1;
                        let e = by_node.entry(node.id).or_insert_with(|| {
                            let info = node.op().info().unwrap_or_default().join("; ");
                            (0.0, format!("{} {} [{info}] in {}", node.name, node.op().name(), shapes.join(" ")))
                        });
                        e.0 += dt;
                    }
                    r
                })
            })
        })?;
        let dt = t.elapsed().as_secs_f64();
        run_peak = run_peak.max(PEAK.load(Relaxed));
        eprintln!("run {run}: {dt:.2} s");
        if run > 0 || runs == 1 {
            total += dt;
        }
    }
    let n = if runs > 1 { runs - 1 } else { 1 } as f64;
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by(|a, b| b.1 .0.partial_cmp(&a.1 .0).unwrap());
    println!("per run {:.2} s on {} threads", total / n, pool.current_num_threads());
    println!(
        "{:.1} GFLOP per run (2 per multiply-add), {:.1} GFLOP/s",
        2e-9 * fma as f64,
        2e-9 * fma as f64 / (total / n)
    );
    for (op, (t, c)) in ops.iter().take(25) {
        println!("{:>8.3} s {:>5.1} % {:>5} x {}", t / n, 100.0 * t / total, c / n as usize, op);
    }
    let mut nodes: Vec<_> = by_node.into_iter().collect();
    nodes.sort_by(|a, b| b.1 .0.partial_cmp(&a.1 .0).unwrap());
    for (_, (t, name)) in nodes.iter().take(40) {
        println!("{:>8.3} s {}", t / n, name);
    }
    // Heap in use above what was held before the runs (model, inputs): its peak, and where it is reached.
    let above = |b: usize| b.saturating_sub(base) as f64 / MB;
    println!("heap above the loaded model: peak {:.0} MB during a run", above(run_peak));
    held_after.sort_by_key(|h| std::cmp::Reverse(h.1));
    for (held, peak, name) in held_after.iter().take(15) {
        println!("  peak {:>6.0} MB, {:>6.0} MB held after {name}", above(*peak), above(*held));
    }
    Ok(())
}
