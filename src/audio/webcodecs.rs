//! How the browser's WebCodecs `AudioDecoder` is configured for the codecs the page leaves to it (MP3, AAC,
//! Opus, Vorbis): the codec string, rate, channel count and `description` (codec-specific setup) that an
//! `AudioDecoderConfig` needs, from what the container says. Built and tested natively; the page only passes
//! it on.

use serde::Serialize;
use symphonia::core::codecs::{CODEC_TYPE_AAC, CODEC_TYPE_MP3, CODEC_TYPE_OPUS, CODEC_TYPE_VORBIS};

use super::container::Demuxer;
use super::mp4::AacConfig;

/// An `AudioDecoderConfig` (field names as WebCodecs spells them).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebCodecConfig {
    pub codec: String,
    pub sample_rate: u32,
    pub number_of_channels: usize,
    /// Codec-specific setup bytes (AAC's AudioSpecificConfig, Vorbis's headers), where the codec needs them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Vec<u8>>,
}

impl WebCodecConfig {
    /// The configuration for a stream the browser decodes; None for codecs decoded by the engine (PCM, FLAC).
    pub fn for_stream(d: &Demuxer) -> Option<Self> {
        let extra = d.codec_params().extra_data.as_deref();
        let config = |codec: String, description: Option<Vec<u8>>, codec_channels: Option<usize>| WebCodecConfig {
            codec,
            sample_rate: d.sample_rate(),
            // MP4 leaves the count to the codec's own configuration; stereo where nothing says.
            number_of_channels: d.channels().or(codec_channels).unwrap_or(2),
            description,
        };
        match d.codec() {
            CODEC_TYPE_MP3 => Some(config("mp3".into(), None, None)),
            CODEC_TYPE_AAC => {
                // Without an AudioSpecificConfig, AAC-LC (object type 2) is what the stream almost surely is.
                let asc = extra.and_then(AacConfig::parse);
                let codec = format!("mp4a.40.{}", asc.map_or(2, |a| a.object_type));
                Some(config(codec, extra.map(<[u8]>::to_vec), asc.and_then(|a| a.channels)))
            }
            // Without a description the decoder takes mono or stereo as numberOfChannels says, and leaves the
            // pre-skip to us (the timeline trims it, as for the CLI).
            CODEC_TYPE_OPUS => Some(config("opus".into(), None, None)),
            CODEC_TYPE_VORBIS => Some(config("vorbis".into(), extra.map(vorbis_description), None)),
            _ => None,
        }
    }
}

/// WebCodecs' Vorbis description (Xiph extradata): the three header packets, laced. Symphonia keeps the
/// identification (30 bytes) and setup headers; the comment header is rebuilt empty.
fn vorbis_description(extra: &[u8]) -> Vec<u8> {
    let (ident, setup) = extra.split_at(30.min(extra.len()));
    let mut comment = b"\x03vorbis".to_vec();
    comment.extend_from_slice(&0u32.to_le_bytes()); // vendor string length
    comment.extend_from_slice(&0u32.to_le_bytes()); // comment count
    comment.push(1); // framing bit
    let mut d = vec![2u8];
    for len in [ident.len(), comment.len()] {
        d.extend(std::iter::repeat_n(255u8, len / 255));
        d.push((len % 255) as u8);
    }
    d.extend_from_slice(ident);
    d.extend_from_slice(&comment);
    d.extend_from_slice(setup);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Xiph lacing: a count of packets less one, each length but the last as 255s and a remainder, then the
    /// packets.
    #[test]
    fn vorbis_headers_are_laced_in_order() {
        let mut extra = b"\x01vorbis".to_vec();
        extra.resize(30, 7);
        extra.extend(std::iter::repeat_n(9u8, 300)); // a setup header longer than 255 bytes
        let d = vorbis_description(&extra);
        // Two lengths: 30 (identification) and 16 (the empty comment header); the setup's is implied.
        assert_eq!(&d[..3], &[2, 30, 16]);
        assert_eq!(&d[3..33], &extra[..30]);
        assert_eq!(&d[33..40], b"\x03vorbis");
        assert_eq!(d[48], 1, "framing bit");
        assert_eq!(&d[49..], &extra[30..]);
    }
}
