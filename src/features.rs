//! What the families' front-ends share: the features of one segment ([`Features`], the network's input) and
//! the signal processing both use (periodic Hann window, HTK mel filterbank with or without Slaney norm).
//! Each family's front-end is in its folder (`family/*/front_end.rs`).

use crate::config::MelBands;

/// Features of one segment, laid out `[frame][mel][window]` (the model's input `[1, T, n_mels, n_windows]`).
#[derive(Debug, Clone)]
pub struct Features {
    pub frames: usize,
    pub mels: usize,
    pub windows: usize,
    pub data: Vec<f32>,
}

impl Features {
    pub fn at(&self, frame: usize, mel: usize, window: usize) -> f32 {
        self.data[(frame * self.mels + mel) * self.windows + window]
    }
}

/// Sparse triangular filter: weights for a contiguous run of FFT bins.
#[derive(Debug, Clone)]
pub(crate) struct MelFilter {
    pub first_bin: usize,
    pub weights: Vec<f32>,
}

/// The filterbank of `mel` for an FFT of `n` points, each filter as its run of non-zero weights.
pub(crate) fn sparse_filters(mel: &MelBands, n: usize, sample_rate: u32) -> Vec<MelFilter> {
    mel_filterbank(n / 2 + 1, mel, sample_rate)
        .into_iter()
        .map(|col| {
            let first = col.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = col.iter().rposition(|&w| w > 0.0).unwrap_or(0);
            MelFilter { first_bin: first, weights: col[first..=last.max(first)].to_vec() }
        })
        .collect()
}

/// torch.hann_window(n) (periodic).
pub(crate) fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32).collect()
}

fn hz_to_mel_htk(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz_htk(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate) (HTK scale, no norm), or
/// with `slaney_norm` librosa.filters.mel(htk=True) (each triangle scaled by 2 / its width in Hz).
/// Returns one column (a filter over all FFT bins) per mel band.
pub fn mel_filterbank(n_freqs: usize, mel: &MelBands, sample_rate: u32) -> Vec<Vec<f32>> {
    let MelBands { f_min, f_max, n_mels, slaney_norm } = *mel;
    let nyquist = (sample_rate / 2) as f64;
    let all_freqs: Vec<f64> = (0..n_freqs).map(|i| nyquist * i as f64 / (n_freqs - 1) as f64).collect();
    let (m_min, m_max) = (hz_to_mel_htk(f_min), hz_to_mel_htk(f_max));
    let f_pts: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz_htk(m_min + (m_max - m_min) * i as f64 / (n_mels + 1) as f64)).collect();
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (f_pts[m], f_pts[m + 1], f_pts[m + 2]);
            let norm = if slaney_norm { 2.0 / (hi - lo) } else { 1.0 };
            all_freqs
                .iter()
                .map(|&f| {
                    let down = (f - lo) / (mid - lo);
                    let up = (hi - f) / (hi - mid);
                    (down.min(up).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_are_triangles_within_range() {
        let bands = MelBands { f_min: 30.0, f_max: 8000.0, n_mels: 229, slaney_norm: false };
        let fb = mel_filterbank(2049, &bands, 44100);
        assert_eq!(fb.len(), 229);
        for col in &fb {
            let peak = col.iter().cloned().fold(0f32, f32::max);
            assert!(peak > 0.0 && peak <= 1.0 + 1e-6);
        }
        // No energy above f_max: bin 2049 * 8000 / 22050 ~ 743.
        assert!(fb.iter().all(|c| c[760..].iter().all(|&w| w == 0.0)));
    }

    #[test]
    fn hann_is_periodic() {
        let w = hann_periodic(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-7);
        assert!((w[2] - 0.5).abs() < 1e-7 && (w[6] - 0.5).abs() < 1e-7);
    }
}
