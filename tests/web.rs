//! The wasm API in headless Chromium (cargo test for wasm32, run by wasm-bindgen-test-runner: see build.sh), on
//! one thread: a real recording gives the native CLI's notes (tests/fixtures/stereo-44k.cli.tsv, which tests/cli.rs keeps in step with
//! the CLI), cancellation works, and errors come back as messages. tests/web_threads.rs runs the same
//! recording on a thread pool (a pool can only be set up before rayon is first used, so in its own module).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function};
use pianoscribe::web::{Engine, Transcriber};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

// Threads block with Atomics.wait, which only workers may do.
wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod web_common;
use web_common::*;

#[wasm_bindgen_test]
fn real_recording_matches_the_cli_on_one_thread() {
    let (rate, pcm) = parse_wav(WAV);
    let single = notes(&Engine::new(MODEL).unwrap(), &pcm, rate);
    assert_eq!(pianoscribe::web::thread_count(), 1);
    assert_same("single-threaded vs CLI", &single, &cli_notes());
}

#[wasm_bindgen_test]
fn errors_come_back_as_messages_of_a_kind() {
    let e = Engine::new(b"RIFF not a model").err().unwrap();
    assert_eq!(kind(&e), "bad-model");
    assert!(message(e).contains("not a pianoscribe model"));

    let engine = Engine::new(MODEL).unwrap();
    let start = |rate: u32, channels: usize, options: JsValue| Transcriber::new(&engine, rate, channels, None, options);
    let e = start(4_000, 1, JsValue::UNDEFINED).err().unwrap();
    assert_eq!(kind(&e), "unsupported");
    assert!(message(e).contains("sample rate 4000 Hz is not supported"));
    let e = start(44_100, 0, JsValue::UNDEFINED).err().unwrap();
    assert!(message(e).contains("0 audio channels"));
    let typo = js_sys::JSON::parse(r#"{"pedalExtnd": true}"#).unwrap();
    let e = start(44_100, 1, typo).err().unwrap();
    assert_eq!(kind(&e), "invalid-input");
    let m = message(e);
    assert!(m.contains("invalid options") && m.contains("pedalExtnd"), "{m}");
    let bad_hop = js_sys::JSON::parse(r#"{"segmentHopSeconds": 40}"#).unwrap();
    assert!(message(start(44_100, 1, bad_hop).err().unwrap()).contains("segment hop 40 s"));

    let mut t = start(44_100, 2, JsValue::UNDEFINED).unwrap();
    let e = t.push(channels(&[vec![0.0; 100], vec![0.0; 99]]), None).err().unwrap();
    assert!(message(e).contains("channel 1 has 99 samples"));
    let not_floats: Array = [JsValue::from_str("x")].into_iter().collect();
    assert!(message(t.push(not_floats, None).err().unwrap()).contains("Array of Float32Array"));
    // Nothing pushed: no audio.
    let e = t.finish(None).err().unwrap();
    assert_eq!(kind(&e), "no-audio");
    assert!(message(e).contains("no audio samples"));
    assert!(message(t.finish(None).err().unwrap()).contains("finished"));

    // Returning false from the progress callback cancels at once (its first call: the network's start).
    let (rate, pcm) = parse_wav(WAV);
    let stop = Function::new_with_args("fraction, seconds, notes", "return false;");
    let mut t = Transcriber::new(&engine, rate, pcm.len(), None, JsValue::UNDEFINED).unwrap();
    t.push(channels(&pcm), Some(stop.clone())).unwrap();
    let e = t.finish(Some(stop)).err().unwrap();
    assert_eq!(kind(&e), "cancelled");
    assert_eq!(message(e), "transcription cancelled");
}

#[wasm_bindgen_test]
fn options_come_from_the_engine() {
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).unwrap();
    let engine = Engine::new(MODEL).unwrap();
    let defaults = engine.default_options();
    assert_eq!(get(&defaults, "segmentHopSeconds").as_f64(), Some(pianoscribe::DEFAULT_SEGMENT_HOP_SECONDS));
    assert_eq!(get(&defaults, "includePedals").as_bool(), Some(true));
    let faster = engine.faster_options();
    assert_eq!(get(&faster, "segmentHopSeconds").as_f64(), Some(pianoscribe::FAST_SEGMENT_HOP_SECONDS));
    let model = engine.model();
    assert_eq!(get(&model, "family").as_string().as_deref(), Some("transkun-v2"));
    assert_eq!(get(&model, "segmentSeconds").as_f64(), Some(16.0));
}
