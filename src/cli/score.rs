//! `pianoscribe score`, and the score `transcribe --score` writes.

use std::path::Path;

use pianoscribe::midi;
use pianoscribe::score::{self, ScoreOptions};

use super::files::{create_parent, files_in, for_each_file, guarded, named, MIDI_EXTENSIONS, TABLE_EXTENSIONS};

/// `pianoscribe score`: a file, or every performance in a folder (stems kept).
pub fn score_files(input: &Path, output: &Path, midi_out: Option<&Path>, options: &ScoreOptions) -> Result<(), String> {
    if !input.is_dir() {
        return guarded(input, || score_file(input, output, midi_out, options));
    }
    let files = files_in(input, &[MIDI_EXTENSIONS, TABLE_EXTENSIONS].concat())?;
    if files.is_empty() {
        return Err(format!("{} holds no MIDI files or note tables", input.display()));
    }
    for_each_file(&files, |f, stem| {
        let xml = named(output, stem, "musicxml");
        let mid = midi_out.map(|d| named(d, stem, "mid"));
        score_file(f, &xml, mid.as_deref(), options)
    })
}

pub fn score_file(input: &Path, output: &Path, midi_out: Option<&Path>, options: &ScoreOptions) -> Result<(), String> {
    let t = pianoscribe::notes::read_file(input).map_err(|e| e.to_string())?;
    write_score(&t, input, output, midi_out, options)
}

/// The score of `t` as MusicXML at `output` (and beat-aligned MIDI at `midi_out`), titled after `input`.
pub fn write_score(
    t: &pianoscribe::Transcription,
    input: &Path,
    output: &Path,
    midi_out: Option<&Path>,
    options: &ScoreOptions,
) -> Result<(), String> {
    let s = score::from_performance(t, options).map_err(|e| format!("{}: {e}", input.display()))?;
    let title = input.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    create_parent(output)?;
    std::fs::write(output, score::musicxml::write(&s, &title))
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    if let Some(m) = midi_out {
        create_parent(m)?;
        std::fs::write(m, midi::write_score(&s)).map_err(|e| format!("cannot write {}: {e}", m.display()))?;
    }
    let (n, d) = s.meter.time_signature();
    eprintln!(
        "  score: {} bars of {n}/{d}, {} key change(s) -> {}",
        s.bars(),
        s.keys.len().saturating_sub(1),
        output.display()
    );
    Ok(())
}
