//! Fuzzes `Policy::parse` (every kind) and the evaluation of whatever parses.
#![no_main]

#[path = "../parse_body.rs"]
mod parse_body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    parse_body::run(data);
});
