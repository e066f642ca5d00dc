//! The engine: PCM in, transcription out, a few segments at a time (as many as the model runs at once).
//! Memory stays bounded by those segments' audio and network outputs, whatever the length of the recording.

use crate::audio::{PcmSource, Resampler};
use crate::config::{DecoderConfig, ModelConfig, TranscribeOptions};
use crate::decode::{decode_segment, Decoder, FrameRoll};
use crate::error::{Error, Result};
use crate::features::FrontEnd;
use crate::model::{Model, NetworkOutput};
use crate::notes::{extend_with_sustain, Note, Transcription};

/// Reported after each segment.
pub struct Progress<'a> {
    /// Fraction of the work done, 0..=1, when the length of the input is known.
    pub fraction: Option<f64>,
    /// Seconds of the recording whose segments are done.
    pub seconds_done: f64,
    pub segments_done: usize,
    pub segments_total: Option<usize>,
    /// Seconds spent so far in each stage: the front-end, the network, and decoding (Viterbi, attribute
    /// heads, stitching).
    pub stage_seconds: StageSeconds,
    decoder: &'a Decoder,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageSeconds {
    pub features: f64,
    pub network: f64,
    pub decode: f64,
}

/// Seconds since an arbitrary origin (std's clock does not exist on wasm32-unknown-unknown).
fn now() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() / 1000.0
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
        ORIGIN.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
    }
}

impl Progress<'_> {
    /// Notes found so far (the latest ones may still be revised by the next segment).
    pub fn notes_so_far(&self) -> Vec<Note> {
        self.decoder.notes_so_far()
    }
}

/// What the progress callback asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Cancel,
}

/// A loaded model with its front-end, ready to transcribe any number of recordings.
pub struct Transcriber {
    model: Model,
    front: FrontEnd,
}

impl Transcriber {
    pub fn new(model: Model) -> Self {
        let front = FrontEnd::new(model.config());
        Transcriber { model, front }
    }

    pub fn from_bytes(model_bytes: &[u8]) -> Result<Self> {
        Ok(Self::new(Model::from_bytes(model_bytes)?))
    }

    pub fn config(&self) -> &ModelConfig {
        self.model.config()
    }

    /// The model's numbers as the options set them (segment hop, thresholds).
    fn effective_config(&self, options: &TranscribeOptions) -> Result<ModelConfig> {
        self.config().with_options(options)
    }

    /// Number of segments for a recording of `frames` samples at `rate` Hz.
    pub fn segments_for(&self, frames: u64, rate: u32, options: &TranscribeOptions) -> Result<usize> {
        Ok(segment_count(&self.effective_config(options)?, frames, rate))
    }

    /// Starts a transcription of a stream of `channels` channels at `sample_rate` Hz, `total_frames` long if
    /// known (for progress). Push its PCM with [`Session::push`] as it arrives, then [`Session::finish`].
    pub fn start(
        &self,
        sample_rate: u32,
        channels: usize,
        total_frames: Option<u64>,
        options: TranscribeOptions,
    ) -> Result<Session> {
        let cfg = self.effective_config(&options)?;
        crate::audio::check_format(sample_rate, channels)?;
        Ok(Session {
            total: total_frames.map(|f| segment_count(&cfg, f, sample_rate)),
            resampler: Resampler::new(sample_rate, cfg.sample_rate, channels),
            // The padded signal from the current segment's start on.
            buf: vec![vec![0.0; cfg.lead_in_samples()]; channels],
            decoder: Decoder::new(&cfg),
            cfg,
            options,
            channels,
            received: 0,
            resampled: 0,
            pending: vec![],
            done: 0,
            times: StageSeconds::default(),
        })
    }

