//! A streaming `multipart/form-data` reader for browser uploads (PostObject and upload share
//! links, ADR 0015): the fields before the file are read into memory within small limits, the
//! file part is then handed out as a stream that ends at its closing boundary, without ever
//! holding it whole. Whatever follows the file is never read (AWS ignores fields after it).

use std::pin::Pin;

use bytes::{Buf as _, Bytes, BytesMut};
use futures::{Stream, StreamExt as _};

/// Largest value of one text field (a policy document is the largest one in practice).
pub const MAX_FIELD: usize = 20 * 1024;
/// Largest total of everything before the file: field values, part headers, preamble.
pub const MAX_PRE_FILE: usize = 64 * 1024;
/// Most text fields before the file.
pub const MAX_FIELDS: usize = 100;

/// Why a form could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// Not multipart/form-data as RFC 7578 writes it.
    #[error("the body is not well-formed multipart/form-data: {0}")]
    Malformed(&'static str),
    /// The fields before the file exceed [`MAX_PRE_FILE`] / [`MAX_FIELD`] / [`MAX_FIELDS`].
    #[error("the form fields before the file are too large")]
    TooLarge,
    /// The body ended before the form did.
    #[error("the body ended before the form did")]
    Incomplete,
    /// Reading the body failed (the client went away, or sent nothing for too long).
    #[error("reading the body failed: {0}")]
    Body(String),
}

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send + Sync>>;

/// The file part of a form: its name, type and the reader positioned at its first byte.
#[derive(Debug)]
pub struct FilePart {
    /// The `filename` of its `Content-Disposition` (may be empty).
    pub filename: String,
    /// Its own `Content-Type`, if sent.
    pub content_type: Option<String>,
    reader: FormReader,
}

/// The fields of a form up to its file (names as sent), and the file if it has one.
#[derive(Debug)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub file: Option<FilePart>,
}

struct FormReader {
    body: BodyStream,
    buf: BytesMut,
    /// `\r\n--boundary`.
    delim: Vec<u8>,
    eof: bool,
}

impl std::fmt::Debug for FormReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormReader").field("buffered", &self.buf.len()).field("eof", &self.eof).finish()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl FormReader {
    /// Reads more of the body into the buffer; `false` at its end.
    async fn fill(&mut self) -> Result<bool, FormError> {
        if self.eof {
            return Ok(false);
        }
        match self.body.next().await {
            Some(Ok(chunk)) => {
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            Some(Err(e)) => Err(FormError::Body(e)),
            None => {
                self.eof = true;
                Ok(false)
            }
        }
    }

    /// The bytes before the next `pat` (consumed), at most `max` of them.
    async fn until(&mut self, pat: &[u8], max: usize) -> Result<Bytes, FormError> {
        loop {
            if let Some(i) = find(&self.buf, pat) {
                if i > max {
                    return Err(FormError::TooLarge);
                }
                let out = self.buf.split_to(i).freeze();
                self.buf.advance(pat.len());
                return Ok(out);
            }
            if self.buf.len() > max + pat.len() {
                return Err(FormError::TooLarge);
            }
            if !self.fill().await? {
                return Err(FormError::Incomplete);
            }
        }
    }

    /// The next `n` bytes (consumed).
    async fn take(&mut self, n: usize) -> Result<Bytes, FormError> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(FormError::Incomplete);
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }

    /// The next piece of the current part's content: `Some` bytes, or `None` once its
    /// closing boundary is reached (consumed).
    async fn next_content(&mut self) -> Result<Option<Bytes>, FormError> {
        loop {
            if let Some(i) = find(&self.buf, &self.delim) {
                if i > 0 {
                    return Ok(Some(self.buf.split_to(i).freeze()));
                }
                self.buf.advance(self.delim.len());
                return Ok(None);
            }
            // Everything but a tail that could be the start of the boundary is content.
            let keep = self.delim.len() - 1;
            if self.buf.len() > keep {
                let n = self.buf.len() - keep;
                return Ok(Some(self.buf.split_to(n).freeze()));
            }
            if !self.fill().await? {
                return Err(FormError::Incomplete);
            }
        }
    }
}

/// A part's `Content-Disposition` name and filename, and its `Content-Type`.
fn part_headers(raw: &[u8]) -> Result<(String, Option<String>, Option<String>), FormError> {
    let text = std::str::from_utf8(raw).map_err(|_| FormError::Malformed("part headers are not UTF-8"))?;
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in text.split("\r\n") {
        let Some((h, v)) = line.split_once(':') else { continue };
        let h = h.trim();
        if h.eq_ignore_ascii_case("content-type") {
            content_type = Some(v.trim().to_owned());
        } else if h.eq_ignore_ascii_case("content-disposition") {
            for param in split_params(v).into_iter().skip(1) {
                let Some((k, val)) = param.split_once('=') else { continue };
                let val = unquote(val.trim());
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(val),
                    "filename" => filename = Some(val),
                    _ => {}
                }
            }
        }
    }
    let name = name.ok_or(FormError::Malformed("a part has no name"))?;
    Ok((name, filename, content_type))
}

/// `a; b="x;y"; c` split at the semicolons outside quotes.
fn split_params(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in v.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => v.to_owned(),
    }
}

