//! Parity with the Python reference (transkun 2.0.1, fp32) on the real MAPS recordings in ../shared, and
//! accuracy against their ground truth. Prints a table; fails if parity drops.
#![cfg(not(target_arch = "wasm32"))]

use pianoscribe::audio::AudioFile;
use pianoscribe::metrics::{evaluate, match_notes, mean, EvalOptions};
use pianoscribe::notes::read_note_table;
use pianoscribe::{Flow, TranscribeOptions};

mod common;
use common::{engine, shared};

const PIECES: &[&str] = &common::MAPS_DEV;

fn table(dir: &str, stem: &str) -> Vec<pianoscribe::Note> {
    let p = shared(&format!("data/{dir}/{stem}.tsv"));
    read_note_table(&std::fs::read_to_string(&p).unwrap(), &p.display().to_string()).unwrap()
}

/// The five figures of a row of the README's accuracy table: note F1, + offset, + offset + velocity, frame F1,
/// frame accuracy. The README is the one place they are stated; this test measures them.
fn readme_row(starts_with: &str) -> [f64; 5] {
    let v = common::readme_figures(starts_with);
    v.try_into().unwrap_or_else(|v| panic!("README row {starts_with:?}: expected 5 figures, found {v:?}"))
}

fn figures(m: &pianoscribe::metrics::Scores) -> [f64; 5] {
    [m.note.f1, m.note_offset.f1, m.note_offset_velocity.f1, m.frame.f1, m.frame_accuracy]
}

fn assert_readme(row: &str, measured: [f64; 5]) {
    let stated = readme_row(row);
    for (s, m) in stated.iter().zip(measured) {
        assert!(
            (s - m).abs() < 5e-5,
            "README row {row:?} states {stated:?}, measured {:?}: update the README",
            measured.map(|x| (x * 1e4).round() / 1e4)
        );
    }
}

/// Transcribes every maps-dev piece with these options: (piece, notes).
fn transcribe_all(options: TranscribeOptions) -> Vec<(&'static str, Vec<pianoscribe::Note>)> {
    PIECES
        .iter()
        .map(|stem| {
            let mut src = AudioFile::open(&shared(&format!("data/maps-dev/{stem}.flac"))).unwrap();
            (*stem, engine().transcribe(&mut src, options.clone(), &mut |_| Flow::Continue).unwrap().notes)
        })
        .collect()
}

/// At the reference's own segment hop (8 s), our notes are the reference's (note-onset F1 >= 0.995 on every
/// piece, velocities within 2 of its for 95 %), and the accuracy figures are the README's.
#[test]
fn maps_dev_matches_the_reference() {
    let opts = EvalOptions::default();
    let (mut vs_ref, mut vs_truth, mut ref_vs_truth) = (vec![], vec![], vec![]);
    println!("{:<32} {:>6} {:>9} {:>9} {:>9} {:>9}", "piece", "notes", "F1 vs ref", "vel <=2", "F1 truth", "ref truth");
    let at_reference_hop = TranscribeOptions { segment_hop_seconds: Some(8.0), ..Default::default() };
    for (stem, ours) in transcribe_all(at_reference_hop) {
        let reference = table("maps-dev-transkun", stem);
        let truth = table("maps-dev", stem);
        let parity = evaluate(&reference, &ours, &opts);
        // Velocities of the notes matched by onset: the share within 2 MIDI steps of the reference's.
        let m = match_notes(&reference, &ours, &opts, false);
        let close =
            m.iter().filter(|&&(r, e)| (reference[r].velocity as i32 - ours[e].velocity as i32).abs() <= 2).count();
        let vel_share = close as f64 / m.len().max(1) as f64;
        let acc = evaluate(&truth, &ours, &opts);
        let ref_acc = evaluate(&truth, &reference, &opts);
        println!(
            "{stem:<32} {:>6} {:>9.4} {:>9.3} {:>9.4} {:>9.4}",
            ours.len(),
            parity.note.f1,
            vel_share,
            acc.note.f1,
            ref_acc.note.f1
        );
        assert!(parity.note.f1 >= 0.995, "{stem}: note-onset F1 against the reference is {:.4}", parity.note.f1);
        assert!(vel_share >= 0.95, "{stem}: only {vel_share:.3} of velocities within 2 of the reference");
        vs_ref.push(parity);
        vs_truth.push(acc);
        ref_vs_truth.push(ref_acc);
    }
    let (a, b) = (mean(&vs_truth), mean(&ref_vs_truth));
    println!("mean vs ground truth: ours {:?}; reference {:?}", figures(&a), figures(&b));
    let parity = mean(&vs_ref).note.f1;
    println!("mean parity F1 {parity:.4}");
    assert_readme("| pianoscribe CLI `--segment-hop 8`", figures(&a));
    assert_readme("| transkun 2.0.1 in Python", figures(&b));
    // The README's prose: "0.9992 on average".
    assert!(
        (parity - 0.9992).abs() < 5e-5,
        "mean note-onset F1 against the reference is {parity:.4}: update the README"
    );
}

/// The reference's `.mid` files (MIDI ticks round its times) score what the README says: 0.9174 / 0.5674 /
/// 0.3715 (note, + offset, + velocity F1, mean over the pieces).
#[test]
fn the_references_midi_files_score_the_readmes_figures() {
    let opts = EvalOptions::default();
    let scores: Vec<_> = PIECES
        .iter()
        .map(|stem| {
            let midi = pianoscribe::notes::read_file(&shared(&format!("data/maps-dev-transkun/{stem}.mid"))).unwrap();
            evaluate(&table("maps-dev", stem), &midi.notes, &opts)
        })
        .collect();
    let m = mean(&scores);
    let got = [m.note.f1, m.note_offset.f1, m.note_offset_velocity.f1];
    println!("the reference's .mid files: {got:?}");
    for (want, got) in [0.9174, 0.5674, 0.3715].iter().zip(got) {
        assert!((want - got).abs() < 5e-5, "the reference's MIDI scores {got:.4}, the README says {want}");
    }
}

/// At the default segment hop, the accuracy figures are the README's.
#[test]
fn maps_dev_accuracy_at_the_default_hop_is_the_readmes() {
    let opts = EvalOptions::default();
    let scores: Vec<_> = transcribe_all(TranscribeOptions::default())
        .into_iter()
        .map(|(stem, ours)| evaluate(&table("maps-dev", stem), &ours, &opts))
        .collect();
    let m = mean(&scores);
    println!("default hop, mean vs ground truth: {:?}", figures(&m));
    assert_readme("| pianoscribe CLI (default", figures(&m));
}
