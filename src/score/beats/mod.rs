//! Beats, downbeats and meter from a performance's notes. The evidence comes from the learned metrical model
//! ([`network`], trained by tools/meter on ASAP's training set: per note, beat and downbeat probabilities and the
//! beat period) or, with `Tracker::Rules`, from hand-made rules (each chord's beat salience and a logistic
//! downbeat model, fitted on asap-train's training split); either way the decoding is the same: a
//! dynamic programme over time and beat period, then a Viterbi path over positions in the bar. tests/score.rs
//! measures both on ../shared/data/asap-dev.

use super::{Meter, ScoreOptions, Tracker};
use crate::error::{Error, Result};
use crate::notes::{Note, PedalKind, Transcription};

mod bars;
mod chords;
pub mod network;
mod tempo;

use bars::{bars, beat_features, is_compound};
pub use bars::{DownbeatModel, DOWNBEAT_FEATURES, DOWNBEAT_MODEL};
use chords::{chords, Chord};
pub use chords::{SALIENCE_BIAS, SALIENCE_FEATURES, SALIENCE_WEIGHTS};
use network::{MeterNetwork, NoteMeter};
use tempo::{onset_strength, overall_period, track_beats};
pub use tempo::{TempoPrior, TrackerCosts};

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
        // Beats before the first, while a note would fall more than half a sixteenth before the grid. None
        // before the recording's start: the beat-aligned MIDI begins there, so a beat before it would shift
        // every bar line off the played downbeats. A shorter first beat from time 0 takes those notes instead.
        while first < times[0] - 0.125 * p0 {
            let t = (times[0] - p0).max(0.0);
            times.insert(0, t);
            downbeat += 1;
            if t == 0.0 {
                break;
            }
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

/// What the tracker reads from a performance: its notes in order, their chords and the sustain presses, and
/// the learned model's outputs when it runs (each chord's salience is then its notes' highest beat
/// probability).
struct Performance {
    pub(super) notes: Vec<Note>,
    pub(super) chords: Vec<Chord>,
    pub(super) presses: Vec<f64>,
    pub(super) learned: Option<NoteMeter>,
}

impl Performance {
    fn new(t: &Transcription, options: &ScoreOptions) -> Result<Self> {
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
        let mut chords = chords(&notes, &presses);
        let learned = match options.tracker {
            Tracker::Learned => Some(MeterNetwork::shipped()?.run(t)?),
            Tracker::Rules => None,
        };
        if let Some(m) = &learned {
            let salience = per_chord(&chords, &m.onsets, &m.beat);
            for (c, p) in chords.iter_mut().zip(salience) {
                c.salience = p;
            }
        }
        Ok(Performance { notes, chords, presses, learned })
    }

    /// The beats, before bars: dynamic programming over time and period around an overall period. That period
    /// is the tempo hint's; or, with the learned model, whichever of a few metrical levels (around the learned
    /// periods' median and the autocorrelation's peak) gives beats that best explain the model's per-note beat
    /// probabilities, with a prior towards the learned period; or, with the rules, the autocorrelation peak
    /// under tempo priors.
    fn beats(&self, options: &ScoreOptions, decoding: &Decoding) -> Vec<f64> {
        let strength = onset_strength(&self.chords);
        let auto = || overall_period(&strength, &self.chords, &decoding.tempo_prior);
        let costs = if self.learned.is_some() { &decoding.learned_costs } else { &decoding.rules_costs };
        let track = |p: f64| track_beats(&strength, p, costs);
        let (period, beats) = match (options.tempo_hint, &self.learned) {
            (Some(bpm), _) => (60.0 / bpm, track(60.0 / bpm)),
            (None, None) => {
                let p = auto();
                (p, track(p))
            }
            (None, Some(m)) => {
                let learned_period = weighted_median(&m.beat_seconds, &m.beat);
                let mut centres = vec![auto()];
                centres.extend(learned_period);
                let prior = |p: f64| learned_period.map_or(0.0, |c| -decoding.level_prior * (p / c).ln().powi(2));
                let mut candidates: Vec<f64> = vec![];
                for c in centres {
                    for ratio in LEVEL_RATIOS {
                        let p = (c * ratio).clamp(MIN_PERIOD, MAX_PERIOD);
                        if candidates.iter().all(|q| (q / p).ln().abs() > LEVEL_DISTINCT) {
                            candidates.push(p);
                        }
                    }
                }
                candidates
                    .into_iter()
                    .map(|p| {
                        let beats = track(p);
                        (note_likelihood(&beats, m) / m.onsets.len().max(1) as f64 + prior(p), p, beats)
                    })
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, p, beats)| (p, beats))
                    .expect("at least one candidate")
            }
        };
        if beats.len() >= 2 {
            return beats;
        }
        // Too little music for the tracker (a single chord, say): beats at the overall period.
        let start = self.notes[0].onset;
        (0..2).map(|k| start + k as f64 * period).collect()
    }
}

