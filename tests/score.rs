//! The score stage on ASAP (../shared/data/asap-dev: 31 real performances as MIDI, with annotated beats,
//! downbeats, time signatures and keys).
//!
//! - On the annotated beats: every MusicXML file validates against the MusicXML 4.0 XSD, and the beat-aligned
//!   MIDI's bar lines fall on the annotated downbeats.
//! - On tracked beats (the whole score stage): beat and downbeat F-measure (mir_eval, 70 ms), meter and key
//!   accuracy, per performance and averaged, printed with --nocapture; the averages must reach the targets.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use std::process::Command;

use pianoscribe::metrics::event_f_measure;
use pianoscribe::notes::read_file as read_transcription;
use pianoscribe::score::{self, BeatGrid, Meter, ScoreOptions, Tracker};
use pianoscribe::{midi, Transcription};

mod common;
use common::{repo, shared};

/// One annotated performance.
struct Performance {
    name: String,
    midi: PathBuf,
    beats: Vec<f64>,
    downbeats: Vec<f64>,
    /// The first annotated time signature (numerator, denominator) and key (sharps, negative for flats).
    time_signature: (u32, u32),
    key: Option<i8>,
    first_downbeat: usize,
    /// The score as MIDI (one track per staff, the last the lowest) and its annotated beats (score seconds).
    score_midi: PathBuf,
    score_beats: Vec<f64>,
    /// The written score as MusicXML (ASAP's, from MuseScore).
    xml_score: PathBuf,
}

impl Performance {
    fn meter(&self) -> Meter {
        let (n, d) = self.time_signature;
        if d == 8 && n % 3 == 0 && n > 3 {
            Meter { beats_per_bar: n / 3, compound: true }
        } else {
            Meter { beats_per_bar: n, compound: false }
        }
    }

    fn transcription(&self) -> Transcription {
        read_transcription(&self.midi).unwrap()
    }
}

/// The performances of asap-dev, or of the ASAP-style folder PIANOSCRIBE_ASAP_SET names (e.g. asap-train, to
/// measure on the metrical model's validation split), kept to the performance MIDI files listed one per line
/// in the file PIANOSCRIBE_ASAP_ONLY names (tools/meter/data.py --list writes the validation split's).
fn asap() -> Vec<Performance> {
    let set = std::env::var_os("PIANOSCRIBE_ASAP_SET").map(PathBuf::from);
    let only: Option<Vec<String>> = std::env::var_os("PIANOSCRIBE_ASAP_ONLY")
        .map(|f| std::fs::read_to_string(f).unwrap().lines().map(|l| l.trim().to_string()).collect());
    let root = set.clone().unwrap_or_else(|| shared("data/asap-dev"));
    let out = read_asap(&root, |midi| only.as_ref().is_none_or(|o| o.iter().any(|m| m == midi)));
    if set.is_none() && only.is_none() {
        assert_eq!(out.len(), 31, "asap-dev lists 31 performances");
    }
    out
}

/// The training split of asap-train: every performance but the metrical model's validation split
/// (tests/fixtures/meter-validation.txt, which tools/meter/test_data.py checks against the training code's
/// split). What the rules' weights and decoding numbers are fitted on.
fn asap_training_split() -> Vec<Performance> {
    let validation = meter_validation_split();
    let out = read_asap(&shared("data/asap-train"), |midi| !validation.iter().any(|v| v == midi));
    assert_eq!(out.len(), 643 - validation.len(), "asap-train lists 643 performances");
    out
}

/// The metrical model's validation split of asap-train (performance MIDI paths), which it never trained on:
/// what the learned tracker's decoding numbers are chosen on.
fn meter_validation_split() -> Vec<String> {
    let text = std::fs::read_to_string(common::repo("tests/fixtures/meter-validation.txt")).unwrap();
    text.split_whitespace().map(str::to_string).collect()
}

/// The performances of an ASAP-style folder whose performance MIDI (path under the folder) `keep` accepts.
fn read_asap(root: &std::path::Path, keep: impl Fn(&str) -> bool) -> Vec<Performance> {
    let csv = std::fs::read_to_string(root.join("metadata.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (perf, ann) = (col("midi_performance"), col("performance_annotations"));
    let (score_midi, score_ann) = (col("midi_score"), col("midi_score_annotations"));
    let xml_score = col("xml_score");
    let mut out = vec![];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        if !keep(cells[perf]) {
            continue;
        }
        let text = std::fs::read_to_string(root.join(cells[ann])).unwrap();
        let (mut beats, mut downbeats, mut time_signature, mut key, mut first_downbeat) =
            (vec![], vec![], None, None, None);
        for row in text.lines().filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = row.split('\t').collect();
            let t: f64 = fields[0].parse().unwrap();
            let kind: Vec<&str> = fields[2].split(',').collect();
            if kind[0] == "db" {
                downbeats.push(t);
                first_downbeat.get_or_insert(beats.len());
            }
            beats.push(t);
            if let Some(ts) = kind.get(1).filter(|s| !s.is_empty()) {
                let (n, d) = ts.split_once('/').unwrap();
                time_signature.get_or_insert((n.parse().unwrap(), d.parse().unwrap()));
            }
            if let Some(k) = kind.get(2).filter(|s| !s.is_empty()) {
                key.get_or_insert(k.parse().unwrap());
            }
        }
        let score_beats = std::fs::read_to_string(root.join(cells[score_ann]))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').next().unwrap().parse().unwrap())
            .collect();
        out.push(Performance {
            score_midi: root.join(cells[score_midi]),
            xml_score: root.join(cells[xml_score]),
            score_beats,
            name: cells[perf].trim_end_matches(".mid").to_string(),
            midi: root.join(cells[perf]),
            beats,
            downbeats,
            time_signature: time_signature.unwrap_or((4, 4)),
            key,
            first_downbeat: first_downbeat.unwrap_or(0),
        });
    }
    out
}

