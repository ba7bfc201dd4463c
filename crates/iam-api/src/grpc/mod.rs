//! The IAM service over gRPC (feature `grpc`): the protocol of `proto/iam.proto` ([`pb`],
//! generated once by `scripts/gen-proto.sh` and committed, so the build needs no `protoc`),
//! conversions between its messages and this crate's types, the service credential
//! ([`ServiceToken`]), and [`GrpcIam`], the gateway's client.
//!
//! The server side is `cloudstore_iam::grpc` (it implements [`pb::iam_server::Iam`] over the
//! in-process service).
//!
//! Every call carries `authorization: Bearer <service token>`; the server refuses others with
//! `UNAUTHENTICATED`. There is no TLS: the port belongs on a private network.

mod client;
mod convert;
mod token;

/// The messages, the client and the server glue generated from `proto/iam.proto`.
#[allow(clippy::all, clippy::pedantic, unreachable_pub, missing_debug_implementations, missing_docs, rust_2018_idioms)]
#[path = "generated.rs"]
pub mod pb;

pub use client::{BearerAuth, DEFAULT_TIMEOUT, GrpcConfigError, GrpcIam, IamGrpcClient, connect_lazy, status_error};
pub use convert::ConvertError;
pub use token::{SERVICE_TOKEN_ENV, SERVICE_TOKEN_FILE_ENV, ServiceToken, TokenError};

/// The metadata key carrying the service token (`Bearer <token>`).
pub const AUTHORIZATION: &str = "authorization";