/// The metrical levels tried around each centre period (beats twice as fast ... twice as slow).
const LEVEL_RATIOS: [f64; 5] = [0.5, 2.0 / 3.0, 1.0, 1.5, 2.0];
/// Candidate periods closer than this (in log) to one already tried are not tried again.
const LEVEL_DISTINCT: f64 = 0.1;
/// Beat periods the tracker considers at all (seconds): 400 to 24 beats per minute.
const MIN_PERIOD: f64 = 0.15;
const MAX_PERIOD: f64 = 2.5;
/// A note within this of a beat is on it (as tools/meter/data.py's targets count it).
const ON_BEAT: f64 = 0.05;

/// How well beats explain the learned per-note beat probabilities: the log-likelihood of every note being on
/// a beat (within `ON_BEAT`) where it is, and off the beats where it is not.
fn note_likelihood(beats: &[f64], m: &NoteMeter) -> f64 {
    m.onsets
        .iter()
        .zip(&m.beat)
        .map(|(&t, &p)| {
            let k = beats.partition_point(|&b| b < t);
            let near = [k.wrapping_sub(1), k].iter().filter_map(|&i| beats.get(i)).any(|b| (b - t).abs() <= ON_BEAT);
            let p = (p as f64).clamp(1e-4, 1.0 - 1e-4);
            if near {
                p.ln()
            } else {
                (1.0 - p).ln()
            }
        })
        .sum()
}

/// Each chord's highest value among the notes that start in it (from its time to the next chord's), for values
/// per note at sorted `onsets`.
fn per_chord(chords: &[Chord], onsets: &[f64], values: &[f32]) -> Vec<f64> {
    let mut out = vec![0.0; chords.len()];
    let mut k = 0;
    for (i, c) in chords.iter().enumerate() {
        let end = chords.get(i + 1).map_or(f64::INFINITY, |n| n.time);
        while k < onsets.len() && onsets[k] < c.time {
            k += 1;
        }
        while k < onsets.len() && onsets[k] < end {
            out[i] = f64::max(out[i], values[k] as f64);
            k += 1;
        }
    }
    out
}

/// The median of `values` weighted by `weights` (None when the weights sum to nothing).
fn weighted_median(values: &[f32], weights: &[f32]) -> Option<f64> {
    let mut pairs: Vec<(f32, f32)> = values
        .iter()
        .zip(weights)
        .filter(|(v, w)| v.is_finite() && **v > 0.0 && **w > 0.0)
        .map(|(v, w)| (*v, *w))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|p| p.1 as f64).sum();
    if !(total > 0.0) {
        return None;
    }
    let mut acc = 0.0;
    pairs
        .iter()
        .find(|p| {
            acc += p.1 as f64;
            acc >= 0.5 * total
        })
        .map(|p| p.0 as f64)
}

