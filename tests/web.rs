//! The wasm API in headless Chromium (`wasm-pack test --headless --chrome`), on one thread: a real recording
//! gives the native CLI's notes (tests/fixtures/stereo-44k.cli.tsv, which tests/cli.rs keeps in step with
//! the CLI), cancellation works, and errors come back as messages. tests/web_threads.rs runs the same
//! recording on a thread pool (a pool can only be set up before rayon is first used, so in its own module).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function};
use pianoscribe::web::Engine;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

// Threads block with Atomics.wait, which only workers may do.
wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod web_common;
use web_common::*;

#[wasm_bindgen_test]
fn real_recording_matches_the_cli_on_one_thread() {
    let (rate, pcm) = parse_wav(WAV);
    let single = notes(&Engine::new(MODEL).map_err(JsValue::from).unwrap(), &pcm, rate);
    assert_eq!(pianoscribe::web::thread_count(), 1);
    assert_same("single-threaded vs CLI", &single, &cli_notes());
}

#[wasm_bindgen_test]
fn errors_come_back_as_messages() {
    let e = Engine::new(b"RIFF not a model").err().unwrap();
    assert!(message(e).contains("not a pianoscribe model"));

    let engine = Engine::new(MODEL).map_err(JsValue::from).unwrap();
    let e = engine.transcribe(channels(&[vec![0.0; 100]]), 4_000, false, true, false, None).err().unwrap();
    assert!(message(e).contains("sample rate 4000 Hz is not supported"));
    let e =
        engine.transcribe(channels(&[vec![0.0; 100], vec![0.0; 99]]), 44_100, false, true, false, None).err().unwrap();
    assert!(message(e).contains("channel 1 has 99 samples"));
    let not_floats: Array = [JsValue::from_str("x")].into_iter().collect();
    let e = engine.transcribe(not_floats, 44_100, false, true, false, None).err().unwrap();
    assert!(message(e).contains("Array of Float32Array"));
    let e = engine.transcribe(Array::new(), 44_100, false, true, false, None).err().unwrap();
    assert!(message(e).contains("0 audio channels"));

    // Returning false from the progress callback cancels after the first segment.
    let (rate, pcm) = parse_wav(WAV);
    let stop = Function::new_with_args("fraction, seconds, notes", "return false;");
    let e = engine.transcribe(channels(&pcm), rate, false, true, false, Some(stop)).err().unwrap();
    assert_eq!(message(e), "transcription cancelled");
}
