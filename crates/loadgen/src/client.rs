//! The handful of S3 calls the load generator makes, over a keep-alive hyper client with
//! TCP_NODELAY, path-style addressing and SigV4 `UNSIGNED-PAYLOAD` signing.

use anyhow::{Context as _, Result, anyhow, bail};
use bytes::Bytes;
use cloudstore_s3_client::{Call, Config, S3Client, error_chain, read_small, xml_text, xml_unescape};
use http::header::CONTENT_LENGTH;
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use crate::content::{ReqBody, Verifier};

#[derive(Debug)]
pub(crate) struct S3 {
    client: S3Client<ReqBody>,
    bucket: String,
}

/// One page of a ListObjectsV2 listing.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub(crate) keys: usize,
    pub(crate) next_token: Option<String>,
}

impl S3 {
    pub(crate) fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        bucket: &str,
        max_conns: usize,
    ) -> Result<Self> {
        let cfg = Config::new(endpoint, access_key, secret_key).region(region).max_idle(max_conns);
        let client = S3Client::new(&cfg).context("--endpoint / --region")?;
        Ok(S3 { client, bucket: bucket.to_owned() })
    }

    /// Sends one signed request. `key` empty means the bucket itself.
    async fn send(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        body: ReqBody,
        content_length: Option<u64>,
    ) -> Result<Response<Incoming>> {
        let mut call = Call::new(method, &self.bucket, key).query(query);
        call.content_length = content_length;
        let req = self.client.request(&call, body)?;
        Ok(self.client.send(req).await?)
    }

    pub(crate) async fn put_object(&self, key: &str, size: u64) -> Result<()> {
        let resp = self.send(Method::PUT, key, &[], ReqBody::pattern(key, size), Some(size)).await?;
        expect_ok(resp, "PUT", key).await?;
        Ok(())
    }

    /// GET and stream the body through a verifier; returns the bytes received.
    pub(crate) async fn get_object(&self, key: &str, size: u64, verify: bool) -> Result<u64> {
        let resp = self.send(Method::GET, key, &[], ReqBody::Empty, None).await?;
        if resp.status() != StatusCode::OK {
            return Err(status_error(resp, "GET", key).await);
        }
        check_content_length(&resp, size, "GET", key)?;
        let mut body = resp.into_body();
        let mut verifier = Verifier::new(key, size, verify);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| anyhow!("GET {key}: reading body: {}", error_chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                verifier.update(&data).map_err(|e| anyhow!("GET {key}: {e}"))?;
            }
        }
        verifier.finish().map_err(|e| anyhow!("GET {key}: {e}"))
    }

    pub(crate) async fn head_object(&self, key: &str, size: u64) -> Result<()> {
        let resp = self.send(Method::HEAD, key, &[], ReqBody::Empty, None).await?;
        if resp.status() != StatusCode::OK {
            return Err(status_error(resp, "HEAD", key).await);
        }
        check_content_length(&resp, size, "HEAD", key)?;
        drain(resp).await
    }

    pub(crate) async fn delete_object(&self, key: &str) -> Result<()> {
        let resp = self.send(Method::DELETE, key, &[], ReqBody::Empty, None).await?;
        expect_ok(resp, "DELETE", key).await?;
        Ok(())
    }

    pub(crate) async fn list_page(&self, prefix: &str, token: Option<&str>, max_keys: usize) -> Result<ListPage> {
        let max = max_keys.to_string();
        let mut query = vec![("list-type", "2"), ("max-keys", max.as_str()), ("prefix", prefix)];
        if let Some(t) = token {
            query.push(("continuation-token", t));
        }
        let resp = self.send(Method::GET, "", &query, ReqBody::Empty, None).await?;
        let body = expect_ok(resp, "LIST", prefix).await?;
        let text = std::str::from_utf8(&body).context("LIST body is not UTF-8")?;
        let truncated = xml_text(text, "IsTruncated") == Some("true");
        let next_token = if truncated {
            Some(xml_unescape(xml_text(text, "NextContinuationToken").context("truncated LIST without a token")?))
        } else {
            None
        };
        Ok(ListPage { keys: text.matches("<Key>").count(), next_token })
    }

    /// Creates the bucket unless it exists already.
    pub(crate) async fn ensure_bucket(&self) -> Result<()> {
        let resp = self.send(Method::HEAD, "", &[], ReqBody::Empty, None).await?;
        let status = resp.status();
        drain(resp).await?;
        if status.is_success() {
            return Ok(());
        }
        if status == StatusCode::FORBIDDEN {
            bail!("HEAD bucket {}: HTTP 403: check --access-key, --secret-key and --region", self.bucket);
        }
        if status != StatusCode::NOT_FOUND {
            bail!("HEAD bucket {}: HTTP {status}", self.bucket);
        }
        let resp = self.send(Method::PUT, "", &[], ReqBody::Empty, Some(0)).await?;
        if resp.status() == StatusCode::CONFLICT {
            drain(resp).await?; // created by a concurrent run: fine
            return Ok(());
        }
        expect_ok(resp, "CreateBucket", "").await?;
        Ok(())
    }
}

fn check_content_length(resp: &Response<Incoming>, size: u64, op: &str, key: &str) -> Result<()> {
    let len = resp.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match len {
        Some(l) if l == size => Ok(()),
        Some(l) => bail!("{op} {key}: Content-Length {l}, expected {size}"),
        None => bail!("{op} {key}: no Content-Length"),
    }
}

async fn drain(resp: Response<Incoming>) -> Result<()> {
    read_small(resp).await?;
    Ok(())
}

/// Reads the whole (small) body; errors unless the status is 2xx.
async fn expect_ok(resp: Response<Incoming>, op: &str, key: &str) -> Result<Bytes> {
    if !resp.status().is_success() {
        return Err(status_error(resp, op, key).await);
    }
    let body = resp.into_body().collect().await.map_err(|e| anyhow!("{op} {key}: reading body: {e}"))?;
    Ok(body.to_bytes())
}

async fn status_error(resp: Response<Incoming>, op: &str, key: &str) -> anyhow::Error {
    anyhow!("{op} {key}: {}", cloudstore_s3_client::status_error(resp).await)
}
