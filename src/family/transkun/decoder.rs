//! Transkun's decoding: the semi-CRF Viterbi per track, the interval attributes (velocity, sub-frame endpoint
//! refinement) and the stitching of overlapping segments.

use rayon::prelude::*;

use super::config::TranskunConfig;
use super::network::{Attributes, ScoredTrack, SegmentOutput, TrackScores};
use crate::error::Result;
use crate::notes::{sort_notes, Note, Pedal, PedalKind, Transcription};

/// An interval decoded in one segment, before stitching. Times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub start: f64,
    pub end: f64,
    /// The track's pitch: a MIDI note number, or -64 / -67 for the sustain / soft pedal.
    pub pitch: i32,
    pub velocity: u8,
    pub has_onset: bool,
    pub has_offset: bool,
}

/// Rows of interval scores the Viterbi computes at once: `k[s] . q[e]` for 64 begin frames and every later end
/// frame, as one matrix product (64 x 691 floats, 177 KB, stays in L2): a GEMM is many times faster than one
/// dot product per interval.
const SCORE_BLOCK: usize = 64;

/// `out[r][c] = scale * k[s0 + r] . q[s0 + 1 + c]` for `r < rows`, `c < t - s0 - 1` (row-major, `t - s0 - 1`
/// columns).
fn score_block(s: &TrackScores, s0: usize, rows: usize, out: &mut [f32]) {
    let (t, dim, row) = (s.frames, s.dim, s.row);
    let cols = t - s0 - 1;
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(out.len() >= rows * cols && s.k.len() >= (s0 + rows - 1) * row + dim && s.q.len() >= (t - 1) * row + dim);
    // SAFETY: the strides describe k[s0..s0+rows] (rows x dim, `row` apart), q[s0+1..t] read transposed
    // (dim x cols) and out (rows x cols, row-major), all within the slices checked above.
    unsafe {
        matrixmultiply::sgemm(
            rows,
            dim,
            cols,
            s.scale,
            s.k[s0 * row..].as_ptr(),
            row as isize,
            1,
            s.q[(s0 + 1) * row..].as_ptr(),
            1,
            row as isize,
            0.0,
            out.as_mut_ptr(),
            cols as isize,
            1,
        );
    }
}

/// Semi-CRF Viterbi for one track (interval scores as [`TrackScores`] says; skipping a frame scores 0).
/// Returns closed intervals `(begin, end)` from the backtrack that starts at `forced_start`.
pub fn viterbi(scores: &TrackScores, forced_start: usize) -> Vec<(usize, usize)> {
    let t = scores.frames;
    if t == 0 {
        return vec![];
    }
    assert!(scores.d.len() > (t - 1) * scores.d_step);
    let d = |i: usize| scores.d[i * scores.d_step];
    let positive = |x: f32| if x > 0.0 { x } else { 0.0 };
    let mut value = vec![0f32; t];
    // ptr[s]: the end of the interval that starts at s on the best path, or usize::MAX to skip s.
    let mut ptr = vec![usize::MAX; t];
    value[t - 1] = positive(d(t - 1));
    let mut block = vec![0f32; SCORE_BLOCK.min(t) * t];
    // Begin frames from the last down, one block of rows at a time.
    let mut s1 = t - 1;
    while s1 > 0 {
        let s0 = s1.saturating_sub(SCORE_BLOCK);
        let cols = t - s0 - 1;
        score_block(scores, s0, s1 - s0, &mut block);
        for s in (s0..s1).rev() {
            // row s: scores of the ends s + 1 .. t
            let row = &block[(s - s0) * cols + (s - s0)..][..t - s - 1];
            let mut best = value[s + 1];
            let mut arg = usize::MAX;
            for (i, (&v, &score)) in value[s + 1..].iter().zip(row).enumerate() {
                let cand = v + score * (i + 1) as f32;
                // Strict: on ties the skip, then the earliest end, wins (as torch.max picks the first maximum).
                if cand > best {
                    best = cand;
                    arg = s + 1 + i;
                }
            }
            ptr[s] = arg;
            value[s] = best + positive(d(s));
        }
        s1 = s0;
    }
    let mut out = vec![];
    let mut j = forced_start;
    while j < t - 1 {
        if d(j) > 0.0 {
            out.push((j, j));
        }
        if ptr[j] == usize::MAX {
            j += 1;
        } else {
            out.push((j, ptr[j]));
            j = ptr[j];
        }
    }
    if d(t - 1) > 0.0 {
        out.push((t - 1, t - 1));
    }
    out
}

