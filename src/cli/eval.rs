//! `pianoscribe eval`: transcriptions scored against references (files, or folders paired by file stem), as
//! a table and, with --json, every score.

use std::collections::BTreeMap;
use std::path::Path;

use pianoscribe::metrics::{evaluate, mean, EvalOptions, Prf, Scores};
use pianoscribe::notes::read_notes;

use super::files::transcriptions_by_stem;

pub fn eval(est: &Path, reference: &Path, json: Option<&Path>, options: &EvalOptions) -> Result<(), String> {
    let report = Report::of(est, reference, options)?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", report.table());
    if let Some(path) = json {
        std::fs::write(path, report.json()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if report.pieces.is_empty() {
        return Err("no piece has both an estimate and a reference".into());
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
struct Report {
    pieces: BTreeMap<String, Scores>,
    mean: Scores,
    warnings: Vec<String>,
}

impl Report {
    /// Scores EST against REF, each a file or a folder (pieces paired by file stem).
    fn of(est: &Path, reference: &Path, opts: &EvalOptions) -> Result<Report, String> {
        let mut report = Report::default();
        let pairs: Vec<(String, _, _)> = match (est.is_dir(), reference.is_dir()) {
            (false, false) => {
                let stem = reference.file_stem().and_then(|s| s.to_str()).unwrap_or("piece").to_string();
                vec![(stem, est.to_path_buf(), reference.to_path_buf())]
            }
            (true, true) => {
                let e = transcriptions_by_stem(est, opts.pedal_extend_est)?;
                let r = transcriptions_by_stem(reference, opts.pedal_extend_ref)?;
                for stem in e.keys().filter(|s| !r.contains_key(*s)) {
                    report.warnings.push(format!("{stem}: estimate has no reference in {}", reference.display()));
                }
                for stem in r.keys().filter(|s| !e.contains_key(*s)) {
                    report.warnings.push(format!("{stem}: reference has no estimate in {}", est.display()));
                }
                r.iter().filter_map(|(s, rp)| e.get(s).map(|ep| (s.clone(), ep.clone(), rp.clone()))).collect()
            }
            _ => return Err(format!("{} and {}: give two files or two folders", est.display(), reference.display())),
        };
        for (stem, ep, rp) in pairs {
            let r = read_notes(&rp, opts.pedal_extend_ref).map_err(|e| e.to_string())?;
            let e = read_notes(&ep, opts.pedal_extend_est).map_err(|e| e.to_string())?;
            report.pieces.insert(stem, evaluate(&r, &e, opts));
        }
        let all: Vec<Scores> = report.pieces.values().copied().collect();
        report.mean = mean(&all);
        Ok(report)
    }

    /// A readable table for the terminal.
    fn table(&self) -> String {
        let mut s = format!(
            "{:<40} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
            "piece", "note F1", "P", "R", "+off F1", "+vel F1", "frameF1"
        );
        let row = |name: &str, sc: &Scores| {
            format!(
                "{:<40} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4}\n",
                if name.len() > 40 { &name[name.len() - 40..] } else { name },
                sc.note.f1,
                sc.note.precision,
                sc.note.recall,
                sc.note_offset.f1,
                sc.note_offset_velocity.f1,
                sc.frame.f1
            )
        };
        for (name, sc) in &self.pieces {
            s.push_str(&row(name, sc));
        }
        s.push_str(&row(&format!("mean of {} pieces", self.pieces.len()), &self.mean));
        s
    }

    fn json(&self) -> String {
        fn prf(p: &Prf) -> serde_json::Value {
            serde_json::json!({"precision": p.precision, "recall": p.recall, "f1": p.f1})
        }
        fn scores(s: &Scores) -> serde_json::Value {
            serde_json::json!({
                "note": prf(&s.note),
                "note_offset": prf(&s.note_offset),
                "note_offset_velocity": prf(&s.note_offset_velocity),
                "frame": prf(&s.frame),
                "frame_accuracy": s.frame_accuracy,
            })
        }
        let pieces: serde_json::Map<String, serde_json::Value> =
            self.pieces.iter().map(|(k, v)| (k.clone(), scores(v))).collect();
        serde_json::to_string_pretty(&serde_json::json!({"pieces": pieces, "mean": scores(&self.mean)}))
            .expect("JSON values serialise")
    }
}
