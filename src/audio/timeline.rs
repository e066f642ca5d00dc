//! Decoded packets into a continuous recording, sample-exact: each packet's output is trimmed as its
//! [`PacketTime`] says and placed where it belongs. Audio that could not be decoded, a packet that failed or a
//! stretch that the container skipped over, becomes silence of the same length with a [`DecodeWarning`], so
//! that everything after it keeps its time. Whichever decoder made the samples (symphonia in the CLI, the
//! browser's in the page), the same rules apply.

use std::collections::VecDeque;

use super::container::PacketTime;
use super::DecodeWarning;
use crate::error::{Error, Result};

/// The longest run of undecodable audio that is concealed with silence; beyond it the file is refused.
pub const MAX_CONCEALED_SECONDS: f64 = 10.0;

pub struct Timeline {
    what: String,
    rate: u32,
    /// 0 until the first packet decodes, where the container does not say.
    channels: usize,
    /// The recording's sample that comes next.
    position: u64,
    warnings: Vec<DecodeWarning>,
    /// Audio ready to be taken, in order.
    ready: VecDeque<Vec<Vec<f32>>>,
}

impl Timeline {
    pub fn new(what: &str, rate: u32, channels: Option<usize>) -> Self {
        Timeline {
            what: what.into(),
            rate,
            channels: channels.unwrap_or(0),
            position: 0,
            warnings: vec![],
            ready: VecDeque::new(),
        }
    }

    pub fn channels(&self) -> Option<usize> {
        (self.channels > 0).then_some(self.channels)
    }

    /// Samples per channel placed so far.
    pub fn delivered(&self) -> u64 {
        self.position
    }

    pub fn warnings(&self) -> &[DecodeWarning] {
        &self.warnings
    }

