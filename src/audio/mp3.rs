//! An MPEG-1/2/2.5 Layer III demuxer that keeps time: packets carry the timestamp of where they belong in the
//! recording, so that frames lost to damage show up as a gap (which the decoder fills with silence) instead of
//! pulling everything after them earlier. Symphonia's own demuxer counts the frames it finds, so a damaged frame
//! header silently shifted the rest of the file by one frame (26 ms).
//!
//! Gapless: the LAME/Xing "Info" tag (written by LAME and by ffmpeg) states the encoder delay and padding, which
//! are trimmed exactly; without it only the decoder delay every Layer III decoder has (529 samples) is trimmed,
//! since the encoder's own delay is unknown (LAME's is 576 samples more: see the README's format table).

use symphonia::core::audio::Channels;
use symphonia::core::codecs::{CodecParameters, CODEC_TYPE_MP3};
use symphonia::core::errors::{unsupported_error, Error as SymError, Result as SymResult};
use symphonia::core::formats::{
    util::trim_packet, Cue, FormatOptions, FormatReader, Packet, SeekMode, SeekTo, SeekedTo, Track,
};
use symphonia::core::io::{MediaSourceStream, ReadBytes, SeekBuffered};
use symphonia::core::meta::{Metadata, MetadataLog};
use symphonia::core::probe::{Descriptor, Instantiate, QueryDescriptor};
use symphonia::core::support_format;
use symphonia::core::units::TimeBase;

/// Samples of delay in every standard Layer III decoder (the synthesis filterbank): 528 + 1.
pub const DECODER_DELAY: u32 = 529;

/// Frames after the first that must follow it, each where the one before ends, for a stream to be taken for MP3.
const CHAINED_FRAMES_AT_START: usize = 3;

/// The largest Layer III frame: 320 kbps at 32 kHz with padding (1441 bytes), with room to spare.
const MAX_FRAME_BYTES: usize = 2048;

/// What one frame header says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameHeader {
    /// 1 for MPEG-1, 2 for MPEG-2, 25 for MPEG-2.5.
    pub version: u8,
    pub sample_rate: u32,
    pub channels: usize,
    pub has_crc: bool,
    /// Bytes in the frame, header included.
    pub frame_bytes: usize,
    /// Samples per channel the frame decodes to.
    pub samples: u32,
}

impl FrameHeader {
    /// Parses a Layer III frame header; None for anything else (other layers, reserved or free-format values).
    pub fn parse(word: u32) -> Option<FrameHeader> {
        if word >> 21 != 0x7ff {
            return None;
        }
        let version = match (word >> 19) & 3 {
            0 => 25,
            2 => 2,
            3 => 1,
            _ => return None,
        };
        if (word >> 17) & 3 != 1 {
            return None; // Layer I or II (or reserved)
        }
        let bitrate_index = ((word >> 12) & 0xf) as usize;
        let rate_index = ((word >> 10) & 3) as usize;
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        const MPEG1_KBPS: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
        const MPEG2_KBPS: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        let (kbps, base_rate) = match version {
            1 => (MPEG1_KBPS[bitrate_index], [44100, 48000, 32000][rate_index]),
            2 => (MPEG2_KBPS[bitrate_index], [22050, 24000, 16000][rate_index]),
            _ => (MPEG2_KBPS[bitrate_index], [11025, 12000, 8000][rate_index]),
        };
        let padding = ((word >> 9) & 1) as usize;
        let samples = if version == 1 { 1152 } else { 576 };
        let frame_bytes = (samples as usize / 8) * (kbps as usize * 1000) / base_rate as usize + padding;
        Some(FrameHeader {
            version,
            sample_rate: base_rate,
            channels: if (word >> 6) & 3 == 3 { 1 } else { 2 },
            has_crc: (word >> 16) & 1 == 0,
            frame_bytes,
            samples,
        })
    }

    /// Whether `other` can follow this header in the same stream.
    fn same_stream(&self, other: &FrameHeader) -> bool {
        self.version == other.version && self.sample_rate == other.sample_rate && self.channels == other.channels
    }

