//! Per-register thresholds for Onsets & Frames models (`pianoscribe calibrate`), chosen on recordings with
//! reference notes. The onset-gated decoder treats every key on its own, so one decoding of the recordings
//! per candidate threshold scores every register at once:
//! 1. the onset threshold of each register is the one with the best note F1 (onsets within 50 ms), then
//! 2. with those, the frame threshold of each register is the one with the best note-with-offset F1.
//!
//! A register with few notes would otherwise follow its noise: its counts are pooled with its neighbours'
//! at half weight before the F1 is taken, and a tie goes to the model's own threshold.

use super::config::{OnsetGatedConfig, OnsetsFramesConfig};
use super::decoder::{FrameRoll, OnsetGatedDecoder};
use crate::config::KeyThresholds;
use crate::error::{Error, Result};
use crate::metrics::{match_notes, EvalOptions};
use crate::notes::Note;

/// How `calibrate` searches. Defaults: registers of 11 keys (8 on a piano), thresholds 0.05 to 0.95 in
/// steps of 0.05, neighbours at half weight.
#[derive(Debug, Clone)]
pub struct CalibrateOptions {
    pub register_keys: usize,
    pub candidates: Vec<f32>,
    pub neighbour_weight: f64,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            register_keys: 11,
            candidates: (1..=19).map(|i| i as f32 * 0.05).collect(),
            neighbour_weight: 0.5,
        }
    }
}

/// A recording's stitched probabilities and its reference notes.
pub struct Piece {
    pub roll: FrameRoll,
    pub reference: Vec<Note>,
}

/// One register's thresholds and scores (counts summed over the recordings).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterResult {
    /// MIDI numbers of the register's first and last key.
    pub keys: (u8, u8),
    pub reference_notes: usize,
    pub onset: f32,
    pub frame: f32,
    pub note_f1: f64,
    pub offset_f1: f64,
}

#[derive(Debug, Clone)]
pub struct Calibration {
    pub thresholds: KeyThresholds,
    /// Per register, with the model's thresholds and with the new ones.
    pub before: Vec<RegisterResult>,
    pub after: Vec<RegisterResult>,
}

/// True positives, false positives, false negatives.
#[derive(Debug, Clone, Copy, Default)]
struct Counts(f64, f64, f64);

impl Counts {
    fn f1(self) -> f64 {
        let Counts(tp, fp, fnn) = self;
        if tp == 0.0 {
            0.0
        } else {
            2.0 * tp / (2.0 * tp + fp + fnn)
        }
    }

    fn add(self, o: Counts, w: f64) -> Counts {
        Counts(self.0 + w * o.0, self.1 + w * o.1, self.2 + w * o.2)
    }
}

pub fn calibrate(cfg: &OnsetsFramesConfig, pieces: &[Piece], opts: &CalibrateOptions) -> Result<Calibration> {
    let o = &cfg.decoder;
    if pieces.is_empty() {
        return Err(Error::InvalidOption("calibrate needs at least one recording with reference notes".into()));
    }
    let registers = registers(o, opts.register_keys);
    let eval = EvalOptions::default();
    // Counts per register for every piece decoded with these thresholds.
    let score = |t: &KeyThresholds, offsets: bool| -> Vec<Counts> {
        let mut c = vec![Counts::default(); registers.len()];
        for p in pieces {
            let est = OnsetGatedDecoder::decode_roll(cfg, t, &p.roll);
            for (r, &(lo, hi)) in registers.iter().enumerate() {
                let inside = |n: &&Note| (lo..=hi).contains(&n.pitch);
                let re: Vec<Note> = p.reference.iter().filter(inside).copied().collect();
                let es: Vec<Note> = est.iter().filter(inside).copied().collect();
                let tp = match_notes(&re, &es, &eval, offsets).len() as f64;
                c[r] = c[r].add(Counts(tp, es.len() as f64 - tp, re.len() as f64 - tp), 1.0);
            }
        }
        c
    };
    let smoothed = |c: &[Counts], r: usize| -> f64 {
        let mut s = c[r];
        for n in [r.wrapping_sub(1), r + 1] {
            if let Some(&nc) = c.get(n) {
                s = s.add(nc, opts.neighbour_weight);
            }
        }
        s.f1()
    };
    // Best candidate per register by the smoothed F1; ties go to the value closest to the model's own.
    let choose = |per_candidate: &[Vec<Counts>], model: &[f32]| -> Vec<f32> {
        (0..registers.len())
            .map(|r| {
                let own = model[key_index(o, registers[r].0)];
                let mut best = (f64::MIN, own);
                for (c, &cand) in per_candidate.iter().zip(&opts.candidates) {
                    let f = smoothed(c, r);
                    if f > best.0 + 1e-12 || ((f - best.0).abs() <= 1e-12 && (cand - own).abs() < (best.1 - own).abs())
                    {
                        best = (f, cand);
                    }
                }
                best.1
            })
            .collect()
    };
    let with = |base: &KeyThresholds, onset: Option<&[f32]>, frame: Option<&[f32]>| -> KeyThresholds {
        let mut t = base.clone();
        for (r, &(lo, hi)) in registers.iter().enumerate() {
            for k in key_index(o, lo)..=key_index(o, hi) {
                if let Some(v) = onset {
                    t.onset[k] = v[r];
                }
                if let Some(v) = frame {
                    t.frame[k] = v[r];
                }
            }
        }
        t
    };
    let model = o.thresholds.clone();
    let onset_runs: Vec<_> = opts
        .candidates
        .iter()
        .map(|&c| score(&KeyThresholds { onset: vec![c; model.onset.len()], frame: model.frame.clone() }, false))
        .collect();
    let onsets = choose(&onset_runs, &model.onset);
    let with_onsets = with(&model, Some(&onsets), None);
    let frame_runs: Vec<_> = opts
        .candidates
        .iter()
        .map(|&c| score(&KeyThresholds { onset: with_onsets.onset.clone(), frame: vec![c; model.frame.len()] }, true))
        .collect();
    let frames = choose(&frame_runs, &model.frame);
    let thresholds = with(&with_onsets, None, Some(&frames));
    let report = |t: &KeyThresholds| -> Vec<RegisterResult> {
        let (notes, offsets) = (score(t, false), score(t, true));
        registers
            .iter()
            .enumerate()
            .map(|(r, &(lo, hi))| RegisterResult {
                keys: (lo, hi),
                reference_notes: (notes[r].0 + notes[r].2) as usize,
                onset: t.onset[key_index(o, lo)],
                frame: t.frame[key_index(o, lo)],
                note_f1: notes[r].f1(),
                offset_f1: offsets[r].f1(),
            })
            .collect()
    };
    Ok(Calibration { before: report(&model), after: report(&thresholds), thresholds })
}

