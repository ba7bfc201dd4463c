//! [`GrpcIam`]: the gateway's [`IamApi`] over gRPC.

use std::time::Duration;

use async_trait::async_trait;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::convert::policies_from_pb;
use super::{AUTHORIZATION, ConvertError, ServiceToken, pb};
use crate::{
    ApiResponse, Caller, IamApi, IamApiError, KeyGrant, NamedPolicy, Principal, QueryService, RequestMeta, RestRequest,
};

/// How long a call (and a connection attempt) may take before it fails as unavailable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds `authorization: Bearer <service token>` to every call. Its `Debug` hides the token.
#[derive(Clone)]
pub struct BearerAuth {
    header: MetadataValue<Ascii>,
}

impl BearerAuth {
    /// The interceptor presenting `token`.
    pub fn new(token: &ServiceToken) -> Self {
        // A ServiceToken is visible ASCII, which a header value can always hold.
        let mut header = MetadataValue::try_from(format!("Bearer {}", token.expose()))
            .unwrap_or_else(|_| MetadataValue::from_static("Bearer -"));
        header.set_sensitive(true);
        Self { header }
    }
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerAuth(<redacted>)")
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert(AUTHORIZATION, self.header.clone());
        Ok(req)
    }
}

/// The generated client on a lazily connecting channel, presenting the service token.
pub type IamGrpcClient = pb::iam_client::IamClient<InterceptedService<Channel, BearerAuth>>;

/// Why the address of the IAM service can't be used.
#[derive(Debug, thiserror::Error)]
pub enum GrpcConfigError {
    /// Not an `http://host:port` URL.
    #[error("CLOUDSTORE_IAM_GRPC {url:?} is not a valid URL (expected http://host:port): {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A client for the IAM service at `url` (`http://host:port`; a bare `host:port` means
/// `http://`). Nothing is connected until the first call; a broken connection is re-made on a
/// later call. Each call (connecting included) fails after `timeout`.
///
/// Must be called inside a Tokio runtime (the channel spawns its worker).
pub fn connect_lazy(url: &str, token: &ServiceToken, timeout: Duration) -> Result<IamGrpcClient, GrpcConfigError> {
    let invalid = |reason: String| GrpcConfigError::InvalidUrl { url: url.to_owned(), reason };
    let full = if url.contains("://") { url.to_owned() } else { format!("http://{url}") };
    if !full.starts_with("http://") {
        return Err(invalid("only http:// is supported (the IAM channel has no TLS)".into()));
    }
    let endpoint = Endpoint::from_shared(full).map_err(|e| invalid(e.to_string()))?;
    if endpoint.uri().host().is_none_or(str::is_empty) || endpoint.uri().port_u16().is_none() {
        return Err(invalid("it needs a host and a port".into()));
    }
    let channel = endpoint.connect_timeout(timeout).timeout(timeout).tcp_nodelay(true).connect_lazy();
    Ok(pb::iam_client::IamClient::with_interceptor(channel, BearerAuth::new(token)))
}

/// The [`IamApiError`] for a failed call.
pub fn status_error(status: &tonic::Status) -> IamApiError {
    match status.code() {
        tonic::Code::Unauthenticated => IamApiError::Unavailable(
            "the IAM service refused the service token (CLOUDSTORE_IAM_SERVICE_TOKEN must be the same on both sides)"
                .into(),
        ),
        code => IamApiError::Unavailable(format!("gRPC {code:?}: {}", status.message())),
    }
}

fn malformed(e: ConvertError) -> IamApiError {
    IamApiError::Unavailable(e.to_string())
}

/// The IAM service reached over gRPC (the standalone `s3-frontend` with `CLOUDSTORE_IAM_GRPC`).
/// Cloning shares the connection.
#[derive(Clone)]
pub struct GrpcIam {
    client: IamGrpcClient,
    url: String,
}

impl std::fmt::Debug for GrpcIam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcIam").field("url", &self.url).finish_non_exhaustive()
    }
}

