//! End-to-end behaviour of the engine on real and synthetic input, including every bad-input path.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;

use pianoscribe::audio::{AudioFile, PcmBuffer};
use pianoscribe::metrics::{evaluate, EvalOptions};
use pianoscribe::notes::read_note_table;
use pianoscribe::{midi, Engine, Error, Flow, Stage, TranscribeOptions};

mod common;
use common::{engine, shared, wav_bytes};

fn transcribe_file(path: &std::path::Path) -> pianoscribe::Result<pianoscribe::Transcription> {
    let mut src = AudioFile::open(path)?;
    engine().transcribe(&mut src, TranscribeOptions::default(), &mut |_| Flow::Continue)
}

fn transcribe_pcm(rate: u32, pcm: Vec<Vec<f32>>) -> pianoscribe::Result<pianoscribe::Transcription> {
    Ok(transcribe_counting(rate, pcm, TranscribeOptions::default())?.0)
}

/// Transcribes PCM and counts the segments (progress reports of a segment done) it took.
fn transcribe_counting(
    rate: u32,
    pcm: Vec<Vec<f32>>,
    options: TranscribeOptions,
) -> pianoscribe::Result<(pianoscribe::Transcription, usize)> {
    let mut src = PcmBuffer::new(rate, pcm)?;
    let mut segments = 0;
    let t = engine().transcribe(&mut src, options, &mut |p| {
        segments += matches!(p.stage, Stage::Done { .. }) as usize;
        Flow::Continue
    })?;
    Ok((t, segments))
}

