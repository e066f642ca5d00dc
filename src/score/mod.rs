//! From a performance (notes in seconds, velocities, pedals) to a score a pianist can read: beats and meter
//! ([`beats`]), onsets and durations on the beat grid ([`quantize`]), right and left hand ([`hands`]), key and
//! note spelling ([`key`]); written as MusicXML ([`musicxml`]) or as beat-aligned MIDI (`midi::write_score`).
//!
//! Time in a score is counted in ticks, [`DIVISIONS`] to the quarter note, from the start of the first bar
//! (a pickup bar, if any, is bar 0 and starts at tick 0).

pub mod beats;
pub mod hands;
pub mod key;
pub mod musicxml;
pub mod quantize;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::notes::{PedalKind, Transcription};

pub use beats::BeatGrid;
pub use key::{KeySignature, Spelling};
pub use quantize::{GridCosts, GRID_COSTS};

/// Ticks per quarter note: 48 holds sixteenths (12), thirty-seconds (6), and eighth and sixteenth triplets
/// (16, 8).
pub const DIVISIONS: u32 = 48;

/// How a performance becomes a score. The same struct behind the CLI's flags and the page's options object
/// (camelCase keys, any left out take their default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoreOptions {
    /// Split the notes into right- and left-hand staves that follow the music (default true). Off: every note
    /// goes to the staff of its register, split at middle C.
    pub hands: bool,
    /// The finest grid: this many onsets per beat in duple subdivisions (default 4: sixteenths in x/4).
    pub subdivisions: u32,
    /// Allow triplet subdivisions of a beat where they fit better (default true).
    pub triplets: bool,
    /// Tempo near which to look for the beat, in beats per minute (default: none, estimated from the notes).
    pub tempo_hint: Option<f64>,
    /// The meter, when known (beats per bar, compound or not); default: estimated.
    pub meter: Option<Meter>,
    /// Where the beat and bar evidence comes from (default: the learned model).
    pub tracker: Tracker,
}

/// The source of the beat tracker's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Tracker {
    /// The learned metrical model (tools/meter, trained on ASAP's training set; shipped as models/meter.pscb).
    #[default]
    Learned,
    /// Hand-made rules: each chord's beat salience and a logistic downbeat model over each beat's notes.
    Rules,
}

impl ScoreOptions {
    /// Options a score can be made with: a clear error for the rest.
    pub fn check(&self) -> Result<()> {
        if ![1, 2, 4, 8].contains(&self.subdivisions) {
            return Err(Error::InvalidOption(format!("subdivisions must be 1, 2, 4 or 8 (got {})", self.subdivisions)));
        }
        if let Some(t) = self.tempo_hint.filter(|t| !(20.0..=400.0).contains(t)) {
            return Err(Error::InvalidOption(format!("tempo hint {t} is not between 20 and 400 beats per minute")));
        }
        if let Some(m) = self.meter.filter(|m| !(2..=4).contains(&m.beats_per_bar)) {
            return Err(Error::InvalidOption(format!(
                "{} beats per bar: the meter must have 2, 3 or 4",
                m.beats_per_bar
            )));
        }
        Ok(())
    }
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            hands: true,
            subdivisions: 4,
            triplets: true,
            tempo_hint: None,
            meter: None,
            tracker: Tracker::Learned,
        }
    }
}

/// Beats per bar and whether a beat divides in three (compound: 6/8, 9/8, 12/8) or two (2/4, 3/4, 4/4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Meter {
    pub beats_per_bar: u32,
    pub compound: bool,
}

impl Meter {
    /// The time signature written for this meter: n/4 for simple meters, 3n/8 for compound ones.
    pub fn time_signature(&self) -> (u32, u32) {
        if self.compound {
            (3 * self.beats_per_bar, 8)
        } else {
            (self.beats_per_bar, 4)
        }
    }

    /// A beat's length in ticks: a quarter, or a dotted quarter in compound meters.
    pub fn beat_ticks(&self) -> u32 {
        if self.compound {
            DIVISIONS * 3 / 2
        } else {
            DIVISIONS
        }
    }

    pub fn bar_ticks(&self) -> u32 {
        self.beat_ticks() * self.beats_per_bar
    }
}

/// The clefs a staff can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clef {
    Treble,
    Bass,
}

/// Which staff a note is written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Staff {
    Right = 1,
    Left = 2,
}

/// A note of the score: where it starts and how long it lasts in ticks, on which staff, and how it is spelled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreNote {
    pub start: u64,
    pub duration: u64,
    pub pitch: u8,
    pub velocity: u8,
    pub staff: Staff,
    pub spelling: Spelling,
    /// Written as a grace note before the notes that start at the same tick (see `quantize::mark_graces`).
    pub grace: bool,
}

/// A pedal held from tick `start` to `end` (beat-aligned, not quantised further).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScorePedal {
    pub kind: PedalKind,
    pub start: u64,
    pub end: u64,
    pub value: u8,
}

