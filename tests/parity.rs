//! Parity with the Python reference (transkun 2.0.1, fp32) on the real MAPS recordings in ../shared, and
//! accuracy against their ground truth. Prints a table; fails if parity drops.
#![cfg(not(target_arch = "wasm32"))]

use pianoscribe::audio::AudioFile;
use pianoscribe::metrics::{evaluate, match_notes, mean, EvalOptions};
use pianoscribe::notes::read_note_table;
use pianoscribe::{Flow, TranscribeOptions};

mod common;
use common::{engine, shared};

const PIECES: &[&str] = &[
    "MAPS_MUS-chpn-p14_ENSTDkAm",
    "MAPS_MUS-scn15_9_ENSTDkAm",
    "MAPS_MUS-scn15_12_ENSTDkCl",
    "MAPS_MUS-chpn-p19_ENSTDkCl",
    "MAPS_MUS-grieg_kobold_ENSTDkAm",
    "MAPS_MUS-bor_ps6_ENSTDkCl",
];

fn table(dir: &str, stem: &str) -> Vec<pianoscribe::Note> {
    let p = shared(&format!("data/{dir}/{stem}.tsv"));
    read_note_table(&std::fs::read_to_string(&p).unwrap(), &p.display().to_string()).unwrap()
}

#[test]
fn maps_dev_matches_the_reference() {
    let opts = EvalOptions::default();
    let (mut vs_ref, mut vs_truth, mut ref_vs_truth) = (vec![], vec![], vec![]);
    println!("{:<32} {:>6} {:>9} {:>9} {:>9} {:>9}", "piece", "notes", "F1 vs ref", "vel <=2", "F1 truth", "ref truth");
    for stem in PIECES {
        let mut src = AudioFile::open(&shared(&format!("data/maps-dev/{stem}.flac"))).unwrap();
        let ours = engine().transcribe(&mut src, TranscribeOptions::default(), &mut |_| Flow::Continue).unwrap().notes;
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
    println!(
        "mean vs ground truth: ours note {:.4} +off {:.4} +vel {:.4} frame {:.4}; reference note {:.4} +off {:.4} +vel {:.4} frame {:.4}",
        a.note.f1, a.note_offset.f1, a.note_offset_velocity.f1, a.frame.f1, b.note.f1, b.note_offset.f1, b.note_offset_velocity.f1, b.frame.f1
    );
    println!("mean parity F1 {:.4}", mean(&vs_ref).note.f1);
}
