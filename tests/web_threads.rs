//! The wasm API on a thread pool (wasm-bindgen-rayon, 2 threads) gives the same notes as on one thread
//! (tests/web.rs) and as the native CLI. In its own module: the pool must be set up before rayon is used.
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
    let threaded = notes(&Engine::new(MODEL).unwrap(), &pcm, rate);
    assert_same("two threads vs CLI", &threaded, &cli_notes());
}
