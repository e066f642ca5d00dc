//! Right hand or left hand: a split pitch that moves with the music. Notes starting together form an onset
//! group; a Viterbi path over split pitches (notes at or above the split go to the right hand) pays for a
//! hand spanning more than it can reach, for a hand holding more notes than fingers, for a split far from
//! the middle of the keyboard, and for moving the split from one group to the next.

use super::quantize::Placed;
use super::{Clef, Staff};

/// Split pitches considered: notes at or above go to the right hand.
const LOWEST_SPLIT: u8 = 36;
const HIGHEST_SPLIT: u8 = 85;
/// A hand reaches about a ninth comfortably (semitones).
const REACH: f64 = 14.0;
/// Cost per semitone beyond the reach, per extra note beyond five, per octave the split moves, and per
/// octave the split is from middle C.
const OVER_REACH: f64 = 1.0;
const OVER_FINGERS: f64 = 3.0;
const MOVE: f64 = 1.2;
const FROM_MIDDLE: f64 = 0.15;
const MIDDLE_C: f64 = 60.0;

/// Every note on the staff of its register: middle C and above on the right.
pub fn by_register(placed: &[Placed]) -> Vec<Staff> {
    placed.iter().map(|p| if p.pitch >= 60 { Staff::Right } else { Staff::Left }).collect()
}

fn group_cost(pitches: &[u8], split: u8) -> f64 {
    let (mut cost, mut right, mut left) = (0.0, vec![], vec![]);
    for &p in pitches {
        if p >= split {
            right.push(p)
        } else {
            left.push(p)
        }
    }
    for hand in [&right, &left] {
        if let (Some(lo), Some(hi)) = (hand.iter().min(), hand.iter().max()) {
            cost += OVER_REACH * ((*hi as f64 - *lo as f64) - REACH).max(0.0);
        }
        cost += OVER_FINGERS * (hand.len() as f64 - 5.0).max(0.0);
    }
    cost + FROM_MIDDLE * (split as f64 - MIDDLE_C).abs() / 12.0
}

