//! Beats, downbeats and meter from a performance's notes. The method (`track`) and its constants were worked
//! out on ASAP's development performances (../shared/data/asap-dev); tests/score.rs measures it there.

use realfft::RealFftPlanner;

use super::{Meter, ScoreOptions};
use crate::error::{Error, Result};
use crate::notes::{Note, PedalKind, Transcription};

/// Beat times with the meter they group into: `times[first_downbeat]` starts the first full bar; the beats
/// before it are a pickup.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatGrid {
    /// Increasing, in seconds.
    pub times: Vec<f64>,
    pub first_downbeat: usize,
    pub meter: Meter,
}

impl BeatGrid {
    /// A grid from beat times and the index of a downbeat (any bar's), trimmed so that the pickup is shorter
    /// than a bar.
    pub fn new(times: Vec<f64>, downbeat: usize, meter: Meter) -> Result<Self> {
        if times.len() < 2 || times.windows(2).any(|w| !(w[1] > w[0])) || times.iter().any(|t| !t.is_finite()) {
            return Err(Error::Score("beat times must be at least two, finite and increasing".into()));
        }
        let per_bar = meter.beats_per_bar.max(1) as usize;
        Ok(BeatGrid { times, first_downbeat: downbeat % per_bar, meter })
    }

    pub fn pickup_beats(&self) -> u32 {
        self.first_downbeat as u32
    }

    /// The period of beat interval `k` (k may lie outside the grid: the edge periods continue).
    fn period(&self, k: isize) -> f64 {
        let last = self.times.len() as isize - 2;
        let k = k.clamp(0, last) as usize;
        self.times[k + 1] - self.times[k]
    }

    /// Where time `t` falls, in beats from the first beat (fractional; linear between beats, the edge periods
    /// beyond them).
    pub fn position(&self, t: f64) -> f64 {
        let n = self.times.len();
        if t < self.times[0] {
            return (t - self.times[0]) / self.period(0);
        }
        if t >= self.times[n - 1] {
            return (n - 1) as f64 + (t - self.times[n - 1]) / self.period(n as isize - 2);
        }
        let k = self.times.partition_point(|&b| b <= t) - 1;
        k as f64 + (t - self.times[k]) / (self.times[k + 1] - self.times[k])
    }

    /// The time of beat position `p` (the inverse of [`position`](Self::position)).
    pub fn time(&self, p: f64) -> f64 {
        let n = self.times.len();
        if p < 0.0 {
            return self.times[0] + p * self.period(0);
        }
        if p >= (n - 1) as f64 {
            return self.times[n - 1] + (p - (n - 1) as f64) * self.period(n as isize - 2);
        }
        let k = p.floor() as usize;
        self.times[k] + (p - k as f64) * (self.times[k + 1] - self.times[k])
    }

    /// The grid extended with edge periods so that it covers `[first, last]` (seconds), starting with less
    /// than a bar of pickup.
    pub fn covering(&self, first: f64, last: f64) -> BeatGrid {
        let mut times = self.times.clone();
        let mut downbeat = self.first_downbeat;
        let p0 = self.period(0);
        // Beats before the first, while a note would fall more than half a sixteenth before the grid.
        while first < times[0] - 0.125 * p0 {
            times.insert(0, times[0] - p0);
            downbeat += 1;
        }
        let pn = self.period(self.times.len() as isize - 2);
        while *times.last().unwrap() < last {
            let t = times.last().unwrap() + pn;
            times.push(t);
        }
        // Drop whole bars of beats before the first note's bar.
        let per_bar = self.meter.beats_per_bar.max(1) as usize;
        while downbeat >= per_bar && times[per_bar] <= first + 0.125 * p0 {
            times.drain(..per_bar);
            downbeat -= per_bar;
        }
        BeatGrid { times, first_downbeat: downbeat % per_bar, meter: self.meter }
    }

    /// The downbeat times (every bar's first beat).
    pub fn downbeats(&self) -> Vec<f64> {
        let per_bar = self.meter.beats_per_bar.max(1) as usize;
        self.times.iter().skip(self.first_downbeat).step_by(per_bar).copied().collect()
    }
}

