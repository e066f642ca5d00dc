//! Command-line face of the library: argument parsing, files and folders, the progress bar, exit codes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand};
use pianoscribe::audio::{AudioFile, PcmSource};
use pianoscribe::config::{key_name, read_thresholds, write_thresholds};
use pianoscribe::model::{read_config, with_thresholds};
use pianoscribe::score::{self, Meter, ScoreOptions};
use pianoscribe::{
    calibrate, metrics, midi, Error, Flow, ModelConfig, Progress, StageSeconds, TranscribeOptions, Transcriber,
};

/// The default model, converted from Transkun V2 by tools/convert (see models/README.md).
static DEFAULT_MODEL: &[u8] = include_bytes!("../models/transkun-v2.pscb");

const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aac"];

#[derive(Parser)]
#[command(name = "pianoscribe", version, about = "Piano transcription: audio in, MIDI out")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transcribe an audio file (WAV, FLAC, MP3, OGG Vorbis or Opus, M4A/AAC) to MIDI, or every audio file in a
    /// folder.
    Transcribe {
        /// Audio file, or a folder of audio files.
        input: PathBuf,
        /// Output .mid file (for a file) or folder (for a folder).
        #[arg(short, long)]
        output: PathBuf,
        /// Extend notes while the sustain pedal is held (the Onsets & Frames convention).
        #[arg(long)]
        pedal_extend: bool,
        /// Leave sustain and soft pedal events out of the MIDI file.
        #[arg(long)]
        no_pedals: bool,
        /// Faster mode: segments overlap less (Transkun: a 14 s segment hop instead of 12 s; Onsets & Frames
        /// models have no slower default); see the README for its measured speed and accuracy.
        #[arg(long, conflicts_with = "segment_hop")]
        fast: bool,
        /// Seconds between segment starts, from an eighth of the model's segment up to the segment (Transkun:
        /// 2 to 16, default 12; 8 is what its Python reference does; Onsets & Frames: the bundle's). Larger is
        /// faster.
        #[arg(long, value_name = "SECONDS")]
        segment_hop: Option<f64>,
        /// Onsets & Frames models: the onset probability a note needs to start, for every key (default: the
        /// model's per-key thresholds).
        #[arg(long, value_name = "P")]
        onset_threshold: Option<f32>,
        /// Onsets & Frames models: the frame probability a note needs to go on sounding, for every key.
        #[arg(long, value_name = "P")]
        frame_threshold: Option<f32>,
        /// Onsets & Frames models: onset and frame thresholds per key or register from a file (see the README,
        /// Thresholds; `pianoscribe calibrate` writes one). --onset-threshold and --frame-threshold apply on top.
        #[arg(long, value_name = "FILE")]
        thresholds: Option<PathBuf>,
        /// Also write the notes as a table (onset, offset, pitch, velocity) next to each MIDI file.
        #[arg(long)]
        tsv: bool,
        /// Also write a score: a MusicXML file (for a file) or folder (for a folder).
        #[arg(long, value_name = "OUT.musicxml")]
        score: Option<PathBuf>,
        #[command(flatten)]
        score_args: ScoreArgs,
        /// Use this model bundle instead of the built-in one.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Print where the time went (front-end, network, decoding).
        #[arg(long)]
        profile: bool,
    },
    /// Write a score (MusicXML, and beat-aligned MIDI with --midi) of a performance MIDI file or note table,
    /// or of every one in a folder.
    Score {
        /// Performance MIDI file or note table, or a folder of them.
        input: PathBuf,
        /// Output .musicxml file (for a file) or folder (for a folder).
        #[arg(short, long)]
        output: PathBuf,
        /// Also write beat-aligned MIDI (tempo map on the beats, notes on the grid): a file or a folder.
        #[arg(long, value_name = "OUT.mid")]
        midi: Option<PathBuf>,
        #[command(flatten)]
        score_args: ScoreArgs,
    },
    /// Choose an Onsets & Frames model's onset and frame thresholds per register on recordings with
    /// reference notes (matched by file stem), print the note F1 before and after, and write them as a
    /// thresholds file (and, with --bundle, into a copy of the model).
    Calibrate {
        /// The Onsets & Frames bundle.
        #[arg(long)]
        model: PathBuf,
        /// Audio file or folder (validation recordings: not the ones you report scores on).
        audio: PathBuf,
        /// Folder of reference transcriptions (note tables or MIDI) named like the audio files.
        reference: PathBuf,
        /// The thresholds file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Also write a copy of the model with these thresholds as its defaults.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// Extend the references' notes by their sustain pedal (MIDI references such as MAESTRO's; the Onsets
        /// & Frames labels do the same).
        #[arg(long)]
        pedal_extend_ref: bool,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Print what a model bundle is: family, size, numbers, provenance and scores.
    Info {
        /// The bundle (default: the built-in model).
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Score transcriptions against references, as mir_eval does (files or folders matched by file stem).
    Eval {
        /// Estimated transcription(s): MIDI or note tables.
        est: PathBuf,
        /// Reference transcription(s): MIDI or note tables.
        reference: PathBuf,
        /// Write all scores as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Onset tolerance in seconds.
        #[arg(long, default_value_t = metrics::EvalOptions::default().onset_tolerance)]
        onset_tolerance: f64,
        /// Extend the reference's notes by its sustain pedal.
        #[arg(long)]
        pedal_extend_ref: bool,
        /// Extend the estimate's notes by its sustain pedal.
        #[arg(long)]
        pedal_extend_est: bool,
    },
}

/// Large allocations straight from the system and back to it when freed. glibc otherwise raises its mmap
/// threshold to the size of each large block freed (up to 32 MB), after which the network's tensors below that
/// size come from heaps that keep their high-water mark: with two segments in flight, peak resident memory
/// was 1113 MB against 876 MB with this (chpn-p14; the model alone is 282 MB), and one thread 554 against 427.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
        unsafe { mallopt(M_MMAP_THRESHOLD, 1 << 20) };
    }
}

