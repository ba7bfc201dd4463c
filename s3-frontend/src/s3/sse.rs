//! Server-side encryption (ADR 0014): which encryption a write asks for (its headers, else the
//! bucket's default), the data key it gets, the key a read needs (SSE-C headers on every read),
//! the response headers AWS sends, and the bucket default encryption operations. The crypto
//! itself is `cloudstore-sse`; blobs are sealed in `write.rs` and opened in `read.rs`.

use cloudstore_sse::{CustomerKey, DataKey};
use cloudstore_store_api::{BucketConfig, EncryptionKind, ObjectEncryption, ObjectMeta};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::error::StoreResultExt;

/// The SSE headers of a write.
#[derive(Debug, Default)]
pub(crate) struct WriteHeaders<'a> {
    pub(crate) sse: Option<&'a ServerSideEncryption>,
    pub(crate) kms_key_id: Option<&'a str>,
    pub(crate) bucket_key: Option<bool>,
    pub(crate) customer: CustomerHeaders<'a>,
}

/// The three SSE-C headers (or their `x-amz-copy-source-` forms).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CustomerHeaders<'a> {
    pub(crate) algorithm: Option<&'a str>,
    pub(crate) key: Option<&'a str>,
    pub(crate) md5: Option<&'a str>,
}

impl<'a> CustomerHeaders<'a> {
    pub(crate) fn new(algorithm: Option<&'a String>, key: Option<&'a String>, md5: Option<&'a String>) -> Self {
        Self { algorithm: algorithm.map(String::as_str), key: key.map(String::as_str), md5: md5.map(String::as_str) }
    }

    /// The customer's key, checked as S3 checks it; `None` when no SSE-C header was sent.
    pub(crate) fn parse(&self) -> S3Result<Option<CustomerKey>> {
        let (algorithm, key, md5) = (self.algorithm, self.key, self.md5);
        if algorithm.is_none() && key.is_none() && md5.is_none() {
            return Ok(None);
        }
        let Some(algorithm) = algorithm else {
            return Err(s3_error!(
                InvalidArgument,
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
            ));
        };
        if algorithm != "AES256" {
            return Err(s3_error!(
                InvalidEncryptionAlgorithmError,
                "The Encryption request you specified is not valid. Supported value: AES256."
            ));
        }
        let Some(key) = key else {
            return Err(s3_error!(
                InvalidArgument,
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
            ));
        };
        let Some(md5) = md5 else {
            return Err(s3_error!(
                InvalidArgument,
                "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
            ));
        };
        CustomerKey::parse(key, md5).map(Some).map_err(|e| s3_error!(InvalidArgument, "{e}"))
    }
}

/// A bucket's default encryption, as stored (`buckets.encryption`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct BucketDefault {
    /// `AES256` or `aws:kms`.
    pub(crate) algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) bucket_key: bool,
}

impl BucketDefault {
    pub(crate) fn from_stored(json: Option<&str>) -> Option<Self> {
        serde_json::from_str(json?).ok()
    }
}

/// How a write's data is sealed: the new data key and what the object records.
#[derive(Debug, Clone)]
pub(crate) struct Sealing {
    pub(crate) key: DataKey,
    pub(crate) enc: ObjectEncryption,
    /// The customer key's MD5 (SSE-C), echoed in the answer.
    pub(crate) customer_md5: Option<String>,
}

impl Sealing {
    /// The ETag of data whose MD5 is `md5`: the MD5 itself for SSE-S3 (as AWS), a value that
    /// reveals nothing about the plaintext for SSE-KMS and SSE-C (AWS's are not the MD5 either).
    pub(crate) fn etag(&self, md5: &[u8]) -> String {
        etag_for(Some(&self.key), Some(&self.enc), md5)
    }
}

