//! Bodies at rest: the raw mail taken in, a complaint's text and the mail queued to send are
//! stored DEFLATE-compressed, each in its own table (`mail_bodies`, `case_texts`,
//! `outbox_bodies`) beside the small row that changes (outcome, status, attempts). Updating a
//! row then never rewrites its body, and a body costs about a third of its size on disk and in
//! the write-ahead log.
//!
//! A case's text and the mail queued for a case (when at least half the complaint's size:
//! [`worth_packing_on`]) are packed *on* the case's complaint (schema 10): its raw mail is the compressor's preset dictionary, so what they repeat of it (the
//! complainant's words, name, subject; a staff notice quotes the whole complaint, twice) costs
//! a few bytes instead of its size again. Such a body is stored with the id of that mail
//! (`basis`, a foreign key to its body: the complaint cannot be deleted while a body needs it)
//! and in the zlib format, whose header names the dictionary's checksum and whose trailer
//! checks what comes out, so a wrong or missing complaint is an error, never wrong text.
//!
//! Rows written before schema 7 keep their body uncompressed in the row itself (`raw`, `body`);
//! readers take the packed body when there is one, else that column, so old registers need no
//! rewrite.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::cell::RefCell;

/// Level 2 (zlib-rs's fast strategy): a raw mail packs to about 28 % of its size in some 20 µs;
/// level 1 (its quick strategy, static codes) leaves it at 36 % in half that time, and every
/// byte saved is written twice (the log, then the database).
const LEVEL: u32 = 2;

/// The compressors and the decompressor of a thread.
struct Codec {
    /// Level 1, raw DEFLATE: bodies packed alone.
    alone: Compress,
    /// Level 4, zlib format: bodies packed on a complaint (made when first needed).
    on_basis: Option<Compress>,
    decompress: Decompress,
}

thread_local! {
    /// One codec per thread, reset between bodies: making a new compressor allocates and
    /// clears several hundred KB of tables, which cost more than compressing a mail of a few
    /// KB. [`release`] drops it when the daemon goes idle.
    static CODEC: RefCell<Option<Codec>> = const { RefCell::new(None) };
}

fn with_codec<T>(f: impl FnOnce(&mut Codec) -> T) -> T {
    CODEC.with_borrow_mut(|codec| {
        f(codec.get_or_insert_with(|| Codec {
            alone: Compress::new(Compression::new(LEVEL), false),
            on_basis: None,
            decompress: Decompress::new(false),
        }))
    })
}

/// Hands back this thread's compressor and decompressor (made again when next needed).
pub fn release() {
    CODEC.with_borrow_mut(|codec| *codec = None);
}

