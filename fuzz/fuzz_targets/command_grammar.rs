//! Any text as a command block: parsing must never panic and never invent lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let block = klachtd::commands::parse_block(&text);
    assert!(block.lines.len() <= text.lines().count());
});