/// Frames per second of the onset-strength signal.
const FPS: f64 = 100.0;
/// Notes whose onsets lie within this of a cluster's first onset are one chord.
const CLUSTER_SECONDS: f64 = 0.035;
/// Logistic weights of a chord's beat salience over its features (see `salience`), fitted once on ASAP's
/// development performances (chords within 50 ms of an annotated beat against the rest; 0.79 AUC, 0.784
/// with each piece held out).
const SALIENCE_WEIGHTS: [f64; 9] = [0.6794, 0.1392, -0.4675, 0.691, 0.1381, 0.5007, 0.6226, 0.3476, -0.3645];
const SALIENCE_BIAS: f64 = -0.6339;
/// Gaussian smoothing of the onset strength (frames).
const SMOOTH_FRAMES: f64 = 4.0;
/// The tempo priors: beat periods near 0.8 s, and near four chords per beat (log-normal, width 0.5).
const PRIOR_PERIOD: f64 = 0.8;
const PRIOR_CHORDS_PER_BEAT: f64 = 4.0;
const PRIOR_WIDTH: f64 = 0.5;
/// The tracker's periods span the overall period times or over this, in steps of 2 % (log).
const PERIOD_RANGE: f64 = 1.45;
const PERIOD_STEP: f64 = 0.02;
/// Per-beat costs: a tempo change (per squared log ratio; changes beyond 0.25 in log forbidden), the distance
/// from the overall period (same), and a constant that keeps the tracker from adding beats where none sound.
const CHANGE_COST: f64 = 5.0;
const CHANGE_LIMIT: f64 = 0.25;
const PERIOD_COST: f64 = 1.0;
const BEAT_COST: f64 = 1.0;
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

/// The model the score stage uses, fitted on ASAP's development performances: the tracked beats within 70 ms
/// of an annotated downbeat against the rest, L2 1.0 (tests/score.rs fits it again and checks these figures).
pub const DOWNBEAT_MODEL: DownbeatModel = DownbeatModel {
    own: [0.1489, 0.2517, 0.4014, 0.3983, 0.1698, 0.3143, -0.1281, 0.1649, 0.0793],
    previous: [-0.2313, -0.0820, -0.0050, 0.0069, -0.0235, -0.1748, 0.2198, -0.0068, -0.0339],
    next: [-0.0411, 0.0193, -0.2375, -0.0702, -0.0683, -0.0340, -0.0449, -0.0545, -0.2172],
    bias: -1.4165,
    rate: 0.2515,
};
/// The cost (log-likelihood) of a bar one beat longer or shorter than the meter: a beat the tracker missed or
/// added, or a phrase that starts off the bar. On ASAP's development performances, each piece held out of the
/// fit in turn (measured in a Python copy of this stage): downbeat F 0.481 at 2, 0.490 at 1.5 and 0.434 at 5;
/// lower costs mend more bars, and every beat dropped can cost beat F (0.630 at 2, 0.626 at 1.5).
const SLIP_COST: f64 = 2.0;
/// With two beats a bar, a bar a beat short and one a beat long look alike: an interval this many times the
/// median beat or longer says short (a beat is added in it), a shorter one long (a beat is dropped).
const MISSED_BEAT_RATIO: f64 = 1.4;

/// A chord: notes starting within `CLUSTER_SECONDS` of its first onset.
struct Chord {
    time: f64,
    lowest: u8,
    longest: f64,
    /// Seconds to the next chord whose bass is as low or lower (at most 3).
    bass_span: f64,
    salience: f64,
    notes: usize,
    /// The sum of its notes' velocities.
    velocity: f64,
}

fn chords(notes: &[Note], presses: &[f64]) -> Vec<Chord> {
    let mut groups: Vec<Vec<&Note>> = vec![];
    for n in notes {
        match groups.last_mut() {
            Some(g) if n.onset - g[0].onset <= CLUSTER_SECONDS => g.push(n),
            _ => groups.push(vec![n]),
        }
    }
    let time: Vec<f64> = groups.iter().map(|g| g[0].onset).collect();
    let lowest: Vec<u8> = groups.iter().map(|g| g.iter().map(|n| n.pitch).min().unwrap()).collect();
    let longest: Vec<f64> = groups.iter().map(|g| g.iter().map(|n| n.offset - n.onset).fold(0.0, f64::max)).collect();
    let classes: Vec<u16> = groups.iter().map(|g| g.iter().fold(0u16, |m, n| m | 1 << (n.pitch % 12))).collect();
    let count = groups.len();
    let (mut j0, mut j1, mut k0) = (0, 0, 0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let t = time[i];
        while time[j0] < t - 1.0 {
            j0 += 1;
        }
        while j1 < count && time[j1] <= t + 1.0 {
            j1 += 1;
        }
        let bass_above = lowest[i] as f64 - lowest[j0..j1].iter().copied().min().unwrap() as f64;
        let mut j = i + 1;
        while j < count && lowest[j] > lowest[i] && time[j] - t < 3.0 {
            j += 1;
        }
        let bass_span = if j < count { (time[j] - t).min(3.0) } else { 3.0 };
        while time[k0] < t - 0.5 {
            k0 += 1;
        }
        let before = classes[k0..i].iter().fold(0u16, |m, c| m | c);
        let new_classes = (classes[i] & !before).count_ones() as f64;
        let next = if i + 1 < count { time[i + 1] - t } else { 1.0 };
        let prev = if i > 0 { t - time[i - 1] } else { 1.0 };
        let k = presses.partition_point(|&p| p < t);
        let pedal = if k < presses.len() && presses[k] - t < 0.4 { 1.0 } else { 0.0 };
        let velocity: f64 = groups[i].iter().map(|n| n.velocity as f64).sum();
        let x = [
            (longest[i] + 0.05).ln(),
            (bass_span + 0.05).ln(),
            bass_above.clamp(0.0, 24.0) / 12.0,
            (groups[i].len() as f64).ln(),
            next.clamp(0.02, 3.0).ln(),
            new_classes / 3.0,
            pedal,
            velocity / 300.0,
            prev.clamp(0.02, 3.0).ln(),
        ];
        let z: f64 = x.iter().zip(SALIENCE_WEIGHTS).map(|(a, w)| a * w).sum::<f64>() + SALIENCE_BIAS;
        out.push(Chord {
            time: t,
            lowest: lowest[i],
            longest: longest[i],
            bass_span,
            salience: 1.0 / (1.0 + (-z).exp()),
            notes: groups[i].len(),
            velocity,
        });
    }
    out
}

