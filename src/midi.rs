//! MIDI files: writing a transcription (performance timing) or a score (beat-aligned), and reading notes,
//! pedals and bar lines back (for evaluation). The only module that imports midly.

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::error::{Error, Result};
use crate::notes::{sort_notes, Note, Pedal, PedalKind, Transcription};
use crate::score::{Score, DIVISIONS};

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
    let channel = u4::new(0);
    let header = vec![
        TrackEventKind::Meta(MetaMessage::TrackName(b"Piano")),
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(TEMPO_US_PER_QUARTER))),
        TrackEventKind::Midi { channel, message: MidiMessage::ProgramChange { program: u7::new(PIANO_PROGRAM) } },
    ];
    let timeline = timeline
        .into_iter()
        .map(|(tick, order, key, message)| (tick, order + 1, key, TrackEventKind::Midi { channel, message }))
        .collect();
    encode(TICKS_PER_QUARTER, header, timeline)
}

/// A format-0 file: `header` events at tick 0, then `timeline` (tick, order at equal ticks, key, event)
/// sorted. Order 0 is for meta events (tempo, time and key signatures), which precede notes at their tick.
fn encode(
    ticks_per_quarter: u16,
    header: Vec<TrackEventKind<'_>>,
    mut timeline: Vec<(u64, u8, u8, TrackEventKind<'_>)>,
) -> Vec<u8> {
    timeline.sort_by_key(|&(tick, order, key, _)| (tick, order, key));
    let mut track: Vec<TrackEvent> = header.into_iter().map(|kind| TrackEvent { delta: u28::new(0), kind }).collect();
    let mut last = 0u64;
    for (tick, _, _, kind) in timeline {
        // Deltas beyond the 28-bit range (about 39 hours at this resolution) are split with empty text events.
        let mut delta = tick - last;
        while delta > u28::max_value().as_int() as u64 {
            track.push(TrackEvent { delta: u28::max_value(), kind: TrackEventKind::Meta(MetaMessage::Text(b"")) });
            delta -= u28::max_value().as_int() as u64;
        }
        track.push(TrackEvent { delta: u28::new(delta as u32), kind });
        last = tick;
    }
    track.push(TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(ticks_per_quarter))),
        tracks: vec![track],
    };
    let mut out = vec![];
    smf.write_std(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// MIDI ticks per score tick (score::DIVISIONS = 48 to the quarter; 480 here).
const SCORE_TICK: u64 = 10;

/// A beat-aligned MIDI file of a score: a tempo change at every beat so that the beats fall where they were
/// played, time and key signatures, the notes on the grid with their velocities, the pedals. Before the first
/// bar (or pickup), a lead-in bar of quarter notes lasts until the first beat's time, so that the file lines
/// up with the recording and its bar lines with the played downbeats.
pub fn write_score(score: &Score) -> Vec<u8> {
    let ppq = DIVISIONS as u64 * SCORE_TICK;
    let channel = u4::new(0);
    let beat = score.meter.beat_ticks() as u64 * SCORE_TICK;
    let beat_eighths = if score.meter.compound { 3 } else { 2 };
    let first = score.beat_times.first().copied().unwrap_or(0.0).max(0.0);
    // Lead-in quarters of at most 10 s each (a tempo holds up to 16.7 s per quarter).
    let lead_quarters = if first >= 1e-3 { (first / 10.0).ceil().max(1.0) as u64 } else { 0 };
    let lead = lead_quarters * ppq;
    let mut timeline: Vec<(u64, u8, u8, TrackEventKind)> = vec![];
    let meta = |tick: u64, m: MetaMessage<'static>| (tick, 0u8, 0u8, TrackEventKind::Meta(m));
    let time_sig = |n: u64, eighths: bool| {
        if eighths {
            MetaMessage::TimeSignature(n.min(255) as u8, 3, 24, 8)
        } else {
            MetaMessage::TimeSignature(n as u8, 2, 24, 8)
        }
    };
    let (num, den) = score.meter.time_signature();
    let pickup_eighths = score.pickup_beats as u64 * beat_eighths;
    if lead_quarters > 0 || pickup_eighths > 0 {
        timeline.push(meta(0, time_sig(2 * lead_quarters + pickup_eighths, true)));
        timeline.push(meta(lead + score.pickup_beats as u64 * beat, time_sig(num as u64, den == 8)));
    } else {
        timeline.push(meta(0, time_sig(num as u64, den == 8)));
    }
    if lead_quarters > 0 {
        let us = (first / lead_quarters as f64 * 1e6).round() as u32;
        timeline.push(meta(0, MetaMessage::Tempo(u24::new(us.clamp(1, 0xFF_FFFF)))));
    }
    let quarters_per_beat = score.meter.beat_ticks() as f64 / DIVISIONS as f64;
    let mut last_us = 0;
    for (k, w) in score.beat_times.windows(2).enumerate() {
        let us = ((w[1] - w[0]) / quarters_per_beat * 1e6).round() as u32;
        let us = us.clamp(1, 0xFF_FFFF);
        if us != last_us {
            timeline.push(meta(lead + k as u64 * beat, MetaMessage::Tempo(u24::new(us))));
            last_us = us;
        }
    }
    for (bar, key) in &score.keys {
        let tick = lead + score.bar_start(*bar) * SCORE_TICK;
        timeline.push(meta(tick, MetaMessage::KeySignature(key.fifths, key.minor)));
    }
    for n in &score.notes {
        let key = u7::new(n.pitch.min(127));
        let on = lead + n.start * SCORE_TICK;
        let off = lead + (n.start + n.duration.max(1)) * SCORE_TICK;
        let vel = u7::new(n.velocity.clamp(1, 127));
        timeline.push((on, 4, n.pitch, TrackEventKind::Midi { channel, message: MidiMessage::NoteOn { key, vel } }));
        timeline.push((
            off,
            1,
            n.pitch,
            TrackEventKind::Midi { channel, message: MidiMessage::NoteOff { key, vel: u7::new(0) } },
        ));
    }
    for p in &score.pedals {
        let controller = u7::new(p.kind.controller());
        let (on, off) = (lead + p.start * SCORE_TICK, lead + p.end.max(p.start + 1) * SCORE_TICK);
        let value = u7::new(p.value.min(127));
        timeline.push((
            on,
            3,
            p.kind.controller(),
            TrackEventKind::Midi { channel, message: MidiMessage::Controller { controller, value } },
        ));
        timeline.push((
            off,
            2,
            p.kind.controller(),
            TrackEventKind::Midi { channel, message: MidiMessage::Controller { controller, value: u7::new(0) } },
        ));
    }
    let header = vec![
        TrackEventKind::Meta(MetaMessage::TrackName(b"Piano")),
        TrackEventKind::Midi { channel, message: MidiMessage::ProgramChange { program: u7::new(PIANO_PROGRAM) } },
    ];
    encode(ppq as u16, header, timeline)
}

/// The times (seconds) of a MIDI file's bar lines, from its time signatures and tempo map, up to its last
/// event: what a notation program or a DAW shows as bars.
pub fn bar_times(bytes: &[u8], what: &str) -> Result<Vec<f64>> {
    let smf = Smf::parse(bytes).map_err(|e| Error::Midi { what: what.into(), detail: e.to_string() })?;
    let clock = Clock::of(&smf, what)?;
    let Clock::Tempo { ticks_per_quarter: tpq, .. } = clock else {
        return Err(Error::Midi { what: what.into(), detail: "SMPTE timing has no bars".into() });
    };
    let (mut sigs, mut end) = (vec![], 0u64);
    for track in &smf.tracks {
        let mut tick = 0u64;
        for ev in track {
            tick += ev.delta.as_int() as u64;
            if let TrackEventKind::Meta(MetaMessage::TimeSignature(n, d, ..)) = ev.kind {
                sigs.push((tick, n as f64, d as u32));
            }
        }
        end = end.max(tick);
    }
    sigs.sort_by_key(|s| s.0);
    if sigs.is_empty() {
        sigs.push((0, 4.0, 2));
    }
    let mut bars = vec![];
    for (i, &(start, n, d)) in sigs.iter().enumerate() {
        let stop = sigs.get(i + 1).map_or(end, |s| s.0);
        let len = ((n * 4.0 / (1u64 << d) as f64) * tpq).round().max(1.0) as u64;
        let mut t = start;
        while t < stop || (i + 1 == sigs.len() && t == stop) {
            bars.push(clock.seconds(t));
            t += len;
        }
    }
    Ok(bars)
}

/// A file's timing: seconds at a tick, from its tempo map (all tracks' tempo events) or SMPTE's fixed rate.
enum Clock {
    Smpte {
        ticks_per_second: f64,
    },
    /// `segments`: (tick, seconds, microseconds per quarter) at each tempo change.
    Tempo {
        ticks_per_quarter: f64,
        segments: Vec<(u64, f64, f64)>,
    },
}

impl Clock {
    fn of(smf: &Smf, what: &str) -> Result<Clock> {
        let err = |detail: &str| Error::Midi { what: what.into(), detail: detail.into() };
        let ticks_per_quarter = match smf.header.timing {
            Timing::Metrical(t) if t.as_int() > 0 => t.as_int() as f64,
            Timing::Metrical(_) => return Err(err("zero ticks per quarter note")),
            // SMPTE timing: ticks per second = fps * subframes.
            Timing::Timecode(fps, sub) => {
                return Ok(Clock::Smpte { ticks_per_second: fps.as_f32() as f64 * sub as f64 })
            }
        };
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
        let mut segments: Vec<(u64, f64, f64)> = vec![(0, 0.0, 500_000.0)];
        for (tick, us) in tempi {
            let &(t0, s0, us0) = segments.last().unwrap();
            let s = s0 + (tick - t0) as f64 * us0 / 1e6 / ticks_per_quarter;
            if tick == t0 {
                segments.pop();
            }
            segments.push((tick, s, us as f64));
        }
        Ok(Clock::Tempo { ticks_per_quarter, segments })
    }

    fn seconds(&self, tick: u64) -> f64 {
        match self {
            Clock::Smpte { ticks_per_second } => tick as f64 / ticks_per_second,
            Clock::Tempo { ticks_per_quarter, segments } => {
                let i = segments.partition_point(|s| s.0 <= tick) - 1;
                let (t0, s0, us) = segments[i];
                s0 + (tick - t0) as f64 * us / 1e6 / ticks_per_quarter
            }
        }
    }
}

/// Reads the notes and pedals of all tracks and channels, with the file's tempo map. Notes are paired as
/// pretty_midi does: a note-off ends every open note of its key and channel that began at an earlier tick.
pub fn read(bytes: &[u8], what: &str) -> Result<Transcription> {
    let smf = Smf::parse(bytes).map_err(|e| Error::Midi { what: what.into(), detail: e.to_string() })?;
    let clock = Clock::of(&smf, what)?;
    Ok(read_events(&smf.tracks, &clock))
}

/// As [`read`], one transcription per track (a score's staves, say), in the file's track order.
pub fn read_tracks(bytes: &[u8], what: &str) -> Result<Vec<Transcription>> {
    let smf = Smf::parse(bytes).map_err(|e| Error::Midi { what: what.into(), detail: e.to_string() })?;
    let clock = Clock::of(&smf, what)?;
    Ok(smf.tracks.iter().map(|t| read_events(std::slice::from_ref(t), &clock)).collect())
}

fn read_events(tracks: &[Vec<TrackEvent>], clock: &Clock) -> Transcription {
    let seconds = |tick: u64| clock.seconds(tick);
    let mut out = Transcription::default();
    for track in tracks {
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