/// Compresses `bytes` (raw DEFLATE, RFC 1951).
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    with_codec(|codec| {
        let compress = &mut codec.alone;
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
    with_codec(|codec| {
        let decompress = &mut codec.decompress;
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

/// A complaint's raw mail as the dictionary of the bodies packed on it (its case's text, the
/// mail queued for its case). Debug names the mail, never its bytes.
#[derive(Clone)]
pub struct Basis {
    /// The mail's row (`mail_bodies.mail_id`).
    pub mail_id: i64,
    pub raw: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for Basis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Basis(mail {}, {} bytes)", self.mail_id, self.raw.len())
    }
}

/// Level 4 for a body packed on its complaint: level 1 (zlib-rs's quick strategy) finds few of
/// the long matches a dictionary offers; at 4 a staff notice packs to a quarter of its level-1
/// size in about the same time, since long matches are cheap to emit.
const LEVEL_ON_BASIS: u32 = 4;

/// The part of a complaint's raw mail used as dictionary: its first 32 KiB (DEFLATE's window),
/// where its headers and text are, rather than the end of a large attachment.
fn dictionary(basis: &[u8]) -> &[u8] {
    &basis[..basis.len().min(32 * 1024)]
}

/// Whether `bytes` are worth packing on `basis` rather than alone: loading the dictionary (the
/// complaint's first 32 KiB) costs about what compressing that much text does, so a body
/// shorter than half of the dictionary — an acknowledgement, which repeats little of the
/// complaint but its subject — packs faster alone (3 KB on a 7.5 KB complaint: 26 µs alone
/// against 45 µs on it, 1.3 KB against 1.1 KB), while a staff notice or a case's text, which
/// quote the complaint whole, are packed on it.
pub fn worth_packing_on(bytes: &[u8], basis: &[u8]) -> bool {
    2 * bytes.len() >= dictionary(basis).len()
}

/// Compresses `bytes` with `basis` (a complaint's raw mail) as preset dictionary, in the zlib
/// format (RFC 1950: the dictionary's Adler-32 in the header, the body's in the trailer).
pub fn pack_on(bytes: &[u8], basis: &[u8]) -> Vec<u8> {
    with_codec(|codec| {
        let compress = codec
            .on_basis
            .get_or_insert_with(|| Compress::new(Compression::new(LEVEL_ON_BASIS), true));
        compress.reset();
        compress
            .set_dictionary(dictionary(basis))
            .expect("a dictionary is accepted before any input");
        let mut out = Vec::with_capacity(bytes.len() / 4 + 64);
        loop {
            let consumed = compress.total_in() as usize;
            let status = compress
                .compress_vec(&bytes[consumed..], &mut out, FlushCompress::Finish)
                .expect("compressing into memory cannot fail");
            if status == Status::StreamEnd {
                return out;
            }
            out.reserve(out.capacity().max(256));
        }
    })
}

/// Decompresses what `pack_on` wrote on the same `basis`; an error means the stored body is
/// damaged or `basis` is not the complaint it was packed on.
pub fn unpack_on(packed: &[u8], basis: &[u8]) -> anyhow::Result<Vec<u8>> {
    let damaged = |why: String| anyhow::anyhow!("a stored body is damaged: {why}");
    with_codec(|codec| {
        let decompress = &mut codec.decompress;
        decompress.reset(true);
        let mut out = Vec::with_capacity(packed.len() * 4 + 256);
        let mut dictionary_set = false;
        loop {
            let consumed = decompress.total_in() as usize;
            match decompress.decompress_vec(&packed[consumed..], &mut out, FlushDecompress::Finish)
            {
                Ok(Status::StreamEnd) => return Ok(out),
                Ok(_)
                    if consumed == decompress.total_in() as usize && out.len() < out.capacity() =>
                {
                    return Err(damaged("it ends too early".into()));
                }
                Ok(_) => out.reserve(out.capacity().max(256)),
                Err(e) => match e.needs_dictionary() {
                    Some(wanted) if !dictionary_set => {
                        let given = decompress
                            .set_dictionary(dictionary(basis))
                            .map_err(|e| damaged(e.to_string()))?;
                        if given != wanted {
                            return Err(damaged(
                                "it was packed on another complaint than the one it names".into(),
                            ));
                        }
                        dictionary_set = true;
                    }
                    _ => return Err(damaged(e.to_string())),
                },
            }
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

        /// Any bytes packed on any basis (none, small, beyond the 32 KiB window, sharing
        /// stretches with the body or not) come back exactly, on that basis only.
        #[test]
        fn unpack_on_inverts_pack_on(
            bytes in proptest::collection::vec(any::<u8>(), 0..20_000),
            basis in proptest::collection::vec(any::<u8>(), 0..40_000),
            shared in 0usize..5_000,
        ) {
            let mut bytes = bytes;
            bytes.extend_from_slice(&basis[..shared.min(basis.len())]);
            let packed = pack_on(&bytes, &basis);
            prop_assert_eq!(unpack_on(&packed, &basis).unwrap(), bytes.clone());
            let mut other = basis.clone();
            other.push(1);
            // An empty basis sets no dictionary (zlib's header names none), so the body needs
            // none and unpacks on any (a complaint's raw mail is never empty).
            if !basis.is_empty() && dictionary(&other) != dictionary(&basis) {
                prop_assert!(unpack_on(&packed, &other).is_err(), "unpacked on another basis");
            }
            prop_assert!(unpack_on(&packed[..packed.len() / 2], &basis).is_err());
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
    #[test]
    fn what_a_body_repeats_of_its_complaint_costs_little() {
        // Words in an order that does not repeat, as a real complaint's.
        let words = [
            "cursus", "docent", "rooster", "factuur", "examen", "lokaal", "koffie",
        ];
        let mut seed = 7u64;
        let complaint: String = (0..1500)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!(
                    "{}{}",
                    words[(seed >> 33) as usize % words.len()],
                    (seed >> 40) % 1000
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let notice = format!("Er is een nieuwe klacht binnengekomen.\r\n\r\n{complaint}");
        let on = pack_on(notice.as_bytes(), complaint.as_bytes());
        assert!(
            on.len() * 3 < pack(notice.as_bytes()).len(),
            "{} bytes",
            on.len()
        );
        assert_eq!(
            unpack_on(&on, complaint.as_bytes()).unwrap(),
            notice.as_bytes()
        );
        assert!(unpack_on(&on, b"een andere klacht").is_err());
        assert!(unpack(&on).is_err() || unpack(&on).unwrap() != notice.as_bytes());
    }
}