/// A score: meter, keys, bars and notes, with the beat times it was quantised against (for a tempo map).
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub meter: Meter,
    /// Beats before the first full bar (an anacrusis), 0 if the piece starts on a downbeat.
    pub pickup_beats: u32,
    /// The key from each listed bar on (bar numbers as written: the pickup is bar 0), first entry at the start.
    pub keys: Vec<(u32, KeySignature)>,
    /// Sorted by (start, staff, pitch), except that a tick's grace notes come first, in the order played.
    pub notes: Vec<ScoreNote>,
    /// Each staff's clef from each listed bar on, as (bar, staff, clef): bar 0 first, then the changes.
    pub clefs: Vec<(u32, Staff, Clef)>,
    pub pedals: Vec<ScorePedal>,
    /// The performance time of every beat from the score's first beat on (seconds).
    pub beat_times: Vec<f64>,
}

impl Score {
    /// The tick where bar `bar` starts (bar 0 is the pickup when there is one).
    pub fn bar_start(&self, bar: u32) -> u64 {
        let pickup = self.pickup_beats as u64 * self.meter.beat_ticks() as u64;
        if self.pickup_beats == 0 {
            bar as u64 * self.meter.bar_ticks() as u64
        } else if bar == 0 {
            0
        } else {
            pickup + (bar as u64 - 1) * self.meter.bar_ticks() as u64
        }
    }

    /// The bar holding tick `tick`.
    pub fn bar_of(&self, tick: u64) -> u32 {
        let pickup = self.pickup_beats as u64 * self.meter.beat_ticks() as u64;
        let bar = self.meter.bar_ticks() as u64;
        if self.pickup_beats == 0 {
            (tick / bar) as u32
        } else if tick < pickup {
            0
        } else {
            1 + ((tick - pickup) / bar) as u32
        }
    }

    /// How many bars are written: enough for every note, and at least one.
    pub fn bars(&self) -> u32 {
        let end = self.notes.iter().map(|n| n.start + n.duration).max().unwrap_or(0);
        let last = if end == 0 { 0 } else { self.bar_of(end - 1) };
        last + 1
    }

    /// The key in force in bar `bar`.
    pub fn key_at(&self, bar: u32) -> KeySignature {
        self.keys.iter().rev().find(|(b, _)| *b <= bar).or(self.keys.first()).map(|k| k.1).unwrap_or_default()
    }
}

/// The whole score stage: beats and meter from the notes, then [`arrange`].
pub fn from_performance(t: &Transcription, options: &ScoreOptions) -> Result<Score> {
    options.check()?;
    if t.notes.is_empty() {
        return Err(Error::Score("there are no notes to write a score of".into()));
    }
    let grid = beats::track(t, options)?;
    arrange(t, &grid, options)
}

/// A score of `t` on a given beat grid (tracked, or annotated): quantisation, hands, key and spelling.
pub fn arrange(t: &Transcription, grid: &BeatGrid, options: &ScoreOptions) -> Result<Score> {
    arrange_with(t, grid, options, &quantize::GRID_COSTS)
}

/// [`arrange`] with other grid costs (to fit them).
pub fn arrange_with(t: &Transcription, grid: &BeatGrid, options: &ScoreOptions, costs: &GridCosts) -> Result<Score> {
    if t.notes.is_empty() {
        return Err(Error::Score("there are no notes to write a score of".into()));
    }
    if grid.times.len() < 2 {
        return Err(Error::Score("fewer than two beats: too short to find a meter".into()));
    }
    let first = t.notes.iter().map(|n| n.onset).fold(f64::INFINITY, f64::min);
    let last = t.notes.iter().map(|n| n.offset).fold(0.0, f64::max);
    let grid = &grid.covering(first, last);
    let mut placed = quantize::quantize(&t.notes, grid, options, costs);
    quantize::mark_graces(&t.notes, &mut placed);
    let staves = if options.hands { hands::assign(&placed) } else { hands::by_register(&placed) };
    let mut notes: Vec<ScoreNote> = placed
        .iter()
        .zip(&staves)
        .map(|(p, &staff)| ScoreNote {
            start: p.start,
            duration: p.duration,
            pitch: p.pitch,
            velocity: p.velocity,
            staff,
            spelling: Spelling::default(),
            grace: p.grace,
        })
        .collect();
    let mut score = Score {
        meter: grid.meter,
        pickup_beats: grid.pickup_beats(),
        keys: vec![],
        notes: vec![],
        clefs: vec![],
        pedals: vec![],
        beat_times: grid.times.clone(),
    };
    let keys = key::keys_by_bar(&placed, grid.meter.beat_ticks() as u64, |t| score.bar_of(t));
    score.keys = keys;
    let beat = grid.meter.beat_ticks() as f64;
    let tick = |s: f64| (grid.position(s).max(0.0) * beat).round() as u64;
    score.pedals = t
        .pedals
        .iter()
        .map(|p| ScorePedal { kind: p.kind, start: tick(p.start), end: tick(p.end), value: p.value })
        .collect();
    for n in &mut notes {
        n.spelling = key::spell(n.pitch, score.key_at(score.bar_of(n.start)));
    }
    // Stable: grace notes first at their tick, in the order they were played (t.notes is in onset order).
    notes.sort_by_key(|n| (n.start, n.staff, !n.grace, if n.grace { 0 } else { n.pitch }));
    score.notes = notes;
    let by_bar: Vec<(u32, Staff, u8)> = score.notes.iter().map(|n| (score.bar_of(n.start), n.staff, n.pitch)).collect();
    score.clefs = hands::clefs(&by_bar, score.bars());
    Ok(score)
}
