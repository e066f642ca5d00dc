//! Onsets and durations onto the beat grid. Each beat gets one subdivision (1, 2, 4, ... or 3, 6 for
//! triplets; 3 and 6 in compound meters, 2 for a duplet) chosen for the onsets that fall in it: the one
//! whose snapped onsets are closest to the played ones, where a finer or triplet grid has to earn its place.
//! A note's end is snapped to the grid of the beat it ends in, so every position is on its beat's grid and
//! every duration can be written (see `musicxml`). A short note played just before another and snapped onto the
//! same tick is a grace note of it (`mark_graces`), not a chord tone.

use super::{BeatGrid, ScoreOptions};
use crate::notes::Note;

/// A note on the grid: start and duration in ticks from the grid's first beat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    pub start: u64,
    pub duration: u64,
    pub pitch: u8,
    pub velocity: u8,
    /// The onset's beat is divided in three or six.
    pub tuplet: bool,
    /// A grace note of the notes placed at the same tick (played before them, written without a duration).
    pub grace: bool,
}

/// Grace notes: played at least this long before the note they ornament (closer is a chord played a little
/// spread)...
const GRACE_MIN_LEAD: f64 = 0.03;
/// ...at most this long before it, and released by the time it sounds (within `GRACE_RELEASE` seconds)...
const GRACE_MAX_LEAD: f64 = 0.15;
const GRACE_RELEASE: f64 = 0.05;
/// ...within this many semitones of it (a neighbour, a slide or an octave)...
const GRACE_INTERVAL: u8 = 12;
/// ...and set apart in that register: the previous onset within `GRACE_INTERVAL` (not on the same tick) lies
/// at least this many leads before it, and the next after the note it leads into as many leads after that
/// one. An even run of fast notes that the grid cannot separate is not an ornament.
const GRACE_ISOLATION: f64 = 2.5;

/// What a beat's subdivision costs per onset in it, against how far the snapped onsets move (squared beat
/// fractions): a finer or triplet grid has to fit that much better to be chosen. The best point of a grid on
/// asap-train's training split with its annotated beats, by the share of onset positions and note values that
/// equal the written score's (tests/score.rs `grid_costs_are_their_fit_on_the_training_split`).
#[derive(Debug, Clone, PartialEq)]
pub struct GridCosts {
    /// Simple meter: each halving of the step (a beat in 2, 4, 8).
    pub halving: f64,
    /// Simple meter: a beat in three (triplet eighths); in six costs twice this.
    pub triplet: f64,
    /// Compound meter: a beat in three eighths; in six sixteenths costs three times this, a duplet four.
    pub compound: f64,
}

pub const GRID_COSTS: GridCosts = GridCosts { halving: 0.001, triplet: 0.0025, compound: 0.001 };

/// The subdivisions a beat may take and what each costs: plainer grids first, so that ties go to them.
fn candidates(compound: bool, options: &ScoreOptions, costs: &GridCosts) -> Vec<(u32, f64)> {
    let finest = options.subdivisions.max(1);
    let mut out = vec![];
    if compound {
        // A compound beat divides in three eighths (six sixteenths); two is a duplet of dotted eighths.
        out.push((1, 0.0));
        out.push((3, costs.compound));
        if finest >= 4 {
            out.push((6, 3.0 * costs.compound));
        }
        out.push((2, 4.0 * costs.compound));
        return out;
    }
    let mut d = 1;
    let mut cost = 0.0;
    while d <= finest {
        out.push((d, cost));
        d *= 2;
        cost += costs.halving;
    }
    if options.triplets {
        out.push((3, costs.triplet));
        if finest >= 4 {
            out.push((6, 2.0 * costs.triplet));
        }
    }
    out
}

