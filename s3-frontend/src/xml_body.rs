//! Bounds on the request bodies s3s reads whole before an operation runs: the XML of
//! CreateBucket, DeleteObjects, CompleteMultipartUpload, PutBucketCors, the notification
//! configuration and the bucket configurations answered in `s3/unconfigured.rs`, and the JSON
//! of PutBucketPolicy
//! (operations with such bodies that we do not implement are refused before that).
//!
//! s3s reads them after [`crate::access::PolicyAccess`] has authorized the request, up to its
//! `xml_max_body_size`, and answers a body over it with 500 InternalError (its size check
//! looks for its own error type, `http_body_util::Limited` gives another). So before s3s reads,
//! the access check calls [`XmlBodies::reserve`], which
//! - refuses a declared `Content-Length` over [`MAX_XML_BODY`] (400 MaxMessageLengthExceeded)
//!   and a body without one (411 MissingContentLength, as s3s would answer after reading it),
//!   so the body s3s reads never exceeds its limit;
//! - holds that many bytes of a budget shared by all requests ([`XML_BODY_BUDGET`]), at most
//!   [`XML_BODY_SHARE`] of it per account, until the operation is done, and answers 503
//!   SlowDown when the budget or the account's share is spent, rather than queueing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use s3s::{S3Result, s3_error};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The largest whole-read body of one request: 8 MiB. The largest real ones are a few MiB:
/// CompleteMultipartUpload of 10,000 parts with ETags and SHA-256 checksums (about 2 MiB),
/// DeleteObjects of 1,000 keys of 1,024 bytes (1 MiB; up to 5 MiB if every byte is
/// escaped). A bucket policy is at most 20 KiB on AWS.
pub const MAX_XML_BODY: u64 = 8 << 20;

/// The bytes all requests together may hold in whole-read bodies: 64 MiB (8 maximal bodies).
pub const XML_BODY_BUDGET: usize = 64 << 20;

/// The bytes of that budget one account's requests may hold at once: a quarter, so that no
/// one account (trickling its bodies up to the deadline) can spend it for everyone.
pub const XML_BODY_SHARE: usize = XML_BODY_BUDGET / 4;

/// The shared budget for whole-read bodies.
#[derive(Debug, Clone)]
pub struct XmlBodies {
    budget: Arc<Semaphore>,
    /// Bytes held per account.
    shares: Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for XmlBodies {
    fn default() -> Self {
        Self { budget: Arc::new(Semaphore::new(XML_BODY_BUDGET)), shares: Arc::default() }
    }
}

/// Budget held by one request until it is dropped (with the request's extensions, which
/// must be `Clone`: a clone holds it too).
#[derive(Debug, Clone)]
pub struct Held {
    _share: Arc<Share>,
}

/// One request's bytes: of the budget, and of its account's share.
#[derive(Debug)]
struct Share {
    _permit: OwnedSemaphorePermit,
    shares: Arc<Mutex<HashMap<String, usize>>>,
    account: String,
    bytes: usize,
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Ok(mut m) = self.shares.lock()
            && let Some(held) = m.get_mut(&self.account)
        {
            *held = held.saturating_sub(self.bytes);
            if *held == 0 {
                m.remove(&self.account);
            }
        }
    }
}

/// Whether s3s reads the body of `op` whole (among the operations we implement).
fn read_whole(op: &str) -> bool {
    matches!(
        op,
        "CreateBucket"
            | "DeleteObjects"
            | "CompleteMultipartUpload"
            | "PutBucketPolicy"
            | "PutBucketCors"
            | "PutBucketAcl"
            | "PutObjectAcl"
            | "PutBucketOwnershipControls"
            | "PutBucketNotificationConfiguration"
            | "PutBucketAccelerateConfiguration"
            | "PutBucketRequestPayment"
            | "PutBucketLogging"
            | "PutBucketWebsite"
            | "PutBucketReplication"
    )
}

