//! Bars: each beat's downbeat evidence from a logistic model over its features and its neighbours', the bar
//! length and position that explain it best (a Viterbi path over the position in the bar), the beats mended to
//! regular bars, and simple or compound meter.

use super::chords::Chord;
use super::network::NoteMeter;
use super::{Decoding, Performance};
use crate::notes::Note;

/// Chords within this of a beat describe it (for bars and meter).
const BEAT_WINDOW: f64 = 0.07;
/// A sustain press within this window around a beat (seconds before, after) counts for it: pianists change the
/// pedal with the harmony, which changes most on downbeats.
const PRESS_WINDOW: (f64, f64) = (0.15, 0.3);
/// A logistic model of a beat being a downbeat, over its standardised features (`downbeat_features`) and its
/// neighbours'.
#[derive(Debug, Clone, PartialEq)]
pub struct DownbeatModel {
    pub own: [f64; DOWNBEAT_FEATURES],
    pub previous: [f64; DOWNBEAT_FEATURES],
    pub next: [f64; DOWNBEAT_FEATURES],
    pub bias: f64,
    /// The rate of downbeats among the beats it was fitted on: its probabilities over this rate are the
    /// likelihood ratios the bar path needs.
    pub rate: f64,
}

/// Salience, low bass, harmonic change, bass duration, note length, notes, velocity, sustain press, two-beat
/// harmonic change.
pub const DOWNBEAT_FEATURES: usize = 9;

/// The model the score stage uses, fitted on the training split of ASAP's training set: the tracked beats
/// within 70 ms of an annotated downbeat against the rest, L2 1.0 (tests/score.rs fits it again and fails
/// unless these are its figures).
pub const DOWNBEAT_MODEL: DownbeatModel = DownbeatModel {
    own: [0.3403, 0.2290, 0.2372, 0.2304, 0.2319, -0.1681, 0.1672, 0.2818, 0.2316],
    previous: [-0.0076, -0.1426, -0.0806, 0.0241, -0.1282, 0.0766, 0.0011, -0.1164, -0.0814],
    next: [0.0712, -0.0292, -0.1472, -0.0894, -0.2132, 0.0838, -0.0801, -0.1111, -0.1745],
    bias: -1.5229,
    rate: 0.2332,
};
/// With two beats a bar, a bar a beat short and one a beat long look alike: an interval this many times the
/// median beat or longer says short (a beat is added in it), a shorter one long (a beat is dropped).
const MISSED_BEAT_RATIO: f64 = 1.4;