/// Snaps `notes` (seconds) onto `grid` (which must cover them: see `BeatGrid::covering`).
pub fn quantize(notes: &[Note], grid: &BeatGrid, options: &ScoreOptions, costs: &GridCosts) -> Vec<Placed> {
    let beat_ticks = grid.meter.beat_ticks() as f64;
    let cands = candidates(grid.meter.compound, options, costs);
    let default_sub = if grid.meter.compound { 3 } else { options.subdivisions.max(1) };
    let finest = cands.iter().map(|c| c.0).max().unwrap_or(1) as f64;
    // Each onset belongs to the beat whose grid can take it: within half the finest step before a beat it
    // belongs to that beat (it snaps onto the beat itself).
    let positions: Vec<f64> = notes.iter().map(|n| grid.position(n.onset).max(0.0)).collect();
    let beat_of = |p: f64| (p + 0.5 / finest).floor().max(0.0) as usize;
    let beats = positions.iter().map(|&p| beat_of(p) + 1).max().unwrap_or(1);
    let mut members: Vec<Vec<usize>> = vec![vec![]; beats];
    for (i, &p) in positions.iter().enumerate() {
        members[beat_of(p)].push(i);
    }
    // The subdivision of every beat.
    let mut sub = vec![default_sub; beats + 1];
    for (k, idx) in members.iter().enumerate() {
        if idx.is_empty() {
            continue;
        }
        let mut best = (f64::INFINITY, default_sub);
        for &(d, cost) in &cands {
            let err: f64 = idx
                .iter()
                .map(|&i| {
                    let f = positions[i] - k as f64;
                    let q = (f * d as f64).round() / d as f64;
                    (f - q) * (f - q)
                })
                .sum();
            let total = err + cost * idx.len() as f64;
            if total < best.0 - 1e-12 {
                best = (total, d);
            }
        }
        sub[k] = best.1;
    }
    let snap = |p: f64, sub: &[u32]| -> u64 {
        let k = (p.max(0.0)).floor() as usize;
        let d = *sub.get(k).unwrap_or(&default_sub) as f64;
        let f = p - k as f64;
        ((k as f64 + (f * d).round() / d) * beat_ticks).round() as u64
    };
    notes
        .iter()
        .zip(&positions)
        .map(|(n, &p)| {
            let k = beat_of(p);
            let d = sub[k];
            let f = p - k as f64;
            let start = ((k as f64 + (f * d as f64).round() / d as f64) * beat_ticks).round() as u64;
            let step = (beat_ticks / d as f64).round() as u64;
            let end_pos = grid.position(n.offset).max(p);
            let mut end = snap(end_pos, &sub);
            if end < start + step {
                end = start + step;
            }
            Placed {
                start,
                duration: end - start,
                pitch: n.pitch,
                velocity: n.velocity,
                tuplet: d % 3 == 0 && !grid.meter.compound,
                grace: false,
            }
        })
        .collect()
}