/// The ETag of data with plaintext MD5 `md5` under `enc` (see [`Sealing::etag`]).
pub(crate) fn etag_for(key: Option<&DataKey>, enc: Option<&ObjectEncryption>, md5: &[u8]) -> String {
    match (key, enc.map(|e| e.kind)) {
        (Some(k), Some(EncryptionKind::Kms | EncryptionKind::Customer)) => k.opaque_etag(md5),
        _ => hex::encode(md5),
    }
}

/// The SSE response headers (same field names in every output of s3s).
#[derive(Debug, Default, Clone)]
pub(crate) struct Echo {
    pub(crate) sse: Option<ServerSideEncryption>,
    pub(crate) kms_key_id: Option<String>,
    pub(crate) bucket_key: Option<bool>,
    pub(crate) customer_algorithm: Option<String>,
    pub(crate) customer_md5: Option<String>,
}

impl Echo {
    /// The headers for an object encrypted as `enc`; `customer_md5`: the SSE-C key's MD5 the
    /// request gave.
    pub(crate) fn of(enc: Option<&ObjectEncryption>, customer_md5: Option<&str>) -> Self {
        let Some(enc) = enc else { return Self::default() };
        match enc.kind {
            EncryptionKind::S3 => Self {
                sse: Some(ServerSideEncryption::from_static(ServerSideEncryption::AES256)),
                bucket_key: enc.bucket_key.then_some(true),
                ..Self::default()
            },
            EncryptionKind::Kms => Self {
                sse: Some(ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS)),
                kms_key_id: enc.kms_key_id.clone(),
                bucket_key: enc.bucket_key.then_some(true),
                ..Self::default()
            },
            EncryptionKind::Customer => Self {
                customer_algorithm: Some("AES256".to_owned()),
                customer_md5: customer_md5.map(str::to_owned),
                ..Self::default()
            },
        }
    }

    pub(crate) fn of_sealing(s: Option<&Sealing>) -> Self {
        s.map(|s| Self::of(Some(&s.enc), s.customer_md5.as_deref())).unwrap_or_default()
    }
}

/// Sets the SSE fields of an s3s output struct from an [`Echo`].
macro_rules! echo_sse {
    ($out:expr, $echo:expr) => {{
        let e: $crate::s3::sse::Echo = $echo;
        $out.server_side_encryption = e.sse;
        $out.ssekms_key_id = e.kms_key_id;
        $out.bucket_key_enabled = e.bucket_key;
        $out.sse_customer_algorithm = e.customer_algorithm;
        $out.sse_customer_key_md5 = e.customer_md5;
    }};
}
pub(crate) use echo_sse;

fn kms_algorithm(sse: &str) -> bool {
    sse == ServerSideEncryption::AWS_KMS || sse == ServerSideEncryption::AWS_KMS_DSSE
}

/// Refuses SSE headers on a read (GET, HEAD): S3 takes them only on writes.
pub(crate) fn refuse_on_read(headers: &http::HeaderMap) -> S3Result<()> {
    if headers.contains_key("x-amz-server-side-encryption")
        || headers.contains_key("x-amz-server-side-encryption-aws-kms-key-id")
    {
        return Err(s3_error!(
            InvalidArgument,
            "x-amz-server-side-encryption header is not supported for this operation."
        ));
    }
    Ok(())
}

fn wrong_parameters() -> S3Error {
    s3_error!(
        InvalidRequest,
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
    )
}

