//! `pianoscribe info`: what a bundle is, as lines to read or (`--json`) as one object for tools (build.sh
//! lists the page's models with it).

use pianoscribe::family::ModelInfo;
use pianoscribe::score::beats::network::MeterNetwork;

/// A few lines: family, size, numbers, the family's own lines, provenance, then the measured scores.
pub fn describe(m: &ModelInfo, bytes: usize) -> String {
    let s = &m.segments;
    let mut out = format!("family: {}\nsize: {:.1} MB\n", m.family, bytes as f64 / 1e6);
    out += &format!(
        "input: {} Hz, window {}, hop {} ({:.1} ms frames), {} mel bands {}-{} Hz\n",
        s.sample_rate,
        s.window,
        s.hop,
        s.frame_seconds() * 1e3,
        m.mel.n_mels,
        m.mel.f_min,
        m.mel.f_max
    );
    out += &format!(
        "segments: {} s, {} s apart by default ({} s in Faster mode)\n",
        s.segment_seconds, m.default_hop_seconds, m.faster_hop_seconds
    );
    for (k, v) in &m.details {
        out += &format!("{k}: {v}\n");
    }
    if let Some(p) = m.provenance.as_object() {
        for (k, v) in p.iter().filter(|(k, _)| *k != "scores") {
            out += &format!("{k}: {}\n", v.as_str().map_or_else(|| v.to_string(), str::to_string));
        }
        // Measured scores (tools/pscb/stamp.py): one line per set.
        for (set, v) in p.get("scores").and_then(|v| v.as_object()).into_iter().flatten() {
            let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).map_or("-".to_string(), |x| format!("{x:.3}"));
            out += &format!(
                "scores on {set}: note F1 {}, +offset {}, +velocity {}, frame {}{}\n",
                f("note"),
                f("note_offset"),
                f("note_offset_velocity"),
                f("frame"),
                v.get("measured").and_then(|m| m.as_str()).map_or(String::new(), |m| format!(" ({m})"))
            );
        }
    }
    out
}

/// The same as one JSON object: `family`, `bytes`, the numbers, and `provenance` as the bundle has it.
pub fn json(m: &ModelInfo, bytes: usize) -> String {
    let s = &m.segments;
    let v = serde_json::json!({
        "family": m.family,
        "bytes": bytes,
        "sampleRate": s.sample_rate,
        "segmentSeconds": s.segment_seconds,
        "defaultHopSeconds": m.default_hop_seconds,
        "fasterHopSeconds": m.faster_hop_seconds,
        "details": m.details.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect::<serde_json::Map<_, _>>(),
        "provenance": m.provenance,
    });
    serde_json::to_string_pretty(&v).expect("JSON values serialise") + "\n"
}

/// A metrical-model bundle (the score stage's): what it reads, then its provenance, one line per entry.
pub fn describe_meter(m: &MeterNetwork, bytes: usize) -> String {
    let c = &m.config;
    let mut out = format!(
        "family: meter (the score stage's beat, downbeat and beat-period model)\nsize: {:.1} MB\n",
        bytes as f64 / 1e6
    );
    out += &format!(
        "input: {} values per note (chords within {} s, sustain presses {} s before to {} s after an onset)\n",
        c.features.len(),
        c.chord_seconds,
        c.pedal_before,
        c.pedal_after
    );
    out += &format!("downbeats among the training beats: {:.3}\n", c.downbeat_share);
    for (k, v) in m.provenance.as_object().into_iter().flatten() {
        out += &format!("{k}: {}\n", v.as_str().map_or_else(|| v.to_string(), str::to_string));
    }
    out
}
