//! MusicXML 4.0 (partwise): one piano part on two staves (right hand voices 1 and 2, left hand 5 and 6).
//! Within a voice, notes starting together are one chord that lasts until the voice's next onset at most;
//! gaps are rests (hidden in a second voice). Notes held a beat or more past the staff's next onset go to
//! the second voice. Durations are split at bar lines and, off the beat, at beat boundaries into values a reader knows
//! (dotted or not, triplets where the beat was divided in three), tied together. Grace notes are written before
//! the chord they lead into (a slashed eighth when alone, sixteenths when several).

use std::collections::HashMap;

use super::key::{KeySignature, Spelling};
use super::{Clef, Score, ScoreNote, Staff, DIVISIONS};

/// (ticks, type, dots, triplet) of every written value, longest first.
const VALUES: [(u64, &str, u8, bool); 14] = [
    (288, "whole", 1, false),
    (192, "whole", 0, false),
    (144, "half", 1, false),
    (96, "half", 0, false),
    (72, "quarter", 1, false),
    (48, "quarter", 0, false),
    (36, "eighth", 1, false),
    (32, "quarter", 0, true),
    (24, "eighth", 0, false),
    (18, "16th", 1, false),
    (16, "eighth", 0, true),
    (12, "16th", 0, false),
    (8, "16th", 0, true),
    (6, "32nd", 0, false),
];

/// One chord (or rest, with no pitches) of a staff: [start, end) in ticks.
#[derive(Debug, Clone)]
struct Event {
    start: u64,
    end: u64,
    notes: Vec<ScoreNote>,
    /// Grace notes before the chord, in the order they are written.
    graces: Vec<ScoreNote>,
}

/// Notes grouped into chords by start; each chord lasts until the next chord's start at most.
fn chords_of(notes: &[ScoreNote]) -> Vec<Event> {
    let mut events: Vec<Event> = vec![];
    for n in notes {
        match events.last_mut() {
            Some(e) if e.start == n.start => {
                if !e.notes.iter().any(|m| m.pitch == n.pitch) {
                    e.end = e.end.max(n.start + n.duration);
                    e.notes.push(*n);
                }
            }
            _ => events.push(Event { start: n.start, end: n.start + n.duration, notes: vec![*n], graces: vec![] }),
        }
    }
    for i in 0..events.len().saturating_sub(1) {
        let next = events[i + 1].start;
        events[i].end = events[i].end.min(next);
    }
    for e in &mut events {
        e.notes.sort_by_key(|n| n.pitch);
    }
    events
}

/// A chord released before the next one starts is written to last until it, as a score writes a detached note
/// (a rest in the gap would be a rest that no score has), unless the gap is a beat or longer and at least as
/// long as the chord: then it is a rest. (Lasting until the next onset rarely takes more written values than
/// the chord and a rest would: measured on asap-dev, keeping the rest where it does changed nothing.)
fn legato(mut events: Vec<Event>, beat: u64) -> Vec<Event> {
    for i in 0..events.len().saturating_sub(1) {
        let next = events[i + 1].start;
        let (length, gap) = (events[i].end - events[i].start, next.saturating_sub(events[i].end));
        if gap > 0 && (gap < beat || gap < length) {
            events[i].end = next;
        }
    }
    events
}

/// A staff's two voices: notes held at least a beat past the staff's next onset (a bass or a melody note
/// sustained under moving notes) go to the second voice when it is free, the rest to the first, where a chord
/// lasts until the next onset.
fn staff_voices(score: &Score, staff: Staff) -> [Vec<Event>; 2] {
    let all: Vec<ScoreNote> = score.notes.iter().filter(|n| n.staff == staff).copied().collect();
    // A grace note goes before the chord of its staff at its tick; where the staff has none (the note it leads
    // into went to the other hand), it is written as an ordinary note.
    let chord_starts: std::collections::HashSet<u64> = all.iter().filter(|n| !n.grace).map(|n| n.start).collect();
    let (graces, notes): (Vec<ScoreNote>, Vec<ScoreNote>) =
        all.into_iter().partition(|n| n.grace && chord_starts.contains(&n.start));
    let beat = score.meter.beat_ticks() as u64;
    let starts: Vec<u64> = {
        let mut v: Vec<u64> = notes.iter().map(|n| n.start).collect();
        v.dedup();
        v
    };
    let (mut first, mut second) = (vec![], vec![]);
    let mut second_free = 0u64;
    let mut second_start = None;
    for n in &notes {
        let next = starts.partition_point(|&t| t <= n.start);
        let held = next < starts.len() && n.start + n.duration >= starts[next] + beat;
        // The second voice takes a held note if it is free, or joins a chord it started at this very onset.
        if held && (n.start >= second_free || second_start == Some(n.start)) {
            second_free = second_free.max(n.start + n.duration);
            second_start = Some(n.start);
            second.push(*n);
        } else {
            first.push(*n);
        }
    }
    let mut voices = [legato(chords_of(&first), beat), chords_of(&second)];
    for g in graces {
        for v in voices.iter_mut() {
            if let Ok(i) = v.binary_search_by_key(&g.start, |e| e.start) {
                v[i].graces.push(g);
                break;
            }
        }
    }
    voices
}

