//! The thresholds file: onset and frame thresholds per key or per register, for Onsets & Frames models.
//!
//! ```text
//! # pianoscribe thresholds: KEYS ONSET FRAME per line; later lines override earlier ones.
//! # KEYS: a MIDI note number (60), a note name (C4, F#5, Bb2), a range of either (21-59, C7-C8) or "all".
//! # A comment starts at a '#' that begins a word.
//! # ONSET, FRAME: probabilities in 0..1, or "-" to keep what earlier lines (or the model) set.
//! all      0.5  0.5
//! C7-C8    0.7  -
//! ```
//!
//! Keys the file does not name keep the model's own thresholds.

use super::config::OnsetGatedConfig;
use crate::config::KeyThresholds;
use crate::error::{Error, Result};

/// Reads a thresholds file over the model's thresholds. `what` names the file in errors.
pub fn read_thresholds(text: &str, what: &str, model: &OnsetGatedConfig) -> Result<KeyThresholds> {
    let mut t = model.thresholds.clone();
    let (lowest, keys) = (model.lowest_key as i32, model.keys() as i32);
    let err = |line: usize, detail: String| Error::InvalidOption(format!("{what}, line {line}: {detail}"));
    for (i, line) in text.lines().enumerate() {
        // A comment starts at a '#' that begins a word ('#' inside a word is a sharp: C#4).
        let comment =
            line.char_indices().find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with(char::is_whitespace)));
        let line = line[..comment.map_or(line.len(), |(i, _)| i)].trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [range, onset, frame] = fields[..] else {
            return Err(err(i + 1, format!("expected KEYS ONSET FRAME, found {} fields", fields.len())));
        };
        let (first, last) = if range.eq_ignore_ascii_case("all") {
            (lowest, lowest + keys - 1)
        } else {
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let key = |s: &str| parse_key(s).ok_or_else(|| err(i + 1, format!("'{s}' is not a key")));
            (key(a)?, key(b)?)
        };
        if first > last || first < lowest || last >= lowest + keys {
            return Err(err(
                i + 1,
                format!("keys {first} to {last} are not within the model's {lowest} to {}", lowest + keys - 1),
            ));
        }
        for (field, slot) in [(onset, &mut t.onset), (frame, &mut t.frame)] {
            if field == "-" {
                continue;
            }
            let v: f32 = field.parse().map_err(|_| err(i + 1, format!("'{field}' is not a number")))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(err(i + 1, format!("threshold {v} is outside 0..1")));
            }
            slot[(first - lowest) as usize..=(last - lowest) as usize].iter_mut().for_each(|s| *s = v);
        }
    }
    Ok(t)
}

/// Writes thresholds in the file's format, one line per run of keys that share both values.
pub fn write_thresholds(t: &KeyThresholds, lowest_key: u8, comment: &str) -> String {
    let mut s = String::from("# pianoscribe thresholds: KEYS ONSET FRAME per line (see README, Thresholds)\n");
    for line in comment.lines() {
        s.push_str(&format!("# {line}\n"));
    }
    let mut start = 0;
    for k in 1..=t.onset.len() {
        if k == t.onset.len() || t.onset[k] != t.onset[start] || t.frame[k] != t.frame[start] {
            let (a, b) = (lowest_key as usize + start, lowest_key as usize + k - 1);
            let keys = if a == b { key_name(a) } else { format!("{}-{}", key_name(a), key_name(b)) };
            s.push_str(&format!("{keys:<9} {:.3} {:.3}\n", t.onset[start], t.frame[start]));
            start = k;
        }
    }
    s
}

const NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

/// `C4` for 60.
pub fn key_name(midi: usize) -> String {
    format!("{}{}", NAMES[midi % 12], midi as i32 / 12 - 1)
}

/// A MIDI number or a note name (letter, `#` or `b`, octave; C4 = 60).
fn parse_key(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (0..128).contains(&n).then_some(n);
    }
    let mut chars = s.chars();
    let base = match chars.next()?.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest = chars.as_str();
    let (shift, octave) = match rest.as_bytes().first()? {
        b'#' => (1, &rest[1..]),
        b'b' => (-1, &rest[1..]),
        _ => (0, rest),
    };
    let n = base + shift + (octave.parse::<i32>().ok()? + 1) * 12;
    (0..128).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> OnsetGatedConfig {
        OnsetGatedConfig {
            lowest_key: 21,
            thresholds: KeyThresholds::uniform(88, 0.5, 0.4),
            velocity_scale: 80.0,
            velocity_offset: 10.0,
        }
    }

    #[test]
    fn reads_keys_names_ranges_and_overrides() {
        let text =
            "# comment\nall 0.3 0.3\nC7-C8 0.8 -  # top octave\n60 0.45 0.35\nA0 0.6 0.6\nBb1 0.2 -\nF#4 0.1 0.1 #x\n";
        let t = read_thresholds(text, "t.txt", &model()).unwrap();
        assert_eq!(t.onset[0], 0.6); // A0
        assert_eq!(t.onset[(34 - 21) as usize], 0.2); // Bb1 = 34
        assert_eq!(t.frame[(34 - 21) as usize], 0.3);
        assert_eq!((t.onset[60 - 21], t.frame[60 - 21]), (0.45, 0.35));
        assert_eq!((t.onset[96 - 21], t.frame[96 - 21]), (0.8, 0.3)); // C7: onset set, frame kept
        assert_eq!((t.onset[108 - 21], t.onset[95 - 21]), (0.8, 0.3));
        assert_eq!(t.onset[66 - 21], 0.1); // F#4
                                           // Keys not named keep the model's.
        assert_eq!(read_thresholds("60 0.9 -\n", "t", &model()).unwrap().frame[39], 0.4);
    }

    #[test]
    fn writes_what_it_reads() {
        let t = read_thresholds("all 0.5 0.5\nC7-C8 0.75 0.5\nC4 0.4 0.45\n", "t", &model()).unwrap();
        let text = write_thresholds(&t, 21, "made by a test");
        assert!(text.contains("C7-C8     0.750 0.500"), "{text}");
        assert_eq!(read_thresholds(&text, "t", &model()).unwrap(), t);
    }

    #[test]
    fn bad_lines_say_where_and_why() {
        for (text, says) in [
            ("60 0.5\n", "line 1: expected KEYS ONSET FRAME"),
            ("\nH4 0.5 0.5\n", "line 2: 'H4' is not a key"),
            ("C9 0.5 0.5\n", "not within the model's 21 to 108"),
            ("60-50 0.5 0.5\n", "keys 60 to 50"),
            ("60 1.5 0.5\n", "outside 0..1"),
            ("60 x 0.5\n", "'x' is not a number"),
        ] {
            let e = read_thresholds(text, "t.txt", &model()).unwrap_err().to_string();
            assert!(e.contains("t.txt") && e.contains(says), "{text:?}: {e}");
        }
    }
}
