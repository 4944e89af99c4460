//! Bodies at rest: the raw mail taken in, a complaint's text and the mail queued to send are
//! stored DEFLATE-compressed, each in its own table (`mail_bodies`, `case_texts`,
//! `outbox_bodies`) beside the small row that changes (outcome, status, attempts). Updating a
//! row then never rewrites its body, and a body costs about a third of its size on disk and in
//! the write-ahead log.
//!
//! Rows written before schema 7 keep their body uncompressed in the row itself (`raw`, `body`);
//! readers take the packed body when there is one, else that column, so old registers need no
//! rewrite.

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};

/// Level 1: mail text shrinks to about 30 % at a few microseconds per kilobyte; higher levels
/// gain a few per cent at several times the CPU.
const LEVEL: u32 = 1;

/// Compresses `bytes` (raw DEFLATE, RFC 1951).
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        Compression::new(LEVEL),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("writing into a Vec cannot fail")
}

/// Decompresses what `pack` wrote; an error means the stored body is damaged.
pub fn unpack(packed: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(packed.len() * 3);
    DeflateDecoder::new(packed)
        .read_to_end(&mut out)
        .map_err(|e| anyhow::anyhow!("a stored body is damaged: {e}"))?;
    Ok(out)
}

/// A body as read by `SELECT COALESCE(b.deflated, t.raw), b.deflated IS NOT NULL`: packed in its
/// own table (schema 7 on), or as written before.
pub fn stored(bytes: Vec<u8>, packed: bool) -> anyhow::Result<Vec<u8>> {
    if packed { unpack(&bytes) } else { Ok(bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes come back exactly as they went in.
        #[test]
        fn unpack_inverts_pack(bytes in proptest::collection::vec(any::<u8>(), 0..20_000)) {
            prop_assert_eq!(unpack(&pack(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn mail_text_shrinks_and_damage_is_an_error() {
        let text =
            "Geachte heer, mevrouw,\r\n\r\nHierbij dien ik een klacht in over de cursus.\r\n"
                .repeat(100);
        let packed = pack(text.as_bytes());
        assert!(
            packed.len() * 5 < text.len(),
            "{} of {}",
            packed.len(),
            text.len()
        );
        assert!(unpack(&[0xff, 0xff, 0xff]).is_err());
        assert_eq!(
            stored(text.clone().into_bytes(), false).unwrap(),
            text.as_bytes()
        );
        assert_eq!(stored(packed, true).unwrap(), text.as_bytes());
    }
}
