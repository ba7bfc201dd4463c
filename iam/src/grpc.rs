//! The IAM service over gRPC (`crates/iam-api/proto/iam.proto`): the server the standalone
//! `iam` binary runs ([`serve`], [`service`]), and [`GrpcPasswordAuthority`], the profile side's
//! client for password changes.
//!
//! Every RPC must carry `authorization: Bearer <service token>`; [`TokenCheck`] compares it in
//! constant time (SHA-256 of both, then `subtle`) and answers `UNAUTHENTICATED` otherwise,
//! before the call reaches the service.

use std::future::Future;

use async_trait::async_trait;
use cloudstore_iam_api::grpc::pb::change_password_response::Outcome;
use cloudstore_iam_api::grpc::{
    AUTHORIZATION, GrpcConfigError, GrpcIam, IamGrpcClient, ServiceToken, connect_lazy, pb, status_error,
};
use cloudstore_iam_api::{ApiResponse, IamApi, IamApiError, KeyGrant, RequestMeta, RestRequest};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::api::InProcessIam;
use crate::error::{Error, Result};
use crate::service::{IamService, PasswordAuthority};

/// Refuses calls that don't present the service token. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct TokenCheck {
    digest: [u8; 32],
}

impl TokenCheck {
    /// A check for `token`.
    pub fn new(token: &ServiceToken) -> Self {
        Self { digest: Sha256::digest(token.expose().as_bytes()).into() }
    }

    /// Whether `authorization` (the metadata value) presents the token.
    pub fn accepts(&self, authorization: Option<&str>) -> bool {
        let presented = authorization.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest[..].ct_eq(&self.digest[..])) && !presented.is_empty()
    }
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck(<redacted>)")
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, req: Request<()>) -> std::result::Result<Request<()>, Status> {
        let value = req.metadata().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        if self.accepts(value) {
            Ok(req)
        } else {
            tracing::warn!(peer = ?req.remote_addr(), "gRPC call with a missing or wrong service token refused");
            Err(Status::unauthenticated("missing or wrong service token"))
        }
    }
}

/// The gRPC service over the in-process IAM service.
#[derive(Debug, Clone)]
pub struct IamGrpcService {
    iam: InProcessIam,
}

impl IamGrpcService {
    /// Serves `iam`.
    pub fn new(iam: InProcessIam) -> Self {
        Self { iam }
    }
}

/// The complete gRPC service: the token check in front of [`IamGrpcService`].
pub type IamGrpcServer = InterceptedService<pb::iam_server::IamServer<IamGrpcService>, TokenCheck>;

/// The service `iam` serves, for `token`.
pub fn service(iam: InProcessIam, token: &ServiceToken) -> IamGrpcServer {
    pb::iam_server::IamServer::with_interceptor(IamGrpcService::new(iam), TokenCheck::new(token))
}

/// Serves the IAM service on `listener` until `shutdown` completes, then lets calls in flight
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    iam: InProcessIam,
    token: &ServiceToken,
    shutdown: impl Future<Output = ()>,
) -> std::result::Result<(), tonic::transport::Error> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder().serve_with_incoming_shutdown(service(iam, token), incoming, shutdown).await
}

fn unavailable(e: IamApiError) -> Status {
    let IamApiError::Unavailable(message) = e;
    tracing::warn!(error = %message, "IAM service unavailable");
    Status::unavailable(message)
}

fn invalid(e: cloudstore_iam_api::grpc::ConvertError) -> Status {
    Status::invalid_argument(e.to_string())
}

#[async_trait]
impl pb::iam_server::Iam for IamGrpcService {
    async fn key_grant(
        &self,
        request: Request<pb::KeyGrantRequest>,
    ) -> std::result::Result<Response<pb::KeyGrantResponse>, Status> {
        let grant: Option<KeyGrant> =
            self.iam.key_grant(&request.into_inner().access_key).await.map_err(unavailable)?;
        Ok(Response::new(pb::KeyGrantResponse { grant: grant.as_ref().map(pb::KeyGrant::from) }))
    }

