//! The metrics module against mir_eval itself (tests/fixtures/mir_eval.json, made by tools/mir_eval_fixture).
#![cfg(not(target_arch = "wasm32"))]

use pianoscribe::metrics::{evaluate, evaluate_paths, EvalOptions, Prf, Scores};

mod common;

use common::notes_from_json as notes;

fn check(name: &str, got: &Scores, want: &serde_json::Value, tol: f64) {
    let prf = |label: &str, p: &Prf| {
        for (k, v) in [("precision", p.precision), ("recall", p.recall), ("f1", p.f1)] {
            let w = want[label][k].as_f64().unwrap();
            assert!((v - w).abs() <= tol, "{name} {label}.{k}: ours {v}, mir_eval {w}");
        }
    };
    prf("note", &got.note);
    prf("note_offset", &got.note_offset);
    prf("note_offset_velocity", &got.note_offset_velocity);
    prf("frame", &got.frame);
    let w = want["frame_accuracy"].as_f64().unwrap();
    assert!((got.frame_accuracy - w).abs() <= tol, "{name} frame accuracy: ours {}, mir_eval {w}", got.frame_accuracy);
}

fn fixture() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(common::repo("tests/fixtures/mir_eval.json")).unwrap()).unwrap()
}

#[test]
fn constructed_cases_match_mir_eval_exactly() {
    let f = fixture();
    let opts = EvalOptions { frame_hop: f["hop"].as_f64().unwrap(), ..Default::default() };
    let cases = f["constructed"].as_object().unwrap();
    assert!(cases.len() >= 10);
    for (name, case) in cases {
        let s = evaluate(&notes(&case["ref"]), &notes(&case["est"]), &opts);
        check(name, &s, &case["expected"], 1e-6);
    }
}

#[test]
fn real_pieces_match_mir_eval() {
    let f = fixture();
    let opts = EvalOptions { frame_hop: f["hop"].as_f64().unwrap(), ..Default::default() };
    let report =
        evaluate_paths(&common::shared("data/maps-dev-transkun"), &common::shared("data/maps-dev"), &opts).unwrap();
    let expected = f["maps_dev"].as_object().unwrap();
    assert_eq!(report.pieces.len(), expected.len());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    for (stem, want) in expected {
        check(stem, &report.pieces[stem], want, 1e-4);
    }
    // The mean over pieces (Onsets & Frames convention).
    let mean_f1 =
        |k: &str| expected.values().map(|v| v[k]["f1"].as_f64().unwrap()).sum::<f64>() / expected.len() as f64;
    assert!((report.mean.note.f1 - mean_f1("note")).abs() < 1e-4);
    assert!((report.mean.note_offset.f1 - mean_f1("note_offset")).abs() < 1e-4);
    assert!((report.mean.note_offset_velocity.f1 - mean_f1("note_offset_velocity")).abs() < 1e-4);
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert!(json["mean"]["note"]["f1"].as_f64().is_some() && json["pieces"].as_object().unwrap().len() == 6);
}