impl XmlBodies {
    /// Checks the declared size of `op`'s body and reserves it; `None` for operations whose
    /// body is streamed, and for empty bodies.
    pub fn reserve(&self, op: &str, headers: &HeaderMap, account: &str) -> S3Result<Option<Held>> {
        if !read_whole(op) {
            return Ok(None);
        }
        let declared =
            headers.get(http::header::CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
        let len = match declared {
            Some(Some(n)) if headers.contains_key(http::header::TRANSFER_ENCODING) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "Content-Length {n} and Transfer-Encoding may not both be sent."
                ));
            }
            Some(Some(n)) => n,
            Some(None) => return Err(s3_error!(InvalidArgument, "Content-Length is not a number.")),
            None if headers.contains_key(http::header::TRANSFER_ENCODING) => {
                return Err(s3_error!(MissingContentLength, "You must provide the Content-Length HTTP header."));
            }
            None => 0,
        };
        if len > MAX_XML_BODY {
            return Err(s3_error!(
                MaxMessageLengthExceeded,
                "Your request was too big: {op} bodies may hold at most {MAX_XML_BODY} bytes."
            ));
        }
        if len == 0 {
            return Ok(None);
        }
        let bytes = usize::try_from(len).unwrap_or(usize::MAX);
        let Ok(mut shares) = self.shares.lock() else {
            return Err(s3_error!(SlowDown, "Please reduce your request rate."));
        };
        let held = shares.get(account).copied().unwrap_or(0);
        if held.saturating_add(bytes) > XML_BODY_SHARE {
            tracing::warn!(op, len, account, "the account's share of the whole-read body budget is spent");
            return Err(s3_error!(SlowDown, "Please reduce your request rate."));
        }
        let n = u32::try_from(len).unwrap_or(u32::MAX);
        match self.budget.clone().try_acquire_many_owned(n) {
            Ok(permit) => {
                shares.insert(account.to_owned(), held + bytes);
                let share = Share { _permit: permit, shares: self.shares.clone(), account: account.to_owned(), bytes };
                Ok(Some(Held { _share: Arc::new(share) }))
            }
            Err(_) => {
                tracing::warn!(op, len, "whole-read body budget spent");
                Err(s3_error!(SlowDown, "Please reduce your request rate."))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), http::HeaderValue::from_str(v).expect("value")))
            .collect()
    }

    fn code(r: S3Result<Option<Held>>) -> Option<String> {
        r.err().map(|e| e.code().as_str().to_owned())
    }

    #[test]
    fn sizes_are_checked_before_reading() {
        let b = XmlBodies::default();
        let max = MAX_XML_BODY.to_string();
        let over = (MAX_XML_BODY + 1).to_string();
        assert!(
            b.reserve("DeleteObjects", &headers(&[("content-length", max.as_str())]), "a").is_ok_and(|h| h.is_some())
        );
        assert_eq!(
            code(b.reserve("PutBucketPolicy", &headers(&[("content-length", over.as_str())]), "a")).as_deref(),
            Some("MaxMessageLengthExceeded")
        );
        assert_eq!(
            code(b.reserve("CreateBucket", &headers(&[("transfer-encoding", "chunked")]), "a")).as_deref(),
            Some("MissingContentLength")
        );
        for op in ["PutBucketNotificationConfiguration", "PutBucketLogging", "PutBucketWebsite", "PutBucketReplication"]
        {
            assert_eq!(
                code(b.reserve(op, &headers(&[("content-length", over.as_str())]), "a")).as_deref(),
                Some("MaxMessageLengthExceeded"),
                "{op}"
            );
        }
        assert_eq!(
            code(b.reserve("CreateBucket", &headers(&[("content-length", "x")]), "a")).as_deref(),
            Some("InvalidArgument")
        );
        assert!(b.reserve("CreateBucket", &headers(&[]), "a").is_ok_and(|h| h.is_none()));
        // Streamed bodies are not this module's business.
        assert!(b.reserve("PutObject", &headers(&[("content-length", over.as_str())]), "a").is_ok_and(|h| h.is_none()));
    }

    #[test]
    fn the_budget_is_shared_and_given_back() {
        let b = XmlBodies::default();
        let max = MAX_XML_BODY.to_string();
        // Eight maximal bodies from four accounts (two each) fill it.
        let held: Vec<_> = (0..XML_BODY_BUDGET as u64 / MAX_XML_BODY)
            .map(|i| {
                b.reserve(
                    "CompleteMultipartUpload",
                    &headers(&[("content-length", max.as_str())]),
                    &format!("acct{}", i / 2),
                )
            })
            .collect();
        assert!(held.iter().all(|h| matches!(h, Ok(Some(_)))));
        assert_eq!(
            code(b.reserve("DeleteObjects", &headers(&[("content-length", "1")]), "acct9")).as_deref(),
            Some("SlowDown")
        );
        drop(held);
        assert!(
            b.reserve("DeleteObjects", &headers(&[("content-length", max.as_str())]), "a").is_ok_and(|h| h.is_some())
        );
        assert!(b.shares.lock().is_ok_and(|m| m.is_empty()), "shares given back");
    }

    #[test]
    fn one_account_holds_at_most_its_share() {
        let b = XmlBodies::default();
        let max = MAX_XML_BODY.to_string();
        let mine: Vec<_> = (0..XML_BODY_SHARE as u64 / MAX_XML_BODY)
            .map(|_| b.reserve("DeleteObjects", &headers(&[("content-length", max.as_str())]), "greedy"))
            .collect();
        assert!(mine.iter().all(|h| matches!(h, Ok(Some(_)))));
        assert_eq!(
            code(b.reserve("DeleteObjects", &headers(&[("content-length", "1")]), "greedy")).as_deref(),
            Some("SlowDown")
        );
        // Others still get theirs.
        assert!(
            b.reserve("DeleteObjects", &headers(&[("content-length", max.as_str())]), "other")
                .is_ok_and(|h| h.is_some())
        );
        drop(mine);
        assert!(b.reserve("DeleteObjects", &headers(&[("content-length", "1")]), "greedy").is_ok_and(|h| h.is_some()));
    }
}
