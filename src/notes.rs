//! What a transcription is: notes and pedal intervals, in seconds, shared by every stage after the model; and
//! reading them from files (note tables here, MIDI through [`crate::midi`]).

/// A piano note. Times in seconds; `pitch` is a MIDI note number; `velocity` is 0..=127.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Note {
    pub onset: f64,
    pub offset: f64,
    pub pitch: u8,
    pub velocity: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PedalKind {
    /// Sustain (damper) pedal, MIDI CC64.
    Sustain,
    /// Soft (una corda) pedal, MIDI CC67.
    Soft,
}

impl PedalKind {
    pub fn controller(self) -> u8 {
        match self {
            PedalKind::Sustain => 64,
            PedalKind::Soft => 67,
        }
    }

    pub fn from_controller(cc: u8) -> Option<Self> {
        match cc {
            64 => Some(PedalKind::Sustain),
            67 => Some(PedalKind::Soft),
            _ => None,
        }
    }
}

/// A pedal held down from `start` to `end` (seconds); `value` is the controller value written at `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pedal {
    pub kind: PedalKind,
    pub start: f64,
    pub end: f64,
    pub value: u8,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcription {
    /// Sorted by (onset, offset, pitch).
    pub notes: Vec<Note>,
    /// Sorted by start.
    pub pedals: Vec<Pedal>,
}

pub fn sort_notes(notes: &mut [Note]) {
    notes.sort_by(|a, b| a.onset.total_cmp(&b.onset).then(a.offset.total_cmp(&b.offset)).then(a.pitch.cmp(&b.pitch)));
}

/// Sustain-pedal extension (the Onsets & Frames convention): a note released while the sustain pedal is down
/// sounds until the pedal lifts, or until the same key is struck again, whichever comes first.
pub fn extend_with_sustain(notes: &[Note], pedals: &[Pedal]) -> Vec<Note> {
    let mut sustain: Vec<(f64, f64)> =
        pedals.iter().filter(|p| p.kind == PedalKind::Sustain).map(|p| (p.start, p.end)).collect();
    sustain.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = notes.to_vec();
    // Next onset of the same pitch, for each note.
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| out[a].pitch.cmp(&out[b].pitch).then(out[a].onset.total_cmp(&out[b].onset)));
    let mut next_onset = vec![f64::INFINITY; out.len()];
    for w in order.windows(2) {
        if out[w[0]].pitch == out[w[1]].pitch {
            next_onset[w[0]] = out[w[1]].onset;
        }
    }
    for (i, n) in out.iter_mut().enumerate() {
        // The pedal interval that contains the release, if any.
        let idx = sustain.partition_point(|p| p.0 <= n.offset);
        if idx == 0 {
            continue;
        }
        let (start, end) = sustain[idx - 1];
        if start <= n.offset && n.offset < end {
            let extended = end.min(next_onset[i]);
            if extended > n.offset {
                n.offset = extended;
            }
        }
    }
    sort_notes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(on: f64, off: f64, pitch: u8) -> Note {
        Note { onset: on, offset: off, pitch, velocity: 64 }
    }

    #[test]
    fn sustain_extends_to_release_or_restrike() {
        let pedals = [Pedal { kind: PedalKind::Sustain, start: 1.0, end: 5.0, value: 100 }];
        let notes = [note(0.5, 1.5, 60), note(2.0, 2.5, 60), note(0.2, 0.8, 62), note(3.0, 4.0, 64)];
        let ext = extend_with_sustain(&notes, &pedals);
        let find = |on: f64, p: u8| ext.iter().find(|n| n.onset == on && n.pitch == p).unwrap().offset;
        assert_eq!(find(0.5, 60), 2.0, "cut at the re-strike of the same key");
        assert_eq!(find(2.0, 60), 5.0, "held to the pedal release");
        assert_eq!(find(0.2, 62), 0.8, "released before the pedal went down");
        assert_eq!(find(3.0, 64), 5.0);
    }

    #[test]
    fn soft_pedal_does_not_extend() {
        let pedals = [Pedal { kind: PedalKind::Soft, start: 0.0, end: 9.0, value: 100 }];
        let notes = [note(0.5, 1.5, 60)];
        assert_eq!(extend_with_sustain(&notes, &pedals)[0].offset, 1.5);
    }
}

