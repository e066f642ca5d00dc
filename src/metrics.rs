//! Transcription metrics that give mir_eval's numbers: note precision/recall/F1 with onset tolerance, with
//! offsets, with offsets and velocity (mir_eval.transcription_velocity), and frame-level scores; the mean over
//! pieces is the Onsets & Frames convention. Matching is mir_eval's maximum bipartite matching, reproduced
//! step by step (Hopcroft-Karp in Python dict order) so that even the velocity metric, which depends on which
//! maximum matching is found, agrees.

use std::collections::{HashMap, HashSet};

use crate::notes::Note;

#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Seconds; mir_eval's default 0.05.
    pub onset_tolerance: f64,
    /// Offset tolerance as a fraction of the reference note's duration (mir_eval: 0.2) ...
    pub offset_ratio: f64,
    /// ... but never less than this many seconds (mir_eval: 0.05).
    pub offset_min_tolerance: f64,
    /// On mir_eval's rescaled velocity axis (0..1); mir_eval: 0.1.
    pub velocity_tolerance: f64,
    /// Frame grid for frame metrics: frames at k * frame_hop seconds.
    pub frame_hop: f64,
    pub pedal_extend_ref: bool,
    pub pedal_extend_est: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            onset_tolerance: 0.05,
            offset_ratio: 0.2,
            offset_min_tolerance: 0.05,
            velocity_tolerance: 0.1,
            frame_hop: 0.01,
            pedal_extend_ref: false,
            pedal_extend_est: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn from_counts(matched: usize, n_est: usize, n_ref: usize) -> Prf {
        if n_est == 0 || n_ref == 0 {
            return Prf::default();
        }
        let precision = matched as f64 / n_est as f64;
        let recall = matched as f64 / n_ref as f64;
        Prf { precision, recall, f1: f_measure(precision, recall) }
    }
}

/// mir_eval.util.f_measure with beta = 1.
fn f_measure(p: f64, r: f64) -> f64 {
    if p == 0.0 && r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scores {
    pub note: Prf,
    pub note_offset: Prf,
    pub note_offset_velocity: Prf,
    pub frame: Prf,
    pub frame_accuracy: f64,
}

/// numpy.around(x, 4) for the distances mir_eval rounds before comparing.
fn around4(x: f64) -> f64 {
    (x * 1e4).round_ties_even() / 1e4
}

/// mir_eval.transcription.match_notes: (ref index, est index) pairs of a maximum matching, sorted by ref.
pub fn match_notes(
    reference: &[Note],
    estimate: &[Note],
    opts: &EvalOptions,
    with_offsets: bool,
) -> Vec<(usize, usize)> {
    // Edges in numpy.where order (row-major over ref x est), grouped by est in order of first appearance.
    let mut graph: Vec<(usize, Vec<usize>)> = vec![];
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for (ri, r) in reference.iter().enumerate() {
        let offset_tol = (opts.offset_ratio * (r.offset - r.onset).abs()).max(opts.offset_min_tolerance);
        for (ei, e) in estimate.iter().enumerate() {
            // Equal MIDI numbers are 0 cents apart, different ones at least 100: within 50 cents means equal.
            if r.pitch != e.pitch || around4((r.onset - e.onset).abs()) > opts.onset_tolerance {
                continue;
            }
            if with_offsets && around4((r.offset - e.offset).abs()) > offset_tol {
                continue;
            }
            let s = *slot.entry(ei).or_insert_with(|| {
                graph.push((ei, vec![]));
                graph.len() - 1
            });
            graph[s].1.push(ri);
        }
    }
    let mut m: Vec<(usize, usize)> = bipartite_match(&graph).into_iter().collect();
    m.sort();
    m
}

/// mir_eval.beat.f_measure (and the downbeat measure of the same name): events matched one to one within
/// `window` seconds (mir_eval's default is 0.07), precision over the estimate, recall over the reference.
pub fn event_f_measure(reference: &[f64], estimate: &[f64], window: f64) -> Prf {
    if reference.is_empty() || estimate.is_empty() {
        return Prf::default();
    }
    let mut graph: Vec<(usize, Vec<usize>)> = vec![];
    for (e, &t) in estimate.iter().enumerate() {
        let near: Vec<usize> = (0..reference.len()).filter(|&r| (reference[r] - t).abs() <= window).collect();
        if !near.is_empty() {
            graph.push((e, near));
        }
    }
    let matched = bipartite_match(&graph).len();
    let precision = matched as f64 / estimate.len() as f64;
    let recall = matched as f64 / reference.len() as f64;
    Prf { precision, recall, f1: f_measure(precision, recall) }
}

/// mir_eval.util._bipartite_match (Eppstein's Hopcroft-Karp), following Python's dict iteration order.
/// `graph`: left vertices (est) in insertion order with their right neighbours (ref). Returns ref -> est.
fn bipartite_match(graph: &[(usize, Vec<usize>)]) -> HashMap<usize, usize> {
    let adj: HashMap<usize, &Vec<usize>> = graph.iter().map(|(u, vs)| (*u, vs)).collect();
    let mut matching: HashMap<usize, usize> = HashMap::new();
    for (u, vs) in graph {
        if let Some(&v) = vs.iter().find(|v| !matching.contains_key(v)) {
            matching.insert(v, *u);
        }
    }
    /// pred[u]: None for a free left vertex of the first layer (Python's `unmatched` sentinel), else Some(v).
    struct Search<'a> {
        pred: HashMap<usize, Option<usize>>,
        preds: HashMap<usize, Vec<usize>>,
        matching: &'a mut HashMap<usize, usize>,
    }
    impl Search<'_> {
        fn recurse(&mut self, v: usize) -> bool {
            let Some(list) = self.preds.remove(&v) else { return false };
            for u in list {
                if let Some(pu) = self.pred.remove(&u) {
                    let found = match pu {
                        None => true,
                        Some(pv) => self.recurse(pv),
                    };
                    if found {
                        self.matching.insert(v, u);
                        return true;
                    }
                }
            }
            false
        }
    }
    loop {
        let matched_left: HashSet<usize> = matching.values().copied().collect();
        let mut pred: HashMap<usize, Option<usize>> = HashMap::new();
        let mut layer: Vec<usize> = vec![];
        for (u, _) in graph {
            if !matched_left.contains(u) {
                pred.insert(*u, None);
                layer.push(*u);
            }
        }
        let mut preds: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut unmatched: Vec<usize> = vec![];
        while !layer.is_empty() && unmatched.is_empty() {
            let mut new_layer: Vec<(usize, Vec<usize>)> = vec![];
            let mut at: HashMap<usize, usize> = HashMap::new();
            for &u in &layer {
                for &v in adj[&u].iter() {
                    if !preds.contains_key(&v) {
                        let i = *at.entry(v).or_insert_with(|| {
                            new_layer.push((v, vec![]));
                            new_layer.len() - 1
                        });
                        new_layer[i].1.push(u);
                    }
                }
            }
            layer.clear();
            for (v, us) in new_layer {
                preds.insert(v, us);
                if let Some(&u) = matching.get(&v) {
                    layer.push(u);
                    pred.insert(u, Some(v));
                } else {
                    unmatched.push(v);
                }
            }
        }
        if unmatched.is_empty() {
            return matching;
        }
        let mut s = Search { pred, preds, matching: &mut matching };
        for v in unmatched {
            s.recurse(v);
        }
    }
}

