//! Any text as a reply, plain and HTML: finding the new text must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = klachtd::commands::new_text::new_text_from_plain(&text);
    let _ = klachtd::commands::new_text::new_text_from_html(&text);
});