pub fn main() -> i32 {
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    // A bug in a decoder must not end in a stack trace: report it as one error line instead.
    std::panic::set_hook(Box::new(|_| {}));
    let result = guarded(Path::new("pianoscribe"), || match cli.command {
        Command::Transcribe {
            input,
            output,
            pedal_extend,
            no_pedals,
            fast,
            segment_hop,
            onset_threshold,
            frame_threshold,
            thresholds,
            tsv,
            score: score_path,
            score_args,
            model,
            threads,
            profile,
        } => {
            setup_threads(threads);
            let engine = load_model(model.as_deref())?;
            let cfg = engine.config();
            let thresholds = match &thresholds {
                None => None,
                Some(path) => {
                    let Some(o) = cfg.onset_gated() else {
                        return Err(format!(
                            "--thresholds applies to Onsets & Frames models; this one is {}",
                            cfg.family.name()
                        ));
                    };
                    let text =
                        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    Some(read_thresholds(&text, &path.display().to_string(), o).map_err(|e| e.to_string())?)
                }
            };
            let options = TranscribeOptions {
                pedal_extend,
                include_pedals: !no_pedals,
                segment_hop_seconds: if fast { Some(cfg.faster_hop_seconds()) } else { segment_hop },
                onset_threshold,
                frame_threshold,
                thresholds,
            };
            let score = score_path.map(|path| (path, score_args.options()));
            transcribe(&engine, &input, &output, &options, &Output { tsv, profile, score })
        }
        Command::Calibrate { model, audio, reference, output, bundle, pedal_extend_ref, threads } => {
            setup_threads(threads);
            calibrate(&model, &audio, &reference, &output, bundle.as_deref(), pedal_extend_ref)
        }
        Command::Score { input, output, midi, score_args } => {
            score_files(&input, &output, midi.as_deref(), &score_args.options())
        }
        Command::Info { model } => {
            let bytes = model_bytes(model.as_deref())?;
            let cfg = read_config(&bytes).map_err(|e| format!("{}: {e}", model_name(model.as_deref())))?;
            print!("{}", describe_model(&cfg, bytes.len()));
            Ok(())
        }
        Command::Eval { est, reference, json, onset_tolerance, pedal_extend_ref, pedal_extend_est } => {
            let options =
                metrics::EvalOptions { onset_tolerance, pedal_extend_ref, pedal_extend_est, ..Default::default() };
            eval(&est, &reference, json.as_deref(), &options)
        }
    });
    match result {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("error: {msg}");
            1
        }
    }
}

fn setup_threads(threads: Option<usize>) {
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    // One pool serves the decoder and tract's matrix products.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
}

/// What to write besides the MIDI file.
struct Output {
    tsv: bool,
    profile: bool,
    /// A MusicXML file or folder, and how to make the score.
    score: Option<(PathBuf, ScoreOptions)>,
}

/// The score stage's options as flags (the same struct, `ScoreOptions`, as the page's options object).
#[derive(clap::Args)]
struct ScoreArgs {
    /// Write every note on the staff of its register (split at middle C) instead of following the hands.
    #[arg(long)]
    no_hands: bool,
    /// The finest grid in onsets per beat (duple: 1, 2, 4 or 8; default 4).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
    subdivisions: u32,
    /// No triplets: every beat divides in two.
    #[arg(long)]
    no_triplets: bool,
    /// Look for the beat near this tempo (beats per minute).
    #[arg(long, value_name = "BPM", value_parser = parse_tempo)]
    tempo: Option<f64>,
    /// The time signature, when known: 2/4, 3/4, 4/4, 6/8, 9/8 or 12/8 (default: estimated).
    #[arg(long, value_name = "N/D", value_parser = parse_meter)]
    meter: Option<Meter>,
}