impl GrpcIam {
    /// A client for `url` with the [`DEFAULT_TIMEOUT`]; see [`connect_lazy`].
    pub fn connect_lazy(url: &str, token: &ServiceToken) -> Result<Self, GrpcConfigError> {
        Self::connect_lazy_with_timeout(url, token, DEFAULT_TIMEOUT)
    }

    /// A client for `url` whose calls fail after `timeout`; see [`connect_lazy`].
    pub fn connect_lazy_with_timeout(
        url: &str,
        token: &ServiceToken,
        timeout: Duration,
    ) -> Result<Self, GrpcConfigError> {
        Ok(Self { client: connect_lazy(url, token, timeout)?, url: url.to_owned() })
    }

    /// The generated client (sharing this one's connection), for the RPCs outside [`IamApi`].
    pub fn client(&self) -> IamGrpcClient {
        self.client.clone()
    }

    /// Where the service is.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl IamApi for GrpcIam {
    async fn key_grant(&self, access_key: &str) -> Result<Option<KeyGrant>, IamApiError> {
        let req = pb::KeyGrantRequest { access_key: access_key.to_owned() };
        let res = self.client().key_grant(req).await.map_err(|s| status_error(&s))?.into_inner();
        res.grant.map(KeyGrant::try_from).transpose().map_err(malformed)
    }

    async fn principal_grant(&self, arn: &str) -> Result<Option<(Principal, Vec<NamedPolicy>)>, IamApiError> {
        let req = pb::PrincipalGrantRequest { arn: arn.to_owned() };
        let res = self.client().principal_grant(req).await.map_err(|s| status_error(&s))?.into_inner();
        match res.principal {
            None => Ok(None),
            Some(p) => Ok(Some((Principal::try_from(p).map_err(malformed)?, policies_from_pb(res.policies)))),
        }
    }

    async fn query(
        &self,
        service: QueryService,
        caller: &Caller,
        params: Vec<(String, String)>,
        meta: &RequestMeta,
    ) -> Result<ApiResponse, IamApiError> {
        let req = pb::QueryRequest::from_parts(service, caller, params, meta);
        let res = self.client().query(req).await.map_err(|s| status_error(&s))?.into_inner();
        ApiResponse::try_from(res).map_err(malformed)
    }

    async fn rest(&self, req: RestRequest) -> Result<ApiResponse, IamApiError> {
        let res = self.client().rest(pb::RestRequest::from(req)).await.map_err(|s| status_error(&s))?.into_inner();
        ApiResponse::try_from(res).map_err(malformed)
    }

    async fn ready(&self) -> Result<(), IamApiError> {
        self.client().ready(pb::ReadyRequest {}).await.map_err(|s| status_error(&s))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> ServiceToken {
        ServiceToken::new("0123456789abcdef0123").expect("token")
    }

    #[tokio::test]
    async fn urls_are_checked_before_anything_connects() {
        for ok in ["http://127.0.0.1:50051", "127.0.0.1:50051", "http://iam:50051", "http://[::1]:1"] {
            assert!(GrpcIam::connect_lazy(ok, &token()).is_ok(), "{ok}");
        }
        for bad in ["https://iam:50051", "http://iam", "http://:50051", "not a url", "ftp://iam:1"] {
            assert!(GrpcIam::connect_lazy(bad, &token()).is_err(), "{bad}");
        }
        let iam = GrpcIam::connect_lazy("http://127.0.0.1:50051", &token()).expect("lazy");
        assert!(!format!("{iam:?}").contains("0123456789abcdef"));
        assert!(!format!("{:?}", BearerAuth::new(&token())).contains("0123456789abcdef"));
    }

    #[tokio::test]
    async fn an_unreachable_service_is_unavailable() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let iam = GrpcIam::connect_lazy_with_timeout(&format!("http://127.0.0.1:{port}"), &token(), DEFAULT_TIMEOUT)
            .expect("lazy");
        assert!(matches!(iam.ready().await, Err(IamApiError::Unavailable(_))));
        assert!(matches!(iam.key_grant("AKIAEXAMPLE").await, Err(IamApiError::Unavailable(_))));
    }
}