/// Each beat's downbeat features (see `DOWNBEAT_FEATURES`), standardised over the performance so that the model
/// sees how a beat stands out from the rest of the piece, not loudness or register as such.
pub(super) fn beat_features(
    beats: &[f64],
    notes: &[Note],
    chords: &[Chord],
    presses: &[f64],
) -> Vec<[f64; DOWNBEAT_FEATURES]> {
    let nb = beats.len();
    let mut features = vec![[0f64; 9]; nb];
    let mut chroma = vec![[0f64; 12]; nb];
    // Notes by onset: the ones sounding in a beat's span start before its end and end after its start; the
    // longest note bounds how far back they can start.
    let longest = notes.iter().map(|n| n.offset - n.onset).fold(0.0, f64::max);
    for (i, &b) in beats.iter().enumerate() {
        let lo = chords.partition_point(|c| c.time <= b - BEAT_WINDOW);
        let hi = chords.partition_point(|c| c.time < b + BEAT_WINDOW);
        let near = &chords[lo..hi];
        let f = &mut features[i];
        if near.is_empty() {
            *f = [0.0, -128.0, 0.0, 0.05f64.ln(), 0.05f64.ln(), 0.0, 0.0, 0.0, 0.0];
        } else {
            f[0] = near.iter().map(|c| c.salience).fold(0.0, f64::max);
            f[1] = -(near.iter().map(|c| c.lowest).min().unwrap() as f64);
            f[3] = (near.iter().map(|c| c.bass_span).fold(0.0, f64::max) + 0.05).ln();
            f[4] = (near.iter().map(|c| c.longest).fold(0.0, f64::max) + 0.05).ln();
            f[5] = (near.iter().map(|c| c.notes).sum::<usize>() as f64).ln();
            f[6] = near.iter().map(|c| c.velocity).sum();
        }
        let k = presses.partition_point(|&p| p < b - PRESS_WINDOW.0);
        f[7] = if k < presses.len() && presses[k] < b + PRESS_WINDOW.1 { 1.0 } else { 0.0 };
        let end = if i + 1 < nb { beats[i + 1] } else { b + 1.0 };
        let first = notes.partition_point(|n| n.onset < b - longest);
        for n in notes[first..].iter().take_while(|n| n.onset < end).filter(|n| n.offset > b) {
            chroma[i][(n.pitch % 12) as usize] += n.offset.min(end) - n.onset.max(b);
        }
    }
    // Bass lowness relative to the lowest bass within four beats.
    let lows: Vec<f64> = features.iter().map(|f| f[1]).collect();
    for i in 0..nb {
        let top = lows[i.saturating_sub(4)..(i + 5).min(nb)].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        features[i][1] = (lows[i] - top).clamp(-12.0, 0.0) / 12.0 + 1.0;
    }
    // Harmonic change: cosine distance between the pitch classes sounding in a beat and in the one before, and
    // between the next two beats and the two before.
    let distance = |a: &[f64; 12], b: &[f64; 12]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |c: &[f64; 12]| c.iter().map(|v| v * v).sum::<f64>().sqrt();
        1.0 - dot / (norm(a) * norm(b) + 1e-9)
    };
    let sum = |a: &[f64; 12], b: &[f64; 12]| std::array::from_fn::<f64, 12, _>(|k| a[k] + b[k]);
    for i in 1..nb {
        features[i][2] = distance(&chroma[i], &chroma[i - 1]);
        if i >= 2 && i + 1 < nb {
            features[i][8] = distance(&sum(&chroma[i], &chroma[i + 1]), &sum(&chroma[i - 1], &chroma[i - 2]));
        }
    }
    for k in 0..9 {
        let mean = features.iter().map(|f| f[k]).sum::<f64>() / nb as f64;
        let sd = (features.iter().map(|f| (f[k] - mean).powi(2)).sum::<f64>() / nb as f64).sqrt() + 1e-9;
        for f in &mut features {
            f[k] = (f[k] - mean) / sd;
        }
    }
    features
}

impl DownbeatModel {
    /// What the model reads for each beat: its own features, the previous beat's and the next beat's (zero,
    /// the mean, past the ends).
    pub fn inputs(features: &[[f64; DOWNBEAT_FEATURES]]) -> Vec<[[f64; DOWNBEAT_FEATURES]; 3]> {
        let zero = [0.0; DOWNBEAT_FEATURES];
        (0..features.len())
            .map(|i| {
                let previous = if i > 0 { features[i - 1] } else { zero };
                [features[i], previous, features.get(i + 1).copied().unwrap_or(zero)]
            })
            .collect()
    }

    /// The model's logit for each beat.
    pub fn logits(&self, features: &[[f64; DOWNBEAT_FEATURES]]) -> Vec<f64> {
        let dot = |w: &[f64; DOWNBEAT_FEATURES], x: &[f64; DOWNBEAT_FEATURES]| {
            w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
        };
        Self::inputs(features)
            .iter()
            .map(|[own, previous, next]| {
                dot(&self.own, own) + dot(&self.previous, previous) + dot(&self.next, next) + self.bias
            })
            .collect()
    }

    /// For each beat, the log-likelihood ratios of the evidence for it being a downbeat and for it not being
    /// one (the model's posterior over the rate it was fitted at).
    fn evidence(&self, features: &[[f64; DOWNBEAT_FEATURES]]) -> Vec<(f64, f64)> {
        self.logits(features)
            .into_iter()
            .map(|z| {
                // log(sigmoid(z)) and log(1 - sigmoid(z)), without overflow.
                let (yes, no) =
                    if z.abs() > 30.0 { (z.min(0.0), (-z).min(0.0)) } else { (-(-z).exp().ln_1p(), -z.exp().ln_1p()) };
                (yes - self.rate.ln(), no - (1.0 - self.rate).ln())
            })
            .collect()
    }
}

