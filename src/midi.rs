//! MIDI files: writing a transcription, and reading notes and pedals back (for evaluation). The only module
//! that imports midly.

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::error::{Error, Result};
use crate::notes::{sort_notes, Note, Pedal, PedalKind, Transcription};

/// Ticks per quarter note; at the fixed tempo below a tick is 1/1920 s (0.52 ms).
const TICKS_PER_QUARTER: u16 = 960;
/// 120 beats per minute.
const TEMPO_US_PER_QUARTER: u32 = 500_000;
/// General MIDI program 1, Acoustic Grand Piano.
const PIANO_PROGRAM: u8 = 0;

fn seconds_to_ticks(s: f64) -> u64 {
    (s.max(0.0) * 1e6 * TICKS_PER_QUARTER as f64 / TEMPO_US_PER_QUARTER as f64).round() as u64
}

/// A standard MIDI file (format 0, one piano track): notes, CC64/CC67 pedal events, a tempo. The same
/// transcription always gives the same bytes.
pub fn write(t: &Transcription) -> Vec<u8> {
    // (tick, order at equal ticks, message). Releases come before presses at the same tick, so a key struck
    // again at the instant it is released keeps its new note.
    let mut timeline: Vec<(u64, u8, u8, MidiMessage)> = vec![];
    for n in &t.notes {
        let key = u7::new(n.pitch.min(127));
        let (on, off) = (seconds_to_ticks(n.onset), seconds_to_ticks(n.offset));
        // A note must last at least one tick, and velocity 0 would mean "note off".
        let off = off.max(on + 1);
        let vel = u7::new(n.velocity.clamp(1, 127));
        timeline.push((on, 3, n.pitch, MidiMessage::NoteOn { key, vel }));
        timeline.push((off, 0, n.pitch, MidiMessage::NoteOff { key, vel: u7::new(0) }));
    }
    for p in &t.pedals {
        let controller = u7::new(p.kind.controller());
        let (on, off) = (seconds_to_ticks(p.start), seconds_to_ticks(p.end).max(seconds_to_ticks(p.start) + 1));
        timeline.push((
            on,
            2,
            p.kind.controller(),
            MidiMessage::Controller { controller, value: u7::new(p.value.min(127)) },
        ));
        timeline.push((off, 1, p.kind.controller(), MidiMessage::Controller { controller, value: u7::new(0) }));
    }
    timeline.sort_by_key(|&(tick, order, key, _)| (tick, order, key));

    let channel = u4::new(0);
    let mut track = vec![
        TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::TrackName(b"Piano")) },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(TEMPO_US_PER_QUARTER))),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Midi {
                channel,
                message: MidiMessage::ProgramChange { program: u7::new(PIANO_PROGRAM) },
            },
        },
    ];
    let mut last = 0u64;
    for (tick, _, _, message) in timeline {
        // Deltas beyond the 28-bit range (about 39 hours at this resolution) are split with empty text events.
        let mut delta = tick - last;
        while delta > u28::max_value().as_int() as u64 {
            track.push(TrackEvent { delta: u28::max_value(), kind: TrackEventKind::Meta(MetaMessage::Text(b"")) });
            delta -= u28::max_value().as_int() as u64;
        }
        track.push(TrackEvent { delta: u28::new(delta as u32), kind: TrackEventKind::Midi { channel, message } });
        last = tick;
    }
    track.push(TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(TICKS_PER_QUARTER))),
        tracks: vec![track],
    };
    let mut out = vec![];
    smf.write_std(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// Reads the notes and pedals of all tracks and channels, with the file's tempo map. Notes are paired as
/// pretty_midi does: a note-off ends every open note of its key and channel that began at an earlier tick.
pub fn read(bytes: &[u8], what: &str) -> Result<Transcription> {
    let err = |detail: String| Error::Midi { what: what.into(), detail };
    let smf = Smf::parse(bytes).map_err(|e| err(e.to_string()))?;
    let ticks_per_quarter = match smf.header.timing {
        Timing::Metrical(t) if t.as_int() > 0 => t.as_int() as f64,
        Timing::Metrical(_) => return Err(err("zero ticks per quarter note".into())),
        Timing::Timecode(fps, sub) => {
            // SMPTE timing: ticks per second = fps * subframes; express it as a fixed "tempo".
            return Ok(read_events(&smf, |tick| tick as f64 / (fps.as_f32() as f64 * sub as f64)));
        }
    };
    // Tempo map from all tracks: (tick, microseconds per quarter).
    let mut tempi: Vec<(u64, u32)> = vec![];
    for track in &smf.tracks {
        let mut tick = 0u64;
        for ev in track {
            tick += ev.delta.as_int() as u64;
            if let TrackEventKind::Meta(MetaMessage::Tempo(t)) = ev.kind {
                tempi.push((tick, t.as_int()));
            }
        }
    }
    tempi.sort_by_key(|t| t.0);
    // Seconds at each tempo change.
    let mut segments: Vec<(u64, f64, f64)> = vec![(0, 0.0, 500_000.0)]; // (tick, seconds, us per quarter)
    for (tick, us) in tempi {
        let &(t0, s0, us0) = segments.last().unwrap();
        let s = s0 + (tick - t0) as f64 * us0 / 1e6 / ticks_per_quarter;
        if tick == t0 {
            segments.pop();
        }
        segments.push((tick, s, us as f64));
    }
    Ok(read_events(&smf, |tick| {
        let i = segments.partition_point(|s| s.0 <= tick) - 1;
        let (t0, s0, us) = segments[i];
        s0 + (tick - t0) as f64 * us / 1e6 / ticks_per_quarter
    }))
}

fn read_events(smf: &Smf, seconds: impl Fn(u64) -> f64) -> Transcription {
    let mut out = Transcription::default();
    for track in &smf.tracks {
        let mut tick = 0u64;
        // (channel, key) -> open notes (start tick, velocity)
        let mut open: std::collections::HashMap<(u8, u8), Vec<(u64, u8)>> = Default::default();
        // (channel, controller) -> (start tick, value) while the pedal is down
        let mut down: std::collections::HashMap<(u8, u8), (u64, u8)> = Default::default();
        for ev in track {
            tick += ev.delta.as_int() as u64;
            let TrackEventKind::Midi { channel, message } = ev.kind else { continue };
            let ch = channel.as_int();
            match message {
                MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                    open.entry((ch, key.as_int())).or_default().push((tick, vel.as_int()));
                }
                MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                    let Some(list) = open.get_mut(&(ch, key.as_int())) else { continue };
                    let (close, keep): (Vec<_>, Vec<_>) = list.drain(..).partition(|&(start, _)| start != tick);
                    for (start, velocity) in close {
                        out.notes.push(Note {
                            onset: seconds(start),
                            offset: seconds(tick),
                            pitch: key.as_int(),
                            velocity,
                        });
                    }
                    *list = keep;
                }
                MidiMessage::Controller { controller, value } => {
                    let Some(kind) = PedalKind::from_controller(controller.as_int()) else { continue };
                    let k = (ch, controller.as_int());
                    if value.as_int() >= 64 {
                        down.entry(k).or_insert((tick, value.as_int()));
                    } else if let Some((start, v)) = down.remove(&k) {
                        out.pedals.push(Pedal { kind, start: seconds(start), end: seconds(tick), value: v });
                    }
                }
                _ => {}
            }
        }
        // Pedals still down at the end of the track last until its end.
        for ((_, cc), (start, v)) in down {
            let kind = PedalKind::from_controller(cc).expect("only pedal controllers are tracked");
            out.pedals.push(Pedal { kind, start: seconds(start), end: seconds(tick), value: v });
        }
    }
    sort_notes(&mut out.notes);
    out.pedals.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_sub_millisecond_timing() {
        let t = Transcription {
            notes: vec![
                Note { onset: 0.1234, offset: 0.5, pitch: 60, velocity: 80 },
                Note { onset: 0.5, offset: 0.9, pitch: 60, velocity: 0 },
                Note { onset: 3600.0005, offset: 3601.0, pitch: 108, velocity: 127 },
            ],
            pedals: vec![Pedal { kind: PedalKind::Sustain, start: 0.2, end: 1.7, value: 100 }],
        };
        let bytes = write(&t);
        assert_eq!(bytes, write(&t), "deterministic");
        let back = read(&bytes, "test").unwrap();
        assert_eq!(back.notes.len(), 3);
        for (a, b) in t.notes.iter().zip(&back.notes) {
            assert!((a.onset - b.onset).abs() < 3e-4 && (a.offset - b.offset).abs() < 3e-4, "{a:?} {b:?}");
            assert_eq!(a.pitch, b.pitch);
        }
        assert_eq!(back.notes[1].velocity, 1, "velocity 0 is written as 1");
        assert_eq!(back.pedals.len(), 1);
        assert_eq!(back.pedals[0].value, 100);
        assert!((back.pedals[0].end - 1.7).abs() < 3e-4);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(read(b"not midi", "x"), Err(Error::Midi { .. })));
    }
}
