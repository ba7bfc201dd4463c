//! Conformance suites that every store implementation runs against a real backend
//! (Garage's db/test.rs, versitygw's backend tests). Each suite panics on the first violation.

mod blob;
mod meta;

pub use blob::blob_suite;
pub use meta::{metadata_suite, object};
