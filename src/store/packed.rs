//! Bodies at rest: the raw mail taken in, a complaint's text and the mail queued to send are
//! stored DEFLATE-compressed, each in its own table (`mail_bodies`, `case_texts`,
//! `outbox_bodies`) beside the small row that changes (outcome, status, attempts). Updating a
//! row then never rewrites its body, and a body costs about a third of its size on disk and in
//! the write-ahead log.
//!
//! Rows written before schema 7 keep their body uncompressed in the row itself (`raw`, `body`);
//! readers take the packed body when there is one, else that column, so old registers need no
//! rewrite.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::cell::RefCell;

/// Level 1: mail text shrinks to about 30 % at a few microseconds per kilobyte; higher levels
/// gain a few per cent at several times the CPU.
const LEVEL: u32 = 1;

thread_local! {
    /// One compressor and one decompressor per thread, reset between bodies: making a new one
    /// allocates and clears several hundred KB of tables, which cost more than compressing a
    /// mail of a few KB. [`release`] drops them when the daemon goes idle.
    static CODEC: RefCell<Option<(Compress, Decompress)>> = const { RefCell::new(None) };
}

fn with_codec<T>(f: impl FnOnce(&mut Compress, &mut Decompress) -> T) -> T {
    CODEC.with_borrow_mut(|codec| {
        let (compress, decompress) = codec.get_or_insert_with(|| {
            (
                Compress::new(Compression::new(LEVEL), false),
                Decompress::new(false),
            )
        });
        f(compress, decompress)
    })
}

/// Hands back this thread's compressor and decompressor (made again when next needed).
pub fn release() {
    CODEC.with_borrow_mut(|codec| *codec = None);
}

/// Compresses `bytes` (raw DEFLATE, RFC 1951).
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    with_codec(|compress, _| {
        compress.reset();
        let mut out = Vec::with_capacity(bytes.len() / 3 + 64);
        loop {
            let consumed = compress.total_in() as usize;
            let status = compress
                .compress_vec(&bytes[consumed..], &mut out, FlushCompress::Finish)
                .expect("compressing into a Vec cannot fail");
            if status == Status::StreamEnd {
                return out;
            }
            // Only a full output stops the stream short of its end.
            out.reserve(out.capacity().max(64));
        }
    })
}

/// Decompresses what `pack` wrote; an error means the stored body is damaged.
pub fn unpack(packed: &[u8]) -> anyhow::Result<Vec<u8>> {
    let damaged = |why: &dyn std::fmt::Display| anyhow::anyhow!("a stored body is damaged: {why}");
    with_codec(|_, decompress| {
        decompress.reset(false);
        let mut out = Vec::with_capacity(packed.len() * 3 + 64);
        loop {
            let consumed = decompress.total_in() as usize;
            let produced = decompress.total_out();
            let status = decompress
                .decompress_vec(&packed[consumed..], &mut out, FlushDecompress::Finish)
                .map_err(|e| damaged(&e))?;
            if status == Status::StreamEnd {
                return Ok(out);
            }
            let stuck =
                decompress.total_in() as usize == consumed && decompress.total_out() == produced;
            if stuck && out.len() < out.capacity() {
                // Room left, yet nothing read or written: the stream ends early.
                return Err(damaged(&"the stream is cut off"));
            }
            out.reserve(out.capacity().max(64));
        }
    })
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

        /// The codec is reused, so nothing of one body may reach the next: each body packs
        /// to exactly what a new compressor makes of it, unpacks with a new decoder too, and a
        /// damaged or cut-off body in between (an error) or a release changes nothing after it.
        #[test]
        fn a_reused_codec_carries_nothing_from_one_body_to_the_next(
            steps in proptest::collection::vec(
                (
                    prop_oneof![
                        proptest::collection::vec(any::<u8>(), 0..6_000),
                        ("[a-z ]{1,40}", 1..300usize).prop_map(|(s, n)| s.repeat(n).into_bytes()),
                    ],
                    0..4u8,
                    any::<proptest::sample::Index>(),
                ),
                1..12,
            )
        ) {
            for (bytes, action, cut) in steps {
                let packed = pack(&bytes);
                let mut fresh = Compress::new(Compression::new(LEVEL), false);
                let mut expected = Vec::with_capacity(bytes.len() * 2 + 64);
                fresh.compress_vec(&bytes, &mut expected, FlushCompress::Finish).unwrap();
                prop_assert_eq!(&packed, &expected);
                let mut decoded = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::DeflateDecoder::new(&packed[..]),
                    &mut decoded,
                ).unwrap();
                prop_assert_eq!(&decoded, &bytes);
                match action {
                    0 => prop_assert!(unpack(&packed[..cut.index(packed.len())]).is_err()),
                    1 => { let _ = unpack(&bytes); }
                    2 => release(),
                    _ => {}
                }
                prop_assert_eq!(unpack(&packed).unwrap(), bytes);
            }
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
