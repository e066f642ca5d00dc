//! Every format in, sample-exact timing: one 44.1 kHz stereo piano clip with distinct channels and its full
//! band, encoded as each format the CLI reads (by tests/formats/encode.sh, with LAME and ffmpeg), decoded and
//! transcribed, against the WAV it was encoded from; each channel checked on its own, so that a swapped or
//! downmixed channel shows.
//! Files that state their encoder delay must decode with no shift at all and give notes within 2 ms (median)
//! of the WAV's; the others shift by their encoder's undeclared delay, measured here and stated in the README.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use pianoscribe::audio::{AudioFile, FileStream, PcmSource};
use pianoscribe::metrics::{match_notes, EvalOptions};
use pianoscribe::{Flow, Note, TranscribeOptions};

mod common;
use common::{engine, load_pcm};

/// (file, the WAV it is compared with, the shift in samples at the file's rate: 0 where the file states its
/// delay).
const MATRIX: &[(&str, &str, i64)] = &[
    ("wav-s24.wav", "wav-s16.wav", 0),
    ("wav-f32.wav", "wav-s16.wav", 0),
    ("flac.flac", "wav-s16.wav", 0),
    ("lame-cbr128.mp3", "wav-s16.wav", 0),
    ("lame-vbr.mp3", "wav-s16.wav", 0),
    ("lame-cbr128-48k.mp3", "wav-48k.wav", 0),
    ("ffmpeg.mp3", "wav-s16.wav", 0),
    ("vorbis.ogg", "wav-s16.wav", 0),
    ("opus.opus", "wav-48k.wav", 0),
    ("aac.m4a", "wav-s16.wav", 0),
    // No Info tag: only the decoder's delay (529) is known and trimmed; LAME's own 576 samples remain.
    ("lame-notag.mp3", "wav-s16.wav", 576),
    // AAC without an edit list (MP4) or in ADTS: ffmpeg's encoder primes 1024 samples and says so nowhere.
    ("aac-noedit.m4a", "wav-s16.wav", 1024),
    ("adts.aac", "wav-s16.wav", 1024),
];

/// The encoded files (made once per build folder; the encoders must be installed: ./build.sh test does).
fn matrix() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::repo("target/formats");
        let status = std::process::Command::new("bash")
            .arg(common::repo("tests/formats/encode.sh"))
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("bash runs");
        assert!(status.success(), "tests/formats/encode.sh failed (are ffmpeg and lame installed?)");
        dir
    })
}

fn mono(path: &Path) -> (u32, Vec<f32>) {
    let (rate, pcm) = load_pcm(path);
    let n = pcm[0].len();
    (rate, (0..n).map(|i| pcm.iter().map(|c| c[i]).sum::<f32>() / pcm.len() as f32).collect())
}

/// Cosine similarity of a[i] and b[i + lag] over one second from `from`.
fn similarity(a: &[f32], b: &[f32], lag: i64, from: usize, rate: usize) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for i in from..from + rate {
        let Some(&y) = usize::try_from(i as i64 + lag).ok().and_then(|j| b.get(j)) else { continue };
        let x = a[i] as f64;
        ab += x * y as f64;
        aa += x * x;
        bb += y as f64 * y as f64;
    }
    ab / (aa * bb).sqrt().max(1e-12)
}

/// The shift (in samples) that best aligns `b` with `a` over one second from `from`: b[i + lag] ~ a[i].
fn lag(a: &[f32], b: &[f32], from: usize, rate: usize) -> i64 {
    let range = 2000i64;
    (-range..=range)
        .map(|lag| {
            let s: f64 = (from..from + rate)
                .filter_map(|i| Some(a[i] as f64 * *b.get(usize::try_from(i as i64 + lag).ok()?)? as f64))
                .sum();
            (lag, s)
        })
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .unwrap()
        .0
}

