//! The command-line tool as a user runs it.
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

mod common;

fn pianoscribe(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pianoscribe")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("pianoscribe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn transcribes_a_folder_and_scores_it() {
    let input = tmp("in");
    std::fs::create_dir_all(&input).unwrap();
    // A dot inside the name (as in "op.90_no.1"): the output keeps the whole stem.
    std::fs::copy(common::shared("data/stereo-44k/madmom_stereo_sample.wav"), input.join("sample.take.1.wav")).unwrap();
    std::fs::write(input.join("readme.txt"), "not audio").unwrap();
    let out = tmp("out");
    let (code, _, err) = pianoscribe(&["transcribe", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--tsv"]);
    assert_eq!(code, 0, "{err}");
    let midi = std::fs::read(out.join("sample.take.1.mid")).unwrap();
    assert!(midi.starts_with(b"MThd"));
    // The browser test (tests/web.rs) compares the wasm engine with this fixture: keep it the CLI's output.
    assert_eq!(
        std::fs::read_to_string(out.join("sample.take.1.tsv")).unwrap(),
        std::fs::read_to_string(common::repo("tests/fixtures/stereo-44k.cli.tsv")).unwrap(),
        "tests/fixtures/stereo-44k.cli.tsv is stale: regenerate it with `pianoscribe transcribe ... --tsv`"
    );
    // The same at a 2 s segment hop, where the wasm thread-pool test (tests/web_threads.rs) runs segments side
    // by side.
    let hop2 = tmp("hop2.mid");
    let (code, _, err) = pianoscribe(&[
        "transcribe",
        input.join("sample.take.1.wav").to_str().unwrap(),
        "-o",
        hop2.to_str().unwrap(),
        "--tsv",
        "--segment-hop",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(hop2.with_extension("tsv")).unwrap(),
        std::fs::read_to_string(common::repo("tests/fixtures/stereo-44k.hop2.cli.tsv")).unwrap(),
        "tests/fixtures/stereo-44k.hop2.cli.tsv is stale: regenerate it with `pianoscribe transcribe ... --tsv --segment-hop 2`"
    );
    // Same input, same bytes.
    let again = tmp("again.mid");
    let (code, _, err) =
        pianoscribe(&["transcribe", input.join("sample.take.1.wav").to_str().unwrap(), "-o", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&again).unwrap(), midi);

    let truth = common::shared("data/stereo-44k/madmom_stereo_sample.tsv");
    let json = tmp("scores.json");
    let (code, table, err) = pianoscribe(&[
        "eval",
        out.join("sample.take.1.mid").to_str().unwrap(),
        truth.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("note F1"), "{table}");
    let scores: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(scores["mean"]["note"]["f1"].as_f64(), Some(1.0), "{scores}");
    assert!(scores["pieces"]["madmom_stereo_sample"]["frame_accuracy"].as_f64().unwrap() > 0.5);
}

/// What the README promises of a failure: exit code 1 and one line on stderr, `error: ...`.
fn one_error_line(code: i32, err: &str) {
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() == 1 && lines[0].starts_with("error: "), "not one error line: {err:?}");
}

#[test]
fn errors_are_one_clear_line_and_a_non_zero_exit() {
    let (code, _, err) = pianoscribe(&["transcribe", "/nonexistent/piece.flac", "-o", tmp("x.mid").to_str().unwrap()]);
    one_error_line(code, &err);
    assert!(err.contains("/nonexistent/piece.flac"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // An empty file, a file cut off after its header, and text named .mp3.
    let flac = std::fs::read(common::shared("data/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac")).unwrap();
    for (name, bytes) in [
        ("empty.wav", &b""[..]),
        ("cut.flac", &flac[..300]),
        ("words.mp3", &b"this is a shopping list, not a song\n"[..]),
    ] {
        let f = tmp(name);
        std::fs::write(&f, bytes).unwrap();
        let (code, _, err) = pianoscribe(&["transcribe", f.to_str().unwrap(), "-o", tmp("bad.mid").to_str().unwrap()]);
        one_error_line(code, &err);
        assert!(err.contains(name), "{name}: {err}");
    }

    let bogus = tmp("model.bin");
    std::fs::write(&bogus, b"definitely not a model").unwrap();
    let wav = common::shared("data/stereo-44k/madmom_stereo_sample.wav");
    let (code, _, err) = pianoscribe(&[
        "transcribe",
        wav.to_str().unwrap(),
        "-o",
        tmp("y.mid").to_str().unwrap(),
        "--model",
        bogus.to_str().unwrap(),
    ]);
    one_error_line(code, &err);
    assert!(err.contains("not a pianoscribe model"), "{err}");

    // The score stage's model is a bundle too, but not one to transcribe with.
    let meter = common::repo("models/meter.pscb");
    let (code, _, err) = pianoscribe(&[
        "transcribe",
        wav.to_str().unwrap(),
        "-o",
        tmp("m.mid").to_str().unwrap(),
        "--model",
        meter.to_str().unwrap(),
    ]);
    one_error_line(code, &err);
    assert!(err.contains("not a transcription model"), "{err}");

    let (code, _, err) = pianoscribe(&[
        "transcribe",
        wav.to_str().unwrap(),
        "-o",
        tmp("z.mid").to_str().unwrap(),
        "--segment-hop",
        "40",
    ]);
    one_error_line(code, &err);
    assert!(err.contains("segment hop 40 s"), "{err}");

    let garbage = tmp("garbage.mid");
    std::fs::write(&garbage, b"MThd garbage").unwrap();
    let (code, _, err) = pianoscribe(&[
        "eval",
        garbage.to_str().unwrap(),
        common::shared("data/stereo-44k/madmom_stereo_sample.tsv").to_str().unwrap(),
    ]);
    one_error_line(code, &err);
    assert!(err.contains("cannot read MIDI"), "{err}");

    // Folders with no common stems: a message, not a crash.
    let a = tmp("lonely_a");
    let b = tmp("lonely_b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(a.join("one.tsv"), "0.1\t0.2\t60\t64\n").unwrap();
    std::fs::write(b.join("two.tsv"), "0.1\t0.2\t60\t64\n").unwrap();
    let (code, _, err) = pianoscribe(&["eval", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("one: estimate has no reference") && err.contains("no piece has both"), "{err}");
}

/// `info --json` (what build.sh lists the page's models with) says what each shipped bundle is, its measured
/// maps-dev scores from its provenance, and what it is refused for; `info` prints the same.
#[test]
fn info_describes_each_shipped_bundle() {
    for (file, family, segment) in
        [("models/transkun-v2.pscb", "transkun-v2", 16.0), ("models/oaf-small.pscb", "onsets-frames", 20.0)]
    {
        let path = common::repo(file);
        let (code, out, err) = pianoscribe(&["info", "--json", "--model", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["family"], family);
        assert_eq!(v["bytes"].as_u64(), Some(std::fs::metadata(&path).unwrap().len()));
        assert_eq!(v["segmentSeconds"].as_f64(), Some(segment));
        let note = v["provenance"]["scores"]["maps-dev"]["note"].as_f64().unwrap();
        assert!((0.5..1.0).contains(&note), "{file}: maps-dev note F1 {note}");
        let (code, text, _) = pianoscribe(&["info", "--model", path.to_str().unwrap()]);
        assert_eq!(code, 0);
        assert!(text.contains(&format!("family: {family}")) && text.contains(&format!("note F1 {note:.3}")), "{text}");
    }
    // The score stage's model: its own bundle, and `info` without --model prints it after the default model.
    let meter = common::repo("models/meter.pscb");
    let (code, out, err) = pianoscribe(&["info", "--json", "--model", meter.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["family"], "meter");
    assert_eq!(v["features"].as_array().map(Vec::len), Some(25));
    assert!(v["provenance"]["trained_on"].as_str().unwrap().contains("asap-train"), "{v}");
    let (code, text, _) = pianoscribe(&["info"]);
    assert_eq!(code, 0);
    assert!(text.contains("family: transkun-v2") && text.contains("score model (built in):\nfamily: meter"), "{text}");
    // Thresholds and calibration are Onsets & Frames' alone: another family is named in the refusal.
    let wav = common::shared("data/stereo-44k/madmom_stereo_sample.wav");
    let (code, _, err) = pianoscribe(&[
        "transcribe",
        wav.to_str().unwrap(),
        "-o",
        tmp("t.mid").to_str().unwrap(),
        "--thresholds",
        "/nonexistent.txt",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--thresholds needs an Onsets & Frames model; this one is transkun-v2"), "{err}");
}