    async fn principal_grant(
        &self,
        request: Request<pb::PrincipalGrantRequest>,
    ) -> std::result::Result<Response<pb::PrincipalGrantResponse>, Status> {
        let found = self.iam.principal_grant(&request.into_inner().arn).await.map_err(unavailable)?;
        Ok(Response::new(match found {
            Some((principal, policies)) => pb::PrincipalGrantResponse {
                principal: Some((&principal).into()),
                policies: policies.iter().map(pb::NamedPolicy::from).collect(),
            },
            None => pb::PrincipalGrantResponse::default(),
        }))
    }

    async fn query(
        &self,
        request: Request<pb::QueryRequest>,
    ) -> std::result::Result<Response<pb::ApiResponse>, Status> {
        let (service, caller, params, meta) = request.into_inner().into_parts().map_err(invalid)?;
        let res: ApiResponse = self.iam.query(service, &caller, params, &meta).await.map_err(unavailable)?;
        Ok(Response::new(res.into()))
    }

    async fn rest(&self, request: Request<pb::RestRequest>) -> std::result::Result<Response<pb::ApiResponse>, Status> {
        let res = self.iam.rest(RestRequest::from(request.into_inner())).await.map_err(unavailable)?;
        Ok(Response::new(res.into()))
    }

    async fn ready(
        &self,
        _request: Request<pb::ReadyRequest>,
    ) -> std::result::Result<Response<pb::ReadyResponse>, Status> {
        self.iam.ready().await.map_err(unavailable)?;
        Ok(Response::new(pb::ReadyResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> std::result::Result<Response<pb::ChangePasswordResponse>, Status> {
        let r = request.into_inner();
        let meta = r.meta.map(RequestMeta::from).unwrap_or_default();
        // This process is the auth side: the service's own implementation, never a remote one.
        let here: &IamService = self.iam.service();
        let outcome = match PasswordAuthority::change_password(
            here,
            &r.user_id,
            r.keep_session.as_deref(),
            &r.old_password,
            &r.new_password,
            &meta,
        )
        .await
        {
            Ok(revoked) => Outcome::Revoked(revoked),
            Err(e) => Outcome::Error(error_to_pb(&e)),
        };
        Ok(Response::new(pb::ChangePasswordResponse { outcome: Some(outcome) }))
    }
}

/// An [`Error`] as the protocol carries it.
pub fn error_to_pb(e: &Error) -> pb::ServiceError {
    let (kind, message) = match e {
        Error::NoSuchEntity(m) => ("NoSuchEntity", m),
        Error::EntityAlreadyExists(m) => ("EntityAlreadyExists", m),
        Error::DeleteConflict(m) => ("DeleteConflict", m),
        Error::LimitExceeded(m) => ("LimitExceeded", m),
        Error::MalformedPolicyDocument(m) => ("MalformedPolicyDocument", m),
        Error::InvalidInput(m) => ("InvalidInput", m),
        Error::ValidationError(m) => ("ValidationError", m),
        Error::AccessDenied(m) => ("AccessDenied", m),
        Error::Unauthenticated(m) => ("Unauthenticated", m),
        Error::InvalidAction(m) => ("InvalidAction", m),
        Error::ExpiredToken(m) => ("ExpiredToken", m),
        Error::Unavailable(m) => ("Unavailable", m),
        Error::Internal(m) => ("Internal", m),
        Error::RateLimited { retry_after_secs } => {
            return pb::ServiceError {
                kind: "RateLimited".into(),
                message: e.to_string(),
                retry_after_secs: *retry_after_secs,
            };
        }
    };
    pb::ServiceError { kind: kind.into(), message: message.clone(), retry_after_secs: 0 }
}

/// The [`Error`] a [`pb::ServiceError`] carries (an unknown kind is an internal error).
pub fn error_from_pb(e: pb::ServiceError) -> Error {
    let m = e.message;
    match e.kind.as_str() {
        "NoSuchEntity" => Error::NoSuchEntity(m),
        "EntityAlreadyExists" => Error::EntityAlreadyExists(m),
        "DeleteConflict" => Error::DeleteConflict(m),
        "LimitExceeded" => Error::LimitExceeded(m),
        "MalformedPolicyDocument" => Error::MalformedPolicyDocument(m),
        "InvalidInput" => Error::InvalidInput(m),
        "ValidationError" => Error::ValidationError(m),
        "AccessDenied" => Error::AccessDenied(m),
        "Unauthenticated" => Error::Unauthenticated(m),
        "InvalidAction" => Error::InvalidAction(m),
        "ExpiredToken" => Error::ExpiredToken(m),
        "Unavailable" => Error::Unavailable(m),
        "Internal" => Error::Internal(m),
        "RateLimited" => Error::RateLimited { retry_after_secs: e.retry_after_secs },
        other => Error::Internal(format!("the auth service answered an unknown error {other:?}: {m}")),
    }
}

/// The auth side of password changes reached over gRPC (the `ChangePassword` RPC), for a
/// profile side running in another process. Give it to
/// [`IamService::with_password_authority`].
#[derive(Clone)]
pub struct GrpcPasswordAuthority {
    client: IamGrpcClient,
    url: String,
}

impl std::fmt::Debug for GrpcPasswordAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcPasswordAuthority").field("url", &self.url).finish_non_exhaustive()
    }
}

impl GrpcPasswordAuthority {
    /// A client for the auth side at `url` (see [`cloudstore_iam_api::grpc::connect_lazy`]).
    pub fn connect_lazy(url: &str, token: &ServiceToken) -> std::result::Result<Self, GrpcConfigError> {
        let client = connect_lazy(url, token, cloudstore_iam_api::grpc::DEFAULT_TIMEOUT)?;
        Ok(Self { client, url: url.to_owned() })
    }

