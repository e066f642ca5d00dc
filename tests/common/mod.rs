//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use pianoscribe::Engine;

pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Test data lives in ../shared beside the repository (read-only).
pub fn shared(rel: &str) -> PathBuf {
    let p = repo("../shared").join(rel);
    assert!(p.exists(), "test data {} is missing: ../shared must sit beside the repository", p.display());
    p
}

/// The cells of the README table row that starts with `starts_with`, after its first (trimmed, empty ones
/// kept). The README is the one place figures are stated; the tests that measure them check it.
pub fn readme_cells(starts_with: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with(starts_with))
        .unwrap_or_else(|| panic!("README.md has no table row starting with {starts_with:?}"));
    let cells: Vec<String> = line.split('|').map(|c| c.trim().to_string()).collect();
    // "| first | a | b |": empty before the first bar and after the last.
    cells[2..cells.len().saturating_sub(1)].to_vec()
}

/// The figures of that row: every cell that is a number, and of a count "12/31" the 12.
pub fn readme_figures(starts_with: &str) -> Vec<f64> {
    readme_cells(starts_with).iter().filter_map(|c| c.split('/').next().and_then(|x| x.trim().parse().ok())).collect()
}

pub fn model_bytes() -> Vec<u8> {
    std::fs::read(repo("models/transkun-v2.pscb")).expect("models/transkun-v2.pscb")
}

/// One engine per test binary: loading and optimising the network takes seconds.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::from_bytes(&model_bytes()).expect("the shipped model loads"))
}

/// A 16-bit PCM WAV file in memory.
pub fn wav_bytes(rate: u32, channels: &[Vec<f32>]) -> Vec<u8> {
    let n = channels.first().map_or(0, |c| c.len());
    let ch = channels.len() as u16;
    let data_len = (n * channels.len() * 2) as u32;
    let mut v = vec![];
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&ch.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * ch as u32 * 2).to_le_bytes());
    v.extend_from_slice(&(ch * 2).to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        for c in channels {
            v.extend_from_slice(&((c[i].clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
        }
    }
    v
}

/// Decodes a whole audio file into memory: (sample rate, channels).
pub fn load_pcm(path: &std::path::Path) -> (u32, Vec<Vec<f32>>) {
    use pianoscribe::audio::{AudioFile, PcmSource};
    let mut src = AudioFile::open(path).unwrap();
    let mut pcm = vec![vec![]; src.channels()];
    while let Some(chunk) = src.next_chunk().unwrap() {
        for (p, c) in pcm.iter_mut().zip(chunk) {
            p.extend(c);
        }
    }
    (src.sample_rate(), pcm)
}

/// Notes written as JSON rows `[onset, offset, pitch, velocity]` (the fixtures' form).
pub fn notes_from_json(v: &serde_json::Value) -> Vec<pianoscribe::Note> {
    v.as_array()
        .expect("an array of notes")
        .iter()
        .map(|n| pianoscribe::Note {
            onset: n[0].as_f64().unwrap(),
            offset: n[1].as_f64().unwrap(),
            pitch: n[2].as_u64().unwrap() as u8,
            velocity: n[3].as_u64().unwrap() as u8,
        })
        .collect()
}

/// The six maps-dev recordings (../shared/data/maps-dev: real Disklavier recordings with aligned notes).
pub const MAPS_DEV: [&str; 6] = [
    "MAPS_MUS-chpn-p14_ENSTDkAm",
    "MAPS_MUS-scn15_9_ENSTDkAm",
    "MAPS_MUS-scn15_12_ENSTDkCl",
    "MAPS_MUS-chpn-p19_ENSTDkCl",
    "MAPS_MUS-grieg_kobold_ENSTDkAm",
    "MAPS_MUS-bor_ps6_ENSTDkCl",
];