/// The notes of a file (each file transcribed once per test binary).
fn transcribe(path: &Path) -> Vec<Note> {
    static DONE: Mutex<BTreeMap<PathBuf, Vec<Note>>> = Mutex::new(BTreeMap::new());
    if let Some(notes) = DONE.lock().unwrap().get(path) {
        return notes.clone();
    }
    let mut src = AudioFile::open(path).unwrap();
    let notes = engine().transcribe(&mut src, TranscribeOptions::default(), &mut |_| Flow::Continue).unwrap().notes;
    DONE.lock().unwrap().insert(path.into(), notes.clone());
    notes
}

/// Median onset shift of `est`'s notes against `reference`'s (matched within 50 ms, same pitch), and the share
/// of reference notes matched.
fn onset_shift(reference: &[Note], est: &[Note]) -> (f64, f64) {
    let m = match_notes(reference, est, &EvalOptions::default(), false);
    let mut d: Vec<f64> = m.iter().map(|&(r, e)| est[e].onset - reference[r].onset).collect();
    d.sort_by(f64::total_cmp);
    (d[d.len() / 2], m.len() as f64 / reference.len() as f64)
}

#[test]
fn every_format_decodes_sample_exact() {
    let dir = matrix();
    let (_, clip) = load_pcm(&dir.join("wav-s16.wav"));
    assert_eq!(clip.len(), 2, "the clip is stereo");
    // The channels differ (FluidR3's stereo piano): a swap or a downmix cannot pass unseen.
    let r = 44_100;
    let alike = similarity(&clip[0], &clip[1], 0, r, r);
    assert!(alike < 0.6, "the clip's channels are {alike:.2} alike");
    for &(file, wav, expected) in MATRIX {
        let (rate, reference) = load_pcm(&dir.join(wav));
        let (file_rate, pcm) = load_pcm(&dir.join(file));
        assert_eq!(file_rate, rate, "{file}: sample rate");
        assert_eq!(pcm.len(), reference.len(), "{file}: channels");
        let r = rate as usize;
        for (c, (want, got)) in reference.iter().zip(&pcm).enumerate() {
            // Near the start and near the end: a shift that grows (lost or doubled frames) shows too.
            let lags = (lag(want, got, r, r), lag(want, got, 6 * r, r));
            // Each channel is its own: closer to the same channel of the WAV than to the other one.
            let same = similarity(want, got, expected, r, r);
            let other = similarity(&reference[1 - c], got, expected, r, r);
            println!(
                "{file:<22} channel {c}: shift {:>5} / {:>5} samples, {} vs {} samples, similarity {same:.3} \
                 (other channel {other:.3})",
                lags.0,
                lags.1,
                got.len(),
                want.len()
            );
            assert_eq!(lags, (expected, expected), "{file}: channel {c} is shifted against {wav}");
            assert!(same > 0.9 && same > other + 0.2, "{file}: channel {c} is not the WAV's ({same:.3} vs {other:.3})");
            if expected == 0 {
                // Encoder padding is trimmed too: the same length as the original.
                assert_eq!(got.len(), want.len(), "{file}: length");
            }
        }
    }
}

#[test]
fn every_format_gives_the_wavs_notes_at_the_wavs_times() {
    let dir = matrix();
    let wav = transcribe(&dir.join("wav-s16.wav"));
    assert!(wav.len() > 100, "{} notes in the WAV", wav.len());
    println!("{:<22} {:>6} {:>14} {:>8}", "file", "notes", "median shift", "matched");
    for &(file, _, expected) in MATRIX {
        let notes = transcribe(&dir.join(file));
        let (shift, matched) = onset_shift(&wav, &notes);
        println!("{file:<22} {:>6} {:>11.2} ms {:>8.3}", notes.len(), shift * 1e3, matched);
        if expected == 0 {
            assert!(shift.abs() <= 0.002, "{file}: notes start {:.2} ms after the WAV's", shift * 1e3);
        } else {
            // An undeclared delay shows as notes that start late by about the delay (the network's frames are
            // 23 ms, so not exactly: within 2 ms); the README states the measured figure.
            let (rate, _) = mono(&dir.join(file));
            let delay = expected as f64 / rate as f64;
            assert!(
                (shift - delay).abs() < 0.002,
                "{file}: notes start {:.2} ms after the WAV's, the delay is {:.2} ms",
                shift * 1e3,
                delay * 1e3
            );
        }
        assert!(matched >= 0.9, "{file}: only {matched:.3} of the WAV's notes found");
    }
}

