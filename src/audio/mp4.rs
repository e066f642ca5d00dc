//! Gapless information in MP4/M4A files, which symphonia reads but does not apply: the audio track's edit list
//! (`moov/trak/edts/elst`, written by ffmpeg, phones and Apple's tools) or, failing that, iTunes' `iTunSMPB`
//! tag. Both say how many priming samples the AAC encoder put before the recording (1024 for ffmpeg, 2112 for
//! Apple's encoder) and how long the recording is.

use std::io::{Read, Seek, SeekFrom};

/// What to drop at the start, and the recording's length if stated, in units of `timescale` (None: samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub skip: u64,
    pub frames: Option<u64>,
    pub timescale: Option<u64>,
}

/// The first sound track's trim, if the file (`len` bytes) states one. Reads only the `moov` box.
pub fn gapless_trim<R: Read + Seek + ?Sized>(file: &mut R, len: u64) -> Option<Trim> {
    let moov = read_top_level_box(file, len, b"moov")?;
    let movie_timescale = find(&moov, &[b"mvhd"]).and_then(|m| header_timescale(m, 12, 20))?;
    for trak in children(&moov).filter(|(t, _)| t == b"trak").map(|(_, b)| b) {
        if find(trak, &[b"mdia", b"hdlr"]).and_then(|h| h.get(8..12)) != Some(b"soun") {
            continue;
        }
        let media_timescale = find(trak, &[b"mdia", b"mdhd"]).and_then(|m| header_timescale(m, 12, 20))?;
        if let Some(t) = find(trak, &[b"edts", b"elst"]).and_then(|e| edit_trim(e, movie_timescale, media_timescale)) {
            return Some(t);
        }
        return find(&moov, &[b"udta", b"meta"]).and_then(itunsmpb);
    }
    None
}

/// The body of the first top-level box of this type, skipping over the others (the media data can be large).
fn read_top_level_box<R: Read + Seek + ?Sized>(file: &mut R, len: u64, kind: &[u8; 4]) -> Option<Vec<u8>> {
    let mut at = 0u64;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8]).ok()?;
        let mut size = u32::from_be_bytes(head[..4].try_into().unwrap()) as u64;
        let mut header = 8;
        if size == 1 {
            file.read_exact(&mut head[8..]).ok()?;
            size = u64::from_be_bytes(head[8..].try_into().unwrap());
            header = 16;
        } else if size == 0 {
            size = len - at;
        }
        if size < header || at + size > len || (at == 0 && &head[4..8] != b"ftyp") {
            return None; // not an MP4 file
        }
        if &head[4..8] == kind {
            // A moov box bigger than this is not a plausible audio file's.
            if size > 64 << 20 {
                return None;
            }
            let mut body = vec![0u8; (size - header) as usize];
            file.read_exact(&mut body).ok()?;
            return Some(body);
        }
        at += size;
    }
    None
}

/// The child boxes of a box body: (type, body).
fn children(body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let head = body.get(at..at + 8)?;
        let mut size = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        let mut header = 8;
        if size == 1 {
            size = u64::from_be_bytes(body.get(at + 8..at + 16)?.try_into().unwrap()) as usize;
            header = 16;
        } else if size == 0 {
            size = body.len() - at;
        }
        if size < header || at + size > body.len() {
            return None;
        }
        let kind: [u8; 4] = head[4..8].try_into().unwrap();
        let child = &body[at + header..at + size];
        at += size;
        Some((kind, child))
    })
}

/// The body at a path of box types below `body`. A `meta` box has four bytes of version and flags first.
fn find<'a>(body: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let mut cur = body;
    for kind in path {
        cur = children(cur).find(|(k, _)| k == *kind)?.1;
        if *kind == b"meta" {
            cur = cur.get(4..)?;
        }
    }
    Some(cur)
}

/// The timescale of an `mvhd` or `mdhd` box: at `v0` bytes in for version 0, `v1` for version 1.
fn header_timescale(body: &[u8], v0: usize, v1: usize) -> Option<u64> {
    let at = if *body.first()? == 1 { v1 } else { v0 };
    let t = u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?) as u64;
    (t > 0).then_some(t)
}

