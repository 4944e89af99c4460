//! Outlook's TNEF (`winmail.dat`, `application/ms-tnef`, [MS-OXTNEF]): the files inside it and
//! its plain-text or HTML body, read with a small reader. What it cannot read (a body only in
//! compressed RTF, a damaged stream) stays in the `winmail.dat` that is always kept.

/// What a TNEF stream holds that klachtd can use.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tnef {
    /// The plain-text body (`attBody`, or `PR_BODY` among the message properties).
    pub text: Option<String>,
    /// The HTML body (`PR_BODY_HTML`), when there is no plain text.
    pub html: Option<String>,
    /// The attached files: name and bytes.
    pub files: Vec<(String, Vec<u8>)>,
}

const SIGNATURE: u32 = 0x223e_9f78;
const LEVEL_MESSAGE: u8 = 1;
const ATT_BODY: u16 = 0x800c;
const ATT_ATTACH_RENDDATA: u16 = 0x9002;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_DATA: u16 = 0x800f;
const ATT_MAPI_PROPS: u16 = 0x9003;
const ATT_ATTACHMENT: u16 = 0x9005;

const PR_BODY: u16 = 0x1000;
const PR_BODY_HTML: u16 = 0x1013;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_DATA_OBJ: u16 = 0x3701;

/// Reads a TNEF stream; `None` when it is not one or is cut short before anything useful.
pub fn read(data: &[u8]) -> Option<Tnef> {
    let mut r = Reader { data, at: 0 };
    if r.u32()? != SIGNATURE {
        return None;
    }
    r.u16()?; // legacy key
    let mut out = Tnef::default();
    // Each attachment begins with attAttachRendData; its title, data and properties follow.
    let mut current: Option<(String, Vec<u8>)> = None;
    while r.at < data.len() {
        let Some((level, id, value)) = r.attribute() else {
            break;
        };
        match (level, id) {
            (LEVEL_MESSAGE, ATT_BODY) => out.text = Some(string8(value)),
            (LEVEL_MESSAGE, ATT_MAPI_PROPS) => {
                for (prop, v) in properties(value).unwrap_or_default() {
                    match (prop, v) {
                        (PR_BODY, Value::Text(t)) if out.text.is_none() => out.text = Some(t),
                        (PR_BODY_HTML, Value::Text(t)) => out.html = Some(t),
                        (PR_BODY_HTML, Value::Binary(b)) => {
                            out.html = Some(String::from_utf8_lossy(&b).into_owned())
                        }
                        _ => {}
                    }
                }
            }
            (_, ATT_ATTACH_RENDDATA) => {
                out.files.extend(current.take());
                current = Some((String::new(), Vec::new()));
            }
            (_, ATT_ATTACH_TITLE) => {
                if let Some(file) = current.as_mut() {
                    file.0 = string8(value);
                }
            }
            (_, ATT_ATTACH_DATA) => {
                if let Some(file) = current.as_mut() {
                    file.1 = value.to_vec();
                }
            }
            (_, ATT_ATTACHMENT) => {
                let Some(file) = current.as_mut() else {
                    continue;
                };
                for (prop, v) in properties(value).unwrap_or_default() {
                    match (prop, v) {
                        (PR_ATTACH_LONG_FILENAME, Value::Text(t)) if !t.is_empty() => file.0 = t,
                        (PR_ATTACH_FILENAME, Value::Text(t)) if file.0.is_empty() => file.0 = t,
                        (PR_ATTACH_DATA_OBJ, Value::Binary(b)) if file.1.is_empty() => file.1 = b,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out.files.extend(current.take());
    out.files.retain(|(_, bytes)| !bytes.is_empty());
    for (name, _) in &mut out.files {
        if name.trim().is_empty() {
            *name = "bijlage".into();
        }
    }
    Some(out)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    /// One attribute: level, the id's low 16 bits, the value (its checksum is not checked).
    fn attribute(&mut self) -> Option<(u8, u16, &'a [u8])> {
        let level = *self.take(1)?.first()?;
        let id = self.u32()?;
        let len = self.u32()? as usize;
        let value = self.take(len)?;
        self.u16()?;
        Some((level, (id & 0xffff) as u16, value))
    }
    /// Skips to the next multiple of 4 from the start of the property stream.
    fn align(&mut self) {
        self.at = self.at.div_ceil(4) * 4;
    }
}

enum Value {
    Text(String),
    Binary(Vec<u8>),
    Other,
}

/// A MAPI property stream ([MS-OXTNEF] §2.1.3.5): (property id, value) for each property.
fn properties(data: &[u8]) -> Option<Vec<(u16, Value)>> {
    let mut r = Reader { data, at: 0 };
    let count = r.u32()? as usize;
    let mut out = Vec::new();
    for _ in 0..count.min(10_000) {
        let kind = r.u16()?;
        let id = r.u16()?;
        if id >= 0x8000 {
            // A named property: its GUID, then a number or a name.
            r.take(16)?;
            match r.u32()? {
                0 => {
                    r.u32()?;
                }
                _ => {
                    let len = r.u32()? as usize;
                    r.take(len)?;
                    r.align();
                }
            }
        }
        let multi = kind & 0x1000 != 0;
        let base = kind & 0x0fff;
        let values = if multi || matches!(base, 0x001e | 0x001f | 0x0102 | 0x000d) {
            r.u32()? as usize
        } else {
            1
        };
        let mut value = Value::Other;
        for _ in 0..values.min(10_000) {
            value = match base {
                0x001e | 0x001f | 0x0102 | 0x000d => {
                    let len = r.u32()? as usize;
                    let bytes = r.take(len)?;
                    r.align();
                    match base {
                        0x001e => Value::Text(string8(bytes)),
                        0x001f => Value::Text(unicode(bytes)),
                        // An embedded object starts with its 16-byte interface id.
                        0x000d => Value::Binary(bytes.get(16..).unwrap_or_default().to_vec()),
                        _ => Value::Binary(bytes.to_vec()),
                    }
                }
                0x0002 | 0x0003 | 0x0004 | 0x000a | 0x000b => {
                    r.take(4)?;
                    Value::Other
                }
                0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => {
                    r.take(8)?;
                    Value::Other
                }
                0x0048 => {
                    r.take(16)?;
                    Value::Other
                }
                _ => return None,
            };
        }
        out.push((id, value));
    }
    Some(out)
}

/// An 8-bit string (Windows-1252 in practice; Latin-1 is close enough for names), without its
/// terminating NUL.
fn string8(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    match std::str::from_utf8(&bytes[..end]) {
        Ok(s) => s.to_string(),
        Err(_) => bytes[..end].iter().map(|&b| b as char).collect(),
    }
}

/// A UTF-16LE string without its terminating NUL.
fn unicode(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attribute(level: u8, id: u32, value: &[u8]) -> Vec<u8> {
        let mut out = vec![level];
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
        let sum = value.iter().fold(0u16, |s, b| s.wrapping_add(*b as u16));
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    fn unicode_prop(id: u16, text: &str) -> Vec<u8> {
        let mut out = 0x001fu16.to_le_bytes().to_vec();
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        let mut bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        bytes.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        let padded = bytes.len().div_ceil(4) * 4;
        bytes.resize(padded, 0);
        out.extend_from_slice(&bytes);
        out
    }

    fn props(list: &[Vec<u8>]) -> Vec<u8> {
        let mut out = (list.len() as u32).to_le_bytes().to_vec();
        for p in list {
            out.extend_from_slice(p);
        }
        out
    }

    /// A TNEF stream as Outlook writes one: message class, a body in the message properties,
    /// and files with 8.3 titles and long names in their attachment properties.
    pub(crate) fn outlook_tnef(body: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = SIGNATURE.to_le_bytes().to_vec();
        out.extend_from_slice(&0x1234u16.to_le_bytes());
        out.extend(attribute(1, 0x0007_8008, b"IPM.Microsoft Mail.Note\0"));
        // A short-typed property first, as Outlook puts PR_... flags before the body.
        let mut flags = 0x0003u16.to_le_bytes().to_vec();
        flags.extend_from_slice(&0x0e07u16.to_le_bytes());
        flags.extend_from_slice(&1u32.to_le_bytes());
        out.extend(attribute(
            1,
            0x0006_9003,
            &props(&[flags, unicode_prop(PR_BODY, body)]),
        ));
        for (name, data) in files {
            out.extend(attribute(
                2,
                0x0006_9002,
                &[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
            ));
            out.extend(attribute(2, 0x0001_8010, b"SHORTN~1.PDF\0"));
            out.extend(attribute(2, 0x0006_800f, data));
            out.extend(attribute(
                2,
                0x0006_9005,
                &props(&[unicode_prop(PR_ATTACH_LONG_FILENAME, name)]),
            ));
        }
        out
    }

    #[test]
    fn reads_body_and_files_as_outlook_writes_them() {
        let tnef = outlook_tnef(
            "Mijn klacht over de cursus.",
            &[
                ("factuur november.pdf", b"%PDF-1.4 x"),
                ("foto.png", b"\x89PNG"),
            ],
        );
        let read = read(&tnef).unwrap();
        assert_eq!(read.text.as_deref(), Some("Mijn klacht over de cursus."));
        assert_eq!(
            read.files,
            vec![
                ("factuur november.pdf".to_string(), b"%PDF-1.4 x".to_vec()),
                ("foto.png".to_string(), b"\x89PNG".to_vec()),
            ]
        );
    }

    proptest! {
        /// Any bytes, and any cut of a real stream: an answer or `None`, never a panic.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..400) {
            let _ = read(&bytes);
            let real = outlook_tnef("tekst", &[("a.txt", b"abc")]);
            let _ = read(&real[..cut.min(real.len())]);
            let mut signed = SIGNATURE.to_le_bytes().to_vec();
            signed.extend_from_slice(&bytes);
            let _ = read(&signed);
        }
    }
}
