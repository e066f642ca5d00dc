//! Key and spelling. The key of each bar comes from pitch-class durations in a window of bars around it,
//! correlated with the Krumhansl-Kessler key profiles, and a Viterbi path over the 24 keys that pays for
//! every change, so that a key changes only where the music stays in the new one. Notes are spelled on the
//! line of fifths, as close as they can be to the key's centre (F# rather than Gb in G major, Bb rather
//! than A# in F major, the leading tone sharp in minor keys).

use super::quantize::Placed;

/// A key signature: sharps (positive) or flats (negative), and the mode it was heard in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeySignature {
    pub fifths: i8,
    pub minor: bool,
}

/// A written pitch: step 0..=6 for C D E F G A B, alteration in semitones, octave (middle C = C4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spelling {
    pub step: u8,
    pub alter: i8,
    pub octave: i8,
}

impl Spelling {
    pub fn step_name(&self) -> char {
        ['C', 'D', 'E', 'F', 'G', 'A', 'B'][self.step as usize % 7]
    }
}

/// Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
const MAJOR: [f64; 12] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
const MINOR: [f64; 12] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];
/// Bars on each side of a bar whose notes vote for its key.
const WINDOW_BARS: usize = 4;
/// The cost of a key change, in units of correlation (0..2).
const CHANGE: f64 = 3.0;