    /// Transcribes a whole source: [`start`](Self::start), a [`Session::push`] per chunk, [`Session::finish`].
    pub fn transcribe(
        &self,
        source: &mut dyn PcmSource,
        options: TranscribeOptions,
        on_progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<Transcription> {
        Ok(self.run(source, options, false, on_progress)?.0)
    }

    /// Onsets & Frames: transcribes a whole source and also returns its stitched probabilities (what
    /// [`crate::calibrate`] decodes again with other thresholds).
    pub fn transcribe_with_roll(
        &self,
        source: &mut dyn PcmSource,
        options: TranscribeOptions,
        on_progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<(Transcription, FrameRoll)> {
        let (t, roll) = self.run(source, options, true, on_progress)?;
        Ok((t, roll.unwrap_or_default()))
    }

    fn run(
        &self,
        source: &mut dyn PcmSource,
        options: TranscribeOptions,
        record_frames: bool,
        on_progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<(Transcription, Option<FrameRoll>)> {
        let mut session = self.start(source.sample_rate(), source.channels(), source.total_frames(), options)?;
        if record_frames {
            session.record_frames()?;
        }
        while let Some(chunk) = source.next_chunk()? {
            session.push(self, &chunk, on_progress)?;
        }
        session.finish_with_roll(self, on_progress)
    }
}

/// Segments the pipeline runs: one per segment start, leaving out those that would hold only end padding.
fn segment_count(cfg: &ModelConfig, frames: u64, rate: u32) -> usize {
    let resampled = (frames * cfg.sample_rate as u64).div_ceil(rate as u64) as usize;
    (resampled + cfg.lead_in_samples()).div_ceil(cfg.step_samples())
}

/// A transcription in progress: PCM goes in as it arrives (decoded piece by piece, from a file or the browser),
/// and each segment runs as soon as its audio is in, so that only a few segments' audio is ever held. Every
/// call takes the [`Transcriber`] that started it.
pub struct Session {
    cfg: ModelConfig,
    options: TranscribeOptions,
    channels: usize,
    resampler: Resampler,
    buf: Vec<Vec<f32>>,
    received: u64,
    /// Samples at the model's rate so far.
    resampled: usize,
    decoder: Decoder,
    /// Segments cut from the signal whose network has not run yet: up to the model's parallel batch.
    pending: Vec<Vec<Vec<f32>>>,
    done: usize,
    total: Option<usize>,
    times: StageSeconds,
}

impl Session {
    /// Adds a chunk of PCM (one Vec per channel, at the session's rate) and runs the segments it completes.
    pub fn push(
        &mut self,
        t: &Transcriber,
        chunk: &[Vec<f32>],
        on_progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<()> {
        check_chunk(chunk, self.channels, self.received)?;
        self.received += chunk.first().map_or(0, |c| c.len() as u64);
        let resampled = self.resampler.process(chunk);
        self.append(resampled);
        let (seg, step) = (self.cfg.segment_samples(), self.cfg.step_samples());
        while self.buf[0].len() >= seg {
            self.segment(t, on_progress)?;
            self.buf.iter_mut().for_each(|b| drop(b.drain(..step)));
        }
        Ok(())
    }

    /// Runs the rest of the recording and returns the transcription.
    pub fn finish(self, t: &Transcriber, on_progress: &mut dyn FnMut(&Progress) -> Flow) -> Result<Transcription> {
        Ok(self.finish_with_roll(t, on_progress)?.0)
    }

    /// Onsets & Frames: keep the probabilities of every frame the decoder sees, returned by
    /// [`finish_with_roll`](Self::finish_with_roll) (calibration decodes them again with other thresholds).
    pub fn record_frames(&mut self) -> Result<()> {
        match &mut self.decoder {
            Decoder::OnsetGated(d) => {
                d.record();
                Ok(())
            }
            Decoder::SemiCrf(_) => Err(Error::InvalidOption(format!(
                "frame probabilities come from Onsets & Frames models; this one is {}",
                self.cfg.family.name()
            ))),
        }
    }

    /// [`finish`](Self::finish), and the frames kept since [`record_frames`](Self::record_frames).
    pub fn finish_with_roll(
        mut self,
        t: &Transcriber,
        on_progress: &mut dyn FnMut(&Progress) -> Flow,
    ) -> Result<(Transcription, Option<FrameRoll>)> {
        if self.received == 0 {
            return Err(Error::NoAudio { what: "the input".into() });
        }
        let tail = self.resampler.finish();
        self.append(tail);
        if let Decoder::OnsetGated(d) = &mut self.decoder {
            // Frames are centred on every hop-th sample: one more than whole hops.
            d.set_frame_limit(self.resampled / self.cfg.hop + 1);
        }
        // Transkun's reference also runs the last segment, which holds nothing but end padding; silence decodes
        // to no events whatever the forced start (tests/engine.rs, silence), so skipping it changes nothing and
        // saves one segment per recording (a 69 s piece: 11 -> 10).
        let (step, pad) = (self.cfg.step_samples(), self.cfg.lead_in_samples());
        let mut to_end = self.buf[0].len(); // samples before the end padding
        self.buf.iter_mut().for_each(|b| b.resize(b.len() + pad, 0.0));
        while to_end > 0 {
            self.segment(t, on_progress)?;
            self.buf.iter_mut().for_each(|b| drop(b.drain(..step.min(b.len()))));
            to_end = to_end.saturating_sub(step);
        }
        self.flush(t, on_progress)?;
        let roll = match &mut self.decoder {
            Decoder::OnsetGated(d) => d.take_roll(),
            Decoder::SemiCrf(_) => None,
        };
        let mut out = self.decoder.finish();
        if self.options.pedal_extend {
            out.notes = extend_with_sustain(&out.notes, &out.pedals);
        }
        if !self.options.include_pedals {
            out.pedals.clear();
        }
        Ok((out, roll))
    }

    fn append(&mut self, chunk: Vec<Vec<f32>>) {
        self.resampled += chunk.first().map_or(0, Vec::len);
        for (b, c) in self.buf.iter_mut().zip(chunk) {
            b.extend_from_slice(&c);
        }
    }

    /// Queues the segment at the start of the buffer (zero-padded to a segment if shorter) and runs the queue
    /// once it holds as many segments as the network runs at once.
    fn segment(&mut self, t: &Transcriber, on_progress: &mut dyn FnMut(&Progress) -> Flow) -> Result<()> {
        let seg = self.cfg.segment_samples();
        let segment: Vec<Vec<f32>> = self
            .buf
            .iter()
            .map(|b| {
                let mut s = b[..seg.min(b.len())].to_vec();
                s.resize(seg, 0.0);
                s
            })
            .collect();
        self.pending.push(segment);
        if self.pending.len() >= t.model.parallel_segments() {
            self.flush(t, on_progress)?;
        }
        Ok(())
    }

    /// Runs the queued segments: their networks side by side, then decoding in order (each segment's forced
    /// starts come from the one before), reporting progress after each.
    fn flush(&mut self, t: &Transcriber, on_progress: &mut dyn FnMut(&Progress) -> Flow) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let cfg = &self.cfg;
        let t0 = now();
        let feats: Vec<_> = self.pending.drain(..).map(|s| t.front.process(&s)).collect();
        let t1 = now();
        let outputs = t.model.run_segments(&feats);
        drop(feats);
        let t2 = now();
        self.times.features += t1 - t0;
        self.times.network += t2 - t1;
        for out in outputs {
            let decode_start = now();
            let start = self.done * cfg.step_samples();
            let begin_time = start as f64 / cfg.sample_rate as f64 - cfg.lead_in_seconds();
            match (out?, &mut self.decoder, &t.model, &cfg.decoder) {
                (
                    NetworkOutput::Intervals(out),
                    Decoder::SemiCrf(stitcher),
                    Model::Transkun(m),
                    DecoderConfig::SemiCrf(crf),
                ) => {
                    let events = decode_segment(
                        cfg,
                        crf,
                        &out,
                        stitcher.forced_start(),
                        |track| m.track_scores(&out, track),
                        |b, e| m.attributes(b, e),
                    )?;
                    drop(out); // before the progress report, which may measure memory
                    stitcher.push(begin_time, events);
                }
                (NetworkOutput::Frames(p), Decoder::OnsetGated(d), ..) => d.push(&p),
                _ => return Err(Error::ModelMismatch("the network's output does not fit its decoder".into())),
            }
            self.times.decode += now() - decode_start;
            self.done += 1;
            let progress = Progress {
                fraction: self.total.map(|t| (self.done as f64 / t as f64).min(1.0)),
                seconds_done: (begin_time + cfg.segment_hop_seconds).max(0.0),
                segments_done: self.done,
                segments_total: self.total,
                stage_seconds: self.times,
                decoder: &self.decoder,
            };
            if on_progress(&progress) == Flow::Cancel {
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    }
}

fn check_chunk(chunk: &[Vec<f32>], channels: usize, offset: u64) -> Result<()> {
    if chunk.len() != channels {
        return Err(Error::CorruptAudio {
            what: "the input".into(),
            detail: format!("a block of {} channels in a stream of {channels}", chunk.len()),
        });
    }
    let expected = chunk[0].len();
    for (channel, c) in chunk.iter().enumerate() {
        if c.len() != expected {
            return Err(Error::ChannelLength { channel, expected, actual: c.len() });
        }
        if let Some(i) = c.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { channel, index: offset as usize + i });
        }
    }
    Ok(())
}