/// [a, b) (ticks from the bar's start) as written values: from a beat, whole beats, a beat and a half (a dotted
/// beat) or a value shorter than a beat; off the beat, no value crosses the next beat, except a beat-long
/// value from the middle of a beat (a syncopation). Longest values first, backtracking where a choice
/// would leave a remainder no value can write (a sixteenth position followed by a triplet one, say).
fn pieces(a: u64, b: u64, beat: u64) -> Vec<(u64, u64)> {
    fn go(a: u64, b: u64, beat: u64, dead: &mut std::collections::HashSet<u64>, out: &mut Vec<(u64, u64)>) -> bool {
        if a == b {
            return true;
        }
        if dead.contains(&a) {
            return false;
        }
        let on_beat = a % beat == 0;
        let next_beat = (a / beat + 1) * beat;
        // A beat-long value from the middle of a beat (the syncopation eighth, quarter, eighth).
        let syncopated = a % beat == beat / 2 && beat % 2 == 0;
        for &(v, ..) in &VALUES {
            let fits = v <= b - a
                && if on_beat {
                    v % beat == 0 || v < beat || 2 * v == 3 * beat
                } else {
                    a + v <= next_beat || (syncopated && v == beat)
                };
            if !fits {
                continue;
            }
            out.push((a, v));
            if go(a + v, b, beat, dead, out) {
                return true;
            }
            out.pop();
        }
        dead.insert(a);
        false
    }
    let mut out = vec![];
    if go(a, b, beat, &mut Default::default(), &mut out) {
        out
    } else {
        // Not on any grid the quantiser makes; written as one untyped duration (still valid MusicXML).
        vec![(a, b - a)]
    }
}

fn value_of(ticks: u64) -> Option<(&'static str, u8, bool)> {
    VALUES.iter().find(|&&(v, ..)| v == ticks).map(|&(_, t, d, tr)| (t, d, tr))
}

/// The alteration a key signature gives a step.
fn key_alter(key: KeySignature, step: u8) -> i8 {
    // Sharps are added F C G D A E B, flats B E A D G C F (steps: C=0 .. B=6).
    const SHARPS: [u8; 7] = [3, 0, 4, 1, 5, 2, 6];
    let f = key.fifths as i32;
    let idx = |s: u8| SHARPS.iter().position(|&x| x == s).unwrap() as i32;
    if f > 0 && idx(step) < f {
        1
    } else if f < 0 && (6 - idx(step)) < -f {
        -1
    } else {
        0
    }
}

fn accidental_name(alter: i8) -> &'static str {
    match alter {
        -2 => "flat-flat",
        -1 => "flat",
        1 => "sharp",
        2 => "double-sharp",
        _ => "natural",
    }
}

