//! `pianoscribe calibrate`: thresholds per register for an Onsets & Frames model.

use std::path::Path;

use pianoscribe::audio::AudioFile;
use pianoscribe::family::onsets_frames::{self, key_name, write_thresholds, OnsetsFrames};
use pianoscribe::{Engine, Flow, TranscribeOptions};

use super::files::{audio_files, transcriptions_by_stem};
use super::model_bytes;

pub fn calibrate(
    model: &Path,
    audio: &Path,
    reference: &Path,
    output: &Path,
    bundle: Option<&Path>,
    pedal_extend_ref: bool,
) -> Result<(), String> {
    let bytes = model_bytes(Some(model))?;
    let oaf = OnsetsFrames::load(&bytes, "calibrate").map_err(|e| format!("{}: {e}", model.display()))?;
    let engine = Engine::new(oaf.clone());
    let cfg = oaf.config();
    let refs = transcriptions_by_stem(reference, pedal_extend_ref)?;
    let mut pieces = vec![];
    for f in audio_files(audio)? {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let Some(r) = refs.get(&stem) else {
            eprintln!("warning: no reference for {} in {}; left out", f.display(), reference.display());
            continue;
        };
        eprintln!("[{}] {}", pieces.len() + 1, f.display());
        let notes = pianoscribe::notes::read_notes(r, pedal_extend_ref).map_err(|e| e.to_string())?;
        let mut source = AudioFile::open(&f).map_err(|e| e.to_string())?;
        let (decoding, recorded) = oaf.recording(&TranscribeOptions::default()).map_err(|e| e.to_string())?;
        engine
            .transcribe_with(decoding, &mut source, TranscribeOptions::default(), &mut |_| Flow::Continue)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        let roll = recorded.lock().map_err(|_| "the recording was lost".to_string())?.take().unwrap_or_default();
        pieces.push(onsets_frames::Piece { roll, reference: notes });
    }
    let c = onsets_frames::calibrate(cfg, &pieces, &Default::default()).map_err(|e| e.to_string())?;
    println!("{:<9} {:>6} {:>13} {:>13} {:>17} {:>17}", "keys", "notes", "onset", "frame", "note F1", "+offset F1");
    for (b, a) in c.before.iter().zip(&c.after) {
        let keys = format!("{}-{}", key_name(a.keys.0 as usize), key_name(a.keys.1 as usize));
        println!(
            "{keys:<9} {:>6} {:>5.2} -> {:<5.2} {:>5.2} -> {:<5.2} {:>7.4} -> {:<7.4} {:>7.4} -> {:<7.4}",
            a.reference_notes, b.onset, a.onset, b.frame, a.frame, b.note_f1, a.note_f1, b.offset_f1, a.offset_f1
        );
    }
    // Names, not paths: the note travels inside the bundle to other machines.
    let name = |p: &Path| p.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let comment = format!(
        "calibrated by `pianoscribe calibrate` on {} recording(s) in {} for {}",
        pieces.len(),
        name(audio),
        name(model)
    );
    std::fs::write(output, write_thresholds(&c.thresholds, cfg.decoder.lowest_key, &comment))
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    eprintln!("thresholds -> {}", output.display());
    if let Some(path) = bundle {
        let out = onsets_frames::with_thresholds(&bytes, &c.thresholds, &comment).map_err(|e| e.to_string())?;
        std::fs::write(path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("model with these thresholds -> {}", path.display());
    }
    Ok(())
}