#[test]
fn a_damaged_stretch_becomes_silence_and_the_rest_keeps_its_time() {
    let dir = matrix();
    let (rate, reference) = mono(&dir.join("wav-s16.wav"));
    let r = rate as usize;
    for (damaged, intact) in [
        ("damaged-lame-cbr128.mp3", "lame-cbr128.mp3"),
        ("damaged-vorbis.ogg", "vorbis.ogg"),
        ("damaged-aac.m4a", "aac.m4a"),
    ] {
        let mut src = AudioFile::open(&dir.join(damaged)).unwrap();
        while src.next_chunk().unwrap().is_some() {}
        let warnings = src.warnings().to_vec();
        println!("{damaged}: {}", warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("; "));
        // The damage sits in the middle of the 8 s file: one warning there, saying where.
        assert_eq!(warnings.len(), 1, "{damaged}: {warnings:?}");
        let w = &warnings[0];
        assert!((2.0..6.0).contains(&w.seconds) && w.missing_seconds < 1.5, "{damaged}: {w:?}");
        assert!(w.to_string().starts_with(&format!("at {:.2} s: ", w.seconds)), "{w}");
        // After it, the audio is where it belongs.
        let (_, pcm) = mono(&dir.join(damaged));
        // The length: exact for MP3 and AAC. A lost Ogg page can leave the Vorbis stream up to one short block
        // long at its end (32 samples with an earlier clip) while everything after the damage stays in place
        // (below).
        let excess = pcm.len() as i64 - reference.len() as i64;
        let allowed = if damaged.ends_with(".ogg") { 0..=128 } else { 0..=0 };
        assert!(allowed.contains(&excess), "{damaged}: {} samples against {}", pcm.len(), reference.len());
        assert_eq!(lag(&reference, &pcm, 6 * r, r), 0, "{damaged}: audio after the damage is shifted");
        // And so are the notes: those after the damage start where the intact file's do.
        let after = |notes: Vec<Note>| -> Vec<Note> {
            notes.into_iter().filter(|n| n.onset > w.seconds + w.missing_seconds + 0.5).collect()
        };
        let (ours, theirs) = (after(transcribe(&dir.join(damaged))), after(transcribe(&dir.join(intact))));
        let (shift, matched) = onset_shift(&theirs, &ours);
        println!("  notes after the damage: median shift {:.2} ms, {matched:.3} matched", shift * 1e3);
        assert!(shift.abs() <= 0.001 && matched >= 0.95, "{damaged}: shift {shift}, matched {matched}");
    }
}