impl Gateway {
    /// The sealing of a new object (or multipart upload): what the headers `h` ask for, else
    /// the bucket's default; `None`: stored in plaintext. `account`: the caller's
    /// account (a KMS key of another account is refused).
    pub(crate) async fn sealing_for_write(
        &self,
        h: &WriteHeaders<'_>,
        bucket_default: Option<BucketDefault>,
        account: Option<&str>,
    ) -> S3Result<Option<Sealing>> {
        let customer = h.customer.parse()?;
        let default_kms =
            bucket_default.as_ref().filter(|d| kms_algorithm(&d.algorithm)).and_then(|d| d.kms_key_id.clone());
        if let Some(c) = customer {
            if h.sse.is_some() || h.kms_key_id.is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
                ));
            }
            let key = DataKey::generate();
            let enc = ObjectEncryption {
                kind: EncryptionKind::Customer,
                sealed_key: c.seal(&key),
                kms_key_id: None,
                bucket_key: false,
            };
            return Ok(Some(Sealing { key, enc, customer_md5: Some(c.md5_b64().to_owned()) }));
        }
        let (algorithm, kms_key_id, bucket_key) = match h.sse {
            Some(s) => (s.as_str().to_owned(), h.kms_key_id.map(str::to_owned), h.bucket_key.unwrap_or(false)),
            None => {
                if h.kms_key_id.is_some() {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
                    ));
                }
                match bucket_default {
                    Some(d) => (d.algorithm, d.kms_key_id, h.bucket_key.unwrap_or(d.bucket_key)),
                    None => return Ok(None),
                }
            }
        };
        let key = DataKey::generate();
        if algorithm == ServerSideEncryption::AES256 {
            if h.kms_key_id.is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
                ));
            }
            let enc = ObjectEncryption {
                kind: EncryptionKind::S3,
                sealed_key: self.sse.seal_s3(&key),
                kms_key_id: None,
                bucket_key,
            };
            return Ok(Some(Sealing { key, enc, customer_md5: None }));
        }
        if !kms_algorithm(&algorithm) {
            return Err(s3_error!(InvalidArgument, "The encryption method specified is not supported"));
        }
        // AWS falls back to the account's `aws/s3` key; the platform has no such key, so an
        // SSE-KMS write names its key (or the bucket default does).
        let kms_key_id = kms_key_id.or(default_kms);
        let Some(id) = kms_key_id else {
            return Err(s3_error!(
                InvalidArgument,
                "Server Side Encryption with AWS KMS requires a KMS key id (x-amz-server-side-encryption-aws-kms-key-id): this server has no default KMS key."
            ));
        };
        let kms = self.kms_key(&id, account).await?;
        let enc = ObjectEncryption {
            kind: EncryptionKind::Kms,
            sealed_key: kms.seal(&key),
            kms_key_id: Some(id),
            bucket_key,
        };
        Ok(Some(Sealing { key, enc, customer_md5: None }))
    }

    /// Opens the KMS key `id` for `account` (any account for a platform-wide key).
    async fn kms_key(&self, id: &str, account: Option<&str>) -> S3Result<cloudstore_sse::KmsKey> {
        let id = kms_key_name(id);
        let Some(rec) = self.meta.get_kms_key(id).await.s3()? else {
            return Err(kms_not_found(id));
        };
        if let (Some(owner), Some(caller)) = (&rec.account_id, account)
            && owner != caller
        {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        self.sse.open_kms_key(&rec.id, &rec.sealed_material).map_err(|e| {
            tracing::error!(kms_key = %rec.id, error = %e, "a KMS key does not open with this gateway's master key");
            s3_error!(InternalError, "We encountered an internal error. Please try again.")
        })
    }

    /// The data key to read `obj` (or an upload's parts) sealed as `enc`, with the request's
    /// SSE-C key `customer`. `None`: not encrypted.
    pub(crate) async fn read_key(
        &self,
        enc: Option<&ObjectEncryption>,
        customer: Option<&CustomerKey>,
    ) -> S3Result<Option<DataKey>> {
        let Some(enc) = enc else {
            if customer.is_some() {
                return Err(s3_error!(InvalidRequest, "The encryption parameters are not applicable to this object."));
            }
            return Ok(None);
        };
        match enc.kind {
            EncryptionKind::Customer => {
                let Some(c) = customer else { return Err(wrong_parameters()) };
                c.open(&enc.sealed_key).map(Some).map_err(|_| {
                    s3_error!(
                        InvalidRequest,
                        "The provided encryption parameters did not match the ones used originally."
                    )
                })
            }
            _ if customer.is_some() => {
                Err(s3_error!(InvalidRequest, "The encryption parameters are not applicable to this object."))
            }
            _ => server_key(self.meta.as_ref(), &self.sse, enc).await.s3(),
        }
    }

    /// [`Self::read_key`] for an object.
    pub(crate) async fn object_key(
        &self,
        obj: &ObjectMeta,
        customer: Option<&CustomerKey>,
    ) -> S3Result<Option<DataKey>> {
        self.read_key(obj.attributes.encryption.as_ref(), customer).await
    }

    /// The bucket's default encryption, from access control's view of the bucket when the
    /// request has one (no extra read), else from the store.
    pub(crate) async fn bucket_default(
        &self,
        bucket: &str,
        extensions: &http::Extensions,
    ) -> S3Result<Option<BucketDefault>> {
        if let Some(info) = extensions.get::<crate::access::Authorized>().and_then(|a| a.bucket.clone()) {
            return Ok(BucketDefault::from_stored(info.encryption.as_deref()));
        }
        let b = self.bucket(bucket).await?;
        Ok(BucketDefault::from_stored(b.encryption.as_deref()))
    }

    // ---- bucket default encryption ----

    async fn set_bucket_encryption(
        &self,
        actor: &crate::events::Actor,
        bucket: &str,
        value: Option<&BucketDefault>,
        status: u16,
    ) -> S3Result<()> {
        let stored = value.map(serde_json::to_string).transpose().map_err(|e| s3_error!(InternalError, "{e}"))?;
        let events = self.outbox(|| {
            let mut e = actor.event(cloudstore_events::EventType::BucketConfigChanged, bucket, None);
            e.status = Some(status);
            e.detail.insert("config".into(), "encryption".into());
            if let Some(s) = &stored {
                e.detail.insert("settings".into(), s.clone());
            }
            e
        });
        let done = self.meta.set_bucket_config(bucket, BucketConfig::Encryption, stored.as_deref(), &events).await.s3();
        self.bucket_changed(bucket);
        done?;
        self.committed(&events);
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketEncryption", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let input = req.input;
        self.bucket(&input.bucket).await?;
        let rules = input.server_side_encryption_configuration.rules;
        let [rule] = rules.as_slice() else {
            return Err(s3_error!(MalformedXML, "The configuration must have exactly one rule."));
        };
        let Some(by_default) = &rule.apply_server_side_encryption_by_default else {
            return Err(s3_error!(MalformedXML, "The rule must have ApplyServerSideEncryptionByDefault."));
        };
        let algorithm = by_default.sse_algorithm.as_str();
        let kms_key_id = by_default.kms_master_key_id.clone().filter(|k| !k.is_empty());
        if algorithm == ServerSideEncryption::AES256 {
            if kms_key_id.is_some() {
                return Err(s3_error!(
                    InvalidArgument,
                    "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse"
                ));
            }
        } else if !kms_algorithm(algorithm) {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let value = BucketDefault {
            algorithm: if kms_algorithm(algorithm) {
                ServerSideEncryption::AWS_KMS.to_owned()
            } else {
                algorithm.to_owned()
            },
            kms_key_id: kms_key_id.map(|k| kms_key_name(&k).to_owned()),
            bucket_key: rule.bucket_key_enabled.unwrap_or(false),
        };
        self.set_bucket_encryption(&actor, &input.bucket, Some(&value), 200).await?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketEncryption", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let Some(d) = BucketDefault::from_stored(b.encryption.as_deref()) else {
            let mut e = S3Error::with_message(
                S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found".to_owned(),
            );
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return Err(e);
        };
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                rules: vec![ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        sse_algorithm: ServerSideEncryption::from(d.algorithm),
                        kms_master_key_id: d.kms_key_id,
                    }),
                    bucket_key_enabled: Some(d.bucket_key),
                }],
            }),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucketEncryption", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        self.bucket(&req.input.bucket).await?;
        self.set_bucket_encryption(&actor, &req.input.bucket, None, 204).await?;
        Ok(S3Response::with_status(DeleteBucketEncryptionOutput::default(), http::StatusCode::NO_CONTENT))
    }
}