/// The aligned notes of the 44.1 kHz stereo clip.
fn stereo_truth() -> Vec<pianoscribe::Note> {
    read_note_table(&std::fs::read_to_string(shared("data/stereo-44k/madmom_stereo_sample.tsv")).unwrap(), "gt")
        .unwrap()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pianoscribe-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

/// A decaying piano-like tone (a few harmonics) at `freq`, starting at `at` seconds.
fn tone(rate: u32, secs: f64, notes: &[(f64, f64)]) -> Vec<f32> {
    let n = (secs * rate as f64) as usize;
    let mut v = vec![0f32; n];
    for &(at, freq) in notes {
        let start = (at * rate as f64) as usize;
        for (i, s) in v.iter_mut().enumerate().skip(start) {
            let t = (i - start) as f64 / rate as f64;
            let env = (-3.0 * t).exp() * (1.0 - (-t * 400.0).exp());
            let x: f64 = (1..=4).map(|h| (2.0 * std::f64::consts::PI * freq * h as f64 * t).sin() / h as f64).sum();
            *s += (0.2 * env * x) as f32;
        }
    }
    v
}

#[test]
fn stereo_44k_recording_gives_its_eight_notes() {
    let path = shared("data/stereo-44k/madmom_stereo_sample.wav");
    let t = transcribe_file(&path).unwrap();
    let truth = stereo_truth();
    assert_eq!(truth.len(), 8);
    let s = evaluate(&truth, &t.notes, &EvalOptions::default());
    assert_eq!(t.notes.len(), 8, "{:?}", t.notes);
    assert_eq!(s.note.f1, 1.0, "{:?}\n{:?}", t.notes, s);
    // The MIDI file carries the same notes.
    let back = midi::read(&midi::write(&t), "out").unwrap();
    assert_eq!(back.notes.len(), 8);
}

#[test]
fn silence_gives_a_valid_midi_without_notes() {
    // Two all-zero segments, decoded from forced starts 344 and 0: the Viterbi path from 0 visits every frame,
    // so nothing is decoded from any start. This is why the pipeline may skip a segment of pure end padding.
    let at_8s = TranscribeOptions { segment_hop_seconds: Some(8.0), ..Default::default() };
    let (t, segments) = transcribe_counting(22_050, vec![vec![0.0; 22_050 * 3]], at_8s).unwrap();
    assert_eq!(segments, 2);
    assert!(t.notes.is_empty() && t.pedals.is_empty(), "{:?} {:?}", t.notes, t.pedals);
    let bytes = midi::write(&t);
    assert!(midi::read(&bytes, "silence").unwrap().notes.is_empty());
}

#[test]
fn odd_rates_and_channel_counts_work() {
    // The real stereo recording, resampled offline to other rates and spread over other channel counts.
    let (rate, pcm) = common::load_pcm(&shared("data/stereo-44k/madmom_stereo_sample.wav"));
    let truth = stereo_truth();
    for (to, channels) in [(8_000u32, 1usize), (192_000, 8), (11_025, 3)] {
        let mut r = pianoscribe::audio::Resampler::new(rate, to, 2);
        let mut y = r.process(&pcm);
        for (a, b) in y.iter_mut().zip(r.finish()) {
            a.extend(b);
        }
        let input: Vec<Vec<f32>> = (0..channels).map(|c| y[c % 2].clone()).collect();
        let t = transcribe_pcm(to, input).unwrap_or_else(|e| panic!("{to} Hz x{channels}: {e}"));
        let s = evaluate(&truth, &t.notes, &EvalOptions::default());
        assert!(s.note.f1 >= 0.85, "{to} Hz x{channels}: F1 {} {:?}", s.note.f1, t.notes);
    }
}

#[test]
fn rejects_unsupported_rates_channels_and_bad_samples() {
    assert!(matches!(PcmBuffer::new(7_999, vec![vec![0.0; 100]]), Err(Error::SampleRate { rate: 7_999, .. })));
    assert!(matches!(PcmBuffer::new(192_001, vec![vec![0.0; 100]]), Err(Error::SampleRate { .. })));
    assert!(matches!(PcmBuffer::new(44_100, vec![vec![0.0; 10]; 9]), Err(Error::Channels { channels: 9, .. })));
    assert!(matches!(PcmBuffer::new(44_100, vec![]), Err(Error::Channels { channels: 0, .. })));
    assert!(matches!(
        PcmBuffer::new(44_100, vec![vec![0.0; 10], vec![0.0; 9]]),
        Err(Error::ChannelLength { channel: 1, expected: 10, actual: 9 })
    ));
    let mut x = vec![0.0f32; 1000];
    x[500] = f32::NAN;
    assert!(matches!(transcribe_pcm(44_100, vec![x]), Err(Error::NonFinite { channel: 0, index: 500 })));
    assert!(matches!(transcribe_pcm(44_100, vec![vec![]]), Err(Error::NoAudio { .. })));
}

#[test]
fn bad_files_give_clear_errors() {
    let missing = std::env::temp_dir().join("pianoscribe-no-such-file.wav");
    let e = transcribe_file(&missing).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("no-such-file"), "{e}");

    let e = transcribe_file(&temp_file("empty.wav", b"")).unwrap_err();
    assert!(matches!(e, Error::EmptyFile { .. }), "{e}");

    let e = transcribe_file(&temp_file(
        "notes.mp3",
        b"these are not the droids you are looking for\n".repeat(100).as_slice(),
    ))
    .unwrap_err();
    assert!(matches!(e, Error::UnsupportedFormat { .. }), "{e}");

    // A WAV header that announces 0 samples.
    let e = transcribe_file(&temp_file("zero.wav", &wav_bytes(44_100, &[vec![]]))).unwrap_err();
    assert!(matches!(e, Error::NoAudio { .. }), "{e}");

    // A WAV file cut in the middle of its data.
    let full = wav_bytes(16_000, &[tone(16_000, 3.0, &[(0.2, 440.0)])]);
    let e = transcribe_file(&temp_file("cut.wav", &full[..full.len() / 2])).unwrap_err();
    assert!(matches!(e, Error::CorruptAudio { .. }) && e.to_string().contains("truncated"), "{e}");

    // A real FLAC file cut in half.
    let flac = std::fs::read(shared("data/maps-dev/MAPS_MUS-chpn-p14_ENSTDkAm.flac")).unwrap();
    let e = transcribe_file(&temp_file("cut.flac", &flac[..flac.len() / 2])).unwrap_err();
    assert!(matches!(e, Error::CorruptAudio { .. }), "{e}");

    // 8 channels: fine; 9 channels: a clear error before any work.
    let e = AudioFile::open(&temp_file("nine.wav", &wav_bytes(44_100, &vec![vec![0.0; 100]; 9]))).err().unwrap();
    assert!(matches!(e, Error::Channels { channels: 9, .. }), "{e}");
}

