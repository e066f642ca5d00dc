//! The Rust front-end against transkun's own features (tests/fixtures/frontend.json, written by
//! tools/convert from the 44.1 kHz stereo recording in ../shared).
#![cfg(not(target_arch = "wasm32"))]

use pianoscribe::audio::{AudioFile, PcmSource};
use pianoscribe::bundle::Bundle;
use pianoscribe::family::transkun::{TranskunConfig, TranskunFrontEnd};

mod common;

#[test]
fn features_match_transkun() {
    let bytes = common::model_bytes();
    let config = TranskunConfig::from_bundle(&Bundle::parse(&bytes).unwrap()).unwrap();
    let cfg = &config.segments;
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::repo("tests/fixtures/frontend.json")).unwrap()).unwrap();
    let mut src =
        AudioFile::open(&common::shared(&format!("data/stereo-44k/{}", fixture["source"].as_str().unwrap()))).unwrap();
    assert_eq!(src.sample_rate(), cfg.sample_rate);
    let mut pcm = vec![vec![]; src.channels()];
    while let Some(chunk) = src.next_chunk().unwrap() {
        for (p, c) in pcm.iter_mut().zip(chunk) {
            p.extend(c);
        }
    }
    // The first segment: leading padding, then the audio, zero-filled to the segment length.
    let segment: Vec<Vec<f32>> = pcm
        .iter()
        .map(|c| {
            let mut s = vec![0f32; cfg.lead_in_samples()];
            s.extend_from_slice(c);
            s.resize(cfg.segment_samples(), 0.0);
            s
        })
        .collect();
    let feats = TranskunFrontEnd::new(&config).process(&segment);
    assert_eq!((feats.frames, feats.mels, feats.windows), (691, 229, 6));
    let mut worst = 0f32;
    for (frame, values) in fixture["frames"].as_object().unwrap() {
        let t: usize = frame.parse().unwrap();
        for (i, v) in values.as_array().unwrap().iter().enumerate() {
            let (m, w) = (i / feats.windows, i % feats.windows);
            worst = worst.max((feats.at(t, m, w) - v.as_f64().unwrap() as f32).abs());
        }
    }
    // Log-mel values lie in about [0, 1.5]; f32 FFTs in a different order differ by ~1e-6.
    assert!(worst < 1e-4, "largest feature difference {worst}");
    for (t, v) in fixture["frame_means"].as_array().unwrap().iter().enumerate() {
        let mean: f32 = (0..feats.mels)
            .flat_map(|m| (0..feats.windows).map(move |w| (m, w)))
            .map(|(m, w)| feats.at(t, m, w))
            .sum::<f32>()
            / (feats.mels * feats.windows) as f32;
        assert!((mean - v.as_f64().unwrap() as f32).abs() < 1e-5, "frame {t}: {mean} vs {v}");
    }
}
