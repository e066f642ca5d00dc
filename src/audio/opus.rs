//! Opus (in Ogg) for symphonia, which demuxes it but has no decoder: packets are decoded by the pure-Rust
//! `opus-decoder` crate at 48 kHz. Mono and stereo streams (channel mapping families 0 and 1); the demuxer's
//! pre-skip and end trim (gapless) are applied here, as symphonia's own decoders do.

use opus_decoder::OpusDecoder as Inner;
use symphonia::core::audio::{AsAudioBufferRef, AudioBuffer, AudioBufferRef, Signal, SignalSpec};
use symphonia::core::codecs::{
    CodecDescriptor, CodecParameters, Decoder, DecoderOptions, FinalizeResult, CODEC_TYPE_OPUS,
};
use symphonia::core::errors::{decode_error, unsupported_error, Result};
use symphonia::core::formats::Packet;
use symphonia::core::support_codec;

/// Opus always decodes at this rate.
const RATE: u32 = 48_000;
/// The longest Opus packet: 120 ms.
const MAX_PACKET_SAMPLES: usize = 5760;

pub struct OpusDecoder {
    inner: Inner,
    params: CodecParameters,
    channels: usize,
    /// The header's output gain, as a linear factor.
    gain: f32,
    interleaved: Vec<f32>,
    buf: AudioBuffer<f32>,
}

impl Decoder for OpusDecoder {
    fn try_new(params: &CodecParameters, _: &DecoderOptions) -> Result<Self> {
        if params.codec != CODEC_TYPE_OPUS {
            return unsupported_error("opus: invalid codec type");
        }
        // The identification header ("OpusHead"), which the Ogg demuxer passes on as extra data.
        let head = match params.extra_data.as_deref() {
            Some(h) if h.len() >= 19 && &h[..8] == b"OpusHead" => h,
            _ => return unsupported_error("opus: missing identification header"),
        };
        let channels = head[9] as usize;
        let gain_q8 = i16::from_le_bytes([head[16], head[17]]);
        if !(1..=2).contains(&channels) || head[18] > 1 {
            return unsupported_error("opus: only mono and stereo streams are supported");
        }
        let layout = params.channels.ok_or(symphonia::core::errors::Error::Unsupported("opus: no channel layout"))?;
        let inner = Inner::new(RATE, channels).or_else(|_| unsupported_error("opus: cannot create the decoder"))?;
        Ok(OpusDecoder {
            inner,
            params: params.clone(),
            channels,
            gain: 10f32.powf(gain_q8 as f32 / 256.0 / 20.0),
            interleaved: vec![0.0; MAX_PACKET_SAMPLES * channels],
            buf: AudioBuffer::new(MAX_PACKET_SAMPLES as u64, SignalSpec::new(RATE, layout)),
        })
    }

    fn supported_codecs() -> &'static [CodecDescriptor] {
        &[support_codec!(CODEC_TYPE_OPUS, "opus", "Opus")]
    }

    fn reset(&mut self) {
        self.inner.reset();
    }

    fn codec_params(&self) -> &CodecParameters {
        &self.params
    }

    fn decode(&mut self, packet: &Packet) -> Result<AudioBufferRef<'_>> {
        self.buf.clear();
        let n = match self.inner.decode_float(&packet.data, &mut self.interleaved, false) {
            Ok(n) => n,
            Err(_) => return decode_error("opus: invalid packet"),
        };
        self.buf.render_reserved(Some(n));
        for c in 0..self.channels {
            for (i, s) in self.buf.chan_mut(c).iter_mut().enumerate() {
                *s = self.interleaved[i * self.channels + c] * self.gain;
            }
        }
        self.buf.trim(packet.trim_start() as usize, packet.trim_end() as usize);
        Ok(self.buf.as_audio_buffer_ref())
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> AudioBufferRef<'_> {
        self.buf.as_audio_buffer_ref()
    }
}
