//! Conditional writes (`If-Match` / `If-None-Match` on PutObject and
//! CompleteMultipartUpload), as AWS answers them:
//!
//! - `If-None-Match: *` — only if no object exists, else 412;
//! - `If-None-Match: "etag"` — only if the current object does not have that ETag, else 412;
//! - `If-Match: "etag"` — only if the current object has that ETag: 412 if it has another,
//!   404 `NoSuchKey` if there is none;
//! - `If-Match: *` — only if an object exists, else 404 `NoSuchKey`.
//!
//! The store decides atomically on two conditions only: "the current ETag is X" and "no object
//! exists". The others are decided by reading the current object and then committing on the
//! state that was read (its ETag, or its absence): if the object changes in between, the
//! commit is refused and the decision is made again on the new state.

use cloudstore_store_api::{ObjectMeta, StoreError, WriteCondition};
use s3s::S3Result;
use s3s::dto::{ETag, ETagCondition};

use super::Gateway;
use crate::error::StoreResultExt;

/// How often a write decided on a state it read is retried when that state changed before
/// its commit.
const ATTEMPTS: usize = 8;

/// One side of a condition: any object, or one ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Match {
    Any,
    ETag(String),
}

impl Match {
    fn of(c: &ETagCondition) -> Self {
        match c {
            ETagCondition::Any => Self::Any,
            ETagCondition::ETag(ETag::Strong(v) | ETag::Weak(v)) => Self::ETag(v.clone()),
        }
    }

    fn matches(&self, etag: &str) -> bool {
        match self {
            Self::Any => true,
            Self::ETag(want) => want == etag,
        }
    }
}

/// The client's conditions on a write.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteIf {
    if_match: Option<Match>,
    if_none_match: Option<Match>,
}

impl WriteIf {
    pub(crate) fn new(if_match: Option<&ETagCondition>, if_none_match: Option<&ETagCondition>) -> Self {
        Self { if_match: if_match.map(Match::of), if_none_match: if_none_match.map(Match::of) }
    }

    /// The store condition that decides this atomically, if there is one.
    fn direct(&self) -> Option<WriteCondition> {
        match (&self.if_match, &self.if_none_match) {
            (None, None) => Some(WriteCondition::default()),
            (None, Some(Match::Any)) => Some(WriteCondition { if_match: None, if_none_match: true }),
            (Some(Match::ETag(e)), None) => Some(WriteCondition { if_match: Some(e.clone()), if_none_match: false }),
            _ => None,
        }
    }

    /// Whether the write may go ahead on `current`, else the error AWS gives.
    pub(crate) fn check(&self, current: Option<&ObjectMeta>) -> Result<(), StoreError> {
        let etag = current.map(|o| o.etag.as_str());
        if let Some(m) = &self.if_match {
            match etag {
                None => return Err(StoreError::NoSuchKey),
                Some(e) if !m.matches(e) => return Err(StoreError::PreconditionFailed),
                Some(_) => {}
            }
        }
        if let (Some(m), Some(e)) = (&self.if_none_match, etag)
            && m.matches(e)
        {
            return Err(StoreError::PreconditionFailed);
        }
        Ok(())
    }

    fn is_unconditional(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }
}

/// The store condition that holds exactly while the object is still as read.
fn pinned(current: Option<&ObjectMeta>) -> WriteCondition {
    match current {
        Some(o) => WriteCondition { if_match: Some(o.etag.clone()), if_none_match: false },
        None => WriteCondition { if_match: None, if_none_match: true },
    }
}

impl Gateway {
    /// Refuses a conditional write early, before its body is read, when the current object
    /// already fails the condition (the commit decides again: this only saves the upload).
    pub(crate) async fn precheck_write(&self, bucket: &str, key: &str, want: &WriteIf) -> S3Result<()> {
        if want.is_unconditional() {
            return Ok(());
        }
        let current = self.meta.get_object(bucket, key).await.s3()?;
        want.check(current.as_ref()).s3()
    }

    /// Runs `commit` under the client's conditions: once with a store condition when one
    /// decides them, else on the state read just before, again while that state changes
    /// under it. A failed `If-Match` on a missing object is `NoSuchKey`, as on AWS.
    pub(crate) async fn commit_if<F, Fut>(
        &self,
        bucket: &str,
        key: &str,
        want: &WriteIf,
        commit: F,
    ) -> Result<(), StoreError>
    where
        F: Fn(WriteCondition) -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        if let Some(cond) = want.direct() {
            let if_match = cond.if_match.is_some();
            return match commit(cond).await {
                // Lost because the object is gone, or because it has another ETag?
                Err(StoreError::PreconditionFailed) if if_match => match self.meta.get_object(bucket, key).await? {
                    None => Err(StoreError::NoSuchKey),
                    Some(_) => Err(StoreError::PreconditionFailed),
                },
                other => other,
            };
        }
        for _ in 0..ATTEMPTS {
            let current = self.meta.get_object(bucket, key).await?;
            want.check(current.as_ref())?;
            match commit(pinned(current.as_ref())).await {
                Err(StoreError::PreconditionFailed) => {}
                other => return other,
            }
        }
        Err(StoreError::Conflict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(etag: &str) -> ObjectMeta {
        super::super::read::tests::obj(etag, time::OffsetDateTime::UNIX_EPOCH)
    }

    fn tag(v: &str) -> ETagCondition {
        ETagCondition::ETag(ETag::Strong(v.to_owned()))
    }

    fn code(r: Result<(), StoreError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(StoreError::NoSuchKey) => "404",
            Err(StoreError::PreconditionFailed) => "412",
            Err(_) => "other",
        }
    }

    #[test]
    fn conditions_decide_as_aws() {
        let a = obj("aaa");
        let cases = [
            (Some(ETagCondition::Any), None, None, "404"),
            (Some(ETagCondition::Any), None, Some(&a), "ok"),
            (Some(tag("aaa")), None, None, "404"),
            (Some(tag("aaa")), None, Some(&a), "ok"),
            (Some(tag("bbb")), None, Some(&a), "412"),
            (None, Some(ETagCondition::Any), None, "ok"),
            (None, Some(ETagCondition::Any), Some(&a), "412"),
            (None, Some(tag("aaa")), Some(&a), "412"),
            (None, Some(tag("bbb")), Some(&a), "ok"),
            (None, Some(tag("aaa")), None, "ok"),
            (None, None, None, "ok"),
        ];
        for (m, n, current, want) in cases {
            let w = WriteIf::new(m.as_ref(), n.as_ref());
            assert_eq!(
                code(w.check(current)),
                want,
                "If-Match {m:?} If-None-Match {n:?} on {:?}",
                current.map(|o| &o.etag)
            );
        }
    }

    #[test]
    fn only_two_conditions_go_to_the_store_directly() {
        assert_eq!(WriteIf::new(None, None).direct(), Some(WriteCondition::default()));
        assert_eq!(
            WriteIf::new(None, Some(&ETagCondition::Any)).direct(),
            Some(WriteCondition { if_match: None, if_none_match: true })
        );
        assert_eq!(
            WriteIf::new(Some(&tag("x")), None).direct(),
            Some(WriteCondition { if_match: Some("x".to_owned()), if_none_match: false })
        );
        assert_eq!(WriteIf::new(Some(&ETagCondition::Any), None).direct(), None);
        assert_eq!(WriteIf::new(None, Some(&tag("x"))).direct(), None);
        assert_eq!(pinned(None), WriteCondition { if_match: None, if_none_match: true });
        assert_eq!(pinned(Some(&obj("e"))), WriteCondition { if_match: Some("e".to_owned()), if_none_match: false });
    }
}