/// For each beat, the log-likelihood ratios of being a downbeat and of not being one from the learned model:
/// the highest downbeat probability among the notes within `BEAT_WINDOW` of it, over the share of downbeats
/// among beats; no evidence either way for a beat without notes.
fn learned_evidence(beats: &[f64], m: &NoteMeter) -> Vec<(f64, f64)> {
    let share = m.downbeat_share.clamp(0.01, 0.99);
    beats
        .iter()
        .map(|&b| {
            let lo = m.onsets.partition_point(|&t| t < b - BEAT_WINDOW);
            let hi = m.onsets.partition_point(|&t| t <= b + BEAT_WINDOW);
            if lo == hi {
                return (0.0, 0.0);
            }
            let p = m.downbeat[lo..hi].iter().copied().fold(0.0f32, f32::max).clamp(1e-4, 1.0 - 1e-4) as f64;
            (p.ln() - share.ln(), (1.0 - p).ln() - (1.0 - share).ln())
        })
        .collect()
}

/// Each beat's position in its bar of `per_bar` beats (0: the downbeat), by dynamic programming over the
/// evidence: a bar is `per_bar` beats, or one more or one fewer at the cost `slip`. Returns the positions and
/// their log-likelihood.
pub(super) fn bar_positions(evidence: &[(f64, f64)], per_bar: usize, slip: f64) -> (Vec<usize>, f64) {
    let n = evidence.len();
    let emit = |i: usize, p: usize| if p == 0 { evidence[i].0 } else { evidence[i].1 };
    let mut score: Vec<f64> = (0..per_bar).map(|p| emit(0, p)).collect();
    let mut back = vec![0u8; n * per_bar];
    for i in 1..n {
        let mut next = vec![0.0; per_bar];
        for p in 0..per_bar {
            // From the position before (on time), two before (a beat short) or the same (a beat long).
            let candidates = [((p + per_bar - 1) % per_bar, 0.0), ((p + 2 * per_bar - 2) % per_bar, slip), (p, slip)];
            let (from, v) = candidates
                .iter()
                .map(|&(q, cost)| (q, score[q] - cost))
                .fold((0, f64::NEG_INFINITY), |best, c| if c.1 > best.1 { c } else { best });
            next[p] = v + emit(i, p);
            back[i * per_bar + p] = from as u8;
        }
        score = next;
    }
    let (mut p, total) =
        score.iter().copied().enumerate().fold((0, f64::NEG_INFINITY), |b, (p, v)| if v > b.1 { (p, v) } else { b });
    let mut positions = vec![0; n];
    for i in (0..n).rev() {
        positions[i] = p;
        p = back[i * per_bar + p] as usize;
    }
    (positions, total)
}

/// The beats mended so that every bar has `per_bar` of them, where the positions say a bar is a beat short
/// (a beat added in the middle of its interval) or long (the beat dropped); and the first downbeat's index.
pub(super) fn regular_bars(beats: &[f64], positions: &[usize], per_bar: usize) -> (Vec<f64>, usize) {
    let mut intervals: Vec<f64> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    intervals.sort_by(f64::total_cmp);
    let median = intervals.get(intervals.len() / 2).copied().unwrap_or(0.0);
    let mut out = vec![beats[0]];
    let mut first = (positions[0] == 0).then_some(0);
    for i in 1..beats.len() {
        let step = (positions[i] + per_bar - positions[i - 1]) % per_bar;
        let interval = beats[i] - beats[i - 1];
        // A bar a beat short steps two positions; with two beats a bar that is the same as a bar a beat long
        // (no step), and a long interval says which it is.
        let short = step == 2 % per_bar && (per_bar > 2 || interval > MISSED_BEAT_RATIO * median);
        if step == 1 {
            out.push(beats[i]);
        } else if short {
            out.push(beats[i - 1] + 0.5 * interval);
            out.push(beats[i]);
        } else {
            continue;
        }
        if first.is_none() && positions[i] == 0 {
            first = Some(out.len() - 1);
        }
    }
    (out, first.unwrap_or(0))
}

/// The bar length among `lengths` whose best positions (`bar_positions`) explain the evidence best, with
/// those positions.
pub(super) fn best_bars(evidence: &[(f64, f64)], lengths: &[u32], slip: f64) -> (Vec<usize>, u32) {
    let mut best: Option<(Vec<usize>, f64, u32)> = None;
    for &m in lengths {
        let (positions, score) = bar_positions(evidence, m as usize, slip);
        if best.as_ref().is_none_or(|b| score > b.1) {
            best = Some((positions, score, m));
        }
    }
    let (positions, _, m) = best.expect("at least one bar length");
    (positions, m)
}