/// The data key of an object sealed by the server (SSE-S3, SSE-KMS); `None` for SSE-C, whose
/// key only its owner holds.
pub(crate) async fn server_key(
    meta: &dyn cloudstore_store_api::MetadataStore,
    ring: &cloudstore_sse::Keyring,
    enc: &ObjectEncryption,
) -> Result<Option<DataKey>, cloudstore_store_api::StoreError> {
    use cloudstore_store_api::StoreError;
    let broken = |what: &str, e: cloudstore_sse::Error| {
        tracing::error!(error = %e, "{what} does not open with this gateway's keys");
        StoreError::backend("an encrypted object's key does not open")
    };
    match enc.kind {
        EncryptionKind::Customer => Ok(None),
        EncryptionKind::S3 => ring.open_s3(&enc.sealed_key).map(Some).map_err(|e| broken("an SSE-S3 data key", e)),
        EncryptionKind::Kms => {
            let id = enc.kms_key_id.as_deref().unwrap_or_default();
            let Some(rec) = meta.get_kms_key(id).await? else {
                tracing::error!(kms_key = %id, "an object's KMS key is gone");
                return Err(StoreError::backend("an object's KMS key is gone"));
            };
            let kms = ring.open_kms_key(&rec.id, &rec.sealed_material).map_err(|e| broken("a KMS key", e))?;
            kms.open(&enc.sealed_key).map(Some).map_err(|e| broken("an SSE-KMS data key", e))
        }
    }
}

