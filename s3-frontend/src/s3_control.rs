//! The S3 Control API's account-wide Block Public Access (issue #13 item 4, ADR 0011):
//! `PUT`, `GET` and `DELETE /v20180820/configuration/publicAccessBlock` with the account in
//! `x-amz-account-id`, as `aws s3control put-public-access-block` and the SDKs send them
//! (SigV4, service `s3`). The settings apply to every bucket of the account together with
//! each bucket's own (`crate::public_access`).
//!
//! - Only a caller of that account may call it (the platform admin may for any account), and
//!   only with `s3:PutAccountPublicAccessBlock` (PUT and DELETE, as on AWS) or
//!   `s3:GetAccountPublicAccessBlock` (GET) allowed by its policies on `*`. Anyone else: 403
//!   AccessDenied, recorded as an `access_denied` event.
//! - The SDKs address the API as `{account}.{endpoint host}`: served here whatever the host
//!   (a virtual-hosted bucket's host included), recognised by the path and the header, never
//!   by the host.

use bytes::Bytes;
use cloudstore_iam_api::PrincipalKind;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use s3s::dto::PublicAccessBlockConfiguration;
use s3s::{Body, S3Error, S3ErrorCode, s3_error};

use crate::access::{base_context, decide};
use crate::events::Actor;
use crate::public_access::Block;
use crate::server::{ClientAddr, Frontend};

/// The one path of the API served.
pub const PATH: &str = "/v20180820/configuration/publicAccessBlock";
/// The header naming the account.
const ACCOUNT_HEADER: &str = "x-amz-account-id";
/// The S3 Control namespace of answers.
const NS: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";
/// The largest body read (the configuration is a few hundred bytes).
const MAX_BODY: usize = 16 * 1024;

/// Whether `req` is an S3 Control request served here: the path, with the account header.
#[must_use]
pub fn is_control_request<B>(req: &Request<B>) -> bool {
    req.uri().path() == PATH && req.headers().contains_key(ACCOUNT_HEADER)
}

fn error(e: &S3Error) -> Response<Body> {
    let code = e.code().as_str();
    let message = e.message().unwrap_or(code);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        escape(code),
        escape(message)
    );
    let mut r = Response::new(Body::from(xml));
    *r.status_mut() = e.status_code().unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    r
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn no_configuration() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
        "The public access block configuration was not found".to_owned(),
    );
    e.set_status_code(StatusCode::NOT_FOUND);
    e
}

/// The settings of a `PublicAccessBlockConfiguration` body (missing ones off).
fn parse(body: &[u8]) -> Result<Block, S3Error> {
    let mut d = s3s::xml::Deserializer::new(body);
    let c: PublicAccessBlockConfiguration = s3s::xml::Deserialize::deserialize(&mut d)
        .map_err(|_| s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate"))?;
    Ok(Block {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    })
}

fn render(b: &Block) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PublicAccessBlockConfiguration xmlns=\"{NS}\">\
         <BlockPublicAcls>{}</BlockPublicAcls><IgnorePublicAcls>{}</IgnorePublicAcls>\
         <BlockPublicPolicy>{}</BlockPublicPolicy><RestrictPublicBuckets>{}</RestrictPublicBuckets>\
         </PublicAccessBlockConfiguration>",
        b.block_public_acls, b.ignore_public_acls, b.block_public_policy, b.restrict_public_buckets
    )
}

fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}

impl Frontend {
    /// Serves the S3 Control API's account-wide Block Public Access.
    pub(crate) async fn s3_control(&self, req: Request<Body>) -> Response<Body> {
        match self.s3_control_inner(req).await {
            Ok(r) => r,
            Err(e) => error(&e),
        }
    }

    async fn s3_control_inner(&self, req: Request<Body>) -> Result<Response<Body>, S3Error> {
        let (parts, body) = req.into_parts();
        let body: Bytes = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY))
            .await
            .map_err(|_| s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"))?
            .to_bytes();
        let action = match parts.method {
            Method::PUT | Method::DELETE => "s3:PutAccountPublicAccessBlock",
            Method::GET => "s3:GetAccountPublicAccessBlock",
            _ => return Err(s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource.")),
        };
        let (identity, access_key) =
            self.api.authenticate(&parts, &body, "s3").await.map_err(|(status, code, m)| {
                let mut e = S3Error::with_message(
                    S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or_else(|| S3ErrorCode::Custom(code.into())),
                    m,
                );
                e.set_status_code(StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN));
                e
            })?;
        let account = parts.headers.get(ACCOUNT_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let ip = parts.extensions.get::<ClientAddr>().map(|a| a.0.ip().to_string());
        let ua = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        let context = base_context(identity.principal.kind, ip, ua, None);
        let own_account = identity.principal.kind == PrincipalKind::Admin
            || (!identity.principal.account_id.is_empty() && identity.principal.account_id == account);
        let why = decide(&identity, None, action, "*", &context);
        let actor = Actor::of(&parts.extensions, &parts.headers, Some(&access_key))
            .with_principal(&identity.principal, Some(account.as_str()));
        if !own_account || !why.allowed {
            tracing::info!(
                op = "S3Control",
                action,
                account,
                principal = %identity.principal.arn,
                reason = %if own_account { why.reason.to_string() } else { "another account".to_owned() },
                "access denied"
            );
            if let Some(events) = &self.events {
                let mut e = actor.event(cloudstore_events::EventType::AccessDenied, "", None);
                e.status = Some(403);
                e.detail.insert("action".into(), action.into());
                e.detail.insert("account".into(), account.clone());
                events.record(&e);
            }
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        match parts.method {
            Method::GET => {
                let stored = self
                    .meta
                    .get_account_config(&account, cloudstore_store_api::AccountConfig::PublicAccessBlock)
                    .await
                    .map_err(crate::error::store_error)?;
                let Some(json) = stored else { return Err(no_configuration()) };
                let mut r = Response::new(Body::from(render(&Block::from_stored(&account, &json))));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                Ok(r)
            }
            Method::PUT => {
                let block = parse(&body)?;
                self.gateway.set_account_block(&actor, &account, Some(&block), 200).await?;
                Ok(status(StatusCode::OK))
            }
            _ => {
                self.gateway.set_account_block(&actor, &account, None, 204).await?;
                Ok(status(StatusCode::NO_CONTENT))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_parse_and_render_as_s3_control_writes_them() {
        let body = format!(
            "<PublicAccessBlockConfiguration xmlns=\"{NS}\"><BlockPublicAcls>true</BlockPublicAcls>\
             <RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
        );
        let b = parse(body.as_bytes()).expect("parses");
        assert_eq!(
            b,
            Block {
                block_public_acls: true,
                ignore_public_acls: false,
                block_public_policy: false,
                restrict_public_buckets: true
            }
        );
        assert_eq!(parse(render(&b).as_bytes()).expect("round trip"), b);
        for bad in [
            "",
            "<Other/>",
            "<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>",
        ] {
            assert_eq!(parse(bad.as_bytes()).expect_err(bad).code().as_str(), "MalformedXML", "{bad}");
        }
    }

    #[test]
    fn only_the_path_with_the_account_header_is_ours() {
        let req = |path: &str, header: bool| {
            let mut b = Request::builder().uri(path);
            if header {
                b = b.header(ACCOUNT_HEADER, "123456789012");
            }
            b.body(()).expect("request")
        };
        assert!(is_control_request(&req(PATH, true)));
        assert!(!is_control_request(&req(PATH, false)), "a bucket named v20180820 keeps its key");
        assert!(!is_control_request(&req("/v20180820/configuration/other", true)));
    }
}
