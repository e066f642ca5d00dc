//! The metrics module against mir_eval itself (tests/fixtures/mir_eval.json, made by tools/mir_eval_fixture).
#![cfg(not(target_arch = "wasm32"))]

use pianoscribe::metrics::{evaluate, EvalOptions, Prf, Scores};

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

/// The CLI's `eval` on the folders (pieces paired by stem) against mir_eval on each real piece, through its
/// JSON report.
#[test]
fn real_pieces_match_mir_eval() {
    let f = fixture();
    assert_eq!(
        f["hop"].as_f64().unwrap(),
        EvalOptions::default().frame_hop,
        "the CLI scores frames at the default hop"
    );
    let json = std::env::temp_dir().join(format!("pianoscribe-eval-{}.json", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pianoscribe"))
        .arg("eval")
        .arg(common::shared("data/maps-dev-transkun"))
        .arg(common::shared("data/maps-dev"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).ok();
    let scores = |v: &serde_json::Value| {
        let prf = |k: &str| Prf {
            precision: v[k]["precision"].as_f64().unwrap(),
            recall: v[k]["recall"].as_f64().unwrap(),
            f1: v[k]["f1"].as_f64().unwrap(),
        };
        Scores {
            note: prf("note"),
            note_offset: prf("note_offset"),
            note_offset_velocity: prf("note_offset_velocity"),
            frame: prf("frame"),
            frame_accuracy: v["frame_accuracy"].as_f64().unwrap(),
        }
    };
    let expected = f["maps_dev"].as_object().unwrap();
    let pieces = report["pieces"].as_object().unwrap();
    assert_eq!(pieces.len(), expected.len());
    for (stem, want) in expected {
        check(stem, &scores(&pieces[stem]), want, 1e-4);
    }
    // The mean over pieces (Onsets & Frames convention).
    let mean = scores(&report["mean"]);
    let mean_f1 =
        |k: &str| expected.values().map(|v| v[k]["f1"].as_f64().unwrap()).sum::<f64>() / expected.len() as f64;
    assert!((mean.note.f1 - mean_f1("note")).abs() < 1e-4);
    assert!((mean.note_offset.f1 - mean_f1("note_offset")).abs() < 1e-4);
    assert!((mean.note_offset_velocity.f1 - mean_f1("note_offset_velocity")).abs() < 1e-4);
}
