//! Lower-case hex of a byte string: content hashes, tokens and the redacted address tags in
//! logs. A leaf below every layer.

/// Lower-case hex of a byte string.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
