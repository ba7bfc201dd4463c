//! Runs the body of the `parse` fuzz target (see `fuzz/README.md`) over the checked-in corpus,
//! so that the nasty inputs are exercised by a plain `cargo test` on stable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unreachable_pub)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cloudstore_policy::{Policy, PolicyError, PolicyKind};

#[path = "../fuzz/parse_body.rs"]
mod parse_body;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn read(name: &str) -> String {
    let (_, bytes) = corpus().into_iter().find(|(n, _)| n == name).unwrap();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn fuzz_body_survives_the_corpus() {
    let files = corpus();
    assert!(files.len() >= 20, "corpus has {} files", files.len());
    for (name, data) in &files {
        let start = Instant::now();
        parse_body::run(data);
        // generous, for a debug build on a busy machine: this catches exponential blow-ups
        assert!(start.elapsed() < Duration::from_secs(20), "{name} took {:?}", start.elapsed());
    }
}

#[test]
fn corpus_expectations() {
    assert!(Policy::parse(&read("01-valid-identity.json"), PolicyKind::Identity).is_ok());
    assert!(Policy::parse(&read("02-valid-bucket.json"), PolicyKind::Resource).is_ok());
    assert!(Policy::parse(&read("03-valid-trust.json"), PolicyKind::Trust).is_ok());
    assert!(Policy::parse(&read("03-valid-trust.json"), PolicyKind::Resource).is_err());
    assert!(Policy::parse(&read("13-pathological-wildcards.json"), PolicyKind::Identity).is_ok());
    assert!(Policy::parse(&read("14-broken-variables.json"), PolicyKind::Identity).is_ok());
    assert!(Policy::parse(&read("16-unicode.json"), PolicyKind::Identity).is_err(), "İ is not an ASCII action");
    for name in [
        "05-deep-arrays.json",
        "06-deep-objects.json",
        "09-number-overflow.json",
        "10-lone-surrogate.json",
        "11-bom-and-nul.json",
        "19-not-json.txt",
        "20-trailing-garbage.json",
    ] {
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
            assert!(matches!(Policy::parse(&read(name), kind), Err(PolicyError::Json(_))), "{name}");
        }
    }
    // duplicate keys: serde_json keeps the last one, here an empty Statement array
    let e = Policy::parse(&read("12-duplicate-keys.json"), PolicyKind::Identity).unwrap_err();
    assert!(e.to_string().contains("empty array"), "{e}");
}