/// Bars: each beat's downbeat evidence, the bar length (2, 3 or 4 beats, or `beats_per_bar`) that explains it
/// best, and the beats mended to regular bars. Returns the beats, beats per bar and the first downbeat's
/// index.
pub(super) fn bars(
    beats: &[f64],
    performance: &Performance,
    model: &DownbeatModel,
    decoding: &Decoding,
    beats_per_bar: Option<u32>,
) -> (Vec<f64>, u32, usize) {
    let evidence = match &performance.learned {
        Some(m) => learned_evidence(beats, m),
        None => model.evidence(&beat_features(beats, &performance.notes, &performance.chords, &performance.presses)),
    };
    let lengths = beats_per_bar.map_or(vec![2, 3, 4], |m| vec![m]);
    let slip = if performance.learned.is_some() { decoding.learned_slip } else { decoding.rules_slip };
    let (positions, per_bar) = best_bars(&evidence, &lengths, slip);
    let (mended, first) = regular_bars(beats, &positions, per_bar as usize);
    if mended.len() < 2 {
        // Too few beats to mend (a chord or two): as tracked, bars from the first downbeat.
        return (beats.to_vec(), per_bar, positions.iter().position(|&p| p == 0).unwrap_or(0));
    }
    (mended, per_bar, first)
}

/// Whether onsets fall on thirds of the beat more than on halves and quarters (a compound meter).
pub(super) fn is_compound(beats: &[f64], chords: &[Chord]) -> bool {
    let (mut thirds, mut halves, mut total) = (0usize, 0usize, 0usize);
    for c in chords {
        let i = beats.partition_point(|&b| b <= c.time);
        if i == 0 || i >= beats.len() {
            continue;
        }
        let phase = (c.time - beats[i - 1]) / (beats[i] - beats[i - 1]);
        total += 1;
        if (phase - 1.0 / 3.0).abs() < 0.05 || (phase - 2.0 / 3.0).abs() < 0.05 {
            thirds += 1;
        }
        if [0.25, 0.5, 0.75].iter().any(|q| (phase - q).abs() < 0.05) {
            halves += 1;
        }
    }
    total > 0 && thirds > halves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::beats::BeatGrid;
    use crate::score::Meter;

    /// A bar's slip cost, as the rules' is.
    const SLIP: f64 = 2.0;

    /// Clear evidence of a downbeat at each index in `downbeats` and of none elsewhere.
    fn evidence(n: usize, downbeats: &[usize]) -> Vec<(f64, f64)> {
        (0..n).map(|i| if downbeats.contains(&i) { (1.5, -1.5) } else { (-1.0, 0.3) }).collect()
    }

    #[test]
    fn bar_positions_follow_the_evidence_through_a_missed_beat() {
        // Bars of three from beat 1, then beat 11 is missing from the tracked beats: downbeats at 1, 4, 7,
        // 10 and then 12, 15, 18 (one beat earlier than a regular continuation).
        let downbeats = [1, 4, 7, 10, 12, 15, 18];
        let e = evidence(20, &downbeats);
        let (positions, per_bar) = best_bars(&e, &[2, 3, 4], SLIP);
        assert_eq!(per_bar, 3);
        let found: Vec<usize> = (0..20).filter(|&i| positions[i] == 0).collect();
        assert_eq!(found, downbeats);
        // Mended: a beat added where the bar came short (between 11 and 12), so every bar has three beats.
        let beats: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let (mended, first) = regular_bars(&beats, &positions, 3);
        assert_eq!(first, 1);
        assert_eq!(mended.len(), 21);
        assert_eq!(mended[12], 11.5);
        let grid = BeatGrid::new(mended, first, Meter { beats_per_bar: 3, compound: false }).unwrap();
        assert_eq!(grid.downbeats(), vec![1.0, 4.0, 7.0, 10.0, 12.0, 15.0, 18.0]);
    }

    #[test]
    fn an_extra_beat_is_dropped_to_keep_the_bars_regular() {
        // Bars of four, with beat 6 extra: downbeats at 0, 4, 9, 13.
        let e = evidence(17, &[0, 4, 9, 13]);
        let (positions, per_bar) = best_bars(&e, &[4], SLIP);
        assert_eq!(per_bar, 4);
        let beats: Vec<f64> = (0..17).map(|i| i as f64).collect();
        let (mended, first) = regular_bars(&beats, &positions, 4);
        assert_eq!((mended.len(), first), (16, 0));
        let grid = BeatGrid::new(mended, first, Meter { beats_per_bar: 4, compound: false }).unwrap();
        assert_eq!(grid.downbeats(), vec![0.0, 4.0, 9.0, 13.0]);
    }
}