/// Reads a form's fields up to its file part (the part named `file`, case-insensitively).
pub async fn read<S, E>(body: S, boundary: &str) -> Result<Form, FormError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Sync + 'static,
    E: std::fmt::Display,
{
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(FormError::Malformed("bad boundary"));
    }
    let body: BodyStream = Box::pin(body.map(|r| r.map_err(|e| e.to_string())));
    let mut delim = b"\r\n--".to_vec();
    delim.extend_from_slice(boundary.as_bytes());
    // The first boundary has no CRLF before it: pretend it has.
    let mut buf = BytesMut::with_capacity(16 * 1024);
    buf.extend_from_slice(b"\r\n");
    let mut r = FormReader { body, buf, delim, eof: false };
    let first = r.delim.clone();
    let mut budget = MAX_PRE_FILE;
    let preamble = r.until(&first, budget).await?;
    budget -= preamble.len();
    let mut fields = Vec::new();
    loop {
        let after = r.take(2).await?;
        if &after[..] == b"--" {
            return Ok(Form { fields, file: None });
        }
        if &after[..] != b"\r\n" {
            return Err(FormError::Malformed("a boundary is not followed by CRLF"));
        }
        let raw = r.until(b"\r\n\r\n", budget.min(8 * 1024)).await?;
        budget = budget.checked_sub(raw.len() + 4).ok_or(FormError::TooLarge)?;
        let (name, filename, content_type) = part_headers(&raw)?;
        if name.eq_ignore_ascii_case("file") {
            return Ok(Form {
                fields,
                file: Some(FilePart { filename: filename.unwrap_or_default(), content_type, reader: r }),
            });
        }
        if fields.len() >= MAX_FIELDS {
            return Err(FormError::TooLarge);
        }
        let delim = r.delim.clone();
        let value = r.until(&delim, budget.min(MAX_FIELD)).await?;
        budget = budget.checked_sub(value.len()).ok_or(FormError::TooLarge)?;
        let value = String::from_utf8(value.to_vec()).map_err(|_| FormError::Malformed("a field is not UTF-8"))?;
        fields.push((name, value));
    }
}

impl FilePart {
    /// The file's bytes as they arrive, ending at its closing boundary; an error if the body
    /// ends first or fails.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        futures::stream::unfold(Some(self.reader), |state| async move {
            let mut r = state?;
            match r.next_content().await {
                Ok(Some(b)) => Some((Ok(b), Some(r))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(body: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
        let parts: Vec<Result<Bytes, std::io::Error>> =
            body.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(parts)
    }

    fn form(parts: &[(&str, Option<&str>, &[u8])], boundary: &str) -> Vec<u8> {
        let mut out = b"preamble".to_vec();
        for (name, filename, value) in parts {
            out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/plain\r\n\r\n")
                        .as_bytes(),
                ),
                None => out.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            out.extend_from_slice(value);
        }
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out
    }

    async fn file_bytes(f: FilePart) -> Result<Vec<u8>, std::io::Error> {
        let mut s = std::pin::pin!(f.into_stream());
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn fields_then_a_streamed_file_at_every_chunk_size() {
        // File content that contains most of the boundary, and CRLFs.
        let content: Vec<u8> = b"a\r\n--XyZ\r\n--Xy\r\n-".iter().copied().cycle().take(5000).collect();
        let body = form(
            &[
                ("key", None, b"k;\"1\""),
                ("Policy", None, b"abc"),
                ("file", Some("a;b.txt"), &content),
                ("after", None, b"x"),
            ],
            "XyZZ",
        );
        for size in [1, 2, 3, 7, 64, 1000, body.len()] {
            let f = read(chunks(&body, size), "XyZZ").await.expect("form");
            assert_eq!(
                f.fields,
                vec![("key".to_owned(), "k;\"1\"".to_owned()), ("Policy".to_owned(), "abc".to_owned())]
            );
            let file = f.file.expect("file");
            assert_eq!(file.filename, "a;b.txt");
            assert_eq!(file.content_type.as_deref(), Some("text/plain"));
            assert_eq!(file_bytes(file).await.expect("file bytes"), content, "chunk size {size}");
        }
    }

    #[tokio::test]
    async fn forms_without_a_file_truncated_or_too_large() {
        let body = form(&[("key", None, b"k")], "b0");
        let f = read(chunks(&body, 5), "b0").await.expect("ok");
        assert!(f.file.is_none());
        assert_eq!(f.fields.len(), 1);

        // The body ends inside the file: the stream fails.
        let body = form(&[("file", Some("f"), b"0123456789")], "b0");
        let cut = &body[..body.len() - 12];
        let f = read(chunks(cut, 4), "b0").await.expect("ok");
        assert!(file_bytes(f.file.expect("ok")).await.is_err());

        // The body ends inside the fields.
        let body = form(&[("key", None, b"k")], "b0");
        assert!(matches!(read(chunks(&body[..20], 4), "b0").await, Err(FormError::Incomplete)));

        // A huge field.
        let big = vec![b'x'; MAX_FIELD + 1];
        let body = form(&[("policy", None, &big)], "b0");
        assert!(matches!(read(chunks(&body, 4096), "b0").await, Err(FormError::TooLarge)));

        // Not a form at all.
        assert!(read(chunks(b"hello world", 4), "b0").await.is_err());
    }
}
