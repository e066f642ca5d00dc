//! The model bundle file (`.pscb`), the one place in Rust that reads or lays out its bytes (its Python twin
//! is `tools/pscb`): `b"PSCBNDL1"`, the header's length (u32 little-endian), the header JSON, then the
//! parts' bytes in order. The header holds the model's numbers (each family reads its own, `family` names
//! which), `parts` (name, bytes and CRC-32 of each ONNX graph, in file order) and `provenance` (where the
//! weights come from and what they scored: free-form, printed by `pianoscribe info`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MAGIC: &[u8; 8] = b"PSCBNDL1";

/// One part as the header lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    pub bytes: usize,
    pub crc32: u32,
}

#[derive(Deserialize)]
struct Parts {
    parts: Vec<Part>,
}

/// A parsed bundle: its header and its named parts, each checked against its checksum.
pub struct Bundle<'a> {
    /// The whole header, as JSON (the family's numbers, `parts`, `provenance`).
    pub header: serde_json::Value,
    parts: Vec<(String, &'a [u8])>,
}

impl<'a> Bundle<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let (header, header_end) = split_header(bytes)?;
        let listed: Parts = serde_json::from_value(header.clone()).map_err(header_error)?;
        let mut offset = header_end;
        let mut parts = vec![];
        for p in &listed.parts {
            let blob = bytes.get(offset..offset + p.bytes).ok_or_else(|| {
                Error::ModelCorrupt(format!(
                    "part '{}' needs {} bytes at offset {offset} but the file has {}",
                    p.name,
                    p.bytes,
                    bytes.len()
                ))
            })?;
            let crc = crc32(blob);
            if crc != p.crc32 {
                return Err(Error::ModelCorrupt(format!(
                    "checksum of part '{}' is {crc:08x}, expected {:08x}",
                    p.name, p.crc32
                )));
            }
            parts.push((p.name.clone(), blob));
            offset += p.bytes;
        }
        if offset != bytes.len() {
            return Err(Error::ModelCorrupt(format!("{} unexpected bytes after the last part", bytes.len() - offset)));
        }
        Ok(Bundle { header, parts })
    }

    /// The header's `family`.
    pub fn family(&self) -> Result<&str> {
        self.header
            .get("family")
            .and_then(|f| f.as_str())
            .ok_or_else(|| Error::ModelCorrupt("header names no model family".into()))
    }

    /// The header's `provenance` (null when it has none).
    pub fn provenance(&self) -> serde_json::Value {
        self.header.get("provenance").cloned().unwrap_or_default()
    }

    /// The bytes of the part called `name`.
    pub fn part(&self, name: &str) -> Result<&'a [u8]> {
        self.parts.iter().find(|(n, _)| n == name).map(|(_, b)| *b).ok_or_else(|| {
            Error::ModelMismatch(format!(
                "the bundle has no '{name}' graph (made by an older converter? convert it again with \
                     tools/convert/run.sh)"
            ))
        })
    }

    /// A bundle of `header` (its `parts` list replaced) and these parts, in order.
    pub fn write(header: &serde_json::Value, parts: &[(&str, &[u8])]) -> Result<Vec<u8>> {
        let mut header = header.clone();
        let listed: Vec<Part> =
            parts.iter().map(|(name, b)| Part { name: name.to_string(), bytes: b.len(), crc32: crc32(b) }).collect();
        header["parts"] = serde_json::to_value(listed).map_err(|e| Error::ModelCorrupt(e.to_string()))?;
        // As Python's json.dumps(indent=1, sort_keys=True) writes it (serde_json's maps are sorted), so that
        // the two writers lay out the same header the same way.
        let mut json = vec![];
        let mut out =
            serde_json::Serializer::with_formatter(&mut json, serde_json::ser::PrettyFormatter::with_indent(b" "));
        header.serialize(&mut out).map_err(|e| Error::ModelCorrupt(e.to_string()))?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for (_, b) in parts {
            out.extend_from_slice(b);
        }
        Ok(out)
    }

    /// This bundle again with another header (its parts byte for byte).
    pub fn with_header(&self, header: &serde_json::Value) -> Result<Vec<u8>> {
        let parts: Vec<(&str, &[u8])> = self.parts.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        Bundle::write(header, &parts)
    }
}

/// The header JSON of a bundle and where its parts begin.
fn split_header(bytes: &[u8]) -> Result<(serde_json::Value, usize)> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(Error::ModelFormat(format!(
            "expected a bundle starting with {:?} ({} bytes read)",
            String::from_utf8_lossy(MAGIC),
            bytes.len()
        )));
    }
    let header_len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    let header_bytes = bytes
        .get(12..12 + header_len)
        .ok_or_else(|| Error::ModelCorrupt(format!("header of {header_len} bytes is cut off")))?;
    let header = serde_json::from_slice(header_bytes).map_err(header_error)?;
    Ok((header, 12 + header_len))
}

pub(crate) fn header_error(e: serde_json::Error) -> Error {
    Error::ModelCorrupt(format!("header is not valid: {e}"))
}

/// CRC-32 (IEEE), as Python's zlib.crc32, for the bundle's integrity check.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *t = c;
    }
    !data.iter().fold(!0u32, |c, &b| table[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn rejects_non_bundles() {
        assert!(matches!(Bundle::parse(b"RIFF....WAVEfmt "), Err(Error::ModelFormat(_))));
        assert!(matches!(Bundle::parse(b""), Err(Error::ModelFormat(_))));
        let mut truncated = MAGIC.to_vec();
        truncated.extend_from_slice(&100u32.to_le_bytes());
        truncated.extend_from_slice(b"{}");
        assert!(matches!(Bundle::parse(&truncated), Err(Error::ModelCorrupt(_))));
    }

    #[test]
    fn writes_what_it_reads() {
        let header = serde_json::json!({"family": "x", "provenance": {"weights": "none"}});
        let bytes = Bundle::write(&header, &[("a", b"first"), ("b", b"")]).unwrap();
        let b = Bundle::parse(&bytes).unwrap();
        assert_eq!((b.family().unwrap(), b.part("a").unwrap(), b.part("b").unwrap()), ("x", &b"first"[..], &b""[..]));
        assert_eq!(b.provenance()["weights"], "none");
        assert!(matches!(b.part("c"), Err(Error::ModelMismatch(m)) if m.contains("'c'")));
        assert_eq!(b.with_header(&b.header).unwrap(), bytes);
        let mut damaged = bytes.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(matches!(Bundle::parse(&damaged), Err(Error::ModelCorrupt(m)) if m.contains("checksum")));
    }

    /// The shipped bundles are laid out exactly as [`Bundle::write`] lays them out (the Python twin,
    /// tools/pscb, writes the same bytes).
    #[test]
    fn shipped_bundles_round_trip() {
        for name in ["models/oaf-small.pscb", "tests/fixtures/oaf-tiny.pscb"] {
            let bytes = std::fs::read(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let b = Bundle::parse(&bytes).unwrap();
            assert!(b.with_header(&b.header).unwrap() == bytes, "{name}");
        }
    }
}