impl ScoreArgs {
    fn options(&self) -> ScoreOptions {
        ScoreOptions {
            hands: !self.no_hands,
            subdivisions: self.subdivisions,
            triplets: !self.no_triplets,
            tempo_hint: self.tempo,
            meter: self.meter,
        }
    }
}

fn parse_tempo(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (20.0..=400.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a tempo between 20 and 400 beats per minute")),
    }
}

fn parse_meter(s: &str) -> Result<Meter, String> {
    let bad = || format!("'{s}' is not one of 2/4, 3/4, 4/4, 6/8, 9/8, 12/8");
    let (n, d) = s.split_once('/').ok_or_else(bad)?;
    let (n, d): (u32, u32) = (n.trim().parse().map_err(|_| bad())?, d.trim().parse().map_err(|_| bad())?);
    match (n, d) {
        (2..=4, 4) => Ok(Meter { beats_per_bar: n, compound: false }),
        (6 | 9 | 12, 8) => Ok(Meter { beats_per_bar: n / 3, compound: true }),
        _ => Err(bad()),
    }
}

const SCORE_INPUT_EXTENSIONS: &[&str] = &["mid", "midi", "tsv", "txt"];

/// `pianoscribe score`: a file, or every performance in a folder (stems kept).
fn score_files(input: &Path, output: &Path, midi_out: Option<&Path>, options: &ScoreOptions) -> Result<(), String> {
    if !input.is_dir() {
        return guarded(input, || score_file(input, output, midi_out, options));
    }
    let files = files_in(input, SCORE_INPUT_EXTENSIONS)?;
    if files.is_empty() {
        return Err(format!("{} holds no MIDI files or note tables", input.display()));
    }
    for_each_file(&files, |f, stem| {
        let xml = named(output, stem, "musicxml");
        let mid = midi_out.map(|d| named(d, stem, "mid"));
        score_file(f, &xml, mid.as_deref(), options)
    })
}

fn score_file(input: &Path, output: &Path, midi_out: Option<&Path>, options: &ScoreOptions) -> Result<(), String> {
    let t = metrics::read_transcription(input).map_err(|e| e.to_string())?;
    write_score(&t, input, output, midi_out, options)
}

/// The score of `t` as MusicXML at `output` (and beat-aligned MIDI at `midi_out`), titled after `input`.
fn write_score(
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

fn create_parent(path: &Path) -> Result<(), String> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display())),
        None => Ok(()),
    }
}

fn model_bytes(model: Option<&Path>) -> Result<std::borrow::Cow<'static, [u8]>, String> {
    Ok(match model {
        Some(p) => std::fs::read(p).map_err(|e| format!("cannot read model {}: {e}", p.display()))?.into(),
        None => DEFAULT_MODEL.into(),
    })
}

fn model_name(model: Option<&Path>) -> String {
    model.map_or("built-in model".to_string(), |p| p.display().to_string())
}

fn load_model(model: Option<&Path>) -> Result<Transcriber, String> {
    Transcriber::from_bytes(&model_bytes(model)?).map_err(|e| format!("{}: {e}", model_name(model)))
}

/// `pianoscribe info`: what a bundle is, in a few lines.
fn describe_model(cfg: &ModelConfig, bytes: usize) -> String {
    let mut s = format!(
        "family: {}
size: {:.1} MB
",
        cfg.family.name(),
        bytes as f64 / 1e6
    );
    let mel = cfg.mel();
    s += &format!(
        "input: {} Hz, window {}, hop {} ({:.1} ms frames), {} mel bands {}-{} Hz
",
        cfg.sample_rate,
        cfg.window,
        cfg.hop,
        cfg.frame_seconds() * 1e3,
        mel.n_mels,
        mel.f_min,
        mel.f_max
    );
    s += &format!(
        "segments: {} s, {} s apart by default ({} s in Faster mode)
",
        cfg.segment_seconds,
        cfg.default_hop_seconds(),
        cfg.faster_hop_seconds()
    );
    if let Some(o) = cfg.onset_gated() {
        let range = |v: &[f32]| {
            let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            if lo == hi {
                format!("{lo}")
            } else {
                format!("{lo} to {hi}")
            }
        };
        s += &format!(
            "keys: {} from {}; thresholds: onset {}, frame {}
",
            o.keys(),
            key_name(o.lowest_key as usize),
            range(&o.thresholds.onset),
            range(&o.thresholds.frame)
        );
    }
    if let Some(p) = cfg.provenance.as_object() {
        for (k, v) in p.iter().filter(|(k, _)| *k != "scores") {
            s += &format!(
                "{k}: {}
",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            );
        }
        // Measured scores (tools/oaf/stamp.py): one line per set.
        for (set, v) in p.get("scores").and_then(|v| v.as_object()).into_iter().flatten() {
            let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).map_or("-".to_string(), |x| format!("{x:.3}"));
            s += &format!(
                "scores on {set}: note F1 {}, +offset {}, +velocity {}, frame {}{}
",
                f("note"),
                f("note_offset"),
                f("note_offset_velocity"),
                f("frame"),
                v.get("measured").and_then(|m| m.as_str()).map_or(String::new(), |m| format!(" ({m})"))
            );
        }
    }
    s
}

