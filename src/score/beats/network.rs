//! The learned metrical model (trained by tools/meter on ASAP's training set): per note, the probability that
//! it sounds on a beat and on a downbeat, and the local beat period. Its bundle (`family: "meter"`) holds one
//! graph, `meter` (`notes [N, features]` -> `beat`, `downbeat`, `beat_seconds`, `[N]` each), and the numbers
//! that define its inputs; [`MeterNetwork::inputs`] computes them as tools/meter/data.py's `features` does.

use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::model::{Fact, Graph, Input, Plane, Threads};
use crate::notes::{Note, PedalKind, Transcription};

/// The bundle the score stage runs (tools/meter/export.py; models/README.md).
pub static SHIPPED_BUNDLE: &[u8] = include_bytes!("../../../models/meter.pscb");

/// The inputs this version computes, in order: a bundle must list the same.
const FEATURE_NAMES: [&str; 25] = [
    "log_ioi_prev",
    "log_ioi_next",
    "log_duration",
    "velocity",
    "pitch",
    "log_chord_ioi_prev",
    "log_chord_ioi_next",
    "log_chord_size",
    "chord_lowest",
    "chord_highest",
    "chord_offset",
    "pedal_down",
    "pedal_pressed",
    "pitch_class_0",
    "pitch_class_1",
    "pitch_class_2",
    "pitch_class_3",
    "pitch_class_4",
    "pitch_class_5",
    "pitch_class_6",
    "pitch_class_7",
    "pitch_class_8",
    "pitch_class_9",
    "pitch_class_10",
    "pitch_class_11",
];
const FEATURES: usize = FEATURE_NAMES.len();

/// The header's numbers (tools/meter/export.py writes them from tools/meter/data.py's constants).
#[derive(Debug, Clone, Deserialize)]
pub struct MeterConfig {
    pub features: Vec<String>,
    /// Notes starting within this of a chord's first note belong to the chord.
    pub chord_seconds: f64,
    /// A sustain press this long before to this long after an onset counts as pressed at it.
    pub pedal_before: f64,
    pub pedal_after: f64,
    /// Time intervals enter as ln(min(seconds, interval_clip) + interval_floor).
    pub interval_clip: f64,
    pub interval_floor: f64,
    /// Downbeats among the training set's beats: the prior the downbeat probabilities are relative to.
    pub downbeat_share: f64,
}

/// Per note (in the order of [`MeterNetwork::order`]): the model's outputs.
#[derive(Debug, Clone, Default)]
pub struct NoteMeter {
    pub onsets: Vec<f64>,
    pub beat: Vec<f32>,
    pub downbeat: Vec<f32>,
    /// The local inter-beat interval (seconds).
    pub beat_seconds: Vec<f32>,
    /// The model's `downbeat_share` (see [`MeterConfig`]).
    pub downbeat_share: f64,
}

pub struct MeterNetwork {
    pub config: MeterConfig,
    pub provenance: serde_json::Value,
    graph: Graph,
}