    /// The next ready chunk of audio (one Vec per channel).
    pub fn take(&mut self) -> Option<Vec<Vec<f32>>> {
        self.ready.pop_front()
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    fn corrupt(&self, detail: String) -> Error {
        Error::CorruptAudio { what: self.what.clone(), detail }
    }

    /// A packet's decoded samples (as the decoder returned them, untrimmed), at `rate` Hz.
    pub fn decoded(&mut self, time: &PacketTime, rate: u32, mut pcm: Vec<Vec<f32>>) -> Result<()> {
        let n = pcm.first().map_or(0, |c| c.len()) as u64;
        if n == 0 {
            return Ok(()); // a decoder's priming packet (Vorbis's first)
        }
        if self.channels == 0 {
            self.channels = pcm.len();
        }
        if rate != self.rate || pcm.len() != self.channels {
            return Err(self.corrupt("the stream changes its sample rate or channel count midway".into()));
        }
        self.gap_before(time)?;
        // The container's length wins over the decoder's: MP4 states a last packet shorter than the 1024 samples
        // AAC always decodes to.
        let keep = n.saturating_sub(time.trim_start + time.trim_end).min(time.frames);
        for c in pcm.iter_mut() {
            c.drain(..(time.trim_start.min(n) as usize));
            c.truncate(keep as usize);
        }
        if keep > 0 {
            self.position += keep;
            self.ready.push_back(pcm);
        }
        Ok(())
    }

    /// A packet that could not be decoded: silence for its length.
    pub fn failed(&mut self, time: &PacketTime, detail: String) -> Result<()> {
        self.gap_before(time)?;
        self.conceal(time.frames, format!("a frame could not be decoded ({detail})"))
    }

    /// Silence for a stretch that the container skipped (frames lost to damage) before this packet.
    fn gap_before(&mut self, time: &PacketTime) -> Result<()> {
        if time.start > self.position {
            self.conceal(time.start - self.position, "part of the stream is damaged or missing".into())?;
        }
        Ok(())
    }

    /// Silence in place of `samples` that could not be decoded, and a warning that says where (one for a run of
    /// them). A run longer than [`MAX_CONCEALED_SECONDS`] means the stream cannot be decoded: an error.
    fn conceal(&mut self, samples: u64, detail: String) -> Result<()> {
        if samples == 0 {
            return Ok(());
        }
        let (at, seconds) = (self.position as f64 / self.rate as f64, samples as f64 / self.rate as f64);
        match self.warnings.last_mut() {
            Some(w) if (w.seconds + w.missing_seconds - at).abs() < 1e-6 => w.missing_seconds += seconds,
            _ => self.warnings.push(DecodeWarning { seconds: at, missing_seconds: seconds, detail: detail.clone() }),
        }
        let run = self.warnings.last().map_or(0.0, |w| w.missing_seconds);
        if run > MAX_CONCEALED_SECONDS || self.channels == 0 {
            return Err(self.corrupt(format!("undecodable from {:.2} s on: {detail}", at + seconds - run)));
        }
        self.position += samples;
        self.ready.push_back(vec![vec![0.0; samples as usize]; self.channels]);
        Ok(())
    }

    /// At the end of the stream: nothing decoded, or a stream that stops well short of the length its header
    /// states (`expected`), is an error.
    pub fn finish(&self, expected: Option<u64>) -> Result<()> {
        if self.position == 0 {
            return Err(Error::NoAudio { what: self.what.clone() });
        }
        if let Some(expected) = expected {
            // Compressed formats state their length only approximately (encoder delay and padding).
            let slack = (expected / 200).max(4096);
            if self.position + slack < expected {
                return Err(self.corrupt(format!(
                    "truncated: the header announces {expected} samples per channel but only {} could be decoded",
                    self.position
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(start: u64, frames: u64, trim_start: u64, trim_end: u64) -> PacketTime {
        PacketTime { start, frames, trim_start, trim_end }
    }

    fn drain(t: &mut Timeline) -> Vec<f32> {
        std::iter::from_fn(|| t.take()).flat_map(|c| c[0].clone()).collect()
    }

    #[test]
    fn trims_places_and_conceals() {
        let mut t = Timeline::new("x", 100, Some(1));
        let ramp = |from: usize, n: usize| vec![(from..from + n).map(|v| v as f32).collect::<Vec<_>>()];
        // A first packet with 3 samples of delay, then one lost packet (5 samples), then one with 2 of padding.
        t.decoded(&time(0, 2, 3, 0), 100, ramp(0, 5)).unwrap();
        t.decoded(&time(7, 3, 0, 2), 100, ramp(10, 5)).unwrap();
        assert_eq!(drain(&mut t), vec![3.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 11.0, 12.0]);
        assert_eq!(t.warnings().len(), 1);
        assert_eq!((t.warnings()[0].seconds, t.warnings()[0].missing_seconds), (0.02, 0.05));
        // A packet that fails right after: the same warning grows.
        t.failed(&time(10, 4, 0, 0), "bad".into()).unwrap();
        assert_eq!(drain(&mut t), vec![0.0; 4]);
        assert_eq!(t.warnings().len(), 2, "a new run: the last one ended before the audio at 0.07 s");
        t.failed(&time(14, 4, 0, 0), "bad".into()).unwrap();
        assert_eq!(t.warnings().len(), 2);
        assert!((t.warnings()[1].missing_seconds - 0.08).abs() < 1e-9);
        t.finish(Some(18)).unwrap();
        assert!(t.finish(Some(10_000)).is_err(), "far short of the stated length");
    }

    #[test]
    fn a_long_undecodable_run_is_an_error() {
        let mut t = Timeline::new("x", 100, Some(1));
        t.decoded(&time(0, 10, 0, 0), 100, vec![vec![1.0; 10]]).unwrap();
        let e = t.decoded(&time(10 + 1001, 10, 0, 0), 100, vec![vec![1.0; 10]]).unwrap_err();
        assert!(e.to_string().contains("undecodable from 0.10 s on"), "{e}");
        let mut t = Timeline::new("x", 100, Some(2));
        t.decoded(&time(0, 10, 0, 0), 100, vec![vec![1.0; 10]; 2]).unwrap();
        assert!(t.decoded(&time(10, 10, 0, 0), 100, vec![vec![1.0; 10]]).is_err(), "channel count changed");
        assert!(Timeline::new("x", 100, None).finish(None).is_err(), "nothing decoded");
    }
}