    /// Byte offset of the side information's end (where a Xing/Info tag starts) from the frame's start.
    fn side_info_end(&self) -> usize {
        let side = match (self.version, self.channels) {
            (1, 1) => 17,
            (1, _) => 32,
            (_, 1) => 9,
            _ => 17,
        };
        4 + if self.has_crc { 2 } else { 0 } + side
    }
}

/// What a Xing/Info tag (and its LAME extension) in the first frame says.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InfoTag {
    /// Frames of audio after the tag's own frame.
    pub frames: Option<u32>,
    /// Samples to drop at the start (encoder delay plus the decoder's) and at the end, when the encoder said.
    pub delay: Option<u32>,
    pub padding: Option<u32>,
}

impl InfoTag {
    /// Reads the tag in `frame` (a whole first frame), if it is one.
    pub fn parse(frame: &[u8], header: &FrameHeader) -> Option<InfoTag> {
        let at = header.side_info_end();
        let id = frame.get(at..at + 4)?;
        if id != b"Xing" && id != b"Info" {
            return None;
        }
        let be32 = |o: usize| frame.get(o..o + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let flags = be32(at + 4)?;
        let mut o = at + 8;
        let mut tag = InfoTag::default();
        if flags & 1 != 0 {
            tag.frames = be32(o);
            o += 4;
        }
        if flags & 2 != 0 {
            o += 4; // bytes
        }
        if flags & 4 != 0 {
            o += 100; // seek table
        }
        if flags & 8 != 0 {
            o += 4; // quality
        }
        // LAME extension: encoder name (9 bytes), then at +21 the 12-bit encoder delay and padding. ffmpeg's muxer
        // writes the same layout under its own name.
        let encoder = frame.get(o..o + 9)?;
        if [&b"LAME"[..], b"Lavf", b"Lavc"].contains(&&encoder[..4]) {
            let b = frame.get(o + 21..o + 24)?;
            let trim = u32::from_be_bytes([0, b[0], b[1], b[2]]);
            tag.delay = Some((trim >> 12) + DECODER_DELAY);
            tag.padding = Some((trim & 0xfff).saturating_sub(DECODER_DELAY));
        }
        Some(tag)
    }
}

pub struct Mp3Reader {
    reader: MediaSourceStream,
    tracks: Vec<Track>,
    metadata: MetadataLog,
    first: FrameHeader,
    gapless: bool,
    /// Where the next frame should start, and the timestamp (in samples, delay included) it decodes to.
    next_pos: u64,
    next_ts: u64,
    /// Audio frames read and their bytes, for the average frame size that turns a damaged stretch into a
    /// number of lost frames.
    frames_read: u64,
    bytes_read: u64,
}

impl QueryDescriptor for Mp3Reader {
    fn query() -> &'static [Descriptor] {
        &[support_format!(
            "mp3",
            "MPEG Audio Layer 3",
            &["mp3"],
            &["audio/mpeg", "audio/mp3"],
            &[&[0xff, 0xfb], &[0xff, 0xfa], &[0xff, 0xf3], &[0xff, 0xf2], &[0xff, 0xe3], &[0xff, 0xe2]]
        )]
    }

    fn score(_context: &[u8]) -> u8 {
        255
    }
}

impl Mp3Reader {
    fn read_word(&mut self) -> std::io::Result<u32> {
        Ok(u32::from_be_bytes(self.reader.read_quad_bytes()?))
    }

