//! The handful of S3 calls the load generator makes, over a keep-alive hyper client with
//! TCP_NODELAY, path-style addressing and SigV4 `UNSIGNED-PAYLOAD` signing.

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use cloudstore_sigv4::{
    Credentials, SigningKeyCache, SigningParams, UNSIGNED_PAYLOAD, encode_query, uri_encode, uri_encode_path,
};
use time::OffsetDateTime;

use crate::content::{ReqBody, Verifier};

#[derive(Debug)]
pub(crate) struct S3 {
    http: Client<HttpConnector, ReqBody>,
    /// `http://host:port`, no trailing slash.
    base: String,
    /// `host:port` as sent in the Host header and signed.
    host: String,
    bucket: String,
    creds: Credentials,
    region: String,
    /// Signing keys change once a day: a tiny cache spares the four derivation HMACs per request.
    keys: SigningKeyCache,
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
        let uri: http::Uri = endpoint.parse().with_context(|| format!("bad --endpoint {endpoint:?}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => bail!("--endpoint scheme {other:?} is not supported: use http://host:port"),
            None => bail!("--endpoint needs a scheme: http://host:port"),
        }
        let host = uri.authority().context("--endpoint has no host")?.as_str().to_owned();
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_keepalive(Some(Duration::from_secs(30)));
        conn.set_connect_timeout(Some(Duration::from_secs(10)));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_conns)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(conn);
        Ok(S3 {
            http,
            base: format!("http://{host}"),
            host,
            bucket: bucket.to_owned(),
            creds: Credentials::new(access_key, secret_key),
            region: region.to_owned(),
            keys: SigningKeyCache::new(4),
        })
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
        let req = self.signed_request(method, key, query, body, content_length)?;
        self.http.request(req).await.map_err(|e| anyhow!("{}", error_chain(&e)))
    }

    /// Builds a path-style request signed with `UNSIGNED-PAYLOAD`: the signed headers are `host`,
    /// `x-amz-content-sha256` and `x-amz-date`; `content-length` is added afterwards, unsigned.
    fn signed_request<B>(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        body: B,
        content_length: Option<u64>,
    ) -> Result<Request<B>> {
        let mut path = format!("/{}", uri_encode(&self.bucket));
        if !key.is_empty() {
            path.push('/');
            path.push_str(&uri_encode_path(key));
        }
        let query = encode_query(query);
        let uri =
            if query.is_empty() { format!("{}{path}", self.base) } else { format!("{}{path}?{query}", self.base) };
        let (mut parts, ()) = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, &self.host)
            .body(())
            .context("building request")?
            .into_parts();
        let params = SigningParams { region: &self.region, service: "s3", time: OffsetDateTime::now_utc() };
        self.keys.sign_cached(&mut parts, UNSIGNED_PAYLOAD, &self.creds, &params).context("signing request")?;
        if let Some(len) = content_length {
            parts.headers.insert(CONTENT_LENGTH, len.into());
        }
        Ok(Request::from_parts(parts, body))
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
    resp.into_body().collect().await.map_err(|e| anyhow!("reading body: {}", error_chain(&e)))?;
    Ok(())
}

/// Reads the whole (small) body; errors unless the status is 2xx.
async fn expect_ok(resp: Response<Incoming>, op: &str, key: &str) -> Result<Bytes> {
    if !resp.status().is_success() {
        return Err(status_error(resp, op, key).await);
    }
    let body =
        resp.into_body().collect().await.map_err(|e| anyhow!("{op} {key}: reading body: {}", error_chain(&e)))?;
    Ok(body.to_bytes())
}

async fn status_error(resp: Response<Incoming>, op: &str, key: &str) -> anyhow::Error {
    let status = resp.status();
    let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let code = xml_text(&text, "Code").unwrap_or("");
    anyhow!("{op} {key}: HTTP {} {code}", status.as_u16())
}

/// The text of the first `<tag>...</tag>` (no nesting, no attributes: enough for S3 replies).
fn xml_text<'a>(doc: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = doc.find(&open)? + open.len();
    let end = doc[start..].find(&close)? + start;
    Some(&doc[start..end])
}

fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_signed_for_s3_with_unsigned_payload() {
        let s3 =
            S3::new("http://127.0.0.1:9000", "AKIDLOADGEN", "secret/key", "us-east-1", "lg-bucket", 1).expect("client");
        let req = s3
            .signed_request(Method::GET, "", &[("prefix", "lg/a b"), ("list-type", "2")], (), Some(0))
            .expect("request");
        assert_eq!(req.uri(), "http://127.0.0.1:9000/lg-bucket?list-type=2&prefix=lg%2Fa%20b");
        let (parts, ()) = req.into_parts();
        let names: Vec<&str> = parts.headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["host", "x-amz-date", "x-amz-content-sha256", "authorization", "content-length"]);
        assert_eq!(parts.headers[HOST], "127.0.0.1:9000");
        assert_eq!(parts.headers["x-amz-content-sha256"], UNSIGNED_PAYLOAD);
        let auth = cloudstore_sigv4::parse_authorization(parts.headers["authorization"].to_str().expect("ascii"))
            .expect("parses");
        assert_eq!(auth.signed_headers, ["host", "x-amz-content-sha256", "x-amz-date"]);
        assert_eq!(
            (auth.access_key.as_str(), auth.region.as_str(), auth.service.as_str()),
            ("AKIDLOADGEN", "us-east-1", "s3")
        );
        let params = cloudstore_sigv4::VerifyParams {
            allow_unsigned_payload: true,
            ..cloudstore_sigv4::VerifyParams::new(cloudstore_sigv4::EMPTY_PAYLOAD_SHA256, OffsetDateTime::now_utc())
        };
        cloudstore_sigv4::verify_with(&parts, &auth, "secret/key", &params).expect("verifies");

        let req = s3.signed_request(Method::PUT, "dir/ké y+1", &[], (), None).expect("request");
        assert_eq!(req.uri().path(), "/lg-bucket/dir/k%C3%A9%20y%2B1");
        assert!(req.headers().get(CONTENT_LENGTH).is_none());
    }

    #[test]
    fn xml_helpers() {
        let doc = "<ListBucketResult><IsTruncated>true</IsTruncated><Key>a</Key><Key>b</Key>\
                   <NextContinuationToken>x&amp;y&#47;z&#x41;</NextContinuationToken></ListBucketResult>";
        assert_eq!(xml_text(doc, "IsTruncated"), Some("true"));
        assert_eq!(xml_unescape(xml_text(doc, "NextContinuationToken").expect("token")), "x&y/zA");
        assert_eq!(xml_unescape("a&b;c&"), "a&b;c&");
        assert_eq!(xml_text(doc, "Missing"), None);
    }
}