impl MeterNetwork {
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let bundle = Bundle::parse(bytes)?;
        let family = bundle.family()?;
        if family != "meter" {
            return Err(Error::WrongFamily {
                needs: "the score stage".into(),
                expected: "a metrical (meter)",
                found: family.to_string(),
            });
        }
        let config: MeterConfig = serde_json::from_value(bundle.header.clone())
            .map_err(|e| Error::ModelMismatch(format!("meter header: {e}")))?;
        if config.features != FEATURE_NAMES {
            return Err(Error::ModelMismatch(format!(
                "the meter model reads the inputs {:?}; this version computes {FEATURE_NAMES:?}",
                config.features
            )));
        }
        let graph = Graph::load(bundle.part("meter")?, "meter", &[Fact::F32AnyRows(vec![0, FEATURES])])?;
        graph.expect_outputs(3, "beat, downbeat, beat_seconds")?;
        Ok(MeterNetwork { config, provenance: bundle.provenance(), graph })
    }

    /// The shipped model, loaded once per process.
    pub fn shipped() -> Result<Arc<MeterNetwork>> {
        static SHIPPED: OnceLock<std::result::Result<Arc<MeterNetwork>, String>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| MeterNetwork::load(SHIPPED_BUNDLE).map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| Error::ModelMismatch(format!("the shipped meter model: {e}")))
    }

    /// Whether `bytes` are a bundle of this kind (its header says `family: "meter"`), without loading it.
    pub fn is_meter_bundle(bytes: &[u8]) -> bool {
        Bundle::parse(bytes).ok().is_some_and(|b| b.family().ok() == Some("meter"))
    }

    /// The header's numbers and the provenance as one JSON object (`pianoscribe info --json`).
    pub fn to_json(&self, bytes: usize) -> serde_json::Value {
        let c = &self.config;
        serde_json::json!({
            "family": "meter",
            "bytes": bytes,
            "features": c.features,
            "chordSeconds": c.chord_seconds,
            "pedalBefore": c.pedal_before,
            "pedalAfter": c.pedal_after,
            "downbeatShare": c.downbeat_share,
            "provenance": self.provenance,
        })
    }

    /// The notes in the order the model reads them (onset, then pitch: tools/meter/data.read_midi's).
    pub fn order(notes: &[Note]) -> Vec<Note> {
        let mut out: Vec<Note> =
            notes.iter().filter(|n| n.onset.is_finite() && n.offset.is_finite()).copied().collect();
        out.sort_by(|a, b| a.onset.total_cmp(&b.onset).then(a.pitch.cmp(&b.pitch)));
        out
    }

    /// The inputs, `[notes.len() * FEATURES]` row by row, for notes in [`order`](Self::order) and the sustain
    /// pedal's (down, up) times.
    pub fn inputs(&self, notes: &[Note], sustain: &[(f64, f64)]) -> Vec<f32> {
        let c = &self.config;
        let n = notes.len();
        let mut out = vec![0f32; n * FEATURES];
        let log = |x: f64| (x.clamp(0.0, c.interval_clip) + c.interval_floor).ln();
        // Chords: a chord starts at a note more than chord_seconds after the previous chord's first note.
        let mut chord = vec![0usize; n];
        let mut starts: Vec<usize> = vec![];
        for (i, note) in notes.iter().enumerate() {
            if starts.last().is_none_or(|&s| note.onset - notes[s].onset > c.chord_seconds) {
                starts.push(i);
            }
            chord[i] = starts.len() - 1;
        }
        let mut size = vec![0usize; starts.len()];
        let mut lowest = vec![u8::MAX; starts.len()];
        let mut highest = vec![0u8; starts.len()];
        for (i, note) in notes.iter().enumerate() {
            size[chord[i]] += 1;
            lowest[chord[i]] = lowest[chord[i]].min(note.pitch);
            highest[chord[i]] = highest[chord[i]].max(note.pitch);
        }
        let mut sustain = sustain.to_vec();
        sustain.sort_by(|a, b| a.0.total_cmp(&b.0));
        let downs: Vec<f64> = sustain.iter().map(|s| s.0).collect();
        for (i, note) in notes.iter().enumerate() {
            let row = &mut out[i * FEATURES..(i + 1) * FEATURES];
            let k = chord[i];
            let start = notes[starts[k]].onset;
            let prev = if i > 0 { note.onset - notes[i - 1].onset } else { 1.0 };
            let next = if i + 1 < n { notes[i + 1].onset - note.onset } else { 1.0 };
            let chord_prev = if k > 0 { start - notes[starts[k - 1]].onset } else { 1.0 };
            let chord_next = if k + 1 < starts.len() { notes[starts[k + 1]].onset - start } else { 1.0 };
            let values = [
                log(prev),
                log(next),
                log(note.offset - note.onset),
                note.velocity as f64 / 127.0,
                (note.pitch as f64 - 60.0) / 24.0,
                log(chord_prev),
                log(chord_next),
                (size[k] as f64).ln(),
                (note.pitch == lowest[k]) as u8 as f64,
                (note.pitch == highest[k]) as u8 as f64,
                (note.onset - start) / c.chord_seconds,
            ];
            for (r, v) in row.iter_mut().zip(values) {
                *r = v as f32;
            }
            // The pedal is down at the onset under the last press at or before it; pressed near it when a press
            // lies within [onset - pedal_before, onset + pedal_after].
            let last = downs.partition_point(|&d| d <= note.onset);
            row[11] = (last > 0 && note.onset < sustain[last - 1].1) as u8 as f32;
            let lo = downs.partition_point(|&d| d < note.onset - c.pedal_before);
            let hi = downs.partition_point(|&d| d <= note.onset + c.pedal_after);
            row[12] = (hi > lo) as u8 as f32;
            row[13 + (note.pitch % 12) as usize] = 1.0;
        }
        out
    }

    /// The model's outputs for a performance's notes (any order; non-finite ones left out).
    pub fn run(&self, t: &Transcription) -> Result<NoteMeter> {
        let notes = Self::order(&t.notes);
        let sustain: Vec<(f64, f64)> = t
            .pedals
            .iter()
            .filter(|p| p.kind == PedalKind::Sustain && p.start.is_finite())
            .map(|p| (p.start, p.end))
            .collect();
        let n = notes.len();
        if n == 0 {
            return Ok(NoteMeter { downbeat_share: self.config.downbeat_share, ..NoteMeter::default() });
        }
        let x = self.inputs(&notes, &sustain);
        let out = self.graph.run(vec![Input::Data(&[n, FEATURES], &x)], Threads::Pool)?;
        let mut heads = out.into_iter();
        let mut next = |what| Plane::to_vec(heads.next().expect("3 outputs, checked at load"), &[n], what);
        Ok(NoteMeter {
            onsets: notes.iter().map(|n| n.onset).collect(),
            beat: next("beat probabilities")?,
            downbeat: next("downbeat probabilities")?,
            beat_seconds: next("beat periods")?,
            downbeat_share: self.config.downbeat_share,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::Pedal;

    #[derive(Deserialize)]
    struct Fixture {
        notes: Vec<[f64; 4]>,
        sustain: Vec<[f64; 2]>,
        features: Vec<Vec<f32>>,
        beat: Vec<f32>,
        downbeat: Vec<f32>,
        beat_seconds: Vec<f32>,
    }

    fn max_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    /// The shipped model against what tools/meter/export.py computed with numpy and torch when it exported it
    /// (tests/fixtures/meter-parity.json: 300 notes of a validation performance): the same inputs, and the
    /// same outputs from tract as from torch.
    #[test]
    fn inputs_and_outputs_match_the_training_code() {
        let fixture: Fixture = serde_json::from_str(include_str!("../../../tests/fixtures/meter-parity.json")).unwrap();
        let t = Transcription {
            notes: fixture
                .notes
                .iter()
                .map(|n| Note { onset: n[0], offset: n[1], pitch: n[2] as u8, velocity: n[3] as u8 })
                .collect(),
            pedals: fixture
                .sustain
                .iter()
                .map(|s| Pedal { kind: PedalKind::Sustain, start: s[0], end: s[1], value: 127 })
                .collect(),
        };
        let network = MeterNetwork::shipped().unwrap();
        let notes = MeterNetwork::order(&t.notes);
        let sustain: Vec<(f64, f64)> = fixture.sustain.iter().map(|s| (s[0], s[1])).collect();
        let inputs = network.inputs(&notes, &sustain);
        let expected: Vec<f32> = fixture.features.concat();
        // The same notes (exact in the fixture), ln and division in f64, then f32: at most an f32 rounding apart.
        let d = max_difference(&inputs, &expected);
        assert!(d < 1e-6, "inputs differ by {d}");
        let out = network.run(&t).unwrap();
        for (name, got, want) in [
            ("beat", &out.beat, &fixture.beat),
            ("downbeat", &out.downbeat, &fixture.downbeat),
            ("beat_seconds", &out.beat_seconds, &fixture.beat_seconds),
        ] {
            let d = max_difference(got, want);
            eprintln!("{name}: tract and torch differ by at most {d:.2e}");
            // The README states 2e-6 (3.6e-7 measured when the model shipped).
            assert!(d < 2e-6, "{name} differs by {d}");
        }
    }

    #[test]
    fn a_transcription_model_is_not_a_meter_model() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oaf-tiny.pscb")).unwrap();
        let e = MeterNetwork::load(&bytes).err().expect("refused");
        assert!(matches!(e, Error::WrongFamily { .. }), "{e}");
    }

    #[test]
    fn no_notes_give_no_outputs() {
        let out = MeterNetwork::shipped().unwrap().run(&Transcription::default()).unwrap();
        assert!(out.beat.is_empty() && out.onsets.is_empty());
    }
}