/// The decoding's numbers: the few that are not learned by the metrical model or the rules' logistic models,
/// but chosen by measuring beat and downbeat F (tests/score.rs `decoding_learned_is_its_fit_on_the_validation_split`
/// and `decoding_rules_is_its_fit_on_the_training_split` measure grids of them on asap-train and fail unless
/// these are their best points).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoding {
    /// The learned tracker's choice among metrical levels: the mean log-likelihood per note, less this times
    /// the squared log ratio of the candidate period to the learned periods' median.
    pub level_prior: f64,
    /// The cost (log-likelihood) of a bar one beat longer or shorter than the meter, with the learned model's
    /// downbeat evidence: a beat the tracker missed or added, or a phrase that starts off the bar. Lower costs
    /// mend more bars, but every beat dropped can cost beat F.
    pub learned_slip: f64,
    /// The same with the rules' downbeat evidence.
    pub rules_slip: f64,
    /// The rules' overall period: the autocorrelation peak under these priors.
    pub tempo_prior: TempoPrior,
    /// The beat tracker's costs with the learned model's beat probabilities, and with the rules' salience.
    pub learned_costs: TrackerCosts,
    pub rules_costs: TrackerCosts,
}

/// The numbers the score stage uses: the best points of the grids in tests/score.rs on asap-train (the rules'
/// on its training split, the learned tracker's on the metrical model's validation split; README, Sheet music).
pub const DECODING: Decoding = Decoding {
    level_prior: 0.2,
    learned_slip: 4.0,
    rules_slip: 2.0,
    tempo_prior: TempoPrior { period: 0.4, chords_per_beat: 3.0, width: 0.7 },
    learned_costs: TrackerCosts { change: 10.0, period: 2.0, beat: 1.0 },
    rules_costs: TrackerCosts { change: 5.0, period: 2.0, beat: 1.0 },
};

/// Beats and meter tracked from the notes: chords and their beat salience, an onset-strength signal, the
/// overall period (autocorrelation under tempo priors, or the tempo hint), beats by dynamic programming
/// over time and period, then bars (beats per bar and where they start, the beats mended where a bar runs a
/// beat long or short) from each beat's downbeat probability.
pub fn track(t: &Transcription, options: &ScoreOptions) -> Result<BeatGrid> {
    Tracking::new(t, options)?.grid(options, &DOWNBEAT_MODEL, &DECODING)
}

/// A performance read for tracking (with the learned model's outputs when `options` use it), to track it with
/// other models or decoding numbers (to fit and evaluate them) without running the network again.
pub struct Tracking(Performance);

impl Tracking {
    pub fn new(t: &Transcription, options: &ScoreOptions) -> Result<Self> {
        Ok(Tracking(Performance::new(t, options)?))
    }

    /// The beats before bars (before any is mended to make whole bars), as [`track`] finds them with these
    /// numbers.
    pub fn beats(&self, options: &ScoreOptions, decoding: &Decoding) -> Vec<f64> {
        self.0.beats(options, decoding)
    }

    /// The beat grid, as [`track`] finds it with this downbeat model (used by the rules) and these numbers.
    pub fn grid(&self, options: &ScoreOptions, model: &DownbeatModel, decoding: &Decoding) -> Result<BeatGrid> {
        let performance = &self.0;
        let beats = performance.beats(options, decoding);
        let beats_per_bar = options.meter.map(|m| m.beats_per_bar);
        let (beats, per_bar, downbeat) = bars(&beats, performance, model, decoding, beats_per_bar);
        let compound = options.meter.map_or_else(|| is_compound(&beats, &performance.chords), |m| m.compound);
        BeatGrid::new(beats, downbeat, Meter { beats_per_bar: per_bar, compound })
    }
}