fn correlation(x: &[f64; 12], profile: &[f64; 12], tonic: usize) -> f64 {
    let mx = x.iter().sum::<f64>() / 12.0;
    let mp = profile.iter().sum::<f64>() / 12.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for pc in 0..12 {
        let a = x[pc] - mx;
        let b = profile[(pc + 12 - tonic) % 12] - mp;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if sxx <= 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// The signature of key `k` (0..12 major tonics C, C#, ...; 12..24 minor).
fn signature(k: usize) -> KeySignature {
    let minor = k >= 12;
    let tonic = k % 12;
    // A minor key shares its relative major's signature (three semitones up).
    let major_tonic = if minor { (tonic + 3) % 12 } else { tonic };
    // Fifths of each major tonic, preferring the signature with fewer accidentals (Db rather than C#; Gb and Eb minor rather than F# and D# minor).
    let fifths = [0, -5, 2, -3, 4, -1, -6, 1, -4, 3, -2, 5][major_tonic];
    KeySignature { fifths, minor }
}

/// The key of every bar, as (bar, key) wherever it changes (the first entry at bar 0).
/// `bar_of` gives the bar of a tick (the score's), `beat` a beat's length in ticks.
pub fn keys_by_bar(placed: &[Placed], beat: u64, bar_of: impl Fn(u64) -> u32) -> Vec<(u32, KeySignature)> {
    let bars = placed.iter().map(|p| bar_of(p.start) as usize + 1).max().unwrap_or(1);
    let mut hist = vec![[0f64; 12]; bars];
    for p in placed {
        // Durations count, but a held note no more than two beats: long pedal notes would outvote the tune.
        let weight = (p.duration as f64 / beat as f64).min(2.0);
        hist[bar_of(p.start) as usize][(p.pitch % 12) as usize] += weight;
    }
    let scores: Vec<[f64; 24]> = (0..bars)
        .map(|b| {
            let mut x = [0f64; 12];
            for h in &hist[b.saturating_sub(WINDOW_BARS)..(b + WINDOW_BARS + 1).min(bars)] {
                for pc in 0..12 {
                    x[pc] += h[pc];
                }
            }
            let mut s = [0f64; 24];
            for k in 0..24 {
                s[k] = if k < 12 { correlation(&x, &MAJOR, k) } else { correlation(&x, &MINOR, k - 12) };
            }
            s
        })
        .collect();
    // Viterbi, maximising correlation minus change costs.
    let mut total = scores[0];
    let mut back = vec![[0u8; 24]; bars];
    for b in 1..bars {
        let mut next = [f64::NEG_INFINITY; 24];
        for k in 0..24 {
            for j in 0..24 {
                let change = if signature(j) == signature(k) { 0.0 } else { CHANGE };
                let v = total[j] - change;
                if v > next[k] {
                    next[k] = v;
                    back[b][k] = j as u8;
                }
            }
            next[k] += scores[b][k];
        }
        total = next;
    }
    let mut k = (0..24).max_by(|&a, &b| total[a].total_cmp(&total[b])).unwrap_or(0);
    let mut path = vec![0usize; bars];
    for b in (0..bars).rev() {
        path[b] = k;
        k = back[b][k] as usize;
    }
    let mut out: Vec<(u32, KeySignature)> = vec![];
    for (b, &k) in path.iter().enumerate() {
        let sig = signature(k);
        if out.last().map(|l| l.1.fifths != sig.fifths).unwrap_or(true) {
            out.push((b as u32, sig));
        }
    }
    out
}

/// `pitch` written in `key`: the spelling on the line of fifths nearest the key's centre.
pub fn spell(pitch: u8, key: KeySignature) -> Spelling {
    let pc = (pitch % 12) as i32;
    // Line-of-fifths positions: C = 0, G = 1, ... F = -1. The major key with `fifths` f uses f-1 ..= f+5;
    // its centre is f+2; minor keys lean one step sharp for the raised leading tone.
    let centre = key.fifths as i32 + if key.minor { 3 } else { 2 };
    let mut best: Option<(i32, i32)> = None;
    for q in -15i32..=21 {
        if (q * 7).rem_euclid(12) == pc {
            let d = (q - centre).abs();
            if best.map_or(true, |(bd, bq)| d < bd || (d == bd && q > bq)) {
                best = Some((d, q));
            }
        }
    }
    let q = best.map(|b| b.1).unwrap_or(0);
    // The natural step of position q: F C G D A E B repeat every 7; each 7 further is one more sharp.
    let naturals = [3u8, 0, 4, 1, 5, 2, 6]; // F C G D A E B as steps
    let step = naturals[(q + 1).rem_euclid(7) as usize];
    let alter = (q + 1).div_euclid(7) as i8;
    // The octave follows the written step: B#3 sounds as C4, Cb4 as B3.
    let natural_pc = [0i32, 2, 4, 5, 7, 9, 11][step as usize];
    let octave = ((pitch as i32 - natural_pc - alter as i32) / 12 - 1) as i8;
    Spelling { step, alter, octave }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: Spelling) -> String {
        let acc = match s.alter {
            -2 => "bb",
            -1 => "b",
            0 => "",
            1 => "#",
            2 => "##",
            _ => "?",
        };
        format!("{}{acc}{}", s.step_name(), s.octave)
    }

    #[test]
    fn spelling_follows_the_key() {
        let c = KeySignature { fifths: 0, minor: false };
        let g = KeySignature { fifths: 1, minor: false };
        let f = KeySignature { fifths: -1, minor: false };
        let a_minor = KeySignature { fifths: 0, minor: true };
        let db = KeySignature { fifths: -5, minor: false };
        let fs = KeySignature { fifths: 6, minor: false };
        assert_eq!(name(spell(60, c)), "C4");
        assert_eq!(name(spell(66, g)), "F#4");
        assert_eq!(name(spell(70, f)), "Bb4");
        assert_eq!(name(spell(68, a_minor)), "G#4");
        assert_eq!(name(spell(66, db)), "Gb4");
        assert_eq!(name(spell(71, db)), "Cb5");
        assert_eq!(name(spell(65, fs)), "E#4");
        assert_eq!(name(spell(21, c)), "A0");
        assert_eq!(name(spell(108, c)), "C8");
    }

    #[test]
    fn signatures_of_keys() {
        assert_eq!(signature(7), KeySignature { fifths: 1, minor: false }); // G major
        assert_eq!(signature(12 + 9), KeySignature { fifths: 0, minor: true }); // A minor
        assert_eq!(signature(12 + 4), KeySignature { fifths: 1, minor: true }); // E minor
        assert_eq!(signature(1), KeySignature { fifths: -5, minor: false }); // Db major
        assert_eq!(signature(12 + 3), KeySignature { fifths: -6, minor: true });
        // Eb minor
    }

    #[test]
    fn a_scale_in_d_major_then_in_b_flat_major_changes_the_signature_once() {
        let d_major = [62, 64, 66, 67, 69, 71, 73, 74];
        let bb_major = [58, 60, 62, 63, 65, 67, 69, 70];
        let mut placed = vec![];
        // 12 bars of 4/4 in each key, a scale of quarters per two bars (plus the tonic chord tones again).
        for bar in 0..24u64 {
            let scale = if bar < 12 { &d_major } else { &bb_major };
            for beat in 0..4u64 {
                let i = ((bar % 2) * 4 + beat) as usize;
                placed.push(Placed {
                    start: (bar * 4 + beat) * 48,
                    duration: 48,
                    pitch: scale[i],
                    velocity: 64,
                    tuplet: false,
                    grace: false,
                });
                placed.push(Placed {
                    start: (bar * 4 + beat) * 48,
                    duration: 48,
                    pitch: scale[[0, 2, 4, 0][beat as usize]] - 12,
                    velocity: 64,
                    tuplet: false,
                    grace: false,
                });
            }
        }
        let keys = keys_by_bar(&placed, 48, |t| (t / 192) as u32);
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert_eq!(keys[0].1.fifths, 2);
        assert_eq!(keys[1].1.fifths, -2);
        assert!((11..=13).contains(&keys[1].0), "{keys:?}");
    }
}
