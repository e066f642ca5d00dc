//! Files and folders: which files a folder holds, where each output goes, one line per file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::AUDIO_EXTENSIONS;

/// Transcriptions: note tables and MIDI files.
pub const TABLE_EXTENSIONS: &[&str] = &["tsv", "txt", "csv"];
pub const MIDI_EXTENSIONS: &[&str] = &["mid", "midi"];

/// Runs `f`, turning a panic (a bug, never expected) into an error message that names the input.
pub fn guarded(input: &Path, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let what = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
        Err(format!(
            "{}: internal error ({}); please report it with this file",
            input.display(),
            what.unwrap_or_default()
        ))
    })
}

/// The files of folder `dir` whose extension (any case) is one of `extensions`, sorted.
pub fn files_in(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, String> {
    let wanted = |p: &Path| {
        p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()))
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && wanted(p))
        .collect();
    files.sort();
    Ok(files)
}

/// `dir/stem.ext`. Not `dir.join(stem).with_extension(ext)`: that cuts a stem at its last dot, so that
/// "op.90_no.1.flac" and "op.90_no.2.flac" would both be written to "op.90_no.mid".
pub fn named(dir: &Path, stem: &std::ffi::OsStr, ext: &str) -> PathBuf {
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(ext);
    dir.join(name)
}

/// Runs `each(file, stem)` on every file of a folder, with a `[i/n]` line before each; a failure is one error
/// line and the rest go on; an error at the end says how many failed.
pub fn for_each_file(
    files: &[PathBuf],
    mut each: impl FnMut(&Path, &std::ffi::OsStr) -> Result<(), String>,
) -> Result<(), String> {
    let mut failed = 0;
    for (i, f) in files.iter().enumerate() {
        eprintln!("[{}/{}] {}", i + 1, files.len(), f.display());
        if let Err(e) = guarded(f, || each(f, f.file_stem().unwrap_or_default())) {
            eprintln!("error: {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} files failed", files.len()));
    }
    Ok(())
}

pub fn create_parent(path: &Path) -> Result<(), String> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display())),
        None => Ok(()),
    }
}

pub fn audio_files(input: &Path) -> Result<Vec<PathBuf>, String> {
    if !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let files = files_in(input, AUDIO_EXTENSIONS)?;
    if files.is_empty() {
        return Err(format!("no audio files ({}) in {}", AUDIO_EXTENSIONS.join(", "), input.display()));
    }
    Ok(files)
}

/// The transcriptions (note tables or MIDI files) of a folder by file stem. Where a stem has both, the note
/// table wins, unless the pedal is wanted (only MIDI has it).
pub fn transcriptions_by_stem(dir: &Path, want_pedal: bool) -> Result<BTreeMap<String, PathBuf>, String> {
    let preferred = |p: &Path| {
        let midi = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| MIDI_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        midi == want_pedal
    };
    let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
    for p in files_in(dir, &[TABLE_EXTENSIONS, MIDI_EXTENSIONS].concat())? {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        // In sorted order, the first file of a stem stays unless a later one is of the preferred kind.
        if out.get(&stem).is_none_or(|old| !preferred(old) && preferred(&p)) {
            out.insert(stem, p);
        }
    }
    Ok(out)
}
