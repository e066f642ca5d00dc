//! Command-line face of the library: argument parsing, files and folders, the progress bar, exit codes.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use pianoscribe::family::{self, onsets_frames};
use pianoscribe::score::beats::network::MeterNetwork;
use pianoscribe::score::{Meter, ScoreOptions, Tracker};
use pianoscribe::{metrics, Engine, TranscribeOptions};

mod calibrate;
mod eval;
mod files;
mod info;
mod score;
mod transcribe;

use files::guarded;

/// The default model, converted from Transkun V2 by tools/convert (see models/README.md).
static DEFAULT_MODEL: &[u8] = include_bytes!("../../models/transkun-v2.pscb");

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
        /// Print it as one JSON object (family, bytes, numbers, provenance).
        #[arg(long)]
        json: bool,
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
/// size come from heaps that keep their high-water mark, and peak resident memory grows with them (README,
/// Memory).
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
            let bytes = model_bytes(model.as_deref())?;
            let engine = Engine::from_bytes(&bytes).map_err(|e| format!("{}: {e}", model_name(model.as_deref())))?;
            let thresholds = match &thresholds {
                None => None,
                Some(path) => {
                    let o = onsets_frames::config_of(&bytes, "--thresholds").map_err(|e| e.to_string())?.decoder;
                    let text =
                        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    Some(
                        onsets_frames::read_thresholds(&text, &path.display().to_string(), &o)
                            .map_err(|e| e.to_string())?,
                    )
                }
            };
            let options = TranscribeOptions {
                pedal_extend,
                include_pedals: !no_pedals,
                segment_hop_seconds: if fast { Some(engine.info().faster_hop_seconds) } else { segment_hop },
                onset_threshold,
                frame_threshold,
                thresholds,
            };
            let score = score_path.map(|path| (path, score_args.options()));
            transcribe::transcribe(&engine, &input, &output, &options, &transcribe::Output { tsv, profile, score })
        }
        Command::Calibrate { model, audio, reference, output, bundle, pedal_extend_ref, threads } => {
            setup_threads(threads);
            calibrate::calibrate(&model, &audio, &reference, &output, bundle.as_deref(), pedal_extend_ref)
        }
        Command::Score { input, output, midi, score_args } => {
            score::score_files(&input, &output, midi.as_deref(), &score_args.options())
        }
        Command::Info { model, json } => {
            let bytes = model_bytes(model.as_deref())?;
            let name = model_name(model.as_deref());
            if MeterNetwork::is_meter_bundle(&bytes) {
                let m = MeterNetwork::load(&bytes).map_err(|e| format!("{name}: {e}"))?;
                let text = if json {
                    serde_json::to_string_pretty(&m.to_json(bytes.len())).expect("JSON values serialise") + "\n"
                } else {
                    info::describe_meter(&m, bytes.len())
                };
                print!("{text}");
                return Ok(());
            }
            let m = family::describe(&bytes).map_err(|e| format!("{name}: {e}"))?;
            print!("{}", if json { info::json(&m, bytes.len()) } else { info::describe(&m, bytes.len()) });
            if model.is_none() && !json {
                // The built-in score model too: `info --model` on its bundle prints the same.
                let m = MeterNetwork::shipped().map_err(|e| e.to_string())?;
                let meter = info::describe_meter(&m, pianoscribe::score::beats::network::SHIPPED_BUNDLE.len());
                print!("\nscore model (built in):\n{meter}");
            }
            Ok(())
        }
        Command::Eval { est, reference, json, onset_tolerance, pedal_extend_ref, pedal_extend_est } => {
            let options =
                metrics::EvalOptions { onset_tolerance, pedal_extend_ref, pedal_extend_est, ..Default::default() };
            eval::eval(&est, &reference, json.as_deref(), &options)
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
    /// Where the beat evidence comes from: the learned model (default) or the hand-made rules.
    #[arg(long, value_enum, default_value_t = TrackerArg::Learned)]
    tracker: TrackerArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TrackerArg {
    Learned,
    Rules,
}

impl ScoreArgs {
    fn options(&self) -> ScoreOptions {
        ScoreOptions {
            hands: !self.no_hands,
            subdivisions: self.subdivisions,
            triplets: !self.no_triplets,
            tempo_hint: self.tempo,
            meter: self.meter,
            tracker: match self.tracker {
                TrackerArg::Learned => Tracker::Learned,
                TrackerArg::Rules => Tracker::Rules,
            },
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

fn model_bytes(model: Option<&Path>) -> Result<std::borrow::Cow<'static, [u8]>, String> {
    Ok(match model {
        Some(p) => std::fs::read(p).map_err(|e| format!("cannot read model {}: {e}", p.display()))?.into(),
        None => DEFAULT_MODEL.into(),
    })
}

fn model_name(model: Option<&Path>) -> String {
    model.map_or("built-in model".to_string(), |p| p.display().to_string())
}