    /// Shares the connection of a gateway client.
    pub fn from_grpc_iam(iam: &GrpcIam) -> Self {
        Self { client: iam.client(), url: iam.url().to_owned() }
    }
}

#[async_trait]
impl PasswordAuthority for GrpcPasswordAuthority {
    async fn change_password(
        &self,
        user_id: &str,
        keep_session: Option<&str>,
        old_password: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let req = pb::ChangePasswordRequest {
            user_id: user_id.to_owned(),
            keep_session: keep_session.map(str::to_owned),
            old_password: old_password.to_owned(),
            new_password: new_password.to_owned(),
            meta: Some(meta.into()),
        };
        let res = self.client.clone().change_password(req).await.map_err(|s| {
            let IamApiError::Unavailable(m) = status_error(&s);
            Error::Unavailable(format!("auth service: {m}"))
        })?;
        match res.into_inner().outcome {
            Some(Outcome::Revoked(n)) => Ok(n),
            Some(Outcome::Error(e)) => Err(error_from_pb(e)),
            None => Err(Error::Internal("the auth service answered neither a result nor an error".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_wire() {
        let all = [
            Error::NoSuchEntity("a".into()),
            Error::EntityAlreadyExists("b".into()),
            Error::DeleteConflict("c".into()),
            Error::LimitExceeded("d".into()),
            Error::MalformedPolicyDocument("e".into()),
            Error::InvalidInput("f".into()),
            Error::ValidationError("g".into()),
            Error::AccessDenied("h".into()),
            Error::Unauthenticated("i".into()),
            Error::RateLimited { retry_after_secs: 42 },
            Error::InvalidAction("j".into()),
            Error::ExpiredToken("k".into()),
            Error::Unavailable("l".into()),
            Error::Internal("m".into()),
        ];
        for e in all {
            assert_eq!(error_from_pb(error_to_pb(&e)), e);
        }
        let unknown = pb::ServiceError { kind: "Martian".into(), message: "x".into(), retry_after_secs: 0 };
        assert!(matches!(error_from_pb(unknown), Error::Internal(_)));
    }

    #[test]
    fn the_token_check_wants_exactly_the_token() {
        let check = TokenCheck::new(&ServiceToken::new("0123456789abcdef-token").expect("token"));
        assert!(check.accepts(Some("Bearer 0123456789abcdef-token")));
        for bad in [
            None,
            Some(""),
            Some("Bearer "),
            Some("0123456789abcdef-token"),
            Some("Bearer 0123456789abcdef-toke"),
            Some("Bearer 0123456789abcdef-token "),
            Some("Basic 0123456789abcdef-token"),
        ] {
            assert!(!check.accepts(bad), "{bad:?}");
        }
        assert!(!format!("{check:?}").contains("0123"));
    }
}