/// The accidental to write on `s` in this bar: none where the key signature, or an earlier note of the same
/// step and octave in the bar (`alters`), already gives its alteration. A written one holds for the rest of
/// the bar.
fn written_accidental(alters: &mut HashMap<(u8, i8), i8>, key: KeySignature, s: Spelling) -> Option<&'static str> {
    let shown = alters.get(&(s.step, s.octave)).copied().unwrap_or(key_alter(key, s.step));
    (shown != s.alter).then(|| {
        alters.insert((s.step, s.octave), s.alter);
        accidental_name(s.alter)
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

struct Writer {
    out: String,
}

impl Writer {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }
}

/// The score as a MusicXML 4.0 partwise document titled `title`.
pub fn write(score: &Score, title: &str) -> String {
    let mut w = Writer { out: String::new() };
    header(&mut w, title);
    w.line(1, r#"<part id="P1">"#);
    // (staff, voice number, its events, whether its gaps are shown): voices 1-2 on the right hand's staff,
    // 5-6 on the left's; a second voice is written only where a staff has one, its rests hidden.
    let mut voices: Vec<Voice> = vec![];
    for (staff, base) in [(Staff::Right, 1u8), (Staff::Left, 5u8)] {
        let [main, held] = staff_voices(score, staff);
        voices.push(Voice { staff, number: base, events: main, shown: true, cursor: 0 });
        if !held.is_empty() {
            voices.push(Voice { staff, number: base + 1, events: held, shown: false, cursor: 0 });
        }
    }
    for bar in 0..score.bars() {
        let (start, end) = (score.bar_start(bar), score.bar_start(bar + 1));
        let number = if score.pickup_beats > 0 { bar } else { bar + 1 };
        let implicit = if score.pickup_beats > 0 && bar == 0 { r#" implicit="yes""# } else { "" };
        w.line(2, &format!(r#"<measure number="{number}"{implicit}>"#));
        attributes(&mut w, score, bar);
        if bar == 0 {
            if let Some(bpm) = opening_tempo(score) {
                tempo(&mut w, score, bpm);
            }
        }
        for (i, voice) in voices.iter_mut().enumerate() {
            if i > 0 {
                w.line(3, &format!("<backup><duration>{}</duration></backup>", end - start));
            }
            voice_in_bar(&mut w, score, voice, bar);
        }
        w.line(2, "</measure>");
    }
    w.line(1, "</part>");
    w.line(0, "</score-partwise>");
    w.out
}

/// The document's prologue: declaration, title, software, the one piano part.
fn header(w: &mut Writer, title: &str) {
    w.line(0, r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>"#);
    w.line(
        0,
        r#"<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">"#,
    );
    w.line(0, r#"<score-partwise version="4.0">"#);
    w.line(1, &format!("<work><work-title>{}</work-title></work>", escape(title)));
    w.line(1, "<identification>");
    w.line(2, "<encoding>");
    w.line(3, &format!("<software>pianoscribe {}</software>", env!("CARGO_PKG_VERSION")));
    w.line(2, "</encoding>");
    w.line(1, "</identification>");
    w.line(1, r#"<part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>"#);
}

/// A bar's attributes where something starts or changes: divisions, time and staves in the first bar, the key
/// where it changes, clefs.
fn attributes(w: &mut Writer, score: &Score, bar: u32) {
    let key = score.key_at(bar);
    let key_changes = bar == 0 || score.keys.iter().any(|(b, _)| *b == bar && *b > 0);
    let clefs: Vec<&(u32, Staff, Clef)> = score.clefs.iter().filter(|c| c.0 == bar).collect();
    if !(bar == 0 || key_changes || !clefs.is_empty()) {
        return;
    }
    w.line(3, "<attributes>");
    if bar == 0 {
        w.line(4, &format!("<divisions>{DIVISIONS}</divisions>"));
    }
    if key_changes {
        let mode = if key.minor { "minor" } else { "major" };
        w.line(4, &format!("<key><fifths>{}</fifths><mode>{mode}</mode></key>", key.fifths));
    }
    if bar == 0 {
        let (beats, beat_type) = score.meter.time_signature();
        w.line(4, &format!("<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>"));
        w.line(4, "<staves>2</staves>");
    }
    for &&(_, staff, clef) in &clefs {
        let (sign, line) = if clef == Clef::Treble { ("G", 2) } else { ("F", 4) };
        w.line(4, &format!(r#"<clef number="{}"><sign>{sign}</sign><line>{line}</line></clef>"#, staff as u8));
    }
    w.line(3, "</attributes>");
}

/// The opening metronome mark (a dotted quarter to the beat in compound meter) and its playback tempo.
fn tempo(w: &mut Writer, score: &Score, bpm: f64) {
    let (unit, dot) = if score.meter.compound { ("quarter", "<beat-unit-dot/>") } else { ("quarter", "") };
    let quarter_bpm = if score.meter.compound { bpm * 1.5 } else { bpm };
    w.line(3, r#"<direction placement="above">"#);
    w.line(
        4,
        &format!(
            "<direction-type><metronome><beat-unit>{unit}</beat-unit>{dot}<per-minute>{}</per-minute></metronome></direction-type>",
            bpm.round()
        ),
    );
    w.line(4, "<staff>1</staff>");
    w.line(4, &format!(r#"<sound tempo="{:.1}"/>"#, quarter_bpm));
    w.line(3, "</direction>");
}

/// One voice of one staff, written bar by bar.
struct Voice {
    staff: Staff,
    number: u8,
    events: Vec<Event>,
    /// Whether its rests are shown (a second voice's are hidden).
    shown: bool,
    /// The first event that may still overlap the bar being written.
    cursor: usize,
}

/// One voice's part of a bar: its events cut at the bar's edges, rests in the gaps, each split into written
/// values and tied.
fn voice_in_bar(w: &mut Writer, score: &Score, v: &mut Voice, bar: u32) {
    let (start, end) = (score.bar_start(bar), score.bar_start(bar + 1));
    let (staff, voice, shown) = (v.staff, v.number, v.shown);
    let beat = score.meter.beat_ticks() as u64;
    let key = score.key_at(bar);
    let list = &v.events;
    // Events overlapping this bar, with rests in the gaps.
    while v.cursor < list.len() && list[v.cursor].end <= start {
        v.cursor += 1;
    }
    let mut segments: Vec<(u64, u64, Option<&Event>)> = vec![];
    let mut t = start;
    let mut i = v.cursor;
    while i < list.len() && list[i].start < end {
        let e = &list[i];
        let (a, b) = (e.start.max(start), e.end.min(end));
        if a > t {
            segments.push((t, a, None));
        }
        if b > a {
            segments.push((a, b, Some(e)));
        }
        t = t.max(b);
        i += 1;
    }
    if t < end {
        segments.push((t, end, None));
    }
    let mut alters: HashMap<(u8, i8), i8> = Default::default();
    let whole_rest = segments.len() == 1 && segments[0].2.is_none();
    let note_tag = if shown { "<note>" } else { r#"<note print-object="no">"# };
    let rest = |w: &mut Writer, element: &str, len: u64| {
        w.line(3, note_tag);
        w.line(4, element);
        w.line(4, &format!("<duration>{len}</duration>"));
        w.line(4, &format!("<voice>{voice}</voice>"));
        w.line(4, &format!("<staff>{}</staff>", staff as u8));
        w.line(3, "</note>");
    };
    if whole_rest {
        rest(w, r#"<rest measure="yes"/>"#, end - start);
        return;
    }
    let written: Vec<(u64, u64, Option<&Event>)> = segments
        .iter()
        .flat_map(|&(a, b, event)| {
            pieces(a - start, b - start, beat).into_iter().map(move |(p, len)| (start + p, len, event))
        })
        .collect();
    // Triplet values under one tuplet bracket per beat (per half beat for sixteenth triplets), where they follow
    // each other.
    let group = |&(at, len, _): &(u64, u64, Option<&Event>)| {
        let triplet = value_of(len).is_some_and(|v| v.2);
        let unit = if len * 6 == beat { beat / 2 } else { beat };
        triplet.then(|| (at - start) / unit.max(1))
    };
    for (i, piece) in written.iter().enumerate() {
        let &(at, len, event) = piece;
        let value = value_of(len);
        let g = group(piece);
        let marks = Marks {
            tuplet_start: g.is_some() && (i == 0 || group(&written[i - 1]) != g),
            tuplet_stop: g.is_some() && written.get(i + 1).is_none_or(|next| group(next) != g),
            ..Marks::default()
        };
        match event {
            None if !shown => rest(w, "<rest/>", len),
            None => note_xml(w, None, len, voice, staff, value, marks, None),
            Some(e) => {
                if at == e.start {
                    let (kind, slash) = if e.graces.len() == 1 { ("eighth", true) } else { ("16th", false) };
                    for g in &e.graces {
                        let accidental = written_accidental(&mut alters, key, g.spelling);
                        grace_xml(w, g.spelling, voice, staff, kind, slash, accidental);
                    }
                }
                let tie_stop = at > e.start;
                let tie_start = at + len < e.end;
                for (k, n) in e.notes.iter().enumerate() {
                    let s = n.spelling;
                    // A tied continuation keeps the alteration its start showed.
                    let accidental = if tie_stop { None } else { written_accidental(&mut alters, key, s) };
                    // The tuplet bracket is the chord's, written on its first note.
                    let first = k == 0;
                    let marks = Marks {
                        chord: !first,
                        tie_start,
                        tie_stop,
                        tuplet_start: first && marks.tuplet_start,
                        tuplet_stop: first && marks.tuplet_stop,
                    };
                    note_xml(w, Some(s), len, voice, staff, value, marks, accidental);
                }
            }
        }
    }
}

/// What a note carries beyond its pitch and value.
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    /// Sounds with the note before it (`<chord/>`).
    chord: bool,
    tie_start: bool,
    tie_stop: bool,
    /// Opens or closes a tuplet bracket.
    tuplet_start: bool,
    tuplet_stop: bool,
}

#[allow(clippy::too_many_arguments)]
fn note_xml(
    w: &mut Writer,
    pitch: Option<Spelling>,
    len: u64,
    voice: u8,
    staff: Staff,
    value: Option<(&str, u8, bool)>,
    marks: Marks,
    accidental: Option<&str>,
) {
    let Marks { chord, tie_start, tie_stop, tuplet_start, tuplet_stop } = marks;
    w.line(3, "<note>");
    if chord {
        w.line(4, "<chord/>");
    }
    match pitch {
        Some(s) => w.line(4, &pitch_xml(s)),
        None => w.line(4, "<rest/>"),
    }
    w.line(4, &format!("<duration>{len}</duration>"));
    if tie_stop {
        w.line(4, r#"<tie type="stop"/>"#);
    }
    if tie_start {
        w.line(4, r#"<tie type="start"/>"#);
    }
    w.line(4, &format!("<voice>{voice}</voice>"));
    if let Some((kind, dots, triplet)) = value {
        w.line(4, &format!("<type>{kind}</type>"));
        for _ in 0..dots {
            w.line(4, "<dot/>");
        }
        if let Some(a) = accidental {
            w.line(4, &format!("<accidental>{a}</accidental>"));
        }
        if triplet {
            w.line(
                4,
                "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification>",
            );
        }
    } else if let Some(a) = accidental {
        w.line(4, &format!("<accidental>{a}</accidental>"));
    }
    w.line(4, &format!("<staff>{}</staff>", staff as u8));
    if tie_start || tie_stop || tuplet_start || tuplet_stop {
        let mut n = String::from("<notations>");
        if tie_stop {
            n.push_str(r#"<tied type="stop"/>"#);
        }
        if tie_start {
            n.push_str(r#"<tied type="start"/>"#);
        }
        if tuplet_start {
            n.push_str(r#"<tuplet type="start" bracket="yes"/>"#);
        }
        if tuplet_stop {
            n.push_str(r#"<tuplet type="stop"/>"#);
        }
        n.push_str("</notations>");
        w.line(4, &n);
    }
    w.line(3, "</note>");
}

fn pitch_xml(s: Spelling) -> String {
    let alter = if s.alter != 0 { format!("<alter>{}</alter>", s.alter) } else { String::new() };
    format!("<pitch><step>{}</step>{alter}<octave>{}</octave></pitch>", s.step_name(), s.octave)
}

/// A grace note: no duration, written before the chord it leads into.
fn grace_xml(w: &mut Writer, s: Spelling, voice: u8, staff: Staff, kind: &str, slash: bool, accidental: Option<&str>) {
    w.line(3, "<note>");
    w.line(4, if slash { r#"<grace slash="yes"/>"# } else { "<grace/>" });
    w.line(4, &pitch_xml(s));
    w.line(4, &format!("<voice>{voice}</voice>"));
    w.line(4, &format!("<type>{kind}</type>"));
    if let Some(a) = accidental {
        w.line(4, &format!("<accidental>{a}</accidental>"));
    }
    w.line(4, &format!("<staff>{}</staff>", staff as u8));
    w.line(3, "</note>");
}

/// Beats per minute over the first bars (the median beat period of the first 8 beats).
fn opening_tempo(score: &Score) -> Option<f64> {
    let mut periods: Vec<f64> = score.beat_times.windows(2).take(8).map(|w| w[1] - w[0]).collect();
    if periods.is_empty() {
        return None;
    }
    periods.sort_by(f64::total_cmp);
    let p = periods[periods.len() / 2];
    (p > 0.0).then(|| 60.0 / p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_written_values_that_respect_the_beat() {
        // 4/4, beat 48: from the second sixteenth to the end of beat 3: a dotted eighth to beat 2, then a half.
        assert_eq!(pieces(12, 144, 48), vec![(12, 36), (48, 96)]);
        assert_eq!(pieces(0, 192, 48), vec![(0, 192)]);
        // A dotted quarter from the beat; a syncopated quarter from the middle of a beat; but a quarter from the
        // second sixteenth is split at the beat.
        assert_eq!(pieces(0, 72, 48), vec![(0, 72)]);
        assert_eq!(pieces(24, 72, 48), vec![(24, 48)]);
        assert_eq!(pieces(12, 60, 48), vec![(12, 36), (48, 12)]);
        // Triplets: the second and third eighths of a triplet beat.
        assert_eq!(pieces(16, 48, 48), vec![(16, 32)]);
        assert_eq!(pieces(0, 16, 48), vec![(0, 16)]);
        // 6/8: beat 72; a dotted half is two beats.
        assert_eq!(pieces(0, 144, 72), vec![(0, 144)]);
        assert_eq!(pieces(24, 72, 72), vec![(24, 48)]);
        for (a, b, beat) in [(6, 190, 48), (8, 200, 48), (30, 300, 72)] {
            let p = pieces(a, b, beat);
            assert_eq!(p.iter().map(|x| x.1).sum::<u64>(), b - a);
            assert!(p.iter().all(|x| value_of(x.1).is_some()), "{p:?}");
        }
    }

    #[test]
    fn grace_notes_come_before_their_chord_without_a_duration() {
        use crate::notes::{Note, Transcription};
        use crate::score::{arrange, BeatGrid, Meter, ScoreOptions};
        let note = |onset: f64, offset: f64, pitch: u8| Note { onset, offset, pitch, velocity: 64 };
        // 4/4 at 120 bpm: a quarter C5 on each beat, the second led into by a D5 grace note 40 ms early; a
        // low C3 under every beat keeps the left hand busy.
        let mut notes = vec![];
        for k in 0..8 {
            let t = k as f64 * 0.5;
            notes.push(note(t, t + 0.45, 72));
            notes.push(note(t, t + 0.45, 48));
        }
        notes.push(note(0.46, 0.5, 74));
        // And an ornament of two, E5 then D5, into the C5 on the sixth beat.
        notes.push(note(2.445, 2.465, 76));
        notes.push(note(2.465, 2.5, 74));
        crate::notes::sort_notes(&mut notes);
        let grid =
            BeatGrid::new((0..9).map(|k| k as f64 * 0.5).collect(), 0, Meter { beats_per_bar: 4, compound: false })
                .unwrap();
        let score = arrange(&Transcription { notes, pedals: vec![] }, &grid, &ScoreOptions::default()).unwrap();
        let graces: Vec<(u8, u64)> = score.notes.iter().filter(|n| n.grace).map(|n| (n.pitch, n.start)).collect();
        assert_eq!(graces, vec![(74, 48), (76, 240), (74, 240)]);
        let xml = write(&score, "graces");
        assert_eq!(xml.matches("<grace").count(), 3);
        // The grace note: a slashed eighth D5 with no duration, and right after it the second beat's C5.
        let at = xml.find(r#"<grace slash="yes"/>"#).expect("a grace note is written");
        let (grace, rest) = xml[at..].split_once("</note>").unwrap();
        assert!(grace.contains("<step>D</step><octave>5</octave>") && !grace.contains("<duration>"), "{grace}");
        assert!(grace.contains("<type>eighth</type>"), "{grace}");
        let next = rest.split_once("</note>").unwrap().0;
        assert!(
            next.contains("<step>C</step><octave>5</octave>") && next.contains("<duration>48</duration>"),
            "{next}"
        );
        // The ornament: unslashed sixteenths in the order played, E then D, then the C.
        let at = xml.find("<grace/>").expect("the ornament is written");
        let notes: Vec<&str> = xml[at..].split("</note>").take(3).collect();
        assert!(notes[0].contains("<step>E</step>") && notes[0].contains("<type>16th</type>"), "{}", notes[0]);
        assert!(notes[1].contains("<grace/>") && notes[1].contains("<step>D</step>"), "{}", notes[1]);
        assert!(notes[2].contains("<step>C</step><octave>5</octave>") && !notes[2].contains("<grace"), "{}", notes[2]);
    }

    #[test]
    fn key_signatures_alter_the_right_steps() {
        let d = KeySignature { fifths: 2, minor: false };
        let eb = KeySignature { fifths: -3, minor: false };
        let alters: Vec<i8> = (0..7).map(|s| key_alter(d, s)).collect();
        assert_eq!(alters, vec![1, 0, 0, 1, 0, 0, 0]); // C# F#
        let alters: Vec<i8> = (0..7).map(|s| key_alter(eb, s)).collect();
        assert_eq!(alters, vec![0, 0, -1, 0, 0, -1, -1]); // Bb Eb Ab
    }
}