fn transcribe(
    engine: &Transcriber,
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

/// Runs `f`, turning a panic (a bug, never expected) into an error message that names the input.
fn guarded(input: &Path, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
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
fn files_in(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, String> {
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
fn named(dir: &Path, stem: &std::ffi::OsStr, ext: &str) -> PathBuf {
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(ext);
    dir.join(name)
}

/// Runs `each(file, stem)` on every file of a folder, with a `[i/n]` line before each; a failure is one error
/// line and the rest go on; an error at the end says how many failed.
fn for_each_file(
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

fn transcribe_file(
    engine: &Transcriber,
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

fn audio_files(input: &Path) -> Result<Vec<PathBuf>, String> {
    if !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let files = files_in(input, AUDIO_EXTENSIONS)?;
    if files.is_empty() {
        return Err(format!("no audio files ({}) in {}", AUDIO_EXTENSIONS.join(", "), input.display()));
    }
    Ok(files)
}

fn calibrate(
    model: &Path,
    audio: &Path,
    reference: &Path,
    output: &Path,
    bundle: Option<&Path>,
    pedal_extend_ref: bool,
) -> Result<(), String> {
    let bytes = model_bytes(Some(model))?;
    let engine = Transcriber::from_bytes(&bytes).map_err(|e| format!("{}: {e}", model.display()))?;
    let cfg = engine.config();
    let Some(o) = cfg.onset_gated() else {
        return Err(format!(
            "{}: calibrate needs an Onsets & Frames model; this one is {}",
            model.display(),
            cfg.family.name()
        ));
    };
    let refs = metrics::transcriptions_by_stem(reference, pedal_extend_ref).map_err(|e| e.to_string())?;
    let mut pieces = vec![];
    for f in audio_files(audio)? {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let Some(r) = refs.get(&stem) else {
            eprintln!("warning: no reference for {} in {}; left out", f.display(), reference.display());
            continue;
        };
        eprintln!("[{}] {}", pieces.len() + 1, f.display());
        let notes = metrics::load_notes(r, pedal_extend_ref).map_err(|e| e.to_string())?;
        let mut source = AudioFile::open(&f).map_err(|e| e.to_string())?;
        let (_, roll) = engine
            .transcribe_with_roll(&mut source, TranscribeOptions::default(), &mut |_| Flow::Continue)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        pieces.push(calibrate::Piece { roll, reference: notes });
    }
    let c = calibrate::calibrate(cfg, &pieces, &Default::default()).map_err(|e| e.to_string())?;
    println!("{:<9} {:>6} {:>13} {:>13} {:>17} {:>17}", "keys", "notes", "onset", "frame", "note F1", "+offset F1");
    for (b, a) in c.before.iter().zip(&c.after) {
        let keys = format!("{}-{}", key_name(a.keys.0 as usize), key_name(a.keys.1 as usize));
        println!(
            "{keys:<9} {:>6} {:>5.2} -> {:<5.2} {:>5.2} -> {:<5.2} {:>7.4} -> {:<7.4} {:>7.4} -> {:<7.4}",
            a.reference_notes, b.onset, a.onset, b.frame, a.frame, b.note_f1, a.note_f1, b.offset_f1, a.offset_f1
        );
    }
    let comment = format!(
        "calibrated by `pianoscribe calibrate` on {} recording(s) of {} for {}",
        pieces.len(),
        audio.display(),
        model.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned())
    );
    std::fs::write(output, write_thresholds(&c.thresholds, o.lowest_key, &comment))
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    eprintln!("thresholds -> {}", output.display());
    if let Some(path) = bundle {
        let out = with_thresholds(&bytes, &c.thresholds, &comment).map_err(|e| e.to_string())?;
        std::fs::write(path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("model with these thresholds -> {}", path.display());
    }
    Ok(())
}

fn eval(est: &Path, reference: &Path, json: Option<&Path>, options: &metrics::EvalOptions) -> Result<(), String> {
    let report = metrics::evaluate_paths(est, reference, options).map_err(|e| e.to_string())?;
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
