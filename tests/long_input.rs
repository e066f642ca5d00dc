//! Memory stays bounded however long the recording: a real recording is looped chunk by chunk (the stream
//! is never held whole), and the process's resident memory is read after every segment. Its length is 4 minutes by
//! default; set PIANOSCRIBE_LONG_MINUTES=60 for the hour-long run.
#![cfg(not(target_arch = "wasm32"))]

use pianoscribe::audio::PcmSource;
use pianoscribe::{Flow, TranscribeOptions};

mod common;

/// A real recording played over and over, served chunk by chunk (the whole stream is never in memory).
struct Looped {
    rate: u32,
    pcm: Vec<f32>,
    total: u64,
    pos: u64,
}

impl PcmSource for Looped {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn channels(&self) -> usize {
        1
    }
    fn total_frames(&self) -> Option<u64> {
        Some(self.total)
    }
    fn next_chunk(&mut self) -> pianoscribe::Result<Option<Vec<Vec<f32>>>> {
        if self.pos >= self.total {
            return Ok(None);
        }
        let n = (self.total - self.pos).min(self.rate as u64);
        let len = self.pcm.len() as u64;
        let x = (self.pos..self.pos + n).map(|i| self.pcm[(i % len) as usize]).collect();
        self.pos += n;
        Ok(Some(vec![x]))
    }
}

/// Peak resident memory of this process (kB), from /proc.
fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn memory_does_not_grow_with_length() {
    let minutes: u64 = std::env::var("PIANOSCRIBE_LONG_MINUTES").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let stem = "MAPS_MUS-chpn-p14_ENSTDkAm";
    let (rate, mut pcm) = common::load_pcm(&common::shared(&format!("data/maps-dev/{stem}.flac")));
    let total = minutes * 60 * rate as u64;
    let loops = total as f64 / pcm[0].len() as f64;
    let per_loop = std::fs::read_to_string(common::shared(&format!("data/maps-dev-transkun/{stem}.tsv"))).unwrap().lines().count() - 1;
    let mut src = Looped { rate, pcm: pcm.remove(0), total, pos: 0 };
    let mut peaks = vec![];
    let t = common::engine()
        .transcribe(&mut src, TranscribeOptions::default(), &mut |p| {
            peaks.push(peak_rss_kb().unwrap_or(0));
            if p.segments_done % 50 == 0 {
                eprintln!("  {} segments, {:.0} s of audio, peak RSS {} MB", p.segments_done, p.seconds_done, peaks.last().unwrap() / 1024);
            }
            Flow::Continue
        })
        .unwrap();
    let early = peaks[2.min(peaks.len() - 1)];
    let last = *peaks.last().unwrap();
    println!("{minutes} min: {} segments, {} notes, peak RSS after 3 segments {} MB, at the end {} MB", peaks.len(), t.notes.len(), early / 1024, last / 1024);
    // Each pass over the recording gives about the reference's notes.
    let expected = per_loop as f64 * loops;
    assert!((t.notes.len() as f64 - expected).abs() < 0.05 * expected, "{} notes, expected about {expected:.0}", t.notes.len());
    if last > 0 {
        assert!(last < early + 64 * 1024, "peak memory grew from {} MB to {} MB", early / 1024, last / 1024);
    }
}