#[test]
fn wrong_or_damaged_model_files_are_rejected() {
    let wav = wav_bytes(44_100, &[vec![0.0; 100]]);
    let e = Engine::from_bytes(&wav).err().unwrap();
    assert!(matches!(e, Error::ModelFormat(_)), "{e}");
    let good = common::model_bytes();
    let e = Engine::from_bytes(&good[..good.len() - 1000]).err().unwrap();
    assert!(matches!(e, Error::ModelCorrupt(_)), "{e}");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let e = Engine::from_bytes(&flipped).err().unwrap();
    assert!(matches!(e, Error::ModelCorrupt(_)) && e.to_string().contains("checksum"), "{e}");
}

#[test]
fn progress_rises_to_one_and_cancel_stops() {
    let (rate, pcm) = common::load_pcm(&shared("data/stereo-44k/madmom_stereo_sample.wav"));
    let mut fractions = vec![];
    let mut seconds = vec![];
    let mut stages = vec![];
    let mut src = PcmBuffer::new(rate, pcm.clone()).unwrap();
    // At the reference's 8 s hop the 4 s clip takes two segments (one at the default hop).
    let at_8s = TranscribeOptions { segment_hop_seconds: Some(8.0), ..Default::default() };
    let t = engine()
        .transcribe(&mut src, at_8s.clone(), &mut |p| {
            stages.push(p.stage);
            if matches!(p.stage, Stage::Done { .. }) {
                fractions.push(p.fraction.unwrap());
                seconds.push(p.seconds_done);
            }
            Flow::Continue
        })
        .unwrap();
    // Within each segment: the network starts (on as many segments as run side by side), then each segment's
    // decoding, then it is done; every segment is reported in order.
    let mut expected = vec![];
    let mut next = 1;
    for s in &stages {
        if let Stage::Network { first, last } = *s {
            assert_eq!(first, next, "{stages:?}");
            for k in first..=last {
                expected.extend([Stage::Decoding { segment: k }, Stage::Done { segment: k }]);
            }
            next = last + 1;
        }
    }
    let without_network: Vec<Stage> = stages.iter().copied().filter(|s| !matches!(s, Stage::Network { .. })).collect();
    assert_eq!(without_network, expected);
    assert!(matches!(stages[0], Stage::Network { first: 1, .. }), "{stages:?}");
    assert!(fractions.len() >= 2);
    // The seconds done end at the clip's length (4.0 s), not at the padded last segment's end (the page
    // shows them as the audio's length).
    let clip = pcm[0].len() as f64 / rate as f64;
    assert!(
        (seconds.last().unwrap() - clip).abs() < 1e-3 && seconds.iter().all(|&s| s <= clip),
        "{seconds:?} of {clip}"
    );
    assert_eq!(fractions.len(), engine().segments_for(pcm[0].len() as u64, rate, &at_8s).unwrap());
    assert!(fractions.windows(2).all(|w| w[0] < w[1]) && *fractions.last().unwrap() == 1.0, "{fractions:?}");
    assert_eq!(t.notes.len(), 8);

    let mut src = PcmBuffer::new(rate, pcm).unwrap();
    let mut calls = 0;
    let e = engine()
        .transcribe(&mut src, at_8s, &mut |_| {
            calls += 1;
            Flow::Cancel
        })
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled));
    assert_eq!(calls, 1);
}

