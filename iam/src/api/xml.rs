//! A tiny XML writer for the IAM and STS Query API responses: elements, escaped text, the
//! `<XResponse>` / `<ErrorResponse>` envelopes, ISO 8601 dates and the percent-encoding AWS
//! applies to policy documents.

use std::fmt::Write as _;

use cloudstore_iam_api::ApiResponse;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::error::Error;

/// The content type of every Query API answer.
pub(crate) const CONTENT_TYPE: &str = "text/xml";

/// Appends `s` to `out` with `&`, `<`, `>`, `"` and `'` escaped. Characters XML 1.0 cannot carry
/// (control characters other than tab, newline and carriage return) become U+FFFD; a carriage
/// return is written as a character reference so that it survives parsing.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// `s` escaped for XML text or attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters (as AWS encodes policy
/// documents in IAM responses; a space is `%20`, never `+`, since clients decode with `unquote`).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Unix seconds as ISO 8601 UTC, `2024-01-01T00:00:00Z`.
pub(crate) fn iso8601(unix_secs: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// An XML fragment under construction.
#[derive(Debug, Default)]
pub(crate) struct Xml {
    buf: String,
}

impl Xml {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// `<tag>`.
    pub(crate) fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `</tag>`.
    pub(crate) fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>text</tag>`, the text escaped.
    pub(crate) fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.buf, text);
        self.close(tag)
    }

    /// [`Xml::elem`] when `text` is present; nothing otherwise.
    pub(crate) fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.elem(tag, text);
        }
        self
    }

    /// `<tag>n</tag>`.
    pub(crate) fn num(&mut self, tag: &str, n: i64) -> &mut Self {
        self.elem(tag, &n.to_string())
    }

    /// `<tag>true|false</tag>`.
    pub(crate) fn bool(&mut self, tag: &str, b: bool) -> &mut Self {
        self.elem(tag, if b { "true" } else { "false" })
    }

    /// `<tag>2024-01-01T00:00:00Z</tag>`.
    pub(crate) fn date(&mut self, tag: &str, unix_secs: i64) -> &mut Self {
        self.elem(tag, &iso8601(unix_secs))
    }

    /// `<tag>{percent-encoded text}</tag>` (policy documents).
    pub(crate) fn url(&mut self, tag: &str, text: &str) -> &mut Self {
        self.elem(tag, &url_encode(text))
    }

    /// `<tag><member>…</member>…</tag>`, each member written by `f`.
    pub(crate) fn members<T>(&mut self, tag: &str, items: &[T], mut f: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.open(tag);
        for item in items {
            self.open("member");
            f(self, item);
            self.close("member");
        }
        self.close(tag)
    }

    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.buf
    }
}

/// A successful answer: `<{action}Response xmlns=…>[<{action}Result>…</{action}Result>]
/// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></{action}Response>`.
/// `result` is `None` for actions that return no result element (DeleteUser, …).
pub(crate) fn response(namespace: &str, action: &str, result: Option<&str>, request_id: &str) -> ApiResponse {
    let mut body = String::with_capacity(256 + result.map_or(0, str::len));
    body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(body, "<{action}Response xmlns=\"{}\">", escape(namespace));
    if let Some(result) = result {
        let _ = write!(body, "<{action}Result>{result}</{action}Result>");
    }
    body.push_str("<ResponseMetadata><RequestId>");
    escape_into(&mut body, request_id);
    let _ = write!(body, "</RequestId></ResponseMetadata></{action}Response>");
    ApiResponse { status: 200, content_type: CONTENT_TYPE.to_owned(), body }
}

/// An error answer in the Query API's `ErrorResponse` shape, with the status AWS uses.
/// Server-side failures (5xx) are logged and answered with a generic message.
pub(crate) fn error_response(namespace: &str, err: &Error, request_id: &str) -> ApiResponse {
    let status = err.status();
    let message = match err {
        Error::Internal(_) => {
            tracing::error!(error = %err, request_id, "IAM query API request failed");
            "We encountered an internal error. Please try again.".to_owned()
        }
        Error::Unavailable(_) => {
            tracing::warn!(error = %err, request_id, "IAM query API request failed");
            "The service is unavailable. Please try again later.".to_owned()
        }
        e => e.to_string(),
    };
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let mut body = String::with_capacity(256 + message.len());
    body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(body, "<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>", escape(namespace));
    escape_into(&mut body, err.code());
    body.push_str("</Code><Message>");
    escape_into(&mut body, &message);
    body.push_str("</Message></Error><RequestId>");
    escape_into(&mut body, request_id);
    body.push_str("</RequestId></ErrorResponse>");
    ApiResponse { status, content_type: CONTENT_TYPE.to_owned(), body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape(r#"a&b <c> "d" 'e'"#), "a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;");
        assert_eq!(escape("tab\tnl\ncr\r"), "tab\tnl\ncr&#13;");
        assert_eq!(escape("bell\u{7}nul\u{0}"), "bell\u{FFFD}nul\u{FFFD}");
        assert_eq!(escape("ünïcødé 日本"), "ünïcødé 日本");
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn writer_escapes_text_and_lists_members() {
        let mut x = Xml::new();
        x.open("User").elem("UserName", "bob").opt("Description", Some("R&D <team>")).opt("Missing", None);
        x.num("N", 42).bool("B", false).close("User");
        x.members("PolicyNames", &["a", "b&c"], |x, n| {
            x.elem("Name", n);
        });
        assert_eq!(
            x.finish(),
            "<User><UserName>bob</UserName><Description>R&amp;D &lt;team&gt;</Description><N>42</N>\
             <B>false</B></User><PolicyNames><member><Name>a</Name></member><member><Name>b&amp;c</Name>\
             </member></PolicyNames>"
        );
    }

    #[test]
    fn policy_documents_are_percent_encoded() {
        let doc = r#"{"Version": "2012-10-17", "Statement": [{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let enc = url_encode(doc);
        assert!(enc.starts_with("%7B%22Version%22%3A%20%222012-10-17%22"), "{enc}");
        assert!(!enc.contains(['+', ' ', '"', '{', '&', '<']));
        assert_eq!(url_encode("a-b_c.d~e/f+g h"), "a-b_c.d~e%2Ff%2Bg%20h");
        assert_eq!(url_encode("é"), "%C3%A9");
    }

    #[test]
    fn dates_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(iso8601(1_714_564_805), "2024-05-01T12:00:05Z");
    }

    #[test]
    fn envelopes() {
        let ok = response("https://iam.amazonaws.com/doc/2010-05-08/", "GetUser", Some("<User/>"), "req-1");
        assert_eq!(ok.status, 200);
        assert_eq!(ok.content_type, "text/xml");
        assert!(ok.body.ends_with(
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User/>\
             </GetUserResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetUserResponse>"
        ));
        let none = response("ns", "DeleteUser", None, "r");
        assert!(!none.body.contains("DeleteUserResult"));
        assert!(none.body.contains("<DeleteUserResponse xmlns=\"ns\"><ResponseMetadata>"));

        let err = error_response("ns", &Error::NoSuchEntity("user <x> & co".into()), "r&2");
        assert_eq!(err.status, 404);
        assert!(err.body.contains(
            "<ErrorResponse xmlns=\"ns\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>user &lt;x&gt; &amp; co</Message></Error><RequestId>r&amp;2</RequestId></ErrorResponse>"
        ));
        let internal = error_response("ns", &Error::Internal("db password=hunter2".into()), "r");
        assert_eq!(internal.status, 500);
        assert!(internal.body.contains("<Type>Receiver</Type><Code>ServiceFailure</Code>"));
        assert!(!internal.body.contains("hunter2"));
    }
}