/// Beat salience at 100 frames per second: each chord's salience at its onset frame, smoothed by a Gaussian,
/// over the mean salience.
fn onset_strength(chords: &[Chord]) -> Vec<f64> {
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
fn overall_period(strength: &[f64], chords: &[Chord]) -> f64 {
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
    let prior = |x: f64| (-0.5 * (x.ln() / PRIOR_WIDTH).powi(2)).exp();
    let mut best = (f64::NEG_INFINITY, PRIOR_PERIOD);
    for lag in 20..n.min(320) {
        let p = lag as f64 / FPS;
        let v = auto[lag] / auto[0].max(1e-12) * prior(p / PRIOR_PERIOD) * prior(p / mean_gap / PRIOR_CHORDS_PER_BEAT);
        if v > best.0 {
            best = (v, p);
        }
    }
    best.1
}

/// Beat times (seconds): dynamic programming over (frame, period) that follows tempo changes around the
/// overall period `period`.
fn track_beats(strength: &[f64], period: f64) -> Vec<f64> {
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
    let prior: Vec<f64> = lp.iter().map(|l| -PERIOD_COST * (l - centre).powi(2) - BEAT_COST).collect();
    let change = |k: usize, j: usize| {
        let d = lp[k] - lp[j];
        if d.abs() > CHANGE_LIMIT {
            f64::NEG_INFINITY
        } else {
            -CHANGE_COST * d * d
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

/// Each beat's downbeat features (see `DOWNBEAT_FEATURES`), standardised over the performance so that the model
/// sees how a beat stands out from the rest of the piece, not loudness or register as such.
fn beat_features(beats: &[f64], notes: &[Note], chords: &[Chord], presses: &[f64]) -> Vec<[f64; DOWNBEAT_FEATURES]> {
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

/// Each beat's position in its bar of `per_bar` beats (0: the downbeat), by dynamic programming over the
/// evidence: a bar is `per_bar` beats, or one more or one fewer at `SLIP_COST`. Returns the positions and
/// their log-likelihood.
fn bar_positions(evidence: &[(f64, f64)], per_bar: usize) -> (Vec<usize>, f64) {
    let n = evidence.len();
    let emit = |i: usize, p: usize| if p == 0 { evidence[i].0 } else { evidence[i].1 };
    let mut score: Vec<f64> = (0..per_bar).map(|p| emit(0, p)).collect();
    let mut back = vec![0u8; n * per_bar];
    for i in 1..n {
        let mut next = vec![0.0; per_bar];
        for p in 0..per_bar {
            // From the position before (on time), two before (a beat short) or the same (a beat long).
            let candidates =
                [((p + per_bar - 1) % per_bar, 0.0), ((p + 2 * per_bar - 2) % per_bar, SLIP_COST), (p, SLIP_COST)];
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
fn regular_bars(beats: &[f64], positions: &[usize], per_bar: usize) -> (Vec<f64>, usize) {
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
fn best_bars(evidence: &[(f64, f64)], lengths: &[u32]) -> (Vec<usize>, u32) {
    let mut best: Option<(Vec<usize>, f64, u32)> = None;
    for &m in lengths {
        let (positions, score) = bar_positions(evidence, m as usize);
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
fn bars(
    beats: &[f64],
    performance: &Performance,
    model: &DownbeatModel,
    beats_per_bar: Option<u32>,
) -> (Vec<f64>, u32, usize) {
    let features = beat_features(beats, &performance.notes, &performance.chords, &performance.presses);
    let evidence = model.evidence(&features);
    let lengths = beats_per_bar.map_or(vec![2, 3, 4], |m| vec![m]);
    let (positions, per_bar) = best_bars(&evidence, &lengths);
    let (mended, first) = regular_bars(beats, &positions, per_bar as usize);
    if mended.len() < 2 {
        // Too few beats to mend (a chord or two): as tracked, bars from the first downbeat.
        return (beats.to_vec(), per_bar, positions.iter().position(|&p| p == 0).unwrap_or(0));
    }
    (mended, per_bar, first)
}

/// Whether onsets fall on thirds of the beat more than on halves and quarters (a compound meter).
fn is_compound(beats: &[f64], chords: &[Chord]) -> bool {
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

/// What the tracker reads from a performance: its notes in order, their chords and the sustain presses.
struct Performance {
    notes: Vec<Note>,
    chords: Vec<Chord>,
    presses: Vec<f64>,
}

impl Performance {
    fn new(t: &Transcription) -> Result<Self> {
        let mut notes: Vec<Note> =
            t.notes.iter().filter(|n| n.onset.is_finite() && n.offset.is_finite()).copied().collect();
        if notes.is_empty() {
            return Err(Error::Score("there are no notes to write a score of".into()));
        }
        crate::notes::sort_notes(&mut notes);
        // Sustain presses: where the controller goes down.
        let mut presses: Vec<f64> =
            t.pedals.iter().filter(|p| p.kind == PedalKind::Sustain && p.start.is_finite()).map(|p| p.start).collect();
        presses.sort_by(f64::total_cmp);
        let chords = chords(&notes, &presses);
        Ok(Performance { notes, chords, presses })
    }

    /// The beats, before bars: the overall period (autocorrelation under tempo priors, or the tempo hint),
    /// then dynamic programming over time and period.
    fn beats(&self, options: &ScoreOptions) -> Vec<f64> {
        let strength = onset_strength(&self.chords);
        let period = match options.tempo_hint {
            Some(bpm) => 60.0 / bpm,
            None => overall_period(&strength, &self.chords),
        };
        let beats = track_beats(&strength, period);
        if beats.len() >= 2 {
            return beats;
        }
        // Too little music for the tracker (a single chord, say): beats at the overall period.
        let start = self.notes[0].onset;
        (0..2).map(|k| start + k as f64 * period).collect()
    }
}

/// Beats and meter tracked from the notes: chords and their beat salience, an onset-strength signal, the
/// overall period (autocorrelation under tempo priors, or the tempo hint), beats by dynamic programming
/// over time and period, then bars (beats per bar and where they start, the beats mended where a bar runs a
/// beat long or short) from each beat's downbeat probability.
pub fn track(t: &Transcription, options: &ScoreOptions) -> Result<BeatGrid> {
    track_with(t, options, &DOWNBEAT_MODEL)
}

/// [`track`] with another downbeat model (to fit and evaluate one).
pub fn track_with(t: &Transcription, options: &ScoreOptions, model: &DownbeatModel) -> Result<BeatGrid> {
    let performance = Performance::new(t)?;
    let beats = performance.beats(options);
    let (beats, per_bar, downbeat) = bars(&beats, &performance, model, options.meter.map(|m| m.beats_per_bar));
    let compound = options.meter.map_or_else(|| is_compound(&beats, &performance.chords), |m| m.compound);
    BeatGrid::new(beats, downbeat, Meter { beats_per_bar: per_bar, compound })
}

/// The tracked beats before bars, with each one's downbeat features (what a downbeat model is fitted on).
pub fn downbeat_features(
    t: &Transcription,
    options: &ScoreOptions,
) -> Result<(Vec<f64>, Vec<[f64; DOWNBEAT_FEATURES]>)> {
    let performance = Performance::new(t)?;
    let beats = performance.beats(options);
    let features = beat_features(&beats, &performance.notes, &performance.chords, &performance.presses);
    Ok((beats, features))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::Pedal;

    fn grid() -> BeatGrid {
        BeatGrid::new(vec![1.0, 1.5, 2.0, 3.0], 1, Meter { beats_per_bar: 2, compound: false }).unwrap()
    }

    #[test]
    fn positions_and_times_invert_each_other() {
        let g = grid();
        for (t, p) in [(1.0, 0.0), (1.25, 0.5), (2.5, 2.5), (3.0, 3.0), (4.0, 4.0), (0.5, -1.0)] {
            assert!((g.position(t) - p).abs() < 1e-12, "position({t})");
            assert!((g.time(p) - t).abs() < 1e-12, "time({p})");
        }
    }

    #[test]
    fn covering_extends_both_ends_and_keeps_the_pickup_short() {
        let g = grid().covering(0.1, 4.2);
        // Period 0.5 before: beats at 0.5 and 0.0 added; the downbeat moves from index 1 to 3, i.e. 1 of 2.
        assert_eq!(g.times, vec![0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(g.first_downbeat, 1);
        assert_eq!(g.downbeats(), vec![0.5, 1.5, 3.0, 5.0]);
        assert!(BeatGrid::new(vec![1.0, 1.0], 0, g.meter).is_err());
    }

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
        let (positions, per_bar) = best_bars(&e, &[2, 3, 4]);
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
        let (positions, per_bar) = best_bars(&e, &[4]);
        assert_eq!(per_bar, 4);
        let beats: Vec<f64> = (0..17).map(|i| i as f64).collect();
        let (mended, first) = regular_bars(&beats, &positions, 4);
        assert_eq!((mended.len(), first), (16, 0));
        let grid = BeatGrid::new(mended, first, Meter { beats_per_bar: 4, compound: false }).unwrap();
        assert_eq!(grid.downbeats(), vec![0.0, 4.0, 9.0, 13.0]);
    }

    #[test]
    fn a_single_note_or_chord_still_gets_a_grid() {
        for notes in [1usize, 3] {
            let t = Transcription {
                notes: (0..notes)
                    .map(|k| Note { onset: 1.0, offset: 2.0, pitch: 60 + 4 * k as u8, velocity: 64 })
                    .collect(),
                pedals: vec![],
            };
            let grid = track(&t, &ScoreOptions::default()).unwrap();
            assert!(grid.times.len() >= 2 && grid.times.windows(2).all(|w| w[1] > w[0]), "{grid:?}");
        }
    }

    /// A waltz at `beat` seconds a beat: a low bass note held through each bar's first beat, two short
    /// chords above it on the others, and the sustain pedal pressed just after each downbeat.
    fn waltz(bars: usize, beat: f64, pickup: bool) -> Transcription {
        let mut notes = vec![];
        let mut pedals = vec![];
        let start = if pickup { 1.0 + 2.0 * beat } else { 1.0 };
        if pickup {
            notes.push(Note { onset: 1.0, offset: 1.0 + 0.4 * beat, pitch: 67, velocity: 50 });
            notes.push(Note { onset: 1.0 + beat, offset: 1.0 + 1.4 * beat, pitch: 69, velocity: 50 });
        }
        for b in 0..bars {
            let t = start + 3.0 * b as f64 * beat;
            let root = [43u8, 48, 50, 43][b % 4];
            notes.push(Note { onset: t, offset: t + 2.8 * beat, pitch: root, velocity: 80 });
            notes.push(Note { onset: t, offset: t + 0.9 * beat, pitch: root + 24, velocity: 70 });
            for k in 1..3 {
                let u = t + k as f64 * beat;
                for p in [root + 16, root + 19] {
                    notes.push(Note { onset: u, offset: u + 0.4 * beat, pitch: p, velocity: 45 });
                }
            }
            pedals.push(Pedal { kind: PedalKind::Sustain, start: t + 0.05, end: t + 2.9 * beat, value: 127 });
        }
        crate::notes::sort_notes(&mut notes);
        Transcription { notes, pedals }
    }

    #[test]
    fn a_waltz_is_tracked_in_three_with_its_bass_on_the_downbeats() {
        for pickup in [false, true] {
            let t = waltz(24, 0.5, pickup);
            // The tempo is given: this is about bars (alone, the tracker counts this sparse texture in bars).
            let options = ScoreOptions { tempo_hint: Some(120.0), ..ScoreOptions::default() };
            let grid = track(&t, &options).unwrap();
            assert_eq!(grid.meter.beats_per_bar, 3, "pickup {pickup}");
            let start = if pickup { 2.0 } else { 1.0 };
            let expected: Vec<f64> = (0..24).map(|b| start + 1.5 * b as f64).collect();
            let found = grid.downbeats();
            // Every bass note is a downbeat (within 20 ms), and there are no others.
            assert_eq!(found.len(), expected.len(), "pickup {pickup}: {found:?}");
            for (f, e) in found.iter().zip(&expected) {
                assert!((f - e).abs() < 0.02, "pickup {pickup}: downbeat at {f}, bass at {e}");
            }
        }
    }
}