#[test]
fn pedal_options_shape_the_output() {
    // The first 20 s of a pedalled piece.
    let (rate, mut pcm) = common::load_pcm(&shared("data/maps-dev/MAPS_MUS-chpn-p14_ENSTDkAm.flac"));
    pcm[0].truncate(rate as usize * 20);
    let run = |o: TranscribeOptions| {
        let mut s = PcmBuffer::new(rate, pcm.clone()).unwrap();
        engine().transcribe(&mut s, o, &mut |_| Flow::Continue).unwrap()
    };
    let plain = run(TranscribeOptions::default());
    assert!(plain.pedals.iter().any(|p| p.kind == pianoscribe::PedalKind::Sustain), "the excerpt is pedalled");
    let no_pedals = run(TranscribeOptions { include_pedals: false, ..Default::default() });
    assert!(no_pedals.pedals.is_empty());
    assert_eq!(no_pedals.notes, plain.notes);
    let extended = run(TranscribeOptions { pedal_extend: true, ..Default::default() });
    assert_eq!(extended.notes.len(), plain.notes.len());
    let longer = extended.notes.iter().map(|n| n.offset - n.onset).sum::<f64>()
        > plain.notes.iter().map(|n| n.offset - n.onset).sum::<f64>();
    assert!(longer, "pedal extension lengthens notes");
}

#[test]
fn fast_mode_runs_fewer_segments_and_checks_the_hop() {
    let (rate, pcm) = common::load_pcm(&shared("data/stereo-44k/madmom_stereo_sample.wav"));
    let truth = stereo_truth();
    let count = |frames: u64, o: &TranscribeOptions| engine().segments_for(frames, rate, o).unwrap();
    let fast =
        TranscribeOptions { segment_hop_seconds: Some(pianoscribe::FAST_SEGMENT_HOP_SECONDS), ..Default::default() };
    let reference = TranscribeOptions { segment_hop_seconds: Some(8.0), ..Default::default() };
    // A minute of audio: 9 segments at the reference's hop, 6 at the default, 5 in the faster mode.
    let minute = 60 * rate as u64;
    assert_eq!(
        (count(minute, &reference), count(minute, &TranscribeOptions::default()), count(minute, &fast)),
        (9, 6, 5)
    );
    let (t, segments) = transcribe_counting(rate, pcm.clone(), fast.clone()).unwrap();
    assert_eq!(segments, count(pcm[0].len() as u64, &fast));
    assert_eq!(evaluate(&truth, &t.notes, &EvalOptions::default()).note.f1, 1.0, "{:?}", t.notes);
    for bad in [0.0, 1.0, 16.0, f64::NAN] {
        let o = TranscribeOptions { segment_hop_seconds: Some(bad), ..Default::default() };
        let e = transcribe_counting(rate, pcm.clone(), o).unwrap_err();
        assert!(matches!(e, Error::InvalidOption(_)) && e.to_string().contains("segment hop"), "{bad}: {e}");
    }
}

/// Segments run side by side on a two-thread pool (each on its own thread) give exactly what one thread
/// running them one after another gives: 30 s of a real piece at an 8 s hop is five segments, two pairs and one
/// alone.
#[test]
fn parallel_segments_give_the_same_transcription() {
    let (rate, mut pcm) = common::load_pcm(&shared("data/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac"));
    pcm.iter_mut().for_each(|c| c.truncate(30 * rate as usize));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let options = TranscribeOptions { segment_hop_seconds: Some(8.0), ..Default::default() };
            transcribe_counting(rate, pcm.clone(), options).unwrap()
        })
    };
    let (one, segments) = run(1);
    let (two, segments_two) = run(2);
    assert_eq!((segments, segments_two), (5, 5));
    assert!(one.notes.len() > 20, "{} notes", one.notes.len());
    assert_eq!(one.notes, two.notes);
    assert_eq!(one.pedals, two.pedals);
}
