//! Helpers for the browser tests (tests/web.rs, tests/web_threads.rs).
#![allow(dead_code)]

use js_sys::{Array, Float32Array};
use pianoscribe::web::{Engine, Transcriber};
use wasm_bindgen::prelude::*;

pub static MODEL: &[u8] = include_bytes!("../../models/transkun-v2.pscb");
pub static WAV: &[u8] = include_bytes!("../../../shared/data/stereo-44k/madmom_stereo_sample.wav");
pub static CLI_NOTES: &str = include_str!("../fixtures/stereo-44k.cli.tsv");
/// The CLI's notes at a 2 s segment hop (`--segment-hop 2`): the 4 s clip in several segments, which a thread
/// pool runs side by side.
pub static CLI_NOTES_HOP2: &str = include_str!("../fixtures/stereo-44k.hop2.cli.tsv");

/// 16-bit PCM WAV -> (rate, channels).
pub fn parse_wav(b: &[u8]) -> (u32, Vec<Vec<f32>>) {
    let u16le = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32le = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let (mut rate, mut ch, mut o) = (0, 0, 12);
    while o + 8 <= b.len() {
        let size = u32le(o + 4) as usize;
        if &b[o..o + 4] == b"fmt " {
            ch = u16le(o + 10) as usize;
            rate = u32le(o + 12);
        } else if &b[o..o + 4] == b"data" {
            let data = &b[o + 8..(o + 8 + size).min(b.len())];
            let mut out = vec![vec![]; ch];
            for (i, s) in data.chunks_exact(2).enumerate() {
                out[i % ch].push(i16::from_le_bytes([s[0], s[1]]) as f32 / 32768.0);
            }
            return (rate, out);
        }
        o += 8 + size + (size & 1);
    }
    panic!("no data chunk");
}

pub fn channels(pcm: &[Vec<f32>]) -> Array {
    pcm.iter().map(|c| JsValue::from(Float32Array::from(c.as_slice()))).collect()
}

pub fn cli_notes() -> Vec<[f64; 4]> {
    note_table(CLI_NOTES)
}

pub fn note_table(tsv: &str) -> Vec<[f64; 4]> {
    tsv.lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split('\t').map(|x| x.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

/// Transcribes PCM pushed in three uneven pieces (as the page pushes what it decodes), default options.
pub fn notes(engine: &Engine, pcm: &[Vec<f32>], rate: u32) -> Vec<[f64; 4]> {
    notes_with(engine, pcm, rate, JsValue::UNDEFINED)
}

/// [`notes`] with a JS options object (`TranscribeOptions`).
pub fn notes_with(engine: &Engine, pcm: &[Vec<f32>], rate: u32, options: JsValue) -> Vec<[f64; 4]> {
    let n = pcm[0].len();
    let mut stream = Transcriber::new(engine, rate, pcm.len(), Some(n as f64), options).unwrap();
    for (a, b) in [(0, n / 3), (n / 3, n / 3 + 7), (n / 3 + 7, n)] {
        let piece: Vec<Vec<f32>> = pcm.iter().map(|c| c[a..b].to_vec()).collect();
        stream.push(channels(&piece), None).unwrap();
    }
    let t = stream.finish(None).unwrap();
    assert!(t.midi().starts_with(b"MThd"));
    t.notes().to_vec().chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect()
}

pub fn assert_same(label: &str, got: &[[f64; 4]], want: &[[f64; 4]]) {
    assert_eq!(got.len(), want.len(), "{label}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g[0] - w[0]).abs() < 1e-3 && (g[1] - w[1]).abs() < 1e-3, "{label}: {g:?} vs {w:?}");
        assert_eq!(g[2], w[2], "{label}: pitch {g:?} vs {w:?}");
        assert!((g[3] - w[3]).abs() <= 1.0, "{label}: velocity {g:?} vs {w:?}");
    }
}

pub fn message(e: JsValue) -> String {
    js_sys::Error::from(e).message().into()
}

/// The `kind` the engine gives its errors (what the page switches on).
pub fn kind(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &"kind".into()).ok().and_then(|k| k.as_string()).unwrap_or_default()
}