/// mir_eval.transcription_velocity.match_notes on top of an offset-aware matching.
fn velocity_matches(reference: &[Note], estimate: &[Note], matching: &[(usize, usize)], tol: f64) -> usize {
    if matching.is_empty() {
        return 0;
    }
    let (min_v, max_v) =
        reference.iter().fold((f64::MAX, f64::MIN), |(a, b), n| (a.min(n.velocity as f64), b.max(n.velocity as f64)));
    let range = (max_v - min_v).max(1.0);
    let r: Vec<f64> = matching.iter().map(|&(ri, _)| (reference[ri].velocity as f64 - min_v) / range).collect();
    let e: Vec<f64> = matching.iter().map(|&(_, ei)| estimate[ei].velocity as f64).collect();
    let (slope, intercept) = least_squares_line(&e, &r);
    e.iter().zip(&r).filter(|(e, r)| (slope * **e + intercept - **r).abs() < tol).count()
}

/// numpy.linalg.lstsq([x, 1], y): the least-squares line, or the minimum-norm solution when x is constant.
fn least_squares_line(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    if sxx == 0.0 {
        // Rank one: [c, 1] * (slope, intercept) = y has minimum-norm solution mean(y) / (c^2 + 1) * (c, 1).
        let c = mx;
        let k = my / (c * c + 1.0);
        return (k * c, k);
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// Pitches sounding at each frame time k * hop (onset <= t < offset), as sets.
fn frames(notes: &[Note], hop: f64, n_frames: usize) -> Vec<HashSet<u8>> {
    let mut out = vec![HashSet::new(); n_frames];
    for n in notes {
        let first = (n.onset / hop).ceil().max(0.0) as usize;
        for (k, set) in out.iter_mut().enumerate().skip(first) {
            let t = k as f64 * hop;
            if t >= n.offset {
                break;
            }
            if t >= n.onset {
                set.insert(n.pitch);
            }
        }
    }
    out
}

/// Scores one piece.
pub fn evaluate(reference: &[Note], estimate: &[Note], opts: &EvalOptions) -> Scores {
    let (nr, ne) = (reference.len(), estimate.len());
    let onset = match_notes(reference, estimate, opts, false);
    let with_offset = match_notes(reference, estimate, opts, true);
    let velocity = if nr == 0 || ne == 0 {
        0
    } else {
        velocity_matches(reference, estimate, &with_offset, opts.velocity_tolerance)
    };

    let end = reference.iter().chain(estimate).map(|n| n.offset).fold(0.0, f64::max);
    let n_frames = (end / opts.frame_hop).ceil() as usize + 1;
    let (fr, fe) = (frames(reference, opts.frame_hop, n_frames), frames(estimate, opts.frame_hop, n_frames));
    let (mut tp, mut n_ref, mut n_est) = (0usize, 0usize, 0usize);
    for (r, e) in fr.iter().zip(&fe) {
        tp += r.intersection(e).count();
        n_ref += r.len();
        n_est += e.len();
    }
    let frame = if n_ref == 0 || n_est == 0 {
        Prf::default()
    } else {
        let (p, r) = (tp as f64 / n_est as f64, tp as f64 / n_ref as f64);
        Prf { precision: p, recall: r, f1: f_measure(p, r) }
    };
    let denom = n_est + n_ref - tp; // tp + fp + fn
    Scores {
        note: Prf::from_counts(onset.len(), ne, nr),
        note_offset: Prf::from_counts(with_offset.len(), ne, nr),
        note_offset_velocity: Prf::from_counts(velocity, ne, nr),
        frame,
        frame_accuracy: if denom == 0 { 0.0 } else { tp as f64 / denom as f64 },
    }
}

/// Mean of each number over pieces.
pub fn mean(scores: &[Scores]) -> Scores {
    let n = scores.len().max(1) as f64;
    let avg = |f: &dyn Fn(&Scores) -> f64| scores.iter().map(f).sum::<f64>() / n;
    let prf = |g: &dyn Fn(&Scores) -> Prf| Prf {
        precision: avg(&|s| g(s).precision),
        recall: avg(&|s| g(s).recall),
        f1: avg(&|s| g(s).f1),
    };
    Scores {
        note: prf(&|s| s.note),
        note_offset: prf(&|s| s.note_offset),
        note_offset_velocity: prf(&|s| s.note_offset_velocity),
        frame: prf(&|s| s.frame),
        frame_accuracy: avg(&|s| s.frame_accuracy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_f_measure_matches_one_to_one_within_the_window() {
        // mir_eval.beat.f_measure([1, 2, 3, 4], [1.05, 1.06, 2.2, 3.0, 5.0]) = 2 matches: P 0.4, R 0.5.
        let p = event_f_measure(&[1.0, 2.0, 3.0, 4.0], &[1.05, 1.06, 2.2, 3.0, 5.0], 0.07);
        assert!((p.precision - 0.4).abs() < 1e-12 && (p.recall - 0.5).abs() < 1e-12);
        assert!((p.f1 - 2.0 * 0.4 * 0.5 / 0.9).abs() < 1e-12);
        assert_eq!(event_f_measure(&[], &[1.0], 0.07).f1, 0.0);
    }

    fn n(on: f64, off: f64, pitch: u8, vel: u8) -> Note {
        Note { onset: on, offset: off, pitch, velocity: vel }
    }

    #[test]
    fn maximum_matching_beats_greedy() {
        // est 0 is near both refs; est 1 only near ref 0. A greedy match of est 0 -> ref 0 would leave one
        // pair unmatched; the maximum matching pairs both.
        let r = [n(1.00, 2.0, 60, 64), n(1.06, 2.0, 60, 64)];
        let e = [n(1.03, 2.0, 60, 64), n(0.96, 2.0, 60, 64)];
        let m = match_notes(&r, &e, &EvalOptions::default(), false);
        assert_eq!(m, vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn tolerance_is_inclusive_after_rounding() {
        let r = [n(1.0, 2.0, 60, 64)];
        let e = [n(1.05, 2.0, 60, 64)];
        assert_eq!(match_notes(&r, &e, &EvalOptions::default(), false).len(), 1);
        let e = [n(1.0501, 2.0, 60, 64)];
        assert_eq!(match_notes(&r, &e, &EvalOptions::default(), false).len(), 0);
    }

    #[test]
    fn perfect_transcription_scores_one() {
        let notes = [n(0.0, 1.0, 60, 30), n(0.5, 1.5, 64, 90), n(1.0, 2.0, 67, 60)];
        let s = evaluate(&notes, &notes, &EvalOptions::default());
        for p in [s.note, s.note_offset, s.note_offset_velocity, s.frame] {
            assert_eq!((p.precision, p.recall, p.f1), (1.0, 1.0, 1.0));
        }
        assert_eq!(s.frame_accuracy, 1.0);
    }

    #[test]
    fn empty_sides_score_zero() {
        let notes = [n(0.0, 1.0, 60, 30)];
        assert_eq!(evaluate(&notes, &[], &EvalOptions::default()), Scores::default());
        assert_eq!(evaluate(&[], &notes, &EvalOptions::default()), Scores::default());
    }

    #[test]
    fn constant_velocities_use_the_minimum_norm_line() {
        let (s, i) = least_squares_line(&[2.0, 2.0], &[0.2, 0.4]);
        assert!((s * 2.0 + i - 0.3).abs() < 1e-12);
        assert!((s - 2.0 * 0.3 / 5.0).abs() < 1e-12 && (i - 0.3 / 5.0).abs() < 1e-12);
    }
}
