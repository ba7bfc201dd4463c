//! The `Authorization` header of a header-signed SigV4 request.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The algorithm name, the first word of the header and of the string to sign.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The last element of every credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
///
/// [`parse_authorization`] checks the syntax only. The caller looks up the secret for
/// `access_key` and must itself check that `region` and `service` are the ones it serves before
/// calling [`verify`](crate::verify), which checks the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub access_key: String,
    /// The credential scope date, `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, sorted, no duplicates.
    pub signed_headers: Vec<String>,
    /// 64 lower-case hex digits.
    pub signature: String,
}

impl AuthorizationHeader {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/{SCOPE_TERMINATOR}", self.date, self.region, self.service)
    }

    /// Whether `name` (lower case) is among the signed headers.
    pub fn signs(&self, name: &str) -> bool {
        self.signed_headers.iter().any(|h| h == name)
    }
}

impl fmt::Display for AuthorizationHeader {
    /// The header value, in the form AWS SDKs send.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            self.access_key,
            self.scope(),
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

impl FromStr for AuthorizationHeader {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_authorization(s)
    }
}

fn malformed(what: &str) -> Error {
    Error::Malformed(format!("Authorization header: {what}"))
}

/// An HTTP token character (RFC 9110), lower case only: what a signed header name may be.
fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase()
        || b.is_ascii_digit()
        || matches!(
            b,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

/// Parses an `Authorization` header value:
/// `AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/iam/aws4_request, SignedHeaders=a;b, Signature=hex`.
///
/// The three components may come in any order, separated by commas with optional spaces; each
/// must appear exactly once. Strict about everything else: the scope must have five parts ending
/// in `aws4_request` with an 8-digit date, signed header names must be lower case, sorted and
/// unique, the signature 64 lower-case hex digits. Never panics.
pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader, Error> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| malformed("unsupported algorithm (only AWS4-HMAC-SHA256 is accepted)"))?;
    if !rest.starts_with([' ', '\t']) {
        return Err(malformed("unsupported algorithm (only AWS4-HMAC-SHA256 is accepted)"));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim_matches(|c| c == ' ' || c == '\t');
        let (key, val) = part.split_once('=').ok_or_else(|| malformed("expected Key=Value components"))?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed("unknown component (expected Credential, SignedHeaders, Signature)")),
        };
        if slot.replace(val).is_some() {
            return Err(malformed("repeated component"));
        }
    }
    let credential = credential.ok_or_else(|| malformed("missing Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| malformed("missing SignedHeaders"))?;
    let signature = signature.ok_or_else(|| malformed("missing Signature"))?;

    let mut scope = credential.split('/');
    let (Some(access_key), Some(date), Some(region), Some(service), Some(terminator), None) =
        (scope.next(), scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return Err(malformed("Credential must be access-key/date/region/service/aws4_request"));
    };
    let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    // An empty region is what botocore signs with for a client made with `region_name=''`
    // (the Ceph s3-tests' IAM clients); the caller decides whether it accepts one.
    if !(printable(access_key) && (region.is_empty() || printable(region)) && printable(service)) {
        return Err(malformed("empty or non-printable access key or service, or non-printable region, in Credential"));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the Credential date must be YYYYMMDD"));
    }
    if terminator != SCOPE_TERMINATOR {
        return Err(malformed("the Credential scope must end in aws4_request"));
    }

    let names: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if names.iter().any(|n| n.is_empty() || !n.bytes().all(is_header_name_byte)) {
        return Err(malformed("SignedHeaders must be lower-case header names separated by ';'"));
    }
    if names.windows(2).any(|w| w[0] >= w[1]) {
        return Err(malformed("SignedHeaders must be sorted and without duplicates"));
    }

    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(malformed("Signature must be 64 lower-case hex digits"));
    }

    Ok(AuthorizationHeader {
        access_key: access_key.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: names,
        signature: signature.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn parses_and_displays() {
        let v = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature={SIG}"
        );
        let a = parse_authorization(&v).expect("valid");
        assert_eq!(a.access_key, "AKIDEXAMPLE");
        assert_eq!(a.date, "20150830");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.service, "iam");
        assert_eq!(a.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert_eq!(a.signature, SIG);
        assert_eq!(a.scope(), "20150830/us-east-1/iam/aws4_request");
        assert!(a.signs("host") && a.signs("x-amz-date") && !a.signs("date"));
        assert_eq!(a.to_string(), v);
        assert_eq!(v.parse::<AuthorizationHeader>(), Ok(a));
    }

    #[test]
    fn tolerates_spacing_and_order() {
        let v = format!(
            "  AWS4-HMAC-SHA256   Signature={SIG},SignedHeaders=host;x-amz-date,\tCredential=AK/20240101/eu/s3/aws4_request "
        );
        let a = parse_authorization(&v).expect("valid");
        assert_eq!(a.access_key, "AK");
        assert_eq!(a.service, "s3");
    }

    #[test]
    fn rejects_malformed() {
        let good_cred = "Credential=AK/20240101/us-east-1/iam/aws4_request";
        let good_sh = "SignedHeaders=host;x-amz-date";
        let good_sig = format!("Signature={SIG}");
        let cases = [
            String::new(),
            "AWS4-HMAC-SHA256".to_owned(),
            format!("AWS4-HMAC-SHA1 {good_cred}, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256{good_cred}, {good_sh}, {good_sig}"),
            format!("AWS AK:sig {good_cred}"),
            format!("AWS4-HMAC-SHA256 {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sh}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_cred}, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sh}, {good_sig}, Extra=1"),
            format!("AWS4-HMAC-SHA256 {good_cred} {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sh}, {good_sig},"),
            format!("AWS4-HMAC-SHA256 credential=AK/20240101/us-east-1/iam/aws4_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/iam, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/iam/aws4_request/x, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/2024010/us-east-1/iam/aws4_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/2024O101/us-east-1/iam/aws4_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/iam/aws5_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=/20240101/us-east-1/iam/aws4_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20240101/us east/iam/aws4_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=A K/20240101/us-east-1/iam/aws4_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/ïam/aws4_request, {good_sh}, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;;x-amz-date, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=Host;x-amz-date, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=x-amz-date;host, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;host, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=ho st, {good_sig}"),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sh}, Signature="),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sh}, Signature={}", &SIG[1..]),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sh}, Signature={}", SIG.to_uppercase()),
            format!("AWS4-HMAC-SHA256 {good_cred}, {good_sh}, Signature={SIG}0"),
        ];
        for c in &cases {
            assert!(matches!(parse_authorization(c), Err(Error::Malformed(_))), "{c:?}");
        }
        let empty_region = format!("AWS4-HMAC-SHA256 Credential=AK/20240101//iam/aws4_request, {good_sh}, {good_sig}");
        assert_eq!(parse_authorization(&empty_region).map(|a| a.region), Ok(String::new()));
    }
}
