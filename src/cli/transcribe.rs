//! `pianoscribe transcribe`: a file or a folder, with a progress bar.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use pianoscribe::audio::{AudioFile, PcmSource};
use pianoscribe::score::ScoreOptions;
use pianoscribe::{midi, Engine, Error, Flow, Progress, StageSeconds, TranscribeOptions};

use super::files::{audio_files, for_each_file, guarded, named};
use super::score::write_score;

/// What to write besides the MIDI file.
pub struct Output {
    pub tsv: bool,
    pub profile: bool,
    /// A MusicXML file or folder, and how to make the score.
    pub score: Option<(PathBuf, ScoreOptions)>,
}

pub fn transcribe(
    engine: &Engine,
    input: &Path,
    output: &Path,
    options: &TranscribeOptions,
    out: &Output,
) -> Result<(), String> {
    if input.is_dir() {
        let files = audio_files(input)?;
        std::fs::create_dir_all(output).map_err(|e| format!("cannot create {}: {e}", output.display()))?;
        for_each_file(&files, |f, stem| {
            let dest = named(output, stem, "mid");
            let score = out.score.as_ref().map(|(dir, _)| named(dir, stem, "musicxml"));
            transcribe_file(engine, f, &dest, options.clone(), out, score.as_deref())
        })
    } else {
        let score = out.score.as_ref().map(|(path, _)| path.as_path());
        guarded(input, || transcribe_file(engine, input, output, options.clone(), out, score))
    }
}

pub fn transcribe_file(
    engine: &Engine,
    input: &Path,
    output: &Path,
    options: TranscribeOptions,
    out: &Output,
    score_path: Option<&Path>,
) -> Result<(), String> {
    let started = Instant::now();
    let mut source = AudioFile::open(input).map_err(|e| e.to_string())?;
    let duration = source.total_frames().map(|f| f as f64 / source.sample_rate() as f64);
    let tty = std::io::stderr().is_terminal();
    let mut stages = StageSeconds::default();
    let mut show = |p: &Progress| {
        stages = p.stage_seconds;
        if tty {
            let frac = p.fraction.unwrap_or(0.0);
            let width = 30;
            let filled = (frac * width as f64).round() as usize;
            eprint!(
                "\r  [{}{}] {:5.1}%  {:.0} s of audio, {:.0} s elapsed ",
                "#".repeat(filled),
                " ".repeat(width - filled),
                frac * 100.0,
                p.seconds_done.min(duration.unwrap_or(f64::MAX)),
                started.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        }
        Flow::Continue
    };
    let result = engine.transcribe(&mut source, options, &mut show);
    if tty {
        eprintln!();
    }
    for w in source.warnings() {
        eprintln!("warning: {}: {w}", input.display());
    }
    let t = result.map_err(|e| match e {
        Error::NoAudio { .. } => format!("{}: the file contains no audio samples", input.display()),
        e => e.to_string(),
    })?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(output, midi::write(&t)).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    if out.profile {
        eprintln!(
            "  time: front-end {:.1} s, network {:.1} s, decoding {:.1} s",
            stages.features, stages.network, stages.decode
        );
    }
    if out.tsv {
        let table = output.with_extension("tsv");
        std::fs::write(&table, pianoscribe::notes::write_note_table(&t.notes))
            .map_err(|e| format!("cannot write {}: {e}", table.display()))?;
    }
    if let (Some(path), Some((_, score_options))) = (score_path, &out.score) {
        write_score(&t, input, path, None, score_options)?;
    }
    eprintln!(
        "  {} notes, {} pedal events -> {} ({:.1} s{})",
        t.notes.len(),
        t.pedals.len(),
        output.display(),
        started.elapsed().as_secs_f64(),
        duration
            .map_or(String::new(), |d| format!(", {:.2} x real time", started.elapsed().as_secs_f64() / d.max(1e-9)))
    );
    Ok(())
}
