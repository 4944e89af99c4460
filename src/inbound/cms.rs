//! Just enough of CMS (RFC 5652) to read S/MIME (RFC 8551) `application/pkcs7-mime`: what a
//! blob holds — signed data, with the signed MIME entity taken out, or enveloped (encrypted)
//! data. A small BER reader (definite and indefinite lengths, constructed OCTET STRINGs, as
//! Outlook writes them); nothing is verified or decrypted.

/// What an `application/pkcs7-mime` blob holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// `signedData` with its encapsulated content: the signed MIME entity.
    Signed(Vec<u8>),
    /// `signedData` without content (a detached signature).
    SignedWithoutContent,
    /// `envelopedData` or `authEnvelopedData`: encrypted, readable only with the recipient's key.
    Enveloped,
    /// `compressedData` (RFC 3274) or anything else.
    Other,
}

const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const ENVELOPED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03];
const AUTH_ENVELOPED_DATA: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17,
];

/// How deep nested indefinite lengths are followed; real CMS uses a handful.
const MAX_DEPTH: usize = 32;

/// Reads a CMS `ContentInfo`; `None` when the bytes are not one.
pub fn read(der: &[u8]) -> Option<Content> {
    let (tag, info, _) = element(der, 0)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, oid, rest) = element(info, 0)?;
    if tag != 0x06 {
        return None;
    }
    if oid == ENVELOPED_DATA || oid == AUTH_ENVELOPED_DATA {
        return Some(Content::Enveloped);
    }
    if oid != SIGNED_DATA {
        return Some(Content::Other);
    }
    // content [0] EXPLICIT SignedData
    let (tag, explicit, _) = element(rest, 0)?;
    if tag != 0xa0 {
        return None;
    }
    let (tag, signed, _) = element(explicit, 0)?;
    if tag != 0x30 {
        return None;
    }
    // version INTEGER, digestAlgorithms SET, encapContentInfo SEQUENCE
    let (_, _, rest) = element(signed, 0)?;
    let (_, _, rest) = element(rest, 0)?;
    let (tag, encap, _) = element(rest, 0)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, rest) = element(encap, 0)?;
    if rest.is_empty() {
        return Some(Content::SignedWithoutContent);
    }
    // eContent [0] EXPLICIT OCTET STRING
    let (tag, explicit, _) = element(rest, 0)?;
    if tag != 0xa0 {
        return None;
    }
    let mut out = Vec::new();
    octets(explicit, &mut out, 0)?;
    Some(Content::Signed(out))
}

/// The bytes of an OCTET STRING, primitive (tag 0x04) or constructed of pieces (0x24).
fn octets(input: &[u8], out: &mut Vec<u8>, depth: usize) -> Option<()> {
    let (tag, content, _) = element(input, depth)?;
    match tag {
        0x04 => out.extend_from_slice(content),
        0x24 if depth < MAX_DEPTH => {
            let mut rest = content;
            while !rest.is_empty() {
                let (_, _, after) = element(rest, depth + 1)?;
                octets(rest, out, depth + 1)?;
                rest = after;
            }
        }
        _ => return None,
    }
    Some(())
}

/// One BER element: its tag (single-byte tags only, all CMS needs), its content, and what
/// follows it. For an indefinite length the content runs to the matching end-of-contents.
fn element(input: &[u8], depth: usize) -> Option<(u8, &[u8], &[u8])> {
    if depth > MAX_DEPTH {
        return None;
    }
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *input.get(1)?;
    let mut at = 2;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return None;
        }
        let body = &input[at..];
        let mut rest = body;
        loop {
            if rest.len() >= 2 && rest[0] == 0 && rest[1] == 0 {
                let len = body.len() - rest.len();
                return Some((tag, &body[..len], &rest[2..]));
            }
            let (_, _, after) = element(rest, depth + 1)?;
            rest = after;
        }
    }
    let len = if first & 0x80 == 0 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(at..at + n)?;
        at += n;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize)
    };
    let content = input.get(at..at.checked_add(len)?)?;
    Some((tag, content, &input[at + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 128 {
            out.push(content.len() as u8);
        } else {
            let len = (content.len() as u32).to_be_bytes();
            out.push(0x84);
            out.extend_from_slice(&len);
        }
        out.extend_from_slice(content);
        out
    }

    fn indefinite(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        for p in parts {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(&[0, 0]);
        out
    }

    /// A SignedData ContentInfo around `content`, in DER or (Outlook's way) in BER with
    /// indefinite lengths and the content cut into pieces.
    fn signed(content: &[u8], ber: bool, piece: usize) -> Vec<u8> {
        let data_oid = tlv(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
        );
        let econtent = if ber {
            let pieces: Vec<Vec<u8>> = content.chunks(piece.max(1)).map(|c| tlv(0x04, c)).collect();
            indefinite(0xa0, &[indefinite(0x24, &pieces)])
        } else {
            tlv(0xa0, &tlv(0x04, content))
        };
        let encap = [data_oid, econtent].concat();
        let body = [
            tlv(0x02, &[1]),
            tlv(0x31, &[]),
            if ber {
                indefinite(0x30, &[encap])
            } else {
                tlv(0x30, &encap)
            },
            tlv(0x31, &[]),
        ]
        .concat();
        let sd = if ber {
            indefinite(0x30, &[body])
        } else {
            tlv(0x30, &body)
        };
        let info = [
            tlv(0x06, SIGNED_DATA),
            if ber {
                indefinite(0xa0, &[sd])
            } else {
                tlv(0xa0, &sd)
            },
        ]
        .concat();
        if ber {
            indefinite(0x30, &[info])
        } else {
            tlv(0x30, &info)
        }
    }

    proptest! {
        /// The signed content comes back byte for byte, however it is encoded and cut.
        #[test]
        fn signed_content_comes_back(content in proptest::collection::vec(any::<u8>(), 0..600), ber in any::<bool>(), piece in 1usize..300) {
            prop_assert_eq!(read(&signed(&content, ber, piece)), Some(Content::Signed(content)));
        }

        /// Any bytes at all: an answer or `None`, never a panic or an endless loop.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read(&bytes);
        }
    }

    #[test]
    fn enveloped_data_is_recognised() {
        let info = tlv(
            0x30,
            &[tlv(0x06, ENVELOPED_DATA), tlv(0xa0, &tlv(0x30, &[]))].concat(),
        );
        assert_eq!(read(&info), Some(Content::Enveloped));
        let info = tlv(
            0x30,
            &[tlv(0x06, AUTH_ENVELOPED_DATA), tlv(0xa0, &tlv(0x30, &[]))].concat(),
        );
        assert_eq!(read(&info), Some(Content::Enveloped));
    }
}
