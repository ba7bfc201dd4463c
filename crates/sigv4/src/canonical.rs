//! The canonical request and the string to sign, shared by the signer and the verifier.

use http::request::Parts;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::encode::{canonical_query, canonical_uri};
use crate::header::ALGORITHM;

/// Whether `service` uses S3's single URI encoding (every other service encodes twice).
pub(crate) fn double_encodes(service: &str) -> bool {
    service != "s3"
}

/// Appends a header value "trimmed": leading and trailing spaces and tabs dropped, inner runs of
/// them collapsed to one space (botocore's `' '.join(value.split())` for what HTTP allows).
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if b == b' ' || b == b'\t' {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

/// Builds the canonical request:
///
/// ```text
/// METHOD \n canonical URI \n canonical query \n (name:value \n)* \n signed;headers \n payload hash
/// ```
///
/// `signed_headers` must be lower case and sorted. A header with several values contributes them
/// joined by `,`. `host` falls back to the URI authority (HTTP/2 has no `Host` header).
pub(crate) fn canonical_request(
    parts: &Parts,
    signed_headers: &[&str],
    payload_hash: &str,
    double_encode: bool,
) -> Result<Vec<u8>, Error> {
    let uri = canonical_uri(parts.uri.path(), double_encode);
    let query = canonical_query(parts.uri.query().unwrap_or(""));
    let mut out = Vec::with_capacity(256 + uri.len() + query.len());
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(uri.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(query.as_bytes());
    out.push(b'\n');
    for &name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut values = parts.headers.get_all(name).iter().peekable();
        if values.peek().is_none() {
            match (name, parts.uri.authority()) {
                ("host", Some(authority)) => push_trimmed(&mut out, authority.as_str().as_bytes()),
                ("host", None) => return Err(Error::MissingHeader("host")),
                _ => return Err(Error::Malformed(format!("signed header {name} is not in the request"))),
            }
        }
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(&mut out, value.as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, &name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Ok(out)
}

/// `AWS4-HMAC-SHA256 \n amz-date \n scope \n hex(sha256(canonical request))`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(v: &str) -> String {
        let mut out = Vec::new();
        push_trimmed(&mut out, v.as_bytes());
        String::from_utf8(out).expect("utf-8 in, utf-8 out")
    }

    #[test]
    fn trimall() {
        assert_eq!(trimmed("  a   b \t c  "), "a b c");
        assert_eq!(trimmed("\t\t"), "");
        assert_eq!(trimmed("value"), "value");
        assert_eq!(trimmed(" a\t\tb"), "a b");
    }

    #[test]
    fn canonical_request_of_a_multi_valued_header() {
        let (parts, ()) = http::Request::get("http://example.amazonaws.com/a%20b?b=2&a=1")
            .header("my-header", "  one  ")
            .header("my-header", "two   three")
            .body(())
            .expect("request")
            .into_parts();
        let cr = canonical_request(&parts, &["host", "my-header"], "HASH", true).expect("canonical");
        assert_eq!(
            String::from_utf8_lossy(&cr),
            "GET\n/a%2520b\na=1&b=2\nhost:example.amazonaws.com\nmy-header:one,two three\n\nhost;my-header\nHASH"
        );
        let cr = canonical_request(&parts, &["host"], "HASH", false).expect("canonical");
        assert_eq!(String::from_utf8_lossy(&cr), "GET\n/a%20b\na=1&b=2\nhost:example.amazonaws.com\n\nhost\nHASH");
        assert_eq!(
            canonical_request(&parts, &["host", "other"], "HASH", true),
            Err(Error::Malformed("signed header other is not in the request".to_owned()))
        );
    }

    #[test]
    fn host_is_required() {
        let (parts, ()) = http::Request::get("/").body(()).expect("request").into_parts();
        assert_eq!(canonical_request(&parts, &["host"], "HASH", true), Err(Error::MissingHeader("host")));
    }
}