/// Marks as grace notes the notes that the grid put on the same tick as later-played notes they lead into:
/// played `GRACE_MIN_LEAD`..`GRACE_MAX_LEAD` seconds before the first of the tick's later notes that are not
/// grace notes themselves, released by the time it sounds, within `GRACE_INTERVAL` semitones of one of them,
/// and set apart from the notes before it (`GRACE_ISOLATION`). `placed[i]` is `notes[i]` on the grid.
pub fn mark_graces(notes: &[Note], placed: &mut [Placed]) {
    let mut order: Vec<usize> = (0..notes.len()).collect();
    order.sort_by(|&a, &b| placed[a].start.cmp(&placed[b].start).then(notes[a].onset.total_cmp(&notes[b].onset)));
    let starts: Vec<u64> = placed.iter().map(|p| p.start).collect();
    let mut by_onset: Vec<usize> = (0..notes.len()).collect();
    by_onset.sort_by(|&a, &b| notes[a].onset.total_cmp(&notes[b].onset));
    // The onsets of the last note before `i` and the first after it, in its register, that the grid put
    // elsewhere.
    let elsewhere =
        |i: usize, j: usize| starts[j] != starts[i] && notes[j].pitch.abs_diff(notes[i].pitch) <= GRACE_INTERVAL;
    // Only notes within the widest isolation window matter (anything farther is apart): a bounded look.
    let window = GRACE_ISOLATION * GRACE_MAX_LEAD;
    let previous = |i: usize| -> Option<f64> {
        let k = by_onset.partition_point(|&j| notes[j].onset < notes[i].onset);
        let near = by_onset[..k].iter().rev().take_while(|&&j| notes[i].onset - notes[j].onset < window);
        near.copied().find(|&j| elsewhere(i, j)).map(|j| notes[j].onset)
    };
    let next = |i: usize| -> Option<f64> {
        let k = by_onset.partition_point(|&j| notes[j].onset <= notes[i].onset);
        let near = by_onset[k..].iter().take_while(|&&j| notes[j].onset - notes[i].onset < window);
        near.copied().find(|&j| elsewhere(i, j)).map(|j| notes[j].onset)
    };
    for group in order.chunk_by(|&a, &b| starts[a] == starts[b]) {
        // Latest-played first, so that an ornament of several grace notes leads into the real note.
        for (k, &i) in group.iter().enumerate().rev() {
            let n = &notes[i];
            let later: Vec<usize> =
                group[k + 1..].iter().copied().filter(|&j| !placed[j].grace && notes[j].onset > n.onset).collect();
            // The group is in onset order: the first of `later` sounds first.
            let Some(&first) = later.first() else { continue };
            let sounds = notes[first].onset;
            let lead = sounds - n.onset;
            placed[i].grace = (GRACE_MIN_LEAD..=GRACE_MAX_LEAD).contains(&lead)
                && n.offset <= sounds + GRACE_RELEASE
                && later
                    .iter()
                    .any(|&j| notes[j].pitch != n.pitch && notes[j].pitch.abs_diff(n.pitch) <= GRACE_INTERVAL)
                && previous(i).is_none_or(|t| n.onset - t >= GRACE_ISOLATION * lead)
                && next(first).is_none_or(|t| t - sounds >= GRACE_ISOLATION * lead);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Meter;

    fn note(onset: f64, offset: f64, pitch: u8) -> Note {
        Note { onset, offset, pitch, velocity: 64 }
    }

    fn grid(compound: bool) -> BeatGrid {
        // Beats every 0.5 s from 0 s.
        let times = (0..20).map(|k| k as f64 * 0.5).collect();
        BeatGrid::new(times, 0, Meter { beats_per_bar: 4, compound }).unwrap()
    }

    #[test]
    fn sixteenths_eighths_and_triplets_land_on_their_grids() {
        let opts = ScoreOptions::default();
        // Beat 0: sixteenths (0, 1/4, 1/2, 3/4) played a little off; beat 1: triplets; beat 2: a quarter.
        let notes = [
            note(0.01, 0.12, 60),
            note(0.13, 0.25, 62),
            note(0.24, 0.37, 64),
            note(0.38, 0.5, 65),
            note(0.5, 0.66, 67),
            note(0.67, 0.83, 69),
            note(0.84, 0.99, 71),
            note(1.02, 1.49, 72),
        ];
        let got: Vec<(u64, u64, bool)> = quantize(&notes, &grid(false), &opts, &GRID_COSTS)
            .iter()
            .map(|p| (p.start, p.duration, p.tuplet))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 12, false),
                (12, 12, false),
                (24, 12, false),
                (36, 12, false),
                (48, 16, true),
                (64, 16, true),
                (80, 16, true),
                (96, 48, false)
            ]
        );
    }

    #[test]
    fn an_onset_just_before_a_beat_goes_on_the_beat_and_short_notes_keep_a_step() {
        let opts = ScoreOptions::default();
        let notes = [note(0.49, 0.5, 60), note(1.0, 1.01, 62)];
        let got: Vec<(u64, u64)> =
            quantize(&notes, &grid(false), &opts, &GRID_COSTS).iter().map(|p| (p.start, p.duration)).collect();
        assert_eq!(got, vec![(48, 48), (96, 48)]);
    }

    #[test]
    fn a_short_note_just_before_another_on_the_same_tick_is_a_grace_note() {
        let opts = ScoreOptions::default();
        let notes = [
            // A grace note (D, 40 ms before the beat, released as C sounds), then a chord spread by 20 ms (not
            // graces), then a note held through the next onset (not a grace), then an ornament two notes long.
            note(0.46, 0.5, 62),
            note(0.5, 0.9, 60),
            note(0.98, 1.4, 60),
            note(1.0, 1.4, 64),
            note(1.42, 1.6, 67),
            note(1.5, 1.9, 65),
            note(1.945, 1.965, 71),
            note(1.965, 2.0, 69),
            note(2.0, 2.4, 67),
            // An even run that the grid cannot separate (40 ms apart onto beat 6): not graces.
            note(2.88, 2.92, 60),
            note(2.92, 2.96, 62),
            note(2.96, 3.0, 64),
            note(3.0, 3.4, 65),
        ];
        let mut placed = quantize(&notes, &grid(false), &opts, &GRID_COSTS);
        mark_graces(&notes, &mut placed);
        let graces: Vec<bool> = placed.iter().map(|p| p.grace).collect();
        assert_eq!(
            graces,
            vec![true, false, false, false, false, false, true, true, false, false, false, false, false]
        );
        assert_eq!((placed[0].start, placed[1].start), (48, 48));
        assert_eq!((placed[6].start, placed[7].start, placed[8].start), (192, 192, 192));
    }

    #[test]
    fn compound_beats_divide_in_three() {
        let opts = ScoreOptions::default();
        // Beat = dotted quarter = 72 ticks; eighths at thirds of a beat.
        let notes = [note(0.0, 0.17, 60), note(0.167, 0.33, 62), note(0.333, 0.5, 64)];
        let got: Vec<(u64, u64)> =
            quantize(&notes, &grid(true), &opts, &GRID_COSTS).iter().map(|p| (p.start, p.duration)).collect();
        assert_eq!(got, vec![(0, 24), (24, 24), (48, 24)]);
    }
}
