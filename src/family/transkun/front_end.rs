//! Transkun's front-end, as transkun's `MelSpectrum` computes it: framing with half-window left padding, one
//! gain normalisation per segment, a Hann window plus learned Gaussian windows, orthonormal rFFT power
//! averaged over channels, an HTK mel filterbank, and a scaled log. Features `[frame][mel bin][window]`.
//! tests/frontend.rs checks it against transkun's own features.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;

use super::config::TranskunConfig;
use crate::features::{hann_periodic, sparse_filters, Features, MelFilter};

/// Transkun's front-end, built once per model; holds the FFT plan, the windows and the filterbank.
pub struct TranskunFrontEnd {
    window: usize,
    hop: usize,
    frames: usize,
    gain_eps: f64,
    log_eps: f32,
    windows: Vec<Vec<f32>>,
    filters: Vec<MelFilter>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl TranskunFrontEnd {
    pub fn new(cfg: &TranskunConfig) -> Self {
        let (s, f) = (&cfg.segments, &cfg.front_end);
        let n = s.window;
        let mut windows = vec![hann_periodic(n)];
        let g = &f.gaussian_windows;
        for (&c, &sigma) in g.center_logits.iter().zip(&g.sigma_logits) {
            windows.push(gaussian_window(n, c, sigma));
        }
        TranskunFrontEnd {
            window: n,
            hop: s.hop,
            frames: s.frames_per_segment,
            gain_eps: f.gain_eps,
            log_eps: f.log_eps as f32,
            windows,
            filters: sparse_filters(&f.mel, n, s.sample_rate),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(n),
        }
    }

    /// `channels[c]` holds one segment of samples (all the same length). Returns the segment's features.
    pub fn process(&self, channels: &[Vec<f32>]) -> Features {
        let n = self.window;
        let n_win = self.windows.len();
        let n_mels = self.filters.len();
        let n_freqs = n / 2 + 1;
        let left = n / 2;
        let seg_len = channels.first().map_or(0, |c| c.len());
        // Sample at framed position p of frame t is x[t*hop + p - left], zero outside the signal.
        let sample = |x: &[f32], t: usize, p: usize| -> f32 {
            let i = (t * self.hop + p) as isize - left as isize;
            if i >= 0 && (i as usize) < seg_len {
                x[i as usize]
            } else {
                0.0
            }
        };

        // Gain normalisation: one mean and one unbiased std over all framed values of all channels. Each
        // sample appears in several overlapping frames; count it as often as it appears.
        let (mut sum, mut sum_sq, mut count) = (0f64, 0f64, 0f64);
        for x in channels {
            for t in 0..self.frames {
                for p in 0..n {
                    let v = sample(x, t, p) as f64;
                    sum += v;
                    sum_sq += v * v;
                }
                count += n as f64;
            }
        }
        let mean = sum / count;
        let var = ((sum_sq - sum * mean) / (count - 1.0)).max(0.0);
        let inv = 1.0 / (var.sqrt() + self.gain_eps);

        let mut power = vec![0f32; self.frames * n_win * n_freqs];
        let mut frame = vec![0f32; n];
        let mut input = self.fft.make_input_vec();
        let mut spectrum: Vec<Complex<f32>> = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let ortho = 1.0 / (n as f32).sqrt();
        let channel_weight = 1.0 / channels.len() as f32;
        for x in channels {
            for t in 0..self.frames {
                for (p, f) in frame.iter_mut().enumerate() {
                    *f = ((sample(x, t, p) as f64 - mean) * inv) as f32;
                }
                for (w, win) in self.windows.iter().enumerate() {
                    for ((i, f), wv) in input.iter_mut().zip(&frame).zip(win) {
                        *i = f * wv;
                    }
                    self.fft
                        .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                        .expect("buffer sizes come from the plan");
                    let out = &mut power[(t * n_win + w) * n_freqs..][..n_freqs];
                    for (o, c) in out.iter_mut().zip(&spectrum) {
                        let c = c * ortho;
                        *o += c.norm_sqr() * channel_weight;
                    }
                }
            }
        }

        let mut data = vec![0f32; self.frames * n_mels * n_win];
        let denom = -self.log_eps.ln();
        for t in 0..self.frames {
            for w in 0..n_win {
                let pw = &power[(t * n_win + w) * n_freqs..][..n_freqs];
                for (m, filt) in self.filters.iter().enumerate() {
                    let bins = &pw[filt.first_bin..filt.first_bin + filt.weights.len()];
                    let mel: f32 = bins.iter().zip(&filt.weights).map(|(p, w)| p * w).sum();
                    data[(t * n_mels + m) * n_win + w] = ((mel + self.log_eps).ln() - self.log_eps.ln()) / denom;
                }
            }
        }
        Features { frames: self.frames, mels: n_mels, windows: n_win, data }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// transkun's learned Gaussian window: centre and width are sigmoids of the learned logits.
fn gaussian_window(n: usize, center_logit: f64, sigma_logit: f64) -> Vec<f32> {
    let center = n as f64 * sigmoid(center_logit);
    let width = sigmoid(sigma_logit) * n as f64 / 2.0;
    (0..n).map(|i| (-0.5 * ((i as f64 - center) / width).powi(2)).exp() as f32).collect()
}