/// (first, last) MIDI number of each register.
fn registers(o: &OnsetGatedConfig, size: usize) -> Vec<(u8, u8)> {
    let size = size.max(1);
    (0..o.keys())
        .step_by(size)
        .map(|k| (o.lowest_key + k as u8, o.lowest_key + (k + size).min(o.keys()) as u8 - 1))
        .collect()
}

fn key_index(o: &OnsetGatedConfig, midi: u8) -> usize {
    (midi - o.lowest_key) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A roll where every true note is an onset peak of `true_p` and every false one a peak of `false_p`,
    /// each followed by frames at 0.9 for 10 frames, and whose true notes are the reference.
    fn piece(keys: std::ops::Range<usize>, true_p: f32, false_p: f32, cfg: &OnsetsFramesConfig) -> Piece {
        let (k, frames) = (88, 400);
        let mut roll = FrameRoll {
            keys: k,
            frames,
            onset: vec![0.0; k * frames],
            frame: vec![0.0; k * frames],
            velocity: vec![0.5; k * frames],
        };
        let mut reference = vec![];
        let dt = cfg.segments.frame_seconds();
        for key in keys {
            for (n, start) in (10..frames - 20).step_by(20).enumerate() {
                roll.onset[start * k + key] = if n % 2 == 0 { true_p } else { false_p };
                for t in start..start + 10 {
                    roll.frame[t * k + key] = 0.9;
                }
                if n % 2 == 0 {
                    let pitch = 21 + key as u8;
                    reference.push(Note {
                        onset: start as f64 * dt,
                        offset: (start + 10) as f64 * dt,
                        pitch,
                        velocity: 50,
                    });
                }
            }
        }
        Piece { roll, reference }
    }

    /// Low keys: true onsets at 0.6, false ones at 0.45; high keys: true at 0.95, false at 0.8. The right
    /// onset threshold lies between the two in each half.
    #[test]
    fn finds_the_threshold_each_register_needs() {
        let cfg = OnsetsFramesConfig::from_header(&super::super::tests::header()).unwrap();
        let low = piece(0..44, 0.6, 0.45, &cfg);
        let high = piece(44..88, 0.95, 0.8, &cfg);
        let mut both = low.roll.clone();
        for (a, b) in both.onset.iter_mut().zip(&high.roll.onset) {
            *a = a.max(*b);
        }
        for (a, b) in both.frame.iter_mut().zip(&high.roll.frame) {
            *a = a.max(*b);
        }
        let reference = [low.reference, high.reference].concat();
        let pieces = [Piece { roll: both, reference }];
        let c = calibrate(&cfg, &pieces, &CalibrateOptions::default()).unwrap();
        assert_eq!(c.after.len(), 8);
        for r in &c.after {
            let range = if r.keys.1 < 21 + 44 { 0.45..0.6 } else { 0.8..0.95 };
            assert!(range.contains(&r.onset), "register {:?}: onset threshold {}", r.keys, r.onset);
            assert!(r.note_f1 > 0.999, "register {:?}: F1 {}", r.keys, r.note_f1);
        }
        // With the model's 0.5 everywhere, the high registers keep their false notes.
        assert!(c.before.iter().filter(|r| r.keys.0 >= 21 + 44).all(|r| r.note_f1 < 0.7));
        assert_eq!(c.thresholds.onset[0], c.after[0].onset);
    }
}
