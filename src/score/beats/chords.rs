//! Chords (notes that start together) and each chord's beat salience: what the beat tracker listens to.

use crate::notes::Note;

/// Notes whose onsets lie within this of a cluster's first onset are one chord.
const CLUSTER_SECONDS: f64 = 0.035;
/// A chord's features for its beat salience: ln longest note, ln span to a bass as low, bass height over the
/// lowest around it, ln notes, ln gap to the next chord, new pitch classes, a sustain press, velocity, ln gap
/// from the previous chord.
pub const SALIENCE_FEATURES: usize = 9;
/// Logistic weights of a chord's beat salience over its features, fitted on the training split of ASAP's
/// training set (chords within 50 ms of an annotated beat against the rest; L2 1.0): tests/score.rs fits them
/// again and fails unless these are its figures.
pub const SALIENCE_WEIGHTS: [f64; SALIENCE_FEATURES] =
    [0.5701, 0.2445, -0.2649, 0.8937, 0.0446, 0.6616, 0.2446, 0.1256, -0.3034];
pub const SALIENCE_BIAS: f64 = -0.4305;

/// A chord: notes starting within `CLUSTER_SECONDS` of its first onset.
pub(super) struct Chord {
    pub time: f64,
    pub lowest: u8,
    pub longest: f64,
    /// Seconds to the next chord whose bass is as low or lower (at most 3).
    pub bass_span: f64,
    pub salience: f64,
    pub notes: usize,
    /// The sum of its notes' velocities.
    pub velocity: f64,
    /// What its salience is computed from (`SALIENCE_FEATURES`).
    pub features: [f64; SALIENCE_FEATURES],
}

pub(super) fn chords(notes: &[Note], presses: &[f64]) -> Vec<Chord> {
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
        let x: [f64; SALIENCE_FEATURES] = [
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
            features: x,
        });
    }
    out
}
