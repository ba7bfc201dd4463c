//! The IAM service: accounts, sessions, profiles, access keys, policies, and the AWS IAM and STS
//! Query APIs. It runs inside `cloudstore serve` (in process) or as the `iam` binary; the
//! gateway reaches it through [`cloudstore_iam_api::IamApi`].

pub mod api;
pub mod config;
pub mod crypto;
pub mod error;
mod events;
pub mod grpc;
pub mod ids;
pub mod service;
pub mod session;
pub mod store;

pub use error::{Error, Result};
pub use events::Audit;
