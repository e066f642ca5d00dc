//! Onsets & Frames decoding, frame by frame across segments: a note of a key starts in a frame where the
//! onset probability passes the key's onset threshold (when no note of the key sounds, or when the onset is
//! new: the previous frame's did not pass, which splits a re-struck note), and sounds while the frame
//! probability or the onset probability passes its threshold; it ends at the first frame where neither does.
//! Velocity: the velocity head at the start frame, clipped to [0, 1], as `scale * v + offset` (80 v + 10).
//!
//! Each segment contributes only the frames it keeps (`step` frames after `lead_in` frames of context), in
//! order, and the per-key state carries over from one segment to the next: a note across a segment boundary
//! is one note. tools/oaf/infer.py is the same procedure on whole arrays, for parity tests.

use super::config::{OnsetGatedConfig, OnsetsFramesConfig};
use super::network::FrameProbabilities;
use crate::config::KeyThresholds;
use crate::notes::{sort_notes, Note};

/// The probabilities a recording's segments kept, stitched: `[frame][key]` each. What `pianoscribe calibrate`
/// decodes again and again with other thresholds.
#[derive(Debug, Clone, Default)]
pub struct FrameRoll {
    pub keys: usize,
    pub frames: usize,
    pub onset: Vec<f32>,
    pub frame: Vec<f32>,
    pub velocity: Vec<f32>,
}

pub struct OnsetGatedDecoder {
    /// Thresholds, lowest key and velocity mapping.
    config: OnsetGatedConfig,
    frame_seconds: f64,
    /// Frames of each segment before and in the part it keeps.
    lead_in: usize,
    step: usize,
    /// Global index of the next frame to decode.
    next: usize,
    /// Frames of the recording, once known: later ones (end padding) are not decoded.
    limit: Option<usize>,
    /// Per key: the start frame and velocity of the note that sounds, if any.
    active: Vec<Option<(usize, u8)>>,
    prev_onset: Vec<bool>,
    notes: Vec<Note>,
    /// The frames decoded so far, when asked to keep them ([`record`](Self::record)).
    roll: Option<FrameRoll>,
}

impl OnsetGatedDecoder {
    pub fn new(cfg: &OnsetsFramesConfig) -> Self {
        let (s, o) = (&cfg.segments, &cfg.decoder);
        let keys = o.keys();
        OnsetGatedDecoder {
            config: o.clone(),
            frame_seconds: s.frame_seconds(),
            lead_in: s.lead_in_frames(),
            step: s.step_samples() / s.hop,
            next: 0,
            limit: None,
            active: vec![None; keys],
            prev_onset: vec![false; keys],
            notes: vec![],
            roll: None,
        }
    }

    /// Keeps every decoded frame's probabilities, for [`take_roll`](Self::take_roll).
    pub fn record(&mut self) {
        self.roll = Some(FrameRoll { keys: self.active.len(), ..Default::default() });
    }

    /// The frames kept since [`record`](Self::record).
    pub fn take_roll(&mut self) -> Option<FrameRoll> {
        self.roll.take()
    }

    /// Decodes a whole roll with these thresholds (the model's other numbers from `cfg`).
    pub fn decode_roll(cfg: &OnsetsFramesConfig, thresholds: &KeyThresholds, roll: &FrameRoll) -> Vec<Note> {
        let decoder = OnsetGatedConfig { thresholds: thresholds.clone(), ..cfg.decoder.clone() };
        let mut d = OnsetGatedDecoder::new(&OnsetsFramesConfig { decoder, ..cfg.clone() });
        let k = roll.keys;
        for t in 0..roll.frames {
            let at = t * k..(t + 1) * k;
            d.frame(&roll.onset[at.clone()], &roll.frame[at.clone()], &roll.velocity[at]);
        }
        d.finish()
    }

    /// The recording has this many frames: frames from there on (end padding) are not decoded.
    pub fn set_frame_limit(&mut self, frames: usize) {
        self.limit = Some(frames);
    }

    /// Decodes the frames a segment keeps.
    pub fn push(&mut self, p: &FrameProbabilities) {
        let end = (self.lead_in + self.step).min(p.frames);
        for t in self.lead_in..end {
            if self.limit.is_some_and(|l| self.next >= l) {
                return;
            }
            let at = t * p.keys..(t + 1) * p.keys;
            let (onset, frame, velocity) = (&p.onset[at.clone()], &p.frame[at.clone()], &p.velocity[at]);
            if let Some(r) = &mut self.roll {
                r.onset.extend_from_slice(onset);
                r.frame.extend_from_slice(frame);
                r.velocity.extend_from_slice(velocity);
                r.frames += 1;
            }
            self.frame(onset, frame, velocity);
        }
    }

    /// One frame of every key.
    fn frame(&mut self, onset: &[f32], frame: &[f32], velocity: &[f32]) {
        let t = self.next;
        for k in 0..self.active.len() {
            let (c, th) = (&self.config, &self.config.thresholds);
            let on = onset[k] > th.onset[k];
            let sounding = on || frame[k] > th.frame[k];
            if let Some((start, vel)) = self.active[k] {
                if (on && !self.prev_onset[k]) || !sounding {
                    self.notes.push(self.note(k, start, t, vel));
                    self.active[k] = None;
                }
            }
            if self.active[k].is_none() && on {
                let v = c.velocity_scale * velocity[k].clamp(0.0, 1.0) + c.velocity_offset;
                self.active[k] = Some((t, v.round().clamp(0.0, 127.0) as u8));
            }
            self.prev_onset[k] = on;
        }
        self.next += 1;
    }

