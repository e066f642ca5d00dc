//! The beat: an onset-strength signal from the chords' salience, the overall period (autocorrelation under
//! tempo priors), and beat times by dynamic programming over time and period.

use realfft::RealFftPlanner;

use super::chords::Chord;

/// Frames per second of the onset-strength signal.
const FPS: f64 = 100.0;
/// Gaussian smoothing of the onset strength (frames).
const SMOOTH_FRAMES: f64 = 4.0;
/// The tempo priors of the rules' overall period: log-normal around a beat period and around a number of
/// chords per beat (the values: `beats::DECODING`). Multiplied, they are one log-normal around the geometric
/// mean of the two centres, so only the product of `period` and `chords_per_beat` matters.
#[derive(Debug, Clone, PartialEq)]
pub struct TempoPrior {
    /// Seconds per beat.
    pub period: f64,
    pub chords_per_beat: f64,
    /// The width of both (in natural log).
    pub width: f64,
}
/// The tracker's periods span the overall period times or over this, in steps of 2 % (log).
const PERIOD_RANGE: f64 = 1.45;
const PERIOD_STEP: f64 = 0.02;
/// A tempo change between neighbouring beats beyond this (in log) is forbidden.
const CHANGE_LIMIT: f64 = 0.25;
/// The tracker's per-beat costs, against the onset strength (whose mean is 1 per chord's worth of salience;
/// the values: `beats::DECODING`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerCosts {
    /// Per squared log ratio of the period to the previous beat's: how freely the tempo bends.
    pub change: f64,
    /// Per squared log ratio of the period to the overall period: how far it may wander from it.
    pub period: f64,
    /// Per beat: keeps the tracker from adding beats where none sound.
    pub beat: f64,
}

/// Beat salience at 100 frames per second: each chord's salience at its onset frame, smoothed by a Gaussian,
/// over the mean salience.
pub(super) fn onset_strength(chords: &[Chord]) -> Vec<f64> {
    let last = chords.last().map_or(0.0, |c| c.time);
    let len = (last * FPS) as usize + 10;
    let mut impulses = vec![0.0; len];
    for c in chords {
        impulses[((c.time * FPS).round() as usize).min(len - 1)] += c.salience;
    }
    let r = (3.0 * SMOOTH_FRAMES) as isize + 1;
    let kernel: Vec<f64> = (-r..=r).map(|k| (-0.5 * (k as f64 / SMOOTH_FRAMES).powi(2)).exp()).collect();
    let mean = chords.iter().map(|c| c.salience).sum::<f64>() / chords.len().max(1) as f64;
    let mut out = vec![0.0; len];
    for (i, &v) in impulses.iter().enumerate().filter(|(_, v)| **v != 0.0) {
        for (k, w) in kernel.iter().enumerate() {
            let j = i as isize + k as isize - r;
            if j >= 0 && (j as usize) < len {
                out[j as usize] += v * w / mean.max(1e-9);
            }
        }
    }
    out
}

/// The overall beat period (seconds): the onset strength's autocorrelation peak under the tempo priors.
pub(super) fn overall_period(strength: &[f64], chords: &[Chord], priors: &TempoPrior) -> f64 {
    let n = strength.len();
    let mean = strength.iter().sum::<f64>() / n as f64;
    let mut planner = RealFftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(2 * n), planner.plan_fft_inverse(2 * n));
    let mut buf: Vec<f64> = strength.iter().map(|v| v - mean).chain(std::iter::repeat(0.0).take(n)).collect();
    let mut spec = fwd.make_output_vec();
    let _ = fwd.process(&mut buf, &mut spec);
    for c in &mut spec {
        *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
    }
    let mut auto = inv.make_output_vec();
    let _ = inv.process(&mut spec, &mut auto);
    let gaps: Vec<f64> = chords.windows(2).map(|w| w[1].time - w[0].time).filter(|&g| g < 2.0).collect();
    let mean_gap = if gaps.is_empty() { 0.2 } else { gaps.iter().sum::<f64>() / gaps.len() as f64 };
    let prior = |x: f64| (-0.5 * (x.ln() / priors.width).powi(2)).exp();
    let mut best = (f64::NEG_INFINITY, priors.period);
    for lag in 20..n.min(320) {
        let p = lag as f64 / FPS;
        let v =
            auto[lag] / auto[0].max(1e-12) * prior(p / priors.period) * prior(p / mean_gap / priors.chords_per_beat);
        if v > best.0 {
            best = (v, p);
        }
    }
    best.1
}

/// Beat times (seconds): dynamic programming over (frame, period) that follows tempo changes around the
/// overall period `period`.
pub(super) fn track_beats(strength: &[f64], period: f64, costs: &TrackerCosts) -> Vec<f64> {
    let len = strength.len();
    let (lo, hi) = ((period / PERIOD_RANGE * FPS).ln(), (period * PERIOD_RANGE * FPS).ln());
    let mut periods: Vec<usize> = vec![];
    let mut x = lo;
    while x < hi {
        let p = x.exp().round() as usize;
        if periods.last() != Some(&p) && p > 0 {
            periods.push(p);
        }
        x += PERIOD_STEP;
    }
    periods.sort_unstable();
    periods.dedup();
    let np = periods.len();
    let lp: Vec<f64> = periods.iter().map(|&p| (p as f64).ln()).collect();
    let centre = (period * FPS).ln();
    let prior: Vec<f64> = lp.iter().map(|l| -costs.period * (l - centre).powi(2) - costs.beat).collect();
    let change = |k: usize, j: usize| {
        let d = lp[k] - lp[j];
        if d.abs() > CHANGE_LIMIT {
            f64::NEG_INFINITY
        } else {
            -costs.change * d * d
        }
    };
    let peak = strength.iter().copied().fold(0.0, f64::max);
    let longest = *periods.last().unwrap_or(&1);
    let first = strength.iter().position(|&v| v > 0.05 * peak).unwrap_or(0) + longest;
    // Scores are only looked up one period back, so they live in a ring of `longest + 1` frames; only the
    // back-pointers (2 bytes per frame and period: 27 MB for an hour) cover the whole recording.
    let ring = longest + 1;
    let mut score = vec![f64::NEG_INFINITY; ring * np];
    let mut back = vec![u16::MAX; len * np];
    let tail = len.saturating_sub(longest);
    let (mut end, mut end_period, mut end_score) = (tail, 0, f64::NEG_INFINITY);
    for t in 0..len {
        for k in 0..np {
            let mut best = if t <= first { 0.0 } else { f64::NEG_INFINITY };
            let mut from = u16::MAX;
            if t >= periods[k] {
                let src = (t - periods[k]) % ring * np;
                for j in 0..np {
                    let v = score[src + j] + change(k, j);
                    if v > best {
                        best = v;
                        from = j as u16;
                    }
                }
            }
            let v = best + strength[t] + prior[k];
            score[t % ring * np + k] = v;
            back[t * np + k] = from;
            if t >= tail && v > end_score {
                (end, end_period, end_score) = (t, k, v);
            }
        }
    }
    let (mut t, mut k) = (end, end_period);
    let mut out = vec![t as f64 / FPS];
    while back[t * np + k] != u16::MAX {
        let j = back[t * np + k] as usize;
        t -= periods[k];
        k = j;
        out.push(t as f64 / FPS);
    }
    out.reverse();
    out
}