/// Parses a note table: one note per line, `onset offset pitch [velocity]` (seconds, MIDI number, 0..127),
/// separated by tabs, spaces or commas. Empty lines, `#` comments and header lines (a first field that is
/// not a number) are skipped. A missing velocity reads as 64.
pub fn read_note_table(text: &str, what: &str) -> crate::error::Result<Vec<Note>> {
    let err = |line: usize, detail: String| crate::error::Error::NoteTable { what: what.into(), line, detail };
    let mut notes = vec![];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(['\t', ',', ' ']).filter(|f| !f.is_empty()).collect();
        if fields.is_empty() || fields[0].parse::<f64>().is_err() {
            continue; // a header line
        }
        if fields.len() < 3 {
            return Err(err(
                i + 1,
                format!("expected onset, offset, pitch[, velocity]; found {} fields", fields.len()),
            ));
        }
        let num =
            |k: usize| fields[k].parse::<f64>().map_err(|_| err(i + 1, format!("'{}' is not a number", fields[k])));
        let (onset, offset, pitch) = (num(0)?, num(1)?, num(2)?);
        let velocity = if fields.len() > 3 { num(3)? } else { 64.0 };
        if !(onset.is_finite() && offset.is_finite()) || offset < onset || onset < 0.0 {
            return Err(err(i + 1, format!("the note must have 0 <= onset <= offset (found {onset} .. {offset})")));
        }
        if !(0.0..=127.0).contains(&pitch) || pitch.fract() != 0.0 {
            return Err(err(i + 1, format!("pitch {pitch} is not a MIDI note number")));
        }
        if !(0.0..=127.0).contains(&velocity) {
            return Err(err(i + 1, format!("velocity {velocity} is outside 0..127")));
        }
        notes.push(Note { onset, offset, pitch: pitch as u8, velocity: velocity.round() as u8 });
    }
    sort_notes(&mut notes);
    Ok(notes)
}

/// Writes notes as a tab-separated table with a header line.
pub fn write_note_table(notes: &[Note]) -> String {
    let mut s = String::from("onset\toffset\tpitch\tvelocity\n");
    for n in notes {
        s.push_str(&format!("{:.6}\t{:.6}\t{}\t{}\n", n.onset, n.offset, n.pitch, n.velocity));
    }
    s
}

/// Reads a transcription from a MIDI file (by its extension or its `MThd` header) or a note table.
pub fn read_file(path: &std::path::Path) -> crate::error::Result<Transcription> {
    use crate::error::Error;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let what = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "mid" || ext == "midi" || bytes.starts_with(b"MThd") {
        crate::midi::read(&bytes, &what)
    } else {
        let text = String::from_utf8(bytes).map_err(|_| Error::NoteTable {
            what: what.clone(),
            line: 0,
            detail: "not a MIDI file and not UTF-8 text".into(),
        })?;
        Ok(Transcription { notes: read_note_table(&text, &what)?, pedals: vec![] })
    }
}

/// A transcription file's notes, extended by its sustain pedal when `extend` (MIDI references that hold the
/// pedal, such as MAESTRO's).
pub fn read_notes(path: &std::path::Path, extend: bool) -> crate::error::Result<Vec<Note>> {
    let t = read_file(path)?;
    Ok(if extend { extend_with_sustain(&t.notes, &t.pedals) } else { t.notes })
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn reads_tables_with_headers_comments_and_separators() {
        let text = ",,,\n# comment\nOnsetTime\tOffsetTime\tMidiPitch\n1.0\t2.0\t60\t80\n0.5, 0.7, 61\n3 4 62 10\n";
        let notes = read_note_table(text, "t").unwrap();
        assert_eq!(notes.len(), 3);
        assert_eq!(notes[0], Note { onset: 0.5, offset: 0.7, pitch: 61, velocity: 64 });
        assert_eq!(notes[2].velocity, 10);
        let back = read_note_table(&write_note_table(&notes), "t").unwrap();
        assert_eq!(back, notes);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = read_note_table("1.0\t0.5\t60\n", "x.tsv").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(read_note_table("1.0\t2.0\n", "x").is_err());
        assert!(read_note_table("1.0\t2.0\t60.5\n", "x").is_err());
    }
}