    /// The next frame from the current position, with its start. A position that does not hold a frame of this
    /// stream starts a search, byte by byte, for one that is followed by another (or by the end of the file), so
    /// that random bytes which look like a header are not taken for one.
    fn next_frame(&mut self) -> SymResult<(u64, FrameHeader, Vec<u8>)> {
        let mut pos = self.reader.pos();
        let mut word = self.read_word()?;
        let mut searching = false;
        loop {
            if let Some(h) = FrameHeader::parse(word).filter(|h| h.same_stream(&self.first)) {
                let mut frame = vec![0u8; h.frame_bytes];
                frame[..4].copy_from_slice(&word.to_be_bytes());
                let body = self.reader.read_buf_exact(&mut frame[4..]);
                let followed = match (&body, searching) {
                    (Err(_), _) => false,
                    (Ok(()), false) => true,
                    (Ok(()), true) => match self.read_word() {
                        Ok(next) => {
                            self.reader.seek_buffered_rel(-4);
                            FrameHeader::parse(next).is_some_and(|n| n.same_stream(&h))
                        }
                        Err(_) => true, // the last frame of the file
                    },
                };
                if followed {
                    return Ok((pos, h, frame));
                }
                if body.is_err() && !searching {
                    // A frame cut short by the end of the file: nothing after it to keep time for.
                    body?;
                }
                // Not a frame after all: look again from the byte after its first.
                self.reader.seek_buffered(pos + 4);
            }
            searching = true;
            word = (word << 8) | self.reader.read_byte()? as u32;
            pos += 1;
        }
    }
}

impl FormatReader for Mp3Reader {
    fn try_new(mut reader: MediaSourceStream, options: &FormatOptions) -> SymResult<Self> {
        reader.ensure_seekback_buffer((CHAINED_FRAMES_AT_START + 2) * MAX_FRAME_BYTES);
        let pos = reader.pos();
        let word = u32::from_be_bytes(reader.read_quad_bytes()?);
        let Some(first) = FrameHeader::parse(word) else {
            return unsupported_error("mp3: not an MPEG Layer III stream (Layer I and II are not supported)");
        };
        let mut this = Mp3Reader {
            reader,
            tracks: vec![],
            metadata: MetadataLog::default(),
            first,
            gapless: options.enable_gapless,
            next_pos: pos,
            next_ts: 0,
            frames_read: 0,
            bytes_read: 0,
        };
        this.reader.seek_buffered(pos);
        let (_, _, frame) = this.next_frame()?;
        // Bytes that merely look like a frame header (in another format's data, or in a file that is not audio)
        // are not followed by more frames of the same stream: the first frames must chain.
        for _ in 0..CHAINED_FRAMES_AT_START {
            match this.read_word() {
                Ok(w) if FrameHeader::parse(w).is_some_and(|h| h.same_stream(&first)) => {
                    let h = FrameHeader::parse(w).unwrap();
                    if this.reader.ignore_bytes(h.frame_bytes as u64 - 4).is_err() {
                        break; // a short file: its frames chained up to its end
                    }
                }
                Ok(_) => return unsupported_error("mp3: no MPEG audio frames follow the first"),
                Err(_) => break,
            }
        }
        this.reader.seek_buffered(pos + first.frame_bytes as u64);
        let tag = InfoTag::parse(&frame, &first);
        match tag {
            // The tag's frame is silent and not part of the recording.
            Some(_) => this.next_pos = this.reader.pos(),
            None => {
                this.reader.seek_buffered(pos);
            }
        }
        let tag = tag.unwrap_or_default();
        let delay = tag.delay.unwrap_or(DECODER_DELAY);
        let mut params = CodecParameters::new();
        params
            .for_codec(CODEC_TYPE_MP3)
            .with_sample_rate(first.sample_rate)
            .with_time_base(TimeBase::new(1, first.sample_rate))
            .with_channels(if first.channels == 1 {
                Channels::FRONT_LEFT
            } else {
                Channels::FRONT_LEFT | Channels::FRONT_RIGHT
            })
            .with_delay(delay);
        if let Some(padding) = tag.padding {
            params.with_padding(padding);
        }
        if let Some(frames) = tag.frames {
            let total = frames as u64 * first.samples as u64;
            params.with_n_frames(total.saturating_sub(delay as u64 + tag.padding.unwrap_or(0) as u64));
        }
        this.tracks.push(Track::new(0, params));
        Ok(this)
    }