/// Mean of a continuous Bernoulli distribution with the given logit, computed as torch does in f32
/// (clamped probabilities, a Taylor expansion near p = 0.5).
fn continuous_bernoulli_mean(logit: f32) -> f32 {
    let eps = f32::EPSILON;
    let p = (1.0 / (1.0 + (-logit).exp())).clamp(eps, 1.0 - eps);
    if p <= 0.499 || p > 0.501 {
        p / (2.0 * p - 1.0) + 1.0 / ((-p).ln_1p() - p.ln())
    } else {
        let x = p - 0.5;
        0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x * x) * x
    }
}

/// Everything one segment contributes: its events (times relative to the segment start) and, per track,
/// the end frame of the last interval that has a real offset (where the next segment's decoding starts).
#[derive(Debug, Clone)]
pub struct SegmentEvents {
    pub events: Vec<Event>,
    pub last_offset_frame: Vec<usize>,
}

/// Decodes one segment. `scorer` computes one track's interval scores from the segment's output (tracks are
/// scored and decoded side by side, each track's scores dropped once decoded); `heads` runs the attribute
/// network on the begin/end context rows of the intervals.
pub fn decode_segment(
    cfg: &TranskunConfig,
    out: &SegmentOutput,
    forced_start: &[usize],
    scorer: impl Fn(usize) -> Result<ScoredTrack> + Sync,
    heads: impl FnOnce(&[f32], &[f32]) -> Result<Attributes>,
) -> Result<SegmentEvents> {
    let (tracks, dim) = (out.tracks, out.dim);
    let intervals: Vec<Vec<(usize, usize)>> = (0..tracks)
        .into_par_iter()
        .map(|tr| Ok(viterbi(&scorer(tr)?.scores(), forced_start[tr])))
        .collect::<Result<_>>()?;

    let total: usize = intervals.iter().map(Vec::len).sum();
    let mut ctx_b = Vec::with_capacity(total * dim);
    let mut ctx_e = Vec::with_capacity(total * dim);
    for (tr, ivs) in intervals.iter().enumerate() {
        for &(b, e) in ivs {
            ctx_b.extend_from_slice(out.ctx_row(tr, b));
            ctx_e.extend_from_slice(out.ctx_row(tr, e));
        }
    }
    let attrs = heads(&ctx_b, &ctx_e)?;
    let crf = &cfg.crf;
    let n_vel = crf.velocities;
    let frame_dur = cfg.segments.frame_seconds();
    let last_frame = cfg.segments.last_frame_index();
    let mut events = Vec::with_capacity(total);
    let mut last_offset_frame = vec![0; tracks];
    let mut idx = 0;
    for (tr, ivs) in intervals.iter().enumerate() {
        let mut last_end = 0f64;
        for &(b, e) in ivs {
            let logits = &attrs.velocity_logits[idx * n_vel..][..n_vel];
            // argmax, first maximum on ties
            let velocity =
                logits.iter().enumerate().fold((0, f32::NEG_INFINITY), |m, (i, &v)| if v > m.1 { (i, v) } else { m });
            let r = &attrs.refine_logits[idx * 4..][..4];
            let delta = |l: f32| {
                ((continuous_bernoulli_mean(l) - 0.5) / crf.refine.scale).clamp(-crf.refine.clamp, crf.refine.clamp)
            };
            let start = ((b as f64 + delta(r[0]) as f64) * frame_dur).max(last_end);
            let end = ((e as f64 + delta(r[1]) as f64) * frame_dur).max(start + 1e-8);
            last_end = end;
            // Presence logits only matter where the interval touches the segment's edges.
            let has_onset = b > 0 || r[2] > 0.0;
            let has_offset = e < last_frame || r[3] > 0.0;
            if has_offset {
                last_offset_frame[tr] = e;
            }
            events.push(Event { start, end, pitch: crf.tracks[tr], velocity: velocity.0 as u8, has_onset, has_offset });
            idx += 1;
        }
    }
    events.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)).then(a.pitch.cmp(&b.pitch)));
    Ok(SegmentEvents { events, last_offset_frame })
}

