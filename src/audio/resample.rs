//! Band-limited resampling by a Kaiser-windowed sinc, streaming, for any pair of rates.
//!
//! The filter is tabulated finely once and read with linear interpolation, so any ratio (also ones with no
//! small rational form) costs the same. Its cut-off sits just below the lower of the two Nyquist rates.

use std::f64::consts::PI;

/// Zero crossings of the sinc on each side, in units of the lower rate's sample period.
const ZERO_CROSSINGS: usize = 48;
/// Table entries per zero crossing.
const RESOLUTION: usize = 2048;
/// Cut-off as a fraction of the lower Nyquist rate.
const CUTOFF: f64 = 0.96;
/// Kaiser window shape: about 100 dB of stop-band rejection.
const KAISER_BETA: f64 = 10.0;

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

pub struct Resampler {
    in_rate: u64,
    out_rate: u64,
    /// Filter stretch: 1 when upsampling, out/in when downsampling.
    scale: f64,
    /// Input samples on each side that reach one output sample.
    reach: usize,
    table: Vec<f32>,
    /// Per channel: input samples from absolute index `base` on.
    history: Vec<Vec<f32>>,
    base: u64,
    /// Input samples received so far.
    received: u64,
    /// Index of the next output sample.
    next_out: u64,
}

impl Resampler {
    pub fn new(in_rate: u32, out_rate: u32, channels: usize) -> Self {
        let scale = (out_rate as f64 / in_rate as f64).min(1.0);
        let table = (0..=ZERO_CROSSINGS * RESOLUTION + 1)
            .map(|i| {
                let u = i as f64 / RESOLUTION as f64; // distance in lower-rate sample periods
                let x = u / ZERO_CROSSINGS as f64;
                if x > 1.0 {
                    return 0.0;
                }
                let sinc = if u == 0.0 { 1.0 } else { (PI * CUTOFF * u).sin() / (PI * CUTOFF * u) };
                let window = bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / bessel_i0(KAISER_BETA);
                (CUTOFF * sinc * window) as f32
            })
            .collect();
        Resampler {
            in_rate: in_rate as u64,
            out_rate: out_rate as u64,
            scale,
            reach: (ZERO_CROSSINGS as f64 / scale).ceil() as usize + 1,
            table,
            history: vec![vec![]; channels],
            base: 0,
            received: 0,
            next_out: 0,
        }
    }

    fn passthrough(&self) -> bool {
        self.in_rate == self.out_rate
    }

    /// Feeds input; returns the output samples that are now fully determined.
    pub fn process(&mut self, input: &[Vec<f32>]) -> Vec<Vec<f32>> {
        if self.passthrough() {
            return input.to_vec();
        }
        for (h, x) in self.history.iter_mut().zip(input) {
            h.extend_from_slice(x);
        }
        self.received += input.first().map_or(0, |c| c.len() as u64);
        // Output n needs input up to floor(n * in / out) + reach.
        let limit = self.received.saturating_sub(self.reach as u64);
        self.render(|n, in_rate, out_rate| n * in_rate / out_rate < limit)
    }

    /// Ends the stream: returns the remaining output, ceil(total_in * out / in) samples in all.
    pub fn finish(&mut self) -> Vec<Vec<f32>> {
        if self.passthrough() {
            return vec![vec![]; self.history.len()];
        }
        let total = (self.received * self.out_rate).div_ceil(self.in_rate);
        self.render(|n, _, _| n < total)
    }

    fn render(&mut self, ready: impl Fn(u64, u64, u64) -> bool) -> Vec<Vec<f32>> {
        let mut out = vec![vec![]; self.history.len()];
        let step = self.scale * RESOLUTION as f64;
        while ready(self.next_out, self.in_rate, self.out_rate) {
            let num = self.next_out * self.in_rate;
            let centre = num / self.out_rate; // input index at or before the output instant
            let frac = (num % self.out_rate) as f64 / self.out_rate as f64;
            let first = centre.saturating_sub(self.reach as u64 - 1);
            let last = centre + self.reach as u64;
            for (o, h) in out.iter_mut().zip(&self.history) {
                let mut acc = 0f64;
                for j in first..=last {
                    let idx = j.wrapping_sub(self.base) as usize;
                    let Some(&x) = h.get(idx) else { continue };
                    let dist = (j as f64 - centre as f64 - frac).abs() * step;
                    let i = dist as usize;
                    if i + 1 >= self.table.len() {
                        continue;
                    }
                    let f = (dist - i as f64) as f32;
                    let w = self.table[i] + (self.table[i + 1] - self.table[i]) * f;
                    acc += (x * w) as f64;
                }
                o.push((acc * self.scale) as f32);
            }
            self.next_out += 1;
        }
        // Drop input that no future output can reach.
        let keep_from = (self.next_out * self.in_rate / self.out_rate).saturating_sub(self.reach as u64);
        if keep_from > self.base {
            let drop = (keep_from - self.base) as usize;
            for h in &mut self.history {
                h.drain(..drop.min(h.len()));
            }
            self.base = keep_from;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, n: usize) -> Vec<f32> {
        (0..n).map(|i| (2.0 * PI * freq * i as f64 / rate as f64).sin() as f32).collect()
    }

    fn run(rate_in: u32, rate_out: u32, x: &[f32], chunk: usize) -> Vec<f32> {
        let mut r = Resampler::new(rate_in, rate_out, 1);
        let mut y = vec![];
        for c in x.chunks(chunk) {
            y.extend(r.process(&[c.to_vec()]).remove(0));
        }
        y.extend(r.finish().remove(0));
        y
    }

    #[test]
    fn upsampled_sine_matches_the_ideal() {
        let (fin, fout, f) = (16_000, 44_100, 1000.0);
        let x = sine(fin, f, 16_000);
        let y = run(fin, fout, &x, 777);
        assert_eq!(y.len(), 44_100);
        let ideal = sine(fout, f, y.len());
        // Away from the edges the error is tiny.
        let err = y[2000..42000].iter().zip(&ideal[2000..42000]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(err < 2e-3, "max error {err}");
    }

    #[test]
    fn downsampling_removes_content_above_nyquist() {
        // 30 kHz at 96 kHz cannot exist at 44.1 kHz: it must vanish, not alias.
        let x = sine(96_000, 30_000.0, 96_000);
        let y = run(96_000, 44_100, &x, 4096);
        let rms = (y[2000..40000].iter().map(|v| v * v).sum::<f32>() / 38000.0).sqrt();
        assert!(rms < 1e-3, "aliased rms {rms}");
        // 1 kHz passes with unit gain.
        let x = sine(96_000, 1000.0, 96_000);
        let y = run(96_000, 44_100, &x, 4096);
        let rms = (y[2000..40000].iter().map(|v| v * v).sum::<f32>() / 38000.0).sqrt();
        assert!((rms - 0.70710677).abs() < 2e-3, "rms {rms}");
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let x = sine(22_050, 440.0, 10_000);
        assert_eq!(run(22_050, 44_100, &x, 10_000), run(22_050, 44_100, &x, 333));
    }

    #[test]
    fn same_rate_is_identity() {
        let x = sine(44_100, 440.0, 1000);
        assert_eq!(run(44_100, 44_100, &x, 100), x);
    }
}
