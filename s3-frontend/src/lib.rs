//! The cloudstore S3 frontend: the S3 wire protocol (through s3s) over a metadata store and a
//! blob store, plus the public HTTP port's health and metrics endpoints.

pub mod access;
pub mod acl;
pub mod analytics;
pub mod api;
pub mod app;
pub mod auth;
pub mod body_timeout;
pub mod chunk_limit;
pub mod config;
pub mod content_md5;
pub mod cors;
mod error;
pub mod events;
pub mod file_drop;
pub mod form;
pub mod gc;
pub mod host;
pub mod identity;
pub mod kms;
pub mod lifecycle;
pub mod metrics;
pub mod post_object;
pub mod post_policy;
pub mod public_access;
pub mod runtime;
pub mod s3;
pub mod s3_control;
pub mod server;
pub mod share_browse;
pub mod shares;
pub mod signed;
pub mod xml_body;

pub use app::{App, StartError};
pub use config::ServeArgs;