/// Joins the events of overlapping segments, as transkun does: an event that overlaps the previous one of
/// its pitch replaces it if it has an onset, or else continues it.
pub struct Stitcher {
    step_frames: usize,
    forced_start: Vec<usize>,
    by_pitch: Vec<Vec<Event>>,
    track_of_pitch: std::collections::HashMap<i32, usize>,
}

impl Stitcher {
    pub fn new(cfg: &TranskunConfig) -> Self {
        let (s, crf) = (&cfg.segments, &cfg.crf);
        let first = (s.lead_in_seconds() * s.sample_rate as f64 / s.hop as f64).floor() as usize;
        Stitcher {
            step_frames: s.step_samples() / s.hop,
            forced_start: vec![first; crf.tracks.len()],
            by_pitch: vec![vec![]; crf.tracks.len()],
            track_of_pitch: crf.tracks.iter().enumerate().map(|(i, &p)| (p, i)).collect(),
        }
    }

    /// Where each track's backtrack starts in the next segment.
    pub fn forced_start(&self) -> &[usize] {
        &self.forced_start
    }

    /// Adds a segment whose first sample lies at `begin_time` seconds of the recording (negative while the
    /// segment covers the leading padding).
    pub fn push(&mut self, begin_time: f64, seg: SegmentEvents) {
        self.forced_start = seg.last_offset_frame.iter().map(|&p| p.saturating_sub(self.step_frames)).collect();
        for mut e in seg.events {
            e.start = (e.start + begin_time).max(0.0);
            e.end = (e.end + begin_time).max(e.start);
            let list = &mut self.by_pitch[self.track_of_pitch[&e.pitch]];
            if let Some(last) = list.last_mut() {
                if e.start < last.end {
                    if e.has_onset {
                        *last = e;
                    } else {
                        last.has_offset = e.has_offset;
                        last.end = last.end.max(e.end);
                    }
                    continue;
                }
            }
            if e.has_onset {
                list.push(e);
            }
        }
    }

    /// Events kept so far (the last one of each pitch may still change).
    pub fn provisional(&self) -> impl Iterator<Item = &Event> {
        self.by_pitch.iter().flatten()
    }

    /// Closes the last events, drops events without an offset and resolves overlaps within each pitch.
    pub fn finish(mut self) -> Vec<Event> {
        for list in &mut self.by_pitch {
            if let Some(last) = list.last_mut() {
                last.has_offset = true;
            }
        }
        let mut all: Vec<Event> = self.by_pitch.into_iter().flatten().filter(|e| e.has_offset).collect();
        resolve_overlaps(&mut all);
        all
    }
}

/// transkun's resolveOverlapping: in (start, end, pitch) order, cut a note's end at the next start of the same
/// pitch, then drop notes that end up empty.
fn resolve_overlaps(events: &mut Vec<Event>) {
    let key =
        |a: &Event, b: &Event| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)).then(a.pitch.cmp(&b.pitch));
    events.sort_by(key);
    let mut last_of: std::collections::HashMap<i32, usize> = Default::default();
    for i in 0..events.len() {
        let (p, s) = (events[i].pitch, events[i].start);
        if let Some(&j) = last_of.get(&p) {
            if events[j].end > s {
                events[j].end = s;
            }
        }
        last_of.insert(p, i);
    }
    events.sort_by(key);
    events.retain(|e| e.start < e.end);
}