/// xmllint against the MusicXML 4.0 XSD (tests/musicxml-4.0), offline.
fn validate(files: &[PathBuf]) {
    let dir = repo("tests/musicxml-4.0");
    let out = Command::new("xmllint")
        .env("XML_CATALOG_FILES", dir.join("catalog.xml"))
        .args(["--nonet", "--noout", "--schema"])
        .arg(dir.join("musicxml.xsd"))
        .args(files)
        .output()
        .expect("xmllint (Debian libxml2-utils) must be installed");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "MusicXML files do not validate:\n{}", &report[..report.len().min(4000)]);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pianoscribe-score-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file_name(p: &Performance) -> String {
    p.name.replace('/', "_")
}

/// The score stage on the annotated beats: valid MusicXML, and bar lines of the beat-aligned MIDI on the
/// annotated downbeats (to the microsecond rounding of MIDI tempi), for every performance whose bars keep
/// one meter (the score has one meter; some pieces change it, e.g. Ravel's Ondine).
#[test]
fn annotated_beats_give_valid_musicxml_and_midi_bars_on_the_downbeats() {
    let dir = scratch("annotated");
    let mut files = vec![];
    let mut checked = 0;
    let mut rows = vec![];
    eprintln!(
        "{:<58} {:>6} {:>6} {:>6} {:>6} {:>4}",
        "on the annotated beats", "notes", "hands", "onset", "value", "key"
    );
    for p in asap() {
        let t = p.transcription();
        let grid = BeatGrid::new(p.beats.clone(), p.first_downbeat, p.meter()).unwrap();
        let s = score::arrange(&t, &grid, &ScoreOptions::default()).unwrap();
        let a = agreement(&p, &t, &s);
        // Enharmonic keys count as the same key (F# major written with six flats is Gb major).
        let key_ok = p.key.map(|k| (k as i32 - s.keys[0].1.fifths as i32).rem_euclid(12) == 0);
        eprintln!(
            "{:<58} {:>6} {:>6.3} {:>6.3} {:>6.3} {:>4}",
            p.name,
            a.matched,
            a.hands,
            a.onsets,
            a.values,
            key_ok.map_or("-", |k| if k { "yes" } else { "no" })
        );
        rows.push((a, key_ok));
        let path = dir.join(format!("{}.musicxml", file_name(&p)));
        std::fs::write(&path, score::musicxml::write(&s, &p.name)).unwrap();
        files.push(path);
        let per_bar = p.meter().beats_per_bar as usize;
        let one_meter =
            p.beats[p.first_downbeat..].chunks(per_bar).zip(p.downbeats.iter()).all(|(bar, d)| bar[0] == *d);
        if !one_meter {
            continue;
        }
        checked += 1;
        let bars = midi::bar_times(&midi::write_score(&s), &p.name).unwrap();
        // Every annotated downbeat has a bar line within 2 ms.
        let worst = p
            .downbeats
            .iter()
            .map(|d| bars.iter().map(|b| (b - d).abs()).fold(f64::INFINITY, f64::min))
            .fold(0.0, f64::max);
        assert!(worst < 0.002, "{}: a downbeat is {worst} s from the nearest bar line", p.name);
    }
    assert!(checked >= 20, "only {checked} performances keep one meter");
    let mean = |f: &dyn Fn(&Agreement) -> f64| rows.iter().map(|r| f(&r.0)).sum::<f64>() / rows.len() as f64;
    let keys = rows.iter().filter_map(|r| r.1).collect::<Vec<_>>();
    eprintln!(
        "mean of {}: hands {:.3}, onset position {:.3}, note value {:.3}; key {}/{}",
        rows.len(),
        mean(&|a| a.hands),
        mean(&|a| a.onsets),
        mean(&|a| a.values),
        keys.iter().filter(|&&k| k).count(),
        keys.len()
    );
    eprintln!("{checked} performances keep one meter; their bar lines fall on the annotated downbeats");
    if std::env::var_os("PIANOSCRIBE_ASAP_SET").is_none() && std::env::var_os("PIANOSCRIBE_ASAP_ONLY").is_none() {
        let keys_right = keys.iter().filter(|&&k| k).count() as f64;
        let measured =
            [None, None, None, Some(mean(&|a| a.hands)), Some(mean(&|a| a.onsets)), Some(mean(&|a| a.values))];
        assert_readme("| annotated beats (the rest of the stage)", &[&measured[..], &[Some(keys_right)]].concat());
        let stated = common::readme_figures("| performances that keep one meter");
        assert_eq!(stated, vec![checked as f64], "README: the performances whose bar lines are checked");
    }
    validate(&files);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CLI's `score` on a folder writes one valid MusicXML file and one MIDI file per performance.
#[test]
fn cli_scores_a_folder() {
    let dir = scratch("cli");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    // Names with dots: "take.1" and "take.2" must not both become "take.musicxml".
    for (i, p) in asap().iter().take(2).enumerate() {
        std::fs::copy(&p.midi, input.join(format!("take.{}.mid", i + 1))).unwrap();
    }
    let status = Command::new(env!("CARGO_BIN_EXE_pianoscribe"))
        .args(["score"])
        .arg(&input)
        .arg("-o")
        .arg(dir.join("xml"))
        .arg("--midi")
        .arg(dir.join("mid"))
        .status()
        .unwrap();
    assert!(status.success());
    let xml: Vec<PathBuf> = std::fs::read_dir(dir.join("xml")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(xml.len(), 2);
    assert!(dir.join("xml/take.1.musicxml").exists() && dir.join("mid/take.2.mid").exists());
    assert_eq!(std::fs::read_dir(dir.join("mid")).unwrap().count(), 2);
    validate(&xml);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad input is a clear error: no notes, or a file that is not MIDI.
#[test]
fn cli_score_errors_are_clear() {
    let dir = scratch("errors");
    let empty = dir.join("empty.tsv");
    std::fs::write(&empty, "onset\toffset\tpitch\tvelocity\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pianoscribe"))
        .args(["score"])
        .arg(&empty)
        .arg("-o")
        .arg(dir.join("x.musicxml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("no notes"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where time `t` falls among `beats` (fractional beat index; linear, edge periods outside).
fn beat_position(beats: &[f64], t: f64) -> f64 {
    let n = beats.len();
    if t <= beats[0] {
        return (t - beats[0]) / (beats[1] - beats[0]);
    }
    if t >= beats[n - 1] {
        return (n - 1) as f64 + (t - beats[n - 1]) / (beats[n - 1] - beats[n - 2]);
    }
    let k = beats.partition_point(|&b| b <= t) - 1;
    k as f64 + (t - beats[k]) / (beats[k + 1] - beats[k])
}

/// The score's notes as (beat position, length in beats, pitch, right hand?), from the score MIDI's tracks:
/// the last track is the left hand's staff, the others the right hand's.
fn score_notes(p: &Performance) -> Vec<(f64, f64, u8, bool)> {
    let bytes = std::fs::read(&p.score_midi).unwrap();
    let tracks: Vec<Transcription> =
        midi::read_tracks(&bytes, &p.name).unwrap().into_iter().filter(|t| !t.notes.is_empty()).collect();
    let mut out = vec![];
    for (rank, t) in tracks.iter().enumerate() {
        let right = rank + 1 < tracks.len();
        for n in &t.notes {
            let a = beat_position(&p.score_beats, n.onset);
            let b = beat_position(&p.score_beats, n.offset);
            out.push((a, b - a, n.pitch, right));
        }
    }
    out
}

/// How the score stage did on one performance, against the score: the fraction of performance notes (matched
/// to a score note of the same pitch within half a beat, through the annotated beats) written on the score's
/// staff, with the score's position in the beat, and with the score's length.
struct Agreement {
    matched: usize,
    hands: f64,
    onsets: f64,
    values: f64,
}

fn agreement(p: &Performance, t: &Transcription, s: &score::Score) -> Agreement {
    let reference = score_notes(p);
    let beat_ticks = s.meter.beat_ticks() as f64;
    // Our notes by (pitch, performance onset), to pair with the transcription's notes: the score keeps the
    // performance order within a pitch, so the k-th note of a pitch is the k-th note of that pitch.
    let mut ours: std::collections::HashMap<u8, Vec<&score::ScoreNote>> = Default::default();
    for n in &s.notes {
        ours.entry(n.pitch).or_default().push(n);
    }
    let mut seen: std::collections::HashMap<u8, usize> = Default::default();
    let (mut matched, mut hands, mut onsets, mut values) = (0, 0, 0, 0);
    let mut used = vec![false; reference.len()];
    for n in &t.notes {
        let k = seen.entry(n.pitch).or_default();
        let Some(mine) = ours.get(&n.pitch).and_then(|v| v.get(*k)) else { continue };
        *k += 1;
        let pos = beat_position(&p.beats, n.onset);
        let best = reference
            .iter()
            .enumerate()
            .filter(|(i, r)| !used[*i] && r.2 == n.pitch && (r.0 - pos).abs() < 0.5)
            .min_by(|a, b| (a.1 .0 - pos).abs().total_cmp(&(b.1 .0 - pos).abs()));
        let Some((i, r)) = best else { continue };
        used[i] = true;
        matched += 1;
        if (mine.staff == score::Staff::Right) == r.3 {
            hands += 1;
        }
        let our_pos = mine.start as f64 / beat_ticks;
        if (our_pos.fract() - r.0.rem_euclid(1.0)).abs() < 0.02 {
            onsets += 1;
        }
        if (mine.duration as f64 / beat_ticks - r.1).abs() < 0.02 {
            values += 1;
        }
    }
    let f = |x: usize| if matched == 0 { 0.0 } else { x as f64 / matched as f64 };
    Agreement { matched, hands: f(hands), onsets: f(onsets), values: f(values) }
}

/// One performance's figures for the score stage on tracked beats.
struct Row {
    beat: f64,
    down: f64,
    meter_ok: bool,
    /// The tracked time signature, and the annotated one where they differ ("2/4 (4/4)").
    meter: String,
    /// What a reader meets in our score and in the written one (when the set has it).
    notation: (Notation, Option<Notation>),
    /// The tracked beat period over the annotated one (medians): 0.5 where beats come twice as fast.
    tempo: f64,
    agreement: Agreement,
    key_ok: Option<bool>,
}

/// The score stage on `t` (the performance's notes, or a transcription of its audio), against the
/// annotations before `until` seconds; writes the MusicXML into `dir` and returns its path with the figures.
fn tracked_row(
    p: &Performance,
    t: &Transcription,
    options: &ScoreOptions,
    until: f64,
    dir: &std::path::Path,
) -> (PathBuf, Row) {
    // PIANOSCRIBE_GIVEN_METER=1 / PIANOSCRIBE_GIVEN_TEMPO=1: the annotated meter / median tempo as if given
    // (--meter, --tempo), to see what the tracker loses to each.
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let meter = (set("PIANOSCRIBE_GIVEN_METER") && (2..=4).contains(&p.meter().beats_per_bar)).then(|| p.meter());
    let tempo =
        set("PIANOSCRIBE_GIVEN_TEMPO").then(|| 60.0 / median_interval(&p.beats)).filter(|t| (20.0..=400.0).contains(t));
    let options =
        &ScoreOptions { meter: meter.or(options.meter), tempo_hint: tempo.or(options.tempo_hint), ..options.clone() };
    let s = score::from_performance(t, options).unwrap();
    let grid = BeatGrid::new(s.beat_times.clone(), s.pickup_beats as usize, s.meter).unwrap();
    let before = |v: &[f64]| v.iter().copied().filter(|&x| x < until).collect::<Vec<f64>>();
    let xml = score::musicxml::write(&s, &p.name);
    // asap-train holds some performances without their MusicXML score.
    let written = std::fs::read_to_string(&p.xml_score).ok().map(|x| Notation::of(&x));
    let row = Row {
        notation: (Notation::of(&xml), written),
        beat: event_f_measure(&before(&p.beats), &before(&s.beat_times), 0.07).f1,
        down: event_f_measure(&before(&p.downbeats), &before(&grid.downbeats()), 0.07).f1,
        meter_ok: s.meter == p.meter(),
        meter: {
            let sig = |m: Meter| format!("{}/{}", m.time_signature().0, m.time_signature().1);
            if s.meter == p.meter() {
                sig(s.meter)
            } else {
                format!("{} ({})", sig(s.meter), sig(p.meter()))
            }
        },
        tempo: median_interval(&before(&s.beat_times)) / median_interval(&before(&p.beats)),
        agreement: agreement(p, t, &s),
        key_ok: p.key.map(|k| (k as i32 - s.keys[0].1.fifths as i32).rem_euclid(12) == 0),
    };
    let path = dir.join(format!("{}.musicxml", file_name(p)));
    std::fs::write(&path, &xml).unwrap();
    (path, row)
}

/// What users complain about in MIDI-to-score output, counted in a MusicXML file (as text: both files are
/// plain partwise MusicXML): printed rests per bar, tied notes (a tie starting) per note, clef changes per 10
/// bars (clefs beyond each staff's first), voices holding notes per bar (both staves), and notes in tuplets
/// per note.
#[derive(Debug, Clone, Copy, Default)]
struct Notation {
    rests_per_bar: f64,
    ties_per_note: f64,
    clef_changes_per_10_bars: f64,
    voices_per_bar: f64,
    tuplets_per_note: f64,
}

impl Notation {
    fn of(xml: &str) -> Notation {
        let count = |s: &str| xml.matches(s).count() as f64;
        let bars = count("<measure ").max(1.0);
        let notes = count("<pitch>").max(1.0);
        let staves = if xml.contains("<staves>2</staves>") { 2.0 } else { 1.0 };
        // Printed rests (not hidden with print-object="no"), and the voices that hold notes in each bar.
        let mut rests = 0.0;
        let mut voices = 0.0;
        for bar in xml.split("<measure ").skip(1) {
            let mut numbers = std::collections::BTreeSet::new();
            for note in bar.split("<note").skip(1) {
                let note = note.split("</note>").next().unwrap_or("");
                if note.contains("<rest") && !note.starts_with(r#" print-object="no""#) {
                    rests += 1.0;
                }
                if note.contains("<pitch>") {
                    if let Some(v) = note.split("<voice>").nth(1).and_then(|v| v.split('<').next()) {
                        numbers.insert(v.trim().to_string());
                    }
                }
            }
            voices += numbers.len() as f64;
        }
        Notation {
            rests_per_bar: rests / bars,
            ties_per_note: count("<tie type=\"start\"") / notes,
            clef_changes_per_10_bars: (count("<clef") - staves).max(0.0) / bars * 10.0,
            voices_per_bar: voices / bars,
            tuplets_per_note: count("<time-modification>") / notes,
        }
    }
}

/// Prints each performance's notation counts, ours against the written score's, and the means (ours, the
/// written scores'; none when the set has no written scores).
fn print_notation(title: &str, rows: &[(String, Row)]) -> Option<(Notation, Notation)> {
    eprintln!(
        "{:<58} {:>13} {:>13} {:>13} {:>13} {:>13}",
        format!("{title}: ours / written"),
        "rests/bar",
        "ties/note",
        "clefs/10bars",
        "voices/bar",
        "tuplets/note"
    );
    let line = |name: &str, a: &Notation, b: &Notation| {
        eprintln!(
            "{name:<58} {:>6.2}/{:<6.2} {:>6.3}/{:<6.3} {:>6.2}/{:<6.2} {:>6.2}/{:<6.2} {:>6.3}/{:<6.3}",
            a.rests_per_bar,
            b.rests_per_bar,
            a.ties_per_note,
            b.ties_per_note,
            a.clef_changes_per_10_bars,
            b.clef_changes_per_10_bars,
            a.voices_per_bar,
            b.voices_per_bar,
            a.tuplets_per_note,
            b.tuplets_per_note
        )
    };
    let rows: Vec<(&String, &Notation, &Notation)> =
        rows.iter().filter_map(|(name, r)| r.notation.1.as_ref().map(|w| (name, &r.notation.0, w))).collect();
    if rows.is_empty() {
        return None;
    }
    for (name, ours, written) in &rows {
        line(name, ours, written);
    }
    let n = rows.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Notation) -> f64, k: usize| {
        rows.iter().map(|(_, ours, written)| f(if k == 0 { ours } else { written })).sum::<f64>() / n
    };
    let m = |k| Notation {
        rests_per_bar: mean(&|x| x.rests_per_bar, k),
        ties_per_note: mean(&|x| x.ties_per_note, k),
        clef_changes_per_10_bars: mean(&|x| x.clef_changes_per_10_bars, k),
        voices_per_bar: mean(&|x| x.voices_per_bar, k),
        tuplets_per_note: mean(&|x| x.tuplets_per_note, k),
    };
    line(&format!("mean of {}", rows.len()), &m(0), &m(1));
    Some((m(0), m(1)))
}

/// Checks a README row against what was measured, cell by cell (`None`: a cell the README leaves empty): a
/// figure to the decimals it is printed with, a count "12/31" exactly.
fn assert_readme(row: &str, measured: &[Option<f64>]) {
    let cells = common::readme_cells(row);
    assert_eq!(cells.len(), measured.len(), "README row {row:?} has cells {cells:?}");
    for (cell, m) in cells.iter().zip(measured) {
        match m {
            None => assert!(cell.is_empty(), "README row {row:?}: {cell:?} where nothing is measured"),
            Some(m) => {
                let number = cell.split('/').next().unwrap().trim();
                let stated: f64 = number.parse().unwrap_or_else(|_| panic!("README row {row:?}: {cell:?}"));
                let decimals = number.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
                assert!(
                    (stated - m).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-9,
                    "README row {row:?} states {cell}, measured {m:.4}: update the README"
                );
            }
        }
    }
}

fn median_interval(times: &[f64]) -> f64 {
    let mut d: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_by(f64::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Prints the rows (with --nocapture) and their means; returns the means as the README's tables give them:
/// beat F, downbeat F, meters right, hands, onset position, note value, keys right.
fn print_table(title: &str, rows: &[(String, Row)]) -> [f64; 7] {
    eprintln!(
        "{:<58} {:>6} {:>6} {:>5} {:>12} {:>6} {:>6} {:>6} {:>4}",
        title, "beatF", "downF", "tempo", "meter", "hands", "onset", "value", "key"
    );
    let yes = |b: bool| if b { "yes" } else { "no" };
    for (name, r) in rows {
        let a = &r.agreement;
        let key = r.key_ok.map_or("-", yes);
        eprintln!(
            "{name:<58} {:>6.3} {:>6.3} {:>5.2} {:>12} {:>6.3} {:>6.3} {:>6.3} {key:>4}",
            r.beat, r.down, r.tempo, r.meter, a.hands, a.onsets, a.values
        );
    }
    let n = rows.len() as f64;
    let mean = |f: &dyn Fn(&Row) -> f64| rows.iter().map(|(_, r)| f(r)).sum::<f64>() / n;
    let (beat, down) = (mean(&|r| r.beat), mean(&|r| r.down));
    let keys: Vec<bool> = rows.iter().filter_map(|(_, r)| r.key_ok).collect();
    let meters = rows.iter().filter(|(_, r)| r.meter_ok).count();
    let keys_right = keys.iter().filter(|&&k| k).count();
    let (hands, onsets, values) =
        (mean(&|r| r.agreement.hands), mean(&|r| r.agreement.onsets), mean(&|r| r.agreement.values));
    eprintln!(
        "mean of {}: beat F {beat:.3}, downbeat F {down:.3}, meter {meters}/{}, hands {hands:.3}, onset {onsets:.3}, value {values:.3}, key {keys_right}/{}",
        rows.len(),
        rows.len(),
        keys.len()
    );
    let (compositions, beat_c, down_c, meter_c) = per_composition(rows);
    eprintln!(
        "mean of {compositions} compositions (each its performances' mean first): beat F {beat_c:.3}, downbeat F {down_c:.3}, meter right for {meter_c:.3}"
    );
    [beat, down, meters as f64, hands, onsets, values, keys_right as f64]
}

/// The composition a performance plays: its folder, less ASAP's variants of it ("24-1_no_repeat" is "24-1").
fn composition(name: &str) -> &str {
    let folder = name.rsplit_once('/').map_or(name, |(folder, _)| folder);
    folder.find("_no_").map_or(folder, |k| &folder[..k])
}

/// Means over compositions of each composition's mean (beat F, downbeat F, share of meters right), with the
/// number of compositions: a composition played 25 times weighs as much as one played once.
fn per_composition(rows: &[(String, Row)]) -> (usize, f64, f64, f64) {
    let mut groups: std::collections::BTreeMap<&str, Vec<&Row>> = std::collections::BTreeMap::new();
    for (name, r) in rows {
        groups.entry(composition(name)).or_default().push(r);
    }
    let k = groups.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Row) -> f64| {
        groups.values().map(|g| g.iter().map(|r| f(r)).sum::<f64>() / g.len() as f64).sum::<f64>() / k
    };
    let meter = mean(&|r| if r.meter_ok { 1.0 } else { 0.0 });
    (groups.len(), mean(&|r| r.beat), mean(&|r| r.down), meter)
}

#[test]
fn compositions_group_asaps_variants_of_a_piece() {
    assert_eq!(composition("Beethoven/Piano_Sonatas/24-1_no_2_repeat/Cui02"), "Beethoven/Piano_Sonatas/24-1");
    assert_eq!(composition("Beethoven/Piano_Sonatas/24-1/Lisiecki01"), "Beethoven/Piano_Sonatas/24-1");
    assert_eq!(composition("Chopin/Etudes_op_10/1/HSU02"), "Chopin/Etudes_op_10/1");
}

/// The whole score stage on the performances: beats, downbeats and meter tracked from the notes, against the
/// annotations (mir_eval's F-measure, 70 ms), and the score's agreement with the written one. Prints a table
/// with --nocapture. The floors are where the tracker stands (README, Sheet music); the issue's targets are
/// beat F >= 0.80 and downbeat F >= 0.60.
///
/// tools/score/chain.sh runs it on the whole chain: with PIANOSCRIBE_ASAP_TRANSCRIBED=DIR (transcriptions of
/// the performances' rendered audio, DIR/<name>.mid) and PIANOSCRIBE_ASAP_SECONDS=S (the audio's first S
/// seconds; 0 for all), it scores the performance MIDI cut to S seconds and the transcriptions, side by side.
#[test]
fn tracked_beats_on_asap() {
    let transcribed = std::env::var_os("PIANOSCRIBE_ASAP_TRANSCRIBED").map(PathBuf::from);
    let seconds: f64 = std::env::var("PIANOSCRIBE_ASAP_SECONDS").ok().map_or(0.0, |v| v.parse().unwrap());
    let until = if seconds > 0.0 { seconds } else { f64::INFINITY };
    let dir = scratch("tracked");
    // The transcriptions' MusicXML files (same names as the performances'), when there are any.
    let chain_dir = dir.join("chain");
    if transcribed.is_some() {
        std::fs::create_dir_all(&chain_dir).unwrap();
    }
    let rules_dir = dir.join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    let learned = ScoreOptions::default();
    let rules = ScoreOptions { tracker: Tracker::Rules, ..ScoreOptions::default() };
    let mut files = vec![];
    let (mut rows, mut rule_rows, mut chain_rows) = (vec![], vec![], vec![]);
    for p in asap() {
        let mut t = p.transcription();
        t.notes.retain(|n| n.onset < until);
        t.pedals.retain(|x| x.start < until);
        let (path, row) = tracked_row(&p, &t, &learned, until, &dir);
        files.push(path);
        rows.push((p.name.clone(), row));
        let (path, row) = tracked_row(&p, &t, &rules, until, &rules_dir);
        files.push(path);
        rule_rows.push((p.name.clone(), row));
        if let Some(d) = &transcribed {
            let heard = read_transcription(&d.join(format!("{}.mid", file_name(&p)))).unwrap();
            let (path, row) = tracked_row(&p, &heard, &learned, until, &chain_dir);
            files.push(path);
            chain_rows.push((p.name.clone(), row));
        }
    }
    let cut = if seconds > 0.0 { format!(", first {seconds} s") } else { String::new() };
    let by_rules = print_table(&format!("performance MIDI{cut}, hand-made rules"), &rule_rows);
    let learned = print_table(&format!("performance MIDI{cut}, learned model"), &rows);
    let notation = print_notation("learned model", &rows);
    if !chain_rows.is_empty() {
        print_table(&format!("transcribed from rendered audio{cut}, learned model"), &chain_rows);
    }
    validate(&files);
    // On asap-dev as it is (no other set, nothing given, whole performances): the README's rows.
    let plain = ["PIANOSCRIBE_ASAP_SET", "PIANOSCRIBE_ASAP_ONLY", "PIANOSCRIBE_GIVEN_METER", "PIANOSCRIBE_GIVEN_TEMPO"]
        .iter()
        .all(|v| std::env::var_os(v).is_none_or(|x| x.is_empty()));
    if transcribed.is_none() && seconds == 0.0 && plain {
        assert_readme("| learned model (default), tracked beats", &learned.map(Some));
        // The shipped bundle states the same figures in its provenance (`pianoscribe info` prints them).
        let network = score::beats::network::MeterNetwork::shipped().unwrap();
        let stated = network.provenance["asap_dev"].as_str().unwrap_or_default().to_string();
        let measured = format!(
            "beat F {:.3}, downbeat F {:.3}, meter right {}/{n}, key right {}/{n} ",
            learned[0],
            learned[1],
            learned[2],
            learned[6],
            n = rows.len()
        );
        assert!(
            stated.starts_with(&measured),
            "models/meter.pscb provenance.asap_dev {stated:?}, measured {measured:?}"
        );
        assert_readme("| hand-made rules (`--tracker rules`), tracked beats", &by_rules.map(Some));
        let (ours, written) = notation.expect("asap-dev has its written scores");
        let cells = |n: Notation| {
            [n.rests_per_bar, n.ties_per_note, n.clef_changes_per_10_bars, n.voices_per_bar, n.tuplets_per_note]
                .map(Some)
        };
        assert_readme("| our score (learned model)", &cells(ours));
        assert_readme("| the written score", &cells(written));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Logistic regression by Newton's method with an L2 penalty on every weight (the bias's too): the weights.
fn fit_logistic(rows: &[Vec<f64>], labels: &[f64], l2: f64) -> Vec<f64> {
    let n = rows[0].len();
    let mut w = vec![0.0; n];
    for _ in 0..50 {
        let mut gradient: Vec<f64> = w.iter().map(|x| l2 * x).collect();
        let mut hessian = vec![vec![0.0; n]; n];
        for (k, row) in hessian.iter_mut().enumerate() {
            row[k] = l2;
        }
        for (x, &y) in rows.iter().zip(labels) {
            let p = 1.0 / (1.0 + (-x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()).exp());
            for j in 0..n {
                gradient[j] += (p - y) * x[j];
                for k in 0..n {
                    hessian[j][k] += p * (1.0 - p) * x[j] * x[k];
                }
            }
        }
        // Solve hessian * step = gradient (Gaussian elimination, partial pivoting).
        let mut a: Vec<Vec<f64>> = hessian
            .into_iter()
            .zip(&gradient)
            .map(|(mut r, g)| {
                r.push(*g);
                r
            })
            .collect();
        for c in 0..n {
            let pivot = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())).unwrap();
            a.swap(c, pivot);
            for r in c + 1..n {
                let f = a[r][c] / a[c][c];
                let (above, below) = a.split_at_mut(r);
                for (x, y) in below[0][c..].iter_mut().zip(&above[c][c..]) {
                    *x -= f * y;
                }
            }
        }
        let mut step = vec![0.0; n];
        for c in (0..n).rev() {
            step[c] = (a[c][n] - (c + 1..n).map(|k| a[c][k] * step[k]).sum::<f64>()) / a[c][c];
        }
        for (x, s) in w.iter_mut().zip(&step) {
            *x -= s;
        }
        if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-10 {
            break;
        }
    }
    w
}

/// The rules' two logistic models (`--tracker rules`) are what fitting them on the training split of
/// asap-train gives (L2 1.0), so that no number in them comes from asap-dev: each chord's beat salience
/// (`SALIENCE_WEIGHTS`: chords within 50 ms of an annotated beat against the rest), then, with those weights,
/// each tracked beat's downbeat probability (`DOWNBEAT_MODEL`: beats within 70 ms of an annotated downbeat
/// against the rest). To refit after a change to the features: run this test with --nocapture and copy the
/// printed weights, salience first (the downbeat features depend on the beats it gives).
#[test]
fn rules_weights_are_their_fit_on_the_training_split() {
    use rayon::prelude::*;
    use score::beats::{self, DownbeatModel, DOWNBEAT_FEATURES as F, DOWNBEAT_MODEL};
    use score::beats::{SALIENCE_BIAS, SALIENCE_FEATURES, SALIENCE_WEIGHTS};
    let options = ScoreOptions::default();
    let performances = asap_training_split();
    let near = |events: &[f64], t: f64, within: f64| {
        let k = events.partition_point(|&e| e < t);
        [k.wrapping_sub(1), k].iter().filter_map(|&i| events.get(i)).any(|e| (e - t).abs() <= within)
    };
    let check = |what: &str, shipped: &[f64], fitted: &[f64]| {
        let show = |w: &[f64]| w.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(", ");
        eprintln!("{what}, fitted on {} performances: [{}]", performances.len(), show(fitted));
        for (k, (s, f)) in shipped.iter().zip(fitted).enumerate() {
            assert!((s - f).abs() < 1e-3, "{what} weight {k}: shipped {s}, fitted {f}: update the constants");
        }
    };

    type Rows = (Vec<Vec<f64>>, Vec<f64>);
    let salience: Vec<Rows> = performances
        .par_iter()
        .map(|p| {
            let chords = beats::salience_features(&p.transcription(), &options).unwrap();
            let rows = chords.iter().map(|(_, x)| x.iter().copied().chain([1.0]).collect()).collect();
            let labels = chords.iter().map(|(t, _)| near(&p.beats, *t, 0.05) as u8 as f64).collect();
            (rows, labels)
        })
        .collect();
    let (rows, labels): (Vec<_>, Vec<_>) = salience.into_iter().unzip();
    let w = fit_logistic(&rows.concat(), &labels.concat(), 1.0);
    check("salience weights and bias", &[&SALIENCE_WEIGHTS[..], &[SALIENCE_BIAS]].concat(), &w);
    assert_eq!(w.len(), SALIENCE_FEATURES + 1);

    let downbeat: Vec<Rows> = performances
        .par_iter()
        .map(|p| {
            let (beats, features) = beats::downbeat_features(&p.transcription(), &options).unwrap();
            let rows = DownbeatModel::inputs(&features)
                .iter()
                .map(|input| input.iter().flatten().copied().chain([1.0]).collect())
                .collect();
            let labels = beats.iter().map(|&b| near(&p.downbeats, b, 0.07) as u8 as f64).collect();
            (rows, labels)
        })
        .collect();
    let (rows, labels): (Vec<_>, Vec<_>) = downbeat.into_iter().unzip();
    let labels = labels.concat();
    let w = fit_logistic(&rows.concat(), &labels, 1.0);
    let rate = labels.iter().sum::<f64>() / labels.len() as f64;
    let shipped = [
        &DOWNBEAT_MODEL.own[..],
        &DOWNBEAT_MODEL.previous,
        &DOWNBEAT_MODEL.next,
        &[DOWNBEAT_MODEL.bias, DOWNBEAT_MODEL.rate],
    ]
    .concat();
    check("downbeat model (own, previous, next, bias, rate)", &shipped, &[&w[..3 * F + 1], &[rate]].concat());
}

/// A performance read for tracking, with its notes, for measuring decodings.
type Tracked = (Performance, score::beats::Tracking, Transcription);

fn prepare_tracking(performances: Vec<Performance>, options: &ScoreOptions) -> Vec<Tracked> {
    use rayon::prelude::*;
    performances
        .into_par_iter()
        .map(|p| {
            let t = p.transcription();
            let tracking = score::beats::Tracking::new(&t, options).unwrap();
            (p, tracking, t)
        })
        .collect()
}

/// The mean over performances of beat F and downbeat F together (70 ms), tracked with `decoding`.
fn decoding_measure(set: &[Tracked], options: &ScoreOptions, decoding: &score::beats::Decoding) -> f64 {
    use rayon::prelude::*;
    // Collected, then summed in order: the same figure on every run, whatever the threads did.
    let each: Vec<f64> = set
        .par_iter()
        .map(|(p, tracking, t)| {
            let first = t.notes.iter().map(|n| n.onset).fold(f64::INFINITY, f64::min);
            let last = t.notes.iter().map(|n| n.offset).fold(0.0, f64::max);
            let grid = tracking.grid(options, &score::beats::DOWNBEAT_MODEL, decoding).unwrap().covering(first, last);
            let beat = event_f_measure(&p.beats, &grid.times, 0.07).f1;
            let down = event_f_measure(&p.downbeats, &grid.downbeats(), 0.07).f1;
            0.5 * (beat + down)
        })
        .collect();
    each.iter().sum::<f64>() / set.len() as f64
}

/// The mean beat F (70 ms) of the beats before bars, tracked with `decoding`.
fn beats_measure(set: &[Tracked], options: &ScoreOptions, decoding: &score::beats::Decoding) -> f64 {
    use rayon::prelude::*;
    let each: Vec<f64> = set
        .par_iter()
        .map(|(p, tracking, _)| event_f_measure(&p.beats, &tracking.beats(options, decoding), 0.07).f1)
        .collect();
    each.iter().sum::<f64>() / set.len() as f64
}

type Measure = fn(&[Tracked], &ScoreOptions, &score::beats::Decoding) -> f64;

/// A grid point must beat the shipped numbers by more than this (in mean F) to replace them: smaller
/// differences come and go with any change to the data or the model, and chasing them moves numbers back and
/// forth between points that are equally good.
const DECODING_TOLERANCE: f64 = 0.002;

/// The best point of a grid of decodings by `measure`, every point printed; `shipped` (a point of the grid)
/// unless another beats it by more than `DECODING_TOLERANCE`.
fn best_decoding(
    what: &str,
    set: &[Tracked],
    options: &ScoreOptions,
    measure: Measure,
    grid: Vec<(String, score::beats::Decoding)>,
    shipped: &score::beats::Decoding,
) -> score::beats::Decoding {
    best_point(what, set.len(), grid, |d| measure(set, options, d), shipped)
}

/// The best point of a grid of numbers by `measure` (over `performances`), every point printed; `shipped` (a
/// point of the grid) unless another beats it by more than `DECODING_TOLERANCE`.
fn best_point<T: PartialEq>(
    what: &str,
    performances: usize,
    grid: Vec<(String, T)>,
    measure: impl Fn(&T) -> f64,
    shipped: &T,
) -> T {
    let mut scored: Vec<(f64, String, T)> = grid.into_iter().map(|(label, d)| (measure(&d), label, d)).collect();
    for (m, label, _) in &scored {
        eprintln!("{what}: {label}: {m:.4}");
    }
    let top = scored.iter().map(|s| s.0).fold(f64::NEG_INFINITY, f64::max);
    let k = scored.iter().position(|s| s.0 == top).unwrap();
    let held = scored.iter().position(|s| &s.2 == shipped).expect("the shipped numbers are a point of the grid");
    let k = if top - scored[held].0 <= DECODING_TOLERANCE { held } else { k };
    let (m, label, d) = scored.swap_remove(k);
    eprintln!("{what}: chosen {label} ({m:.4}; the best {top:.4}) over {performances} performances");
    d
}

/// `base`, and `base` with each of one tracker's costs (`costs` picks the tracker's) halved or doubled, the
/// others kept: a fit checks that no single move does better.
fn cost_moves(
    base: &score::beats::Decoding,
    costs: fn(&mut score::beats::Decoding) -> &mut score::beats::TrackerCosts,
) -> Vec<(String, score::beats::Decoding)> {
    let mut centre = base.clone();
    let mut out = vec![(format!("{:?}", costs(&mut centre)), centre)];
    for f in [0.5, 2.0] {
        for field in 0..3 {
            let mut d = base.clone();
            let c = costs(&mut d);
            match field {
                0 => c.change *= f,
                1 => c.period *= f,
                _ => c.beat *= f,
            }
            out.push((format!("{c:?}"), d));
        }
    }
    out
}

/// The learned tracker's decoding numbers (`beats::DECODING`: level prior, bar slip cost, the tracker's costs)
/// are the best points of grids on the metrical model's validation split of asap-train (its network never
/// trained there; asap-dev is held out), by the mean of beat F and downbeat F: the level prior and slip cost,
/// then the tracker's costs, each halved or doubled. About 10 minutes on 2 cores, so not part of
/// `./build.sh test`: `cargo test --release --test score decoding_ -- --ignored --nocapture` runs this and the
/// rules' grids, prints every point and fails unless no point beats the shipped numbers by more than
/// `DECODING_TOLERANCE` (then update them).
#[test]
#[ignore]
fn decoding_learned_is_its_fit_on_the_validation_split() {
    use score::beats::{Decoding, DECODING};
    let validation = meter_validation_split();
    let learned = ScoreOptions::default();
    let set = prepare_tracking(read_asap(&shared("data/asap-train"), |m| validation.iter().any(|v| v == m)), &learned);
    assert_eq!(set.len(), validation.len());
    let mut grid = vec![];
    for level_prior in [0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2] {
        for learned_slip in [3.0, 4.0, 6.0] {
            let d = Decoding { level_prior, learned_slip, ..DECODING };
            grid.push((format!("level prior {level_prior}, slip {learned_slip}"), d));
        }
    }
    let fitted = best_decoding("learned, validation split", &set, &learned, decoding_measure, grid, &DECODING);
    // Each later grid varies numbers that the earlier ones kept as shipped: the point to hold is the fit so far.
    let grid = cost_moves(&fitted, |d| &mut d.learned_costs);
    let fitted =
        best_decoding("learned tracker's costs, validation split", &set, &learned, decoding_measure, grid, &fitted);
    assert_eq!(fitted, DECODING, "a grid point beats the shipped decoding numbers: update beats::DECODING");
}

/// The rules' decoding numbers (`beats::DECODING`) are the best points of grids on the training split of
/// asap-train (where the rules' logistic models are fitted; asap-dev is held out): the tempo priors, then the
/// tracker's costs (each halved or doubled), by the beat F of the beats before bars (which the downbeat model
/// does not touch), then the bar slip cost by the mean of beat F and downbeat F. The downbeat model is fitted
/// on the beats the priors and costs give: after a change to them, refit it
/// (`rules_weights_are_their_fit_on_the_training_split`) before the slip cost is chosen.
#[test]
#[ignore]
fn decoding_rules_is_its_fit_on_the_training_split() {
    use score::beats::{Decoding, TempoPrior, DECODING};
    let rules = ScoreOptions { tracker: Tracker::Rules, ..ScoreOptions::default() };
    let set = prepare_tracking(asap_training_split(), &rules);
    // The two priors multiply into one log-normal (around the geometric mean of their centres), so only the
    // product of the period and the chords a beat matters: the grid varies the period, at 3 chords a beat.
    let mut grid = vec![];
    for period in [0.3, 0.4, 0.5, 0.6] {
        for width in [0.5, 0.7, 1.0] {
            let tempo_prior = TempoPrior { period, chords_per_beat: 3.0, width };
            grid.push((format!("period {period} s, width {width}"), Decoding { tempo_prior, ..DECODING }));
        }
    }
    let fitted = best_decoding("rules' tempo priors, training split", &set, &rules, beats_measure, grid, &DECODING);
    // Each later grid varies numbers that the earlier ones kept as shipped: the point to hold is the fit so far.
    let grid = cost_moves(&fitted, |d| &mut d.rules_costs);
    let fitted = best_decoding("rules' tracker costs, training split", &set, &rules, beats_measure, grid, &fitted);
    let grid = [1.0, 2.0, 3.0, 4.0, 6.0]
        .into_iter()
        .map(|rules_slip| (format!("slip {rules_slip}"), Decoding { rules_slip, ..fitted.clone() }))
        .collect();
    let fitted = best_decoding("rules' slip cost, training split", &set, &rules, decoding_measure, grid, &fitted);
    assert_eq!(fitted, DECODING, "a grid point beats the shipped decoding numbers: update beats::DECODING");
}

/// The quantiser's grid costs (`score::GRID_COSTS`: what a finer or triplet subdivision of a beat must earn)
/// are the best point of a grid on asap-train's training split with its annotated beats (so that the beats'
/// errors play no part), by the mean of the shares of notes whose position in the beat and length equal the
/// written score's: the shipped costs and each of them halved or doubled. About 3 minutes on 2 cores, so not
/// part of `./build.sh test`: `cargo test --release --test score grid_costs -- --ignored --nocapture` prints
/// every point and fails unless none beats the shipped costs by more than `DECODING_TOLERANCE`.
#[test]
#[ignore]
fn grid_costs_are_their_fit_on_the_training_split() {
    use rayon::prelude::*;
    use score::{GridCosts, GRID_COSTS};
    let set: Vec<(Performance, Transcription)> = asap_training_split()
        .into_iter()
        .map(|p| {
            let t = p.transcription();
            (p, t)
        })
        .collect();
    let measure = |costs: &GridCosts| -> f64 {
        let each: Vec<f64> = set
            .par_iter()
            .map(|(p, t)| {
                let grid = BeatGrid::new(p.beats.clone(), p.first_downbeat, p.meter()).unwrap();
                let s = score::arrange_with(t, &grid, &ScoreOptions::default(), costs).unwrap();
                let a = agreement(p, t, &s);
                0.5 * (a.onsets + a.values)
            })
            .collect();
        each.iter().sum::<f64>() / set.len() as f64
    };
    let mut grid = vec![(format!("{GRID_COSTS:?}"), GRID_COSTS)];
    for f in [0.5, 2.0] {
        for costs in [
            GridCosts { halving: GRID_COSTS.halving * f, ..GRID_COSTS },
            GridCosts { triplet: GRID_COSTS.triplet * f, ..GRID_COSTS },
            GridCosts { compound: GRID_COSTS.compound * f, ..GRID_COSTS },
        ] {
            grid.push((format!("{costs:?}"), costs));
        }
    }
    let fitted = best_point("grid costs, training split", set.len(), grid, measure, &GRID_COSTS);
    assert_eq!(fitted, GRID_COSTS, "a grid point beats the shipped grid costs: update score::GRID_COSTS");
}
