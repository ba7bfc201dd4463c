//! URI encoding as SigV4 defines it, and the canonical URI and query string.

use std::borrow::Cow;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `bytes` percent-encoded: everything but `A-Za-z0-9-._~` (and `/` when `keep_slash`)
/// becomes `%XY` with upper-case hex.
fn encode_into(out: &mut String, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
}

/// Percent-encodes `s` the SigV4 way: every byte but `A-Za-z0-9-._~` becomes `%XY`, including
/// `/`. Use it for query-string keys and values, form fields and single path segments.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    encode_into(&mut out, s.as_bytes(), false);
    out
}

/// Like [`uri_encode`] but leaves `/` alone: for a whole path such as an S3 object key.
pub fn uri_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    encode_into(&mut out, s.as_bytes(), true);
    out
}

/// Builds a query string (or an `application/x-www-form-urlencoded` body) from unencoded pairs:
/// each key and value [`uri_encode`]d, pairs sorted. It is then also the canonical query string,
/// so a request sent with it signs and verifies without surprises.
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    let mut enc: Vec<(String, String)> = pairs.iter().map(|(k, v)| (uri_encode(k), uri_encode(v))).collect();
    enc.sort();
    join_pairs(&enc)
}

fn join_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XY` escapes. Leniently: a `%` not followed by two hex digits stays as it is, and
/// `+` stays `+` (it is not a space in a URI). The result may not be UTF-8.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, [u8]> {
    let bytes = s.as_bytes();
    if !bytes.contains(&b'%') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex_val), bytes.get(i + 2).copied().and_then(hex_val))
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// The canonical URI for a path exactly as it appears in the request line (still encoded).
///
/// - S3 (`double_encode == false`): no normalization; each `/`-separated segment is decoded and
///   encoded again, so `%2F` inside a segment survives and over- or under-encoded characters (a
///   raw `!` or `$`) are brought to the one canonical spelling.
/// - Every other service (`double_encode == true`): dot segments and repeated slashes removed
///   (RFC 3986 5.2.4, as botocore does), then the already-encoded path is encoded once more, so
///   `%20` becomes `%2520`. This is the standard SigV4 "encode each segment twice".
pub(crate) fn canonical_uri(raw_path: &str, double_encode: bool) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(raw_path.len() + 8);
    if double_encode {
        encode_into(&mut out, remove_dot_segments(raw_path).as_bytes(), true);
    } else {
        for (i, segment) in raw_path.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            encode_into(&mut out, &percent_decode(segment), false);
        }
    }
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    out
}

/// RFC 3986 section 5.2.4 plus removal of empty segments, exactly like botocore's
/// `remove_dot_segments` (which AWS services expect for non-S3 requests).
fn remove_dot_segments(path: &str) -> Cow<'_, str> {
    let clean = !path.contains("//") && path.split('/').all(|s| s != "." && s != "..");
    if clean {
        return Cow::Borrowed(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

/// The canonical query string for a raw (still encoded) query: pairs split on `&` (empty ones
/// dropped), a missing `=` meaning an empty value, every key and value decoded and encoded again
/// the SigV4 way, sorted by key then value.
pub(crate) fn canonical_query(raw_query: &str) -> String {
    if raw_query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let mut ek = String::with_capacity(k.len());
            encode_into(&mut ek, &percent_decode(k), false);
            let mut ev = String::with_capacity(v.len());
            encode_into(&mut ev, &percent_decode(v), false);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    join_pairs(&pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(uri_encode_path("a b/c~d+é"), "a%20b/c~d%2B%C3%A9");
        assert_eq!(uri_encode("lg/x"), "lg%2Fx");
        assert_eq!(
            encode_query(&[("prefix", "lg/"), ("list-type", "2"), ("max-keys", "1000")]),
            "list-type=2&max-keys=1000&prefix=lg%2F"
        );
        assert_eq!(encode_query(&[]), "");
    }

    #[test]
    fn decoding_is_lenient() {
        assert_eq!(&*percent_decode("a%20b%2fc"), b"a b/c");
        assert_eq!(&*percent_decode("100%"), b"100%");
        assert_eq!(&*percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(&*percent_decode("a+b"), b"a+b");
        assert_eq!(&*percent_decode("%E1%88%B4"), "ሴ".as_bytes());
    }

    #[test]
    fn canonical_uri_s3() {
        assert_eq!(canonical_uri("", false), "/");
        assert_eq!(canonical_uri("/", false), "/");
        assert_eq!(canonical_uri("/test$file.text", false), "/test%24file.text");
        assert_eq!(canonical_uri("/test%24file.text", false), "/test%24file.text");
        assert_eq!(canonical_uri("/b/a%2Fb//./../c%20d", false), "/b/a%2Fb//./../c%20d");
        assert_eq!(canonical_uri("/b/%e1%88%b4", false), "/b/%E1%88%B4");
    }

    #[test]
    fn canonical_uri_other_services() {
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(canonical_uri("/", true), "/");
        assert_eq!(canonical_uri("/admin/users/alice", true), "/admin/users/alice");
        assert_eq!(canonical_uri("/a%20b", true), "/a%2520b");
        assert_eq!(canonical_uri("//a/./b/../c/", true), "/a/c/");
        assert_eq!(canonical_uri("/..", true), "/");
        assert_eq!(canonical_uri("/./", true), "/");
        assert_eq!(canonical_uri("/a/b/..", true), "/a");
    }

    #[test]
    fn canonical_query_string() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("Param2=value2&Param1=value1"), "Param1=value1&Param2=value2");
        assert_eq!(canonical_query("b=2&a&&a=1"), "a=&a=1&b=2");
        assert_eq!(canonical_query("prefix=a/b c&k=%7e%2f+"), "k=~%2F%2B&prefix=a%2Fb%20c");
        assert_eq!(canonical_query("x=a=b"), "x=a%3Db");
    }
}