/// The staff of every note of `placed`, in its order.
pub fn assign(placed: &[Placed]) -> Vec<Staff> {
    if placed.is_empty() {
        return vec![];
    }
    // Onset groups in time order.
    let mut order: Vec<usize> = (0..placed.len()).collect();
    order.sort_by_key(|&i| (placed[i].start, placed[i].pitch));
    let mut groups: Vec<Vec<usize>> = vec![];
    for &i in &order {
        match groups.last_mut() {
            Some(g) if placed[g[0]].start == placed[i].start => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    let splits: Vec<u8> = (LOWEST_SPLIT..=HIGHEST_SPLIT).collect();
    let n = splits.len();
    let mut cost: Vec<f64> = vec![0.0; n];
    let mut back: Vec<Vec<u16>> = Vec::with_capacity(groups.len());
    for (g, members) in groups.iter().enumerate() {
        let pitches: Vec<u8> = members.iter().map(|&i| placed[i].pitch).collect();
        let local: Vec<f64> = splits.iter().map(|&s| group_cost(&pitches, s)).collect();
        if g == 0 {
            cost = local;
            back.push(vec![0; n]);
            continue;
        }
        let mut next = vec![f64::INFINITY; n];
        let mut from = vec![0u16; n];
        for (j, &s) in splits.iter().enumerate() {
            for (i, &r) in splits.iter().enumerate() {
                let c = cost[i] + MOVE * (s as f64 - r as f64).abs() / 12.0;
                if c < next[j] {
                    next[j] = c;
                    from[j] = i as u16;
                }
            }
            next[j] += local[j];
        }
        cost = next;
        back.push(from);
    }
    let mut j = (0..n).min_by(|&a, &b| cost[a].total_cmp(&cost[b])).unwrap_or(0);
    let mut staff = vec![Staff::Right; placed.len()];
    for g in (0..groups.len()).rev() {
        for &i in &groups[g] {
            staff[i] = if placed[i].pitch >= splits[j] { Staff::Right } else { Staff::Left };
        }
        j = back[g][j] as usize;
    }
    staff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: u64, pitch: u8) -> Placed {
        Placed { start, duration: 12, pitch, velocity: 64, tuplet: false, grace: false }
    }

    #[test]
    fn a_left_hand_that_stays_high_for_bars_gets_a_treble_clef_and_back() {
        let mut notes = vec![];
        for bar in 0..6u32 {
            for k in 0..4 {
                let left = if (2..4).contains(&bar) { 67 + k } else { 43 + k };
                notes.push((bar, Staff::Left, left));
                notes.push((bar, Staff::Right, 76 + k));
            }
        }
        // One high note alone in bar 5 does not switch.
        notes.push((5, Staff::Left, 70));
        let got = clefs(&notes, 6);
        assert_eq!(
            got,
            vec![
                (0, Staff::Right, Clef::Treble),
                (0, Staff::Left, Clef::Bass),
                (2, Staff::Left, Clef::Treble),
                (4, Staff::Left, Clef::Bass)
            ]
        );
    }

    #[test]
    fn a_melody_above_middle_c_and_a_bass_below_split_there() {
        let placed = [at(0, 72), at(0, 48), at(12, 74), at(12, 52), at(24, 76), at(24, 55)];
        let got = assign(&placed);
        assert_eq!(got, vec![Staff::Right, Staff::Left, Staff::Right, Staff::Left, Staff::Right, Staff::Left]);
    }

    #[test]
    fn a_left_hand_that_climbs_above_middle_c_stays_left() {
        // Right hand high (around C6), left-hand arpeggio C3 - G3 - C4 - E4 - G4: a fixed split at middle C
        // would hand the top of the arpeggio to the right hand.
        let mut placed = vec![];
        let arpeggio = [48, 55, 60, 64, 67, 64, 60, 55];
        for (k, &p) in arpeggio.iter().enumerate() {
            placed.push(at(12 * k as u64, p));
            if k % 2 == 0 {
                placed.push(at(12 * k as u64, 84 + (k as u8 % 3)));
            }
        }
        let got = assign(&placed);
        for (p, s) in placed.iter().zip(&got) {
            let want = if p.pitch >= 84 { Staff::Right } else { Staff::Left };
            assert_eq!(*s, want, "pitch {}", p.pitch);
        }
        assert_eq!(by_register(&placed).iter().filter(|&&s| s == Staff::Right).count(), 9);
    }
}

/// The clef of each staff, bar by bar, as (bar, staff, clef) wherever it changes (bar 0 first): a staff whose
/// notes sit far from its usual clef's range for a bar changes clef, and changes back only once the notes
/// have clearly returned (hysteresis), so that a clef does not flicker on a single low or high bar.
pub fn clefs(notes: &[(u32, Staff, u8)], bars: u32) -> Vec<(u32, Staff, Clef)> {
    let mut out = vec![];
    for staff in [Staff::Right, Staff::Left] {
        let mut sums = vec![(0u32, 0u32); bars as usize];
        for &(bar, s, pitch) in notes {
            if s == staff && (bar as usize) < sums.len() {
                sums[bar as usize].0 += pitch as u32;
                sums[bar as usize].1 += 1;
            }
        }
        let mut clef = if staff == Staff::Right { Clef::Treble } else { Clef::Bass };
        out.push((0, staff, clef));
        for (bar, &(sum, count)) in sums.iter().enumerate() {
            if count < 3 {
                continue;
            }
            let mean = sum as f64 / count as f64;
            let next = match clef {
                // Treble to bass below G3 on average; back above C4.
                Clef::Treble if mean < 55.0 => Clef::Bass,
                Clef::Bass if mean >= 64.0 => Clef::Treble,
                c => c,
            };
            if next != clef {
                clef = next;
                if bar == 0 {
                    out.retain(|c| !(c.0 == 0 && c.1 == staff));
                }
                out.push((bar as u32, staff, clef));
            }
        }
    }
    out.sort_by_key(|c| (c.0, c.1));
    out
}
