//! The Onsets & Frames front-end: the log-mel spectrogram of the mono mix, as librosa computes it with
//! `melspectrogram(center=True, pad_mode="constant", window="hann", power=2, htk=True, norm="slaney")` and
//! `power_to_db(ref=1, top_db=None)`: frame `t` is centred on sample `t * hop` (zeros outside the segment), a
//! periodic Hann window, the unscaled rFFT's power, the mel filterbank, then `10 log10(max(mel, amin))`.
//! tests/onsets_frames.rs checks it against librosa's features of real audio.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use super::config::OnsetsFramesConfig;
use crate::features::{hann_periodic, sparse_filters, Features, MelFilter};

pub struct LogMelFrontEnd {
    window: usize,
    hop: usize,
    frames: usize,
    amin: f32,
    hann: Vec<f32>,
    filters: Vec<MelFilter>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl LogMelFrontEnd {
    pub fn new(cfg: &OnsetsFramesConfig) -> Self {
        let s = &cfg.segments;
        LogMelFrontEnd {
            window: s.window,
            hop: s.hop,
            frames: s.frames_per_segment,
            amin: cfg.amin as f32,
            hann: hann_periodic(s.window),
            filters: sparse_filters(&cfg.mel, s.window, s.sample_rate),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(s.window),
        }
    }

    /// `channels[c]` holds one segment of samples; features `[frame][mel]` of their mean.
    pub fn process(&self, channels: &[Vec<f32>]) -> Features {
        let n = self.window;
        let len = channels.first().map_or(0, |c| c.len());
        let scale = 1.0 / channels.len().max(1) as f32;
        let mono: Vec<f32> = (0..len).map(|i| channels.iter().map(|c| c[i]).sum::<f32>() * scale).collect();
        let n_mels = self.filters.len();
        let mut data = vec![0f32; self.frames * n_mels];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; n / 2 + 1];
        for t in 0..self.frames {
            for (p, (x, w)) in input.iter_mut().zip(&self.hann).enumerate() {
                let i = (t * self.hop + p) as isize - (n / 2) as isize;
                *x = if i >= 0 && (i as usize) < len { mono[i as usize] * w } else { 0.0 };
            }
            self.fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("buffer sizes come from the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for (m, f) in self.filters.iter().enumerate() {
                let mel: f32 = power[f.first_bin..][..f.weights.len()].iter().zip(&f.weights).map(|(p, w)| p * w).sum();
                data[t * n_mels + m] = 10.0 * mel.max(self.amin).log10();
            }
        }
        Features { frames: self.frames, mels: n_mels, windows: 1, data }
    }
}