    fn note(&self, key: usize, start: usize, end: usize, velocity: u8) -> Note {
        Note {
            onset: start as f64 * self.frame_seconds,
            offset: end as f64 * self.frame_seconds,
            pitch: self.config.lowest_key + key as u8,
            velocity,
        }
    }

    /// Notes so far, those still sounding ending at the last decoded frame.
    pub fn provisional(&self) -> Vec<Note> {
        let mut notes = self.notes.clone();
        for (k, a) in self.active.iter().enumerate() {
            if let Some((start, vel)) = *a {
                notes.push(self.note(k, start, self.next.max(start + 1), vel));
            }
        }
        sort_notes(&mut notes);
        notes
    }

    /// All notes, those still sounding ending at the last decoded frame.
    pub fn finish(self) -> Vec<Note> {
        self.provisional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OnsetsFramesConfig {
        OnsetsFramesConfig::from_header(&super::super::tests::header()).unwrap()
    }

    /// A decoder over 3 keys whose segments keep all their frames, and probabilities from per-frame rows.
    fn decode(rows: &[([f32; 3], [f32; 3])]) -> Vec<Note> {
        let mut cfg = config();
        cfg.decoder.thresholds = KeyThresholds::uniform(3, 0.5, 0.4);
        let mut d = OnsetGatedDecoder::new(&cfg);
        (d.lead_in, d.step) = (0, rows.len());
        let p = FrameProbabilities {
            frames: rows.len(),
            keys: 3,
            onset: rows.iter().flat_map(|r| r.0).collect(),
            offset: vec![0.0; rows.len() * 3],
            frame: rows.iter().flat_map(|r| r.1).collect(),
            velocity: vec![0.5; rows.len() * 3],
        };
        d.push(&p);
        d.finish()
    }

    fn span(n: &Note) -> (u8, usize, usize) {
        let f = |s: f64| (s / 0.032).round() as usize;
        (n.pitch, f(n.onset), f(n.offset))
    }

    #[test]
    fn notes_start_only_where_the_onset_agrees() {
        // Key 0: frames without an onset make no note; an onset starts one that lasts while frames do.
        // Key 1: an onset held for two frames is one note; a new onset after a gap in onsets splits it.
        // Key 2: a frame-less onset is a one-frame note.
        let n = decode(&[
            ([0.0, 0.9, 0.0], [0.9, 0.9, 0.0]),
            ([0.0, 0.9, 0.0], [0.9, 0.9, 0.0]),
            ([0.9, 0.1, 0.0], [0.9, 0.9, 0.0]),
            ([0.1, 0.9, 0.0], [0.9, 0.9, 0.0]),
            ([0.1, 0.1, 0.6], [0.3, 0.3, 0.0]),
            ([0.1, 0.1, 0.0], [0.9, 0.1, 0.0]),
        ]);
        let spans: Vec<_> = n.iter().map(span).collect();
        assert_eq!(spans, vec![(22, 0, 3), (21, 2, 4), (22, 3, 4), (23, 4, 5)]);
        assert!(n.iter().all(|n| n.velocity == 50), "80 * 0.5 + 10");
    }

    /// The same probabilities decode to the same notes whether one segment or several carry them.
    #[test]
    fn a_note_across_segments_is_one_note() {
        let cfg = config();
        let s = &cfg.segments;
        let (lead, step, frames) = (s.lead_in_frames(), s.step_samples() / s.hop, s.frames_per_segment);
        // A global probability roll: key 40 sounds from frame 450 to 1100 (over two boundaries), key 41 is
        // struck at 499, 500 and 501 with onset gaps between.
        let total = 1200;
        let global = |t: usize, k: usize| -> (f32, f32) {
            match k {
                40 => ((t == 450) as u8 as f32, (450..1100).contains(&t) as u8 as f32),
                41 => ((t == 499 || t == 501 || t == 503) as u8 as f32, (499..505).contains(&t) as u8 as f32),
                _ => (0.0, 0.0),
            }
        };
        let mut d = OnsetGatedDecoder::new(&cfg);
        d.set_frame_limit(total);
        let mut s = 0;
        while s * step < total {
            let mut p = FrameProbabilities {
                frames,
                keys: 88,
                onset: vec![0.0; frames * 88],
                offset: vec![0.0; frames * 88],
                frame: vec![0.0; frames * 88],
                velocity: vec![0.8; frames * 88],
            };
            for j in 0..frames {
                let Some(t) = (s * step + j).checked_sub(lead) else { continue };
                for k in 0..88 {
                    (p.onset[j * 88 + k], p.frame[j * 88 + k]) = global(t, k);
                }
            }
            d.push(&p);
            s += 1;
        }
        let spans: Vec<_> = d.finish().iter().map(span).collect();
        assert_eq!(spans, vec![(61, 450, 1100), (62, 499, 501), (62, 501, 503), (62, 503, 505)]);
    }
}