    fn next_packet(&mut self) -> SymResult<Packet> {
        let (pos, header, frame) = self.next_frame()?;
        if pos > self.next_pos && self.frames_read > 0 {
            // Damaged bytes stood where frames should have been: keep time for the frames they held.
            let average = self.bytes_read as f64 / self.frames_read as f64;
            let lost = ((pos - self.next_pos) as f64 / average).round() as u64;
            self.next_ts += lost * header.samples as u64;
        }
        self.next_pos = pos + header.frame_bytes as u64;
        self.frames_read += 1;
        self.bytes_read += header.frame_bytes as u64;
        let mut packet = Packet::new_from_boxed_slice(0, self.next_ts, header.samples as u64, frame.into_boxed_slice());
        self.next_ts += header.samples as u64;
        if self.gapless {
            let params = &self.tracks[0].codec_params;
            trim_packet(&mut packet, params.delay.unwrap_or(0), params.n_frames);
        }
        Ok(packet)
    }

    fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    fn cues(&self) -> &[Cue] {
        &[]
    }

    fn metadata(&mut self) -> Metadata<'_> {
        self.metadata.metadata()
    }

    fn seek(&mut self, _mode: SeekMode, _to: SeekTo) -> SymResult<SeekedTo> {
        Err(SymError::Unsupported("mp3: seeking (the engine reads files from start to end)"))
    }

    fn into_inner(self: Box<Self>) -> MediaSourceStream {
        self.reader
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_follow_the_standard() {
        // MPEG-1 Layer III, 128 kbps, 44.1 kHz, no padding, stereo: 417 bytes; with padding 418.
        let h = FrameHeader::parse(0xfffb_9000).unwrap();
        assert_eq!((h.version, h.sample_rate, h.channels, h.frame_bytes, h.samples), (1, 44100, 2, 417, 1152));
        assert_eq!(FrameHeader::parse(0xfffb_9200).unwrap().frame_bytes, 418);
        // MPEG-2 Layer III, 64 kbps, 24 kHz, mono: 72 * 64000 / 24000 = 192 bytes, 576 samples.
        let h = FrameHeader::parse(0xfff3_84c0).unwrap();
        assert_eq!((h.version, h.sample_rate, h.channels, h.frame_bytes, h.samples), (2, 24000, 1, 192, 576));
        // Layer II, a reserved rate, a bad bitrate, no sync: not Layer III frames.
        assert_eq!(FrameHeader::parse(0xfffd_9000), None);
        assert_eq!(FrameHeader::parse(0xfffb_9c00), None);
        assert_eq!(FrameHeader::parse(0xfffb_f000), None);
        assert_eq!(FrameHeader::parse(0x7ffb_9000), None);
    }

    #[test]
    fn lame_tag_gives_delay_and_padding() {
        let h = FrameHeader::parse(0xfffb_9000).unwrap();
        let mut frame = vec![0u8; h.frame_bytes];
        frame[..4].copy_from_slice(&0xfffb_9000u32.to_be_bytes());
        let at = h.side_info_end();
        frame[at..at + 4].copy_from_slice(b"Info");
        frame[at + 4..at + 8].copy_from_slice(&1u32.to_be_bytes()); // frame count only
        frame[at + 8..at + 12].copy_from_slice(&1121u32.to_be_bytes());
        let lame = at + 12;
        frame[lame..lame + 9].copy_from_slice(b"LAME3.100");
        // Encoder delay 576, padding 1300 (12 bits each).
        let trim = (576u32 << 12) | 1300;
        frame[lame + 21..lame + 24].copy_from_slice(&trim.to_be_bytes()[1..]);
        let tag = InfoTag::parse(&frame, &h).unwrap();
        assert_eq!(tag, InfoTag { frames: Some(1121), delay: Some(576 + 529), padding: Some(1300 - 529) });
        // Another encoder's name: the frame count stands, the delay is unknown.
        frame[lame..lame + 9].copy_from_slice(b"Unknown!!");
        assert_eq!(InfoTag::parse(&frame, &h).unwrap(), InfoTag { frames: Some(1121), delay: None, padding: None });
        frame[at..at + 4].copy_from_slice(b"Nope");
        assert_eq!(InfoTag::parse(&frame, &h), None);
    }
}