#[test]
fn undecodable_audio_is_refused_not_transcribed_as_silence() {
    // An MP3 (the 8 s one twice over) whose frames from 1 s to half a second before the end are garbage: more
    // than the 10 s that are concealed with silence.
    let dir = matrix();
    let mut bytes = std::fs::read(dir.join("lame-cbr128.mp3")).unwrap().repeat(2);
    let (from, to) = (16_000, bytes.len() - 8_000); // 128 kbps: 16 kB a second
    for (i, b) in bytes[from..to].iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8 & 0x7f; // never a frame sync
    }
    let path = std::env::temp_dir().join(format!("pianoscribe-garbled-{}.mp3", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let mut src = AudioFile::open(&path).unwrap();
    let err = loop {
        match src.next_chunk() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a file with 14.5 s of garbage decoded without an error"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(err.contains("corrupt or truncated") && err.contains("undecodable from 0.97 s on"), "{err}");
}

/// The page's path, natively: the engine hands each packet out as it would to the browser's WebCodecs decoder
/// (with the decoder configuration it would give), a decoder outside the engine decodes it (symphonia's own
/// here, standing in for the browser's) and hands the audio back. The recording comes out sample for sample as
/// the CLI's path decodes it, damaged files included; WAV and FLAC are decoded by the engine itself.
#[test]
fn the_pages_packet_path_places_audio_as_the_clis_does() {
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::formats::Packet;
    let dir = matrix();
    // (file, the WebCodecs codec string: none where the engine decodes the file itself)
    let cases: &[(&str, Option<&str>)] = &[
        ("wav-s16.wav", None),
        ("flac.flac", None),
        ("lame-cbr128.mp3", Some("mp3")),
        ("lame-vbr.mp3", Some("mp3")),
        ("ffmpeg.mp3", Some("mp3")),
        ("vorbis.ogg", Some("vorbis")),
        ("aac.m4a", Some("mp4a.40.2")),
        ("aac-noedit.m4a", Some("mp4a.40.2")),
        ("damaged-lame-cbr128.mp3", Some("mp3")),
        ("damaged-vorbis.ogg", Some("vorbis")),
        ("damaged-aac.m4a", Some("mp4a.40.2")),
    ];
    let codecs = symphonia::default::get_codecs();
    for &(file, codec) in cases {
        let path = dir.join(file);
        let ext = path.extension().and_then(|e| e.to_str());
        let mut s = FileStream::open(Box::new(std::fs::File::open(&path).unwrap()), ext, file, codecs, true).unwrap();
        let config = s.web_codec().cloned();
        assert_eq!(config.as_ref().map(|c| c.codec.as_str()), codec, "{file}");
        let mut pcm: Vec<Vec<f32>> = vec![];
        let mut keep = |chunk: Vec<Vec<f32>>| {
            pcm.resize(chunk.len(), vec![]);
            pcm.iter_mut().zip(chunk).for_each(|(p, c)| p.extend(c));
        };
        match config {
            None => {
                while let Some(chunk) = s.next_chunk().unwrap() {
                    keep(chunk);
                }
            }
            Some(c) => {
                assert_eq!((c.sample_rate, c.number_of_channels), (44_100, 2), "{file}");
                match c.codec.as_str() {
                    "mp3" => assert_eq!(c.description, None),
                    // AAC-LC, 44.1 kHz, stereo: its AudioSpecificConfig starts 0x12 0x10 (ffmpeg adds an SBR sync
                    // extension after it).
                    "mp4a.40.2" => assert_eq!(c.description.as_deref().map(|d| &d[..2]), Some(&[0x12u8, 0x10][..])),
                    // Three Vorbis headers, laced: two lengths given, the identification header's 30 first.
                    _ => assert_eq!(c.description.as_deref().map(|d| &d[..2]), Some(&[2u8, 30][..]), "{file}"),
                }
                let mut decoder = codecs.make(s.codec_params(), &DecoderOptions::default()).unwrap();
                let mut last = f64::NEG_INFINITY;
                while let Some(p) = s.next_packet().unwrap() {
                    assert!(p.timestamp_us >= last && p.duration_us >= 0.0, "{file}: packet times go back");
                    last = p.timestamp_us;
                    // Every packet goes to the decoder; one that decodes to nothing (Vorbis's first) awaits no output.
                    let packet = Packet::new_from_boxed_slice(0, 0, 0, p.data.into_boxed_slice());
                    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        decoder.decode(&packet).map(pianoscribe::audio::container::planar).map_err(|e| e.to_string())
                    }))
                    .unwrap_or_else(|_| Err("the decoder failed on it".into()));
                    if out.is_err() {
                        decoder.reset();
                    }
                    if s.in_flight() == 0 {
                        continue;
                    }
                    match out {
                        Ok((rate, planes)) => s.decoded(rate, planes).unwrap(),
                        Err(e) => s.failed(e).unwrap(),
                    }
                    while let Some(chunk) = s.take() {
                        keep(chunk);
                    }
                }
                assert_eq!(s.in_flight(), 0);
                s.finish().unwrap();
            }
        }
        let (_, cli) = load_pcm(&path);
        assert_eq!(pcm.len(), cli.len(), "{file}: channels");
        for (c, (ours, theirs)) in pcm.iter().zip(&cli).enumerate() {
            assert_eq!(ours.len(), theirs.len(), "{file}: channel {c} length");
            assert!(ours == theirs, "{file}: channel {c} differs from the CLI's decoding");
        }
    }
}