/// The trim, in the media timescale, of an edit list whose first real edit starts into the media (empty edits, which would delay the
/// start, are not used by audio encoders and are skipped).
fn edit_trim(elst: &[u8], movie_timescale: u64, media_timescale: u64) -> Option<Trim> {
    let version = *elst.first()?;
    let count = u32::from_be_bytes(elst.get(4..8)?.try_into().ok()?) as usize;
    let entry = if version == 1 { 20 } else { 12 };
    for i in 0..count {
        let e = elst.get(8 + i * entry..8 + (i + 1) * entry)?;
        let (duration, media_time) = if version == 1 {
            (u64::from_be_bytes(e[..8].try_into().ok()?), i64::from_be_bytes(e[8..16].try_into().ok()?))
        } else {
            (u32::from_be_bytes(e[..4].try_into().ok()?) as u64, i32::from_be_bytes(e[4..8].try_into().ok()?) as i64)
        };
        if media_time < 0 {
            continue;
        }
        // The edit's duration is in the movie's timescale; the media time in the track's.
        let frames =
            (duration > 0).then(|| (duration as u128 * media_timescale as u128 / movie_timescale as u128) as u64);
        return Some(Trim { skip: media_time as u64, frames, timescale: Some(media_timescale) });
    }
    None
}

/// iTunes' gapless tag: " 00000000 <delay> <padding> <length> ..." in hex, in a `----` item of `ilst`.
fn itunsmpb(meta: &[u8]) -> Option<Trim> {
    let ilst = find(meta, &[b"ilst"])?;
    for (_, item) in children(ilst).filter(|(k, _)| k == b"----") {
        let mut name = None;
        let mut data = None;
        for (k, b) in children(item) {
            match &k {
                b"name" => name = b.get(4..),
                b"data" => data = b.get(8..),
                _ => {}
            }
        }
        if name != Some(b"iTunSMPB") {
            continue;
        }
        let text = std::str::from_utf8(data?).ok()?;
        let fields: Vec<u64> =
            text.split_whitespace().map(|f| u64::from_str_radix(f, 16)).collect::<Result<_, _>>().ok()?;
        let (skip, frames) = (*fields.get(1)?, *fields.get(3)?);
        return Some(Trim { skip, frames: (frames > 0).then_some(frames), timescale: None });
    }
    None
}

/// What AAC's AudioSpecificConfig says: the audio object type (2 for AAC-LC, 5 for HE-AAC...) and the channel
/// configuration where it is a plain count (1 or 2; 0 means the count is in a program config element, and 3 to
/// 7 are layouts the page's decoder is not given). The fields: 5 bits of object type (31: 6 more bits follow,
/// plus 32), 4 bits of sampling-rate index (15: a 24-bit rate follows), 4 bits of channel configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AacConfig {
    pub object_type: u32,
    pub channels: Option<usize>,
}