/// A key named by its ARN (`arn:aws:kms:region:account:key/ID`) is the key `ID`.
pub(crate) fn kms_key_name(id: &str) -> &str {
    match id.strip_prefix("arn:") {
        Some(rest) => rest.rsplit_once("key/").map_or(id, |(_, k)| k),
        None => id,
    }
}

fn kms_not_found(id: &str) -> S3Error {
    s3_error!(InvalidArgument, "Invalid keyId {id}: no such KMS key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_headers_are_checked_as_s3_checks_them() {
        let code = |h: CustomerHeaders<'_>| h.parse().err().map(|e| e.code().as_str().to_owned());
        let key = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
        let md5 = "DWygnHRtgiJ77HCm+1rvHw==";
        let ok = CustomerHeaders { algorithm: Some("AES256"), key: Some(key), md5: Some(md5) };
        assert!(ok.parse().is_ok_and(|k| k.is_some()));
        assert!(CustomerHeaders::default().parse().is_ok_and(|k| k.is_none()));
        assert_eq!(code(CustomerHeaders { algorithm: None, ..ok }).as_deref(), Some("InvalidArgument"));
        assert_eq!(code(CustomerHeaders { key: None, ..ok }).as_deref(), Some("InvalidArgument"));
        assert_eq!(code(CustomerHeaders { md5: None, ..ok }).as_deref(), Some("InvalidArgument"));
        assert_eq!(
            code(CustomerHeaders { md5: Some("AAAAAAAAAAAAAAAAAAAAAA=="), ..ok }).as_deref(),
            Some("InvalidArgument")
        );
        assert_eq!(
            code(CustomerHeaders { algorithm: Some("AES192"), ..ok }).as_deref(),
            Some("InvalidEncryptionAlgorithmError")
        );
    }

    #[test]
    fn kms_key_arns_name_their_key() {
        assert_eq!(kms_key_name("testkey-1"), "testkey-1");
        assert_eq!(kms_key_name("arn:aws:kms:us-east-1:123:key/testkey-1"), "testkey-1");
    }
}