/// Turns stitched events into notes and pedals.
pub fn to_transcription(events: &[Event]) -> Transcription {
    let mut t = Transcription::default();
    for e in events {
        if e.pitch >= 0 {
            t.notes.push(Note { onset: e.start, offset: e.end, pitch: e.pitch as u8, velocity: e.velocity });
        } else if let Some(kind) = PedalKind::from_controller((-e.pitch) as u8) {
            t.pedals.push(Pedal { kind, start: e.start, end: e.end, value: e.velocity });
        }
    }
    sort_notes(&mut t.notes);
    t.pedals.sort_by(|a, b| a.start.total_cmp(&b.start));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Brute force: the best score over all paths of non-overlapping-or-touching intervals, by enumeration.
    fn score_of(path: &[(usize, usize)], q: &[f32], k: &[f32], d: &[f32], dim: usize) -> f32 {
        path.iter()
            .map(|&(b, e)| if b == e { d[b] } else { dot(&q[e * dim..][..dim], &k[b * dim..][..dim]) * (e - b) as f32 })
            .sum()
    }

    #[test]
    fn hand_checked_single_note() {
        // dim 1: q[3] * k[1] * (3 - 1) gives interval (1,3) a score of 2; every other interval scores 0 and
        // every single frame is negative.
        let q = [0.0, 0.0, 0.0, 1.0, 0.0];
        let k = [0.0, 1.0, 0.0, 0.0, 0.0];
        let d = [-1.0; 5];
        assert_eq!(viterbi(&TrackScores::contiguous(&q, &k, &d, 1), 0), vec![(1, 3)]);
        // Starting the backtrack past the onset loses the note.
        assert_eq!(viterbi(&TrackScores::contiguous(&q, &k, &d, 1), 2), vec![]);
    }

    #[test]
    fn singletons_and_shared_endpoints() {
        // Positive diagonal at frame 0 and 4; interval (0, 2) and (2, 4) both score 2.
        let q = [0.0, 0.0, 1.0, 0.0, 1.0];
        let k = [1.0, 0.0, 1.0, 0.0, 0.0];
        let d = [0.5, -1.0, -1.0, -1.0, 0.25];
        let path = viterbi(&TrackScores::contiguous(&q, &k, &d, 1), 0);
        assert_eq!(path, vec![(0, 0), (0, 2), (2, 4), (4, 4)]);
        assert_eq!(score_of(&path, &q, &k, &d, 1), 0.5 + 2.0 + 2.0 + 0.25);
    }

    #[test]
    fn ties_prefer_skip() {
        // Interval (0,1) scores exactly 0: skipping wins.
        let q = [0.0, 0.0];
        let k = [0.0, 0.0];
        let d = [0.0, 0.0];
        assert_eq!(viterbi(&TrackScores::contiguous(&q, &k, &d, 1), 0), vec![]);
    }

    /// Reproducible uniform numbers in [-0.5, 0.5) (a 64-bit LCG).
    fn uniform(mut seed: u64) -> impl FnMut() -> f32 {
        move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        }
    }

    #[test]
    fn viterbi_is_optimal_on_random_tracks() {
        // Compare with an exhaustive dynamic programme over paths (small T).
        let mut rnd = uniform(12345);
        // Short tracks, and tracks that span several blocks of scores (the last one partial).
        for (t, dim) in std::iter::repeat((9, 3)).take(50).chain(std::iter::repeat((150, 5)).take(5)) {
            let q: Vec<f32> = (0..t * dim).map(|_| rnd()).collect();
            let k: Vec<f32> = (0..t * dim).map(|_| rnd()).collect();
            let d: Vec<f32> = (0..t).map(|_| rnd()).collect();
            let path = viterbi(&TrackScores::contiguous(&q, &k, &d, dim), 0);
            // best[s]: best score of frames s.. where an interval may start at s.
            let mut best = vec![0f32; t + 1];
            for s in (0..t).rev() {
                let single = d[s].max(0.0);
                let mut b = best[s + 1];
                for e in s + 1..t {
                    b = b.max(best[e] + dot(&q[e * dim..][..dim], &k[s * dim..][..dim]) * (e - s) as f32);
                }
                best[s] = b + single;
            }
            let got = score_of(&path, &q, &k, &d, dim);
            assert!(
                (got - best[0]).abs() < 1e-4 * best[0].abs().max(1.0),
                "path {path:?} scores {got}, optimum {}",
                best[0]
            );
        }
    }

    /// The network's layout (q, k, d side by side per frame, padding frames after the segment's, the scale
    /// applied to the product) decodes as separate arrays with the scale in q do.
    #[test]
    fn side_by_side_rows_decode_as_separate_arrays() {
        let mut rnd = uniform(7);
        let (t, dim, pad) = (150, 4, 3);
        let row = 2 * dim + 1;
        let rows: Vec<f32> = (0..(t + pad) * row).map(|_| rnd()).collect();
        let col =
            |off: usize, n: usize| -> Vec<f32> { (0..t).flat_map(|f| rows[f * row + off..][..n].to_vec()).collect() };
        let (q, k, d) = (col(0, dim), col(dim, dim), col(2 * dim, 1));
        let q4: Vec<f32> = q.iter().map(|x| x * 0.25).collect();
        let strided = TrackScores {
            q: &rows,
            k: &rows[dim..],
            d: &rows[2 * dim..],
            frames: t,
            dim,
            row,
            d_step: row,
            scale: 0.25,
        };
        for start in [0, 17] {
            let want = viterbi(&TrackScores::contiguous(&q4, &k, &d, dim), start);
            assert!(!want.is_empty());
            assert_eq!(viterbi(&strided, start), want);
        }
    }

    #[test]
    fn continuous_bernoulli_mean_matches_torch() {
        // torch.distributions.ContinuousBernoulli(logits=x).mean for x = -3, 0, 0.002, 3, 20
        let cases = [(-3.0, 0.28093764), (0.0, 0.5), (0.002, 0.50016665), (3.0, 0.71906239), (20.0, 0.93727422)];
        for (x, want) in cases {
            assert!((continuous_bernoulli_mean(x) - want).abs() < 2e-6, "{x}: {}", continuous_bernoulli_mean(x));
        }
    }

    fn ev(start: f64, end: f64, pitch: i32, on: bool, off: bool) -> Event {
        Event { start, end, pitch, velocity: 60, has_onset: on, has_offset: off }
    }

    #[test]
    fn stitching_across_segment_borders() {
        let mut tracks = vec![-64, -67];
        tracks.extend(21..=108);
        let cfg = super::super::config::tests::config();
        let crf = &cfg.crf;
        let mut st = Stitcher::new(&cfg);
        assert_eq!(st.forced_start()[0], 344);
        let n = crf.tracks.len();
        let seg = |events: Vec<Event>| SegmentEvents { events, last_offset_frame: vec![400; n] };
        // Segment 1 ends with a note still sounding at its right edge (no offset).
        st.push(-8.0, seg(vec![ev(10.0, 15.0, 60, true, false), ev(9.0, 9.5, 62, true, true)]));
        assert_eq!(st.forced_start()[0], 400 - 345);
        // Segment 2 (8 s later) sees the continuation without an onset: it extends the note.
        st.push(0.0, seg(vec![ev(1.5, 8.0, 60, false, true), ev(2.0, 2.4, 62, true, true)]));
        // A duplicate onset of the same note in an overlapping segment replaces it.
        st.push(8.0, seg(vec![ev(-0.5, 1.0, 64, true, true), ev(0.0, 0.3, 64, false, true)]));
        let out = st.finish();
        let find = |p: i32| out.iter().filter(|e| e.pitch == p).cloned().collect::<Vec<_>>();
        assert_eq!(find(60).len(), 1);
        assert_eq!((find(60)[0].start, find(60)[0].end), (2.0, 8.0));
        assert_eq!(find(62).len(), 2, "{:?}", find(62));
        assert_eq!(find(64).len(), 1);
        assert_eq!((find(64)[0].start, find(64)[0].end), (7.5, 9.0));
    }

    #[test]
    fn overlaps_within_a_pitch_are_cut() {
        let mut v = vec![ev(1.0, 3.0, 60, true, true), ev(2.0, 4.0, 60, true, true), ev(2.0, 2.0, 61, true, true)];
        resolve_overlaps(&mut v);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].start, v[0].end), (1.0, 2.0));
        assert_eq!((v[1].start, v[1].end), (2.0, 4.0));
    }
}
