//! The wasm API in headless Chromium (`wasm-pack test --headless --chrome`): a real recording gives the
//! native CLI's notes (tests/fixtures/stereo-44k.cli.tsv, which tests/cli.rs keeps in step with the CLI),
//! single-threaded and threaded runs agree, cancellation works, and errors come back as messages.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float32Array, Function};
use pianoscribe::web::Engine;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

// Threads block with Atomics.wait, which only workers may do.
wasm_bindgen_test_configure!(run_in_dedicated_worker);

static MODEL: &[u8] = include_bytes!("../models/transkun-v2.pscb");
static WAV: &[u8] = include_bytes!("../../shared/data/stereo-44k/madmom_stereo_sample.wav");
static CLI_NOTES: &str = include_str!("fixtures/stereo-44k.cli.tsv");

/// 16-bit PCM WAV -> (rate, channels).
fn parse_wav(b: &[u8]) -> (u32, Vec<Vec<f32>>) {
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

fn channels(pcm: &[Vec<f32>]) -> Array {
    pcm.iter().map(|c| JsValue::from(Float32Array::from(c.as_slice()))).collect()
}

fn cli_notes() -> Vec<[f64; 4]> {
    CLI_NOTES
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split('\t').map(|x| x.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

fn notes(engine: &Engine, pcm: &[Vec<f32>], rate: u32) -> Vec<[f64; 4]> {
    let t = engine.transcribe(channels(pcm), rate, false, true, None).map_err(JsValue::from).unwrap();
    assert!(t.midi().starts_with(b"MThd"));
    t.notes().to_vec().chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect()
}

fn assert_same(label: &str, got: &[[f64; 4]], want: &[[f64; 4]]) {
    assert_eq!(got.len(), want.len(), "{label}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g[0] - w[0]).abs() < 1e-3 && (g[1] - w[1]).abs() < 1e-3, "{label}: {g:?} vs {w:?}");
        assert_eq!(g[2], w[2], "{label}: pitch {g:?} vs {w:?}");
        assert!((g[3] - w[3]).abs() <= 1.0, "{label}: velocity {g:?} vs {w:?}");
    }
}

fn message(e: JsError) -> String {
    js_sys::Error::from(JsValue::from(e)).message().into()
}

#[wasm_bindgen_test]
async fn real_recording_matches_the_cli_single_and_multi_threaded() {
    let (rate, pcm) = parse_wav(WAV);
    assert_eq!(pianoscribe::web::thread_count(), 1);
    let single = notes(&Engine::new(MODEL).map_err(JsValue::from).unwrap(), &pcm, rate);
    assert_same("single-threaded vs CLI", &single, &cli_notes());

    wasm_bindgen_futures::JsFuture::from(pianoscribe::web::init_thread_pool(2)).await.unwrap();
    assert_eq!(pianoscribe::web::thread_count(), 2);
    let threaded = notes(&Engine::new(MODEL).map_err(JsValue::from).unwrap(), &pcm, rate);
    assert_same("threaded vs single-threaded", &threaded, &single);
}

#[wasm_bindgen_test]
fn errors_come_back_as_messages() {
    let e = Engine::new(b"RIFF not a model").err().unwrap();
    assert!(message(e).contains("not a pianoscribe model"));

    let engine = Engine::new(MODEL).map_err(JsValue::from).unwrap();
    let e = engine.transcribe(channels(&[vec![0.0; 100]]), 4_000, false, true, None).err().unwrap();
    assert!(message(e).contains("sample rate 4000 Hz is not supported"));
    let e = engine.transcribe(channels(&[vec![0.0; 100], vec![0.0; 99]]), 44_100, false, true, None).err().unwrap();
    assert!(message(e).contains("channel 1 has 99 samples"));
    let not_floats: Array = [JsValue::from_str("x")].into_iter().collect();
    let e = engine.transcribe(not_floats, 44_100, false, true, None).err().unwrap();
    assert!(message(e).contains("Array of Float32Array"));
    let e = engine.transcribe(Array::new(), 44_100, false, true, None).err().unwrap();
    assert!(message(e).contains("0 audio channels"));

    // Returning false from the progress callback cancels after the first segment.
    let (rate, pcm) = parse_wav(WAV);
    let stop = Function::new_with_args("fraction, seconds, notes", "return false;");
    let e = engine.transcribe(channels(&pcm), rate, false, true, Some(stop)).err().unwrap();
    assert_eq!(message(e), "transcription cancelled");
}