impl AacConfig {
    /// None when the config is too short to hold an object type.
    pub fn parse(asc: &[u8]) -> Option<Self> {
        let mut bits = asc.iter().flat_map(|b| (0..8).rev().map(move |i| u32::from(b >> i) & 1));
        let mut take = |n: u32| (0..n).try_fold(0u32, |v, _| Some(v << 1 | bits.next()?));
        let object_type = match take(5)? {
            31 => 32 + take(6)?,
            t => t,
        };
        if take(4) == Some(15) {
            take(24);
        }
        let channels = take(4).map(|c| c as usize).filter(|c| (1..=2).contains(c));
        Some(AacConfig { object_type, channels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn timescale_box(kind: &[u8; 4], timescale: u32) -> Vec<u8> {
        let mut body = vec![0u8; 12];
        body.extend_from_slice(&timescale.to_be_bytes());
        body.extend_from_slice(&[0u8; 8]);
        boxed(kind, &body)
    }

    /// Configs as encoders write them: ffmpeg's AAC-LC stereo at 44.1 kHz (0x12 0x10), mono at 48 kHz, HE-AAC
    /// with an explicit rate, an escaped object type (ER AAC ELD, 39), and what cannot be read.
    #[test]
    fn reads_aac_specific_config() {
        let cfg = |asc: &[u8]| AacConfig::parse(asc);
        assert_eq!(cfg(&[0x12, 0x10]), Some(AacConfig { object_type: 2, channels: Some(2) }));
        assert_eq!(cfg(&[0x11, 0x88]), Some(AacConfig { object_type: 2, channels: Some(1) }));
        // object type 5, rate index 15, then 24 bits of rate (44100 = 0x00AC44), then 2 channels
        let explicit = [0b0010_1111, 0b1000_0000, 0b0001_0101, 0b1000_1001, 0b0001_0000];
        assert_eq!(cfg(&explicit), Some(AacConfig { object_type: 5, channels: Some(2) }));
        // 31, then 6 bits of 7 (39 = 32 + 7), rate index 3 (48 kHz), 1 channel
        let escaped = [0b1111_1000, 0b1110_0110, 0b0010_0000];
        assert_eq!(cfg(&escaped), Some(AacConfig { object_type: 39, channels: Some(1) }));
        // a 5.1 layout (configuration 6) and a count left to the program config element (0)
        assert_eq!(cfg(&[0x11, 0xb0]).unwrap().channels, None);
        assert_eq!(cfg(&[0x12, 0x00]).unwrap().channels, None);
        assert_eq!(cfg(&[0x12]), Some(AacConfig { object_type: 2, channels: None }));
        assert_eq!(cfg(&[]), None);
    }

    /// The trim of an M4A file with this extra content in its sound track's box and its `moov`.
    fn trim_of(trak_extra: &[u8], udta: &[u8]) -> Option<Trim> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        hdlr.extend_from_slice(&[0u8; 12]);
        let mdia = boxed(b"mdia", &[timescale_box(b"mdhd", 44100), boxed(b"hdlr", &hdlr)].concat());
        let trak = boxed(b"trak", &[mdia, trak_extra.to_vec()].concat());
        let moov = boxed(b"moov", &[timescale_box(b"mvhd", 1000), trak, udta.to_vec()].concat());
        let file = [boxed(b"ftyp", b"M4A \0\0\0\0"), boxed(b"mdat", &[0u8; 100]), moov].concat();
        gapless_trim(&mut std::io::Cursor::new(&file), file.len() as u64)
    }

    #[test]
    fn edit_list_gives_the_priming_and_length() {
        // One empty edit (skipped), then 2.5 s (movie timescale 1000) of media from sample 1024.
        let mut elst = vec![0u8, 0, 0, 0, 0, 0, 0, 2];
        for (d, t) in [(500u32, -1i32), (2500, 1024)] {
            elst.extend_from_slice(&d.to_be_bytes());
            elst.extend_from_slice(&t.to_be_bytes());
            elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let edts = boxed(b"edts", &boxed(b"elst", &elst));
        assert_eq!(trim_of(&edts, &[]), Some(Trim { skip: 1024, frames: Some(110_250), timescale: Some(44100) }));
    }

    #[test]
    fn itunsmpb_when_there_is_no_edit_list() {
        let text = b" 00000000 00000840 000001CA 00000000001A1E36 00000000 00000000";
        let mut data = vec![0u8, 0, 0, 1, 0, 0, 0, 0];
        data.extend_from_slice(text);
        let mut mean = vec![0u8; 4];
        mean.extend_from_slice(b"com.apple.iTunes");
        let mut name = vec![0u8; 4];
        name.extend_from_slice(b"iTunSMPB");
        let item = boxed(b"----", &[boxed(b"mean", &mean), boxed(b"name", &name), boxed(b"data", &data)].concat());
        let meta = boxed(b"meta", &[vec![0u8; 4], boxed(b"ilst", &item)].concat());
        let expected = Trim { skip: 2112, frames: Some(0x1A1E36), timescale: None };
        assert_eq!(trim_of(&[], &boxed(b"udta", &meta)), Some(expected));
        // Neither: nothing to trim.
        assert_eq!(trim_of(&[], &[]), None);
    }
}
