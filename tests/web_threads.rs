//! The wasm API on a thread pool (wasm-bindgen-rayon, 2 threads) gives the native CLI's notes where segments
//! run side by side: the 4 s clip at a 2 s segment hop is several segments, two at a time (at the default hop
//! it is one; tests/web.rs checks that on one thread). In its own module: the pool must be set up before rayon
//! is used.
#![cfg(target_arch = "wasm32")]

use pianoscribe::web::Engine;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod web_common;
use web_common::*;

#[wasm_bindgen_test]
async fn real_recording_matches_the_cli_on_two_threads() {
    wasm_bindgen_futures::JsFuture::from(pianoscribe::web::init_thread_pool(2)).await.unwrap();
    assert_eq!(pianoscribe::web::thread_count(), 2);
    let (rate, pcm) = parse_wav(WAV);
    let options = js_sys::JSON::parse(r#"{"segmentHopSeconds": 2}"#).unwrap();
    let threaded = notes_with(&Engine::new(MODEL).unwrap(), &pcm, rate, options);
    assert_same("two threads, segments side by side, vs CLI", &threaded, &note_table(CLI_NOTES_HOP2));
}