/// Each chord's time and salience features (what the rules' salience weights are fitted on).
pub fn salience_features(t: &Transcription, options: &ScoreOptions) -> Result<Vec<(f64, [f64; SALIENCE_FEATURES])>> {
    let performance = Performance::new(t, &ScoreOptions { tracker: Tracker::Rules, ..options.clone() })?;
    Ok(performance.chords.iter().map(|c| (c.time, c.features)).collect())
}

/// The tracked beats before bars, with each one's downbeat features (what a downbeat model is fitted on).
pub fn downbeat_features(
    t: &Transcription,
    options: &ScoreOptions,
) -> Result<(Vec<f64>, Vec<[f64; DOWNBEAT_FEATURES]>)> {
    let performance = Performance::new(t, &ScoreOptions { tracker: Tracker::Rules, ..options.clone() })?;
    let beats = performance.beats(options, &DECODING);
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
    fn the_beats_that_explain_the_note_probabilities_best_are_at_their_level() {
        // Notes every 0.25 s, every other one likely on a beat: beats every 0.5 s explain them, not every 0.25 s
        // or every 1 s, nor the off-beats.
        let m = NoteMeter {
            onsets: (0..32).map(|k| k as f64 * 0.25).collect(),
            beat: (0..32).map(|k| if k % 2 == 0 { 0.9 } else { 0.1 }).collect(),
            ..NoteMeter::default()
        };
        let at = |start: f64, period: f64| -> Vec<f64> { (0..40).map(|k| start + k as f64 * period).collect() };
        let best = note_likelihood(&at(0.0, 0.5), &m);
        for other in [at(0.0, 0.25), at(0.0, 1.0), at(0.25, 0.5)] {
            assert!(note_likelihood(&other, &m) < best - 1.0);
        }
        assert_eq!(weighted_median(&[0.4, 0.5, 2.0], &[1.0, 1.0, 0.5]), Some(0.5));
        assert_eq!(weighted_median(&[0.4, 0.5], &[0.0, 0.0]), None);
    }

    #[test]
    fn a_chord_takes_its_notes_highest_value() {
        let notes = [60u8, 64, 67, 48].map(|p| Note {
            onset: if p == 48 { 1.0 } else { 0.0 },
            offset: 2.0,
            pitch: p,
            velocity: 64,
        });
        let chords = chords::chords(&notes, &[]);
        assert_eq!(
            per_chord(&chords, &[0.0, 0.0, 0.01, 1.0], &[0.2, 0.7, 0.1, 0.4]),
            vec![0.7f32 as f64, 0.4f32 as f64]
        );
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

    #[test]
    fn covering_starts_no_beat_before_the_recording() {
        // A slow first beat at 0.6 s (period 1.8 s) and a note at 0.3 s: a whole period earlier would be -1.2 s,
        // so the added beat is at 0 (a short pickup beat), and the MIDI's bar lines stay on the downbeats.
        let g = BeatGrid::new(vec![0.6, 2.4, 4.2, 6.0, 7.8], 0, Meter { beats_per_bar: 2, compound: false })
            .unwrap()
            .covering(0.3, 7.0);
        assert_eq!(g.times, vec![0.0, 0.6, 2.4, 4.2, 6.0, 7.8]);
        assert_eq!(g.downbeats(), vec![0.6, 4.2, 7.8]);
        assert!((g.position(0.3) - 0.5).abs() < 1e-12);
        let notes = [
            Note { onset: 0.3, offset: 0.6, pitch: 60, velocity: 64 },
            Note { onset: 0.6, offset: 7.0, pitch: 48, velocity: 64 },
        ];
        let t = Transcription { notes: notes.to_vec(), pedals: vec![] };
        let s = crate::score::arrange(&t, &g, &ScoreOptions::default()).unwrap();
        let bars = crate::midi::bar_times(&crate::midi::write_score(&s), "test").unwrap();
        for d in g.downbeats().into_iter().filter(|&d| d < 7.0) {
            assert!(bars.iter().any(|b| (b - d).abs() < 0.002), "downbeat {d}, bar lines {bars:?}");
        }
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
