//! The IAM service as the gateway sees it: one small trait, [`IamApi`], implemented in process
//! by `cloudstore-iam` (the embedded default and `cloudstore serve`) and over gRPC when the
//! services run apart. The gateway authenticates (SigV4 via [`IamApi::key_grant`]) and
//! authorizes S3 requests itself; IAM, STS and account REST calls are handed over whole.

use async_trait::async_trait;
pub use cloudstore_policy::{Principal, PrincipalKind};

#[cfg(feature = "grpc")]
pub mod grpc;

/// The platform admin's account id (the `CLOUDSTORE_ROOT_*` key pair acts in it).
pub const ADMIN_ACCOUNT_ID: &str = "000000000000";

/// A policy document that applies to a principal, labelled with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPolicy {
    /// e.g. `user/inline/read-only`, `group/devs/attached/arn:aws:iam::123456789012:policy/S3Read`.
    pub label: String,
    /// The JSON document as stored.
    pub document: String,
}

impl NamedPolicy {
    /// Parses stored identity policies once, for evaluation. A document that no longer parses
    /// grants nothing: it is dropped, with a warning.
    pub fn parse_all(policies: &[NamedPolicy]) -> Vec<(String, cloudstore_policy::Policy)> {
        use cloudstore_policy::{Policy, PolicyKind};
        policies
            .iter()
            .filter_map(|p| match Policy::parse(&p.document, PolicyKind::Identity) {
                Ok(policy) => Some((p.label.clone(), policy)),
                Err(e) => {
                    tracing::warn!(label = %p.label, error = %e, "stored identity policy does not parse; it grants nothing");
                    None
                }
            })
            .collect()
    }
}

/// Who signs with an access key, and what they may do.
#[derive(Clone)]
pub struct KeyGrant {
    /// The secret, for SigV4 verification. Never logged.
    pub secret_key: String,
    pub principal: Principal,
    /// Identity policies (empty for account roots and the admin, who need none).
    pub policies: Vec<NamedPolicy>,
    /// Temporary credentials: hex SHA-256 of the session token the request must carry.
    pub session_token_hash: Option<String>,
    /// Temporary credentials: unix seconds after which they are refused. Expired temporary
    /// credentials still resolve for a while (with this in the past), so that the gateway,
    /// having verified the signature, answers `ExpiredToken` as AWS does: every user of a
    /// grant must check it.
    pub expires_at: Option<i64>,
    /// Presigned URLs signed at or before this time (unix seconds) are refused: their owner
    /// revoked them (the later of the key's and its user's revocations).
    pub presigned_not_before: Option<i64>,
}

impl std::fmt::Debug for KeyGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyGrant")
            .field("principal", &self.principal.arn)
            .field("policies", &self.policies.len())
            .field("temporary", &self.session_token_hash.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An authenticated caller of the IAM or STS API.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The access key the request was signed with.
    pub access_key: String,
    /// The caller's identity policies (from its [`KeyGrant`]).
    pub policies: Vec<NamedPolicy>,
}

/// Facts about the HTTP request, for condition keys, rate limits and events.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure: bool,
}

/// Which Query API a `POST /` with `Action=` belongs to (from the SigV4 credential scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryService {
    Iam,
    Sts,
}

/// A complete HTTP answer produced by the IAM service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// A REST call under `/_api/v1/`, handed over whole. `Debug` shows neither the bearer token
/// nor the body (passwords).
#[derive(Clone)]
pub struct RestRequest {
    pub method: String,
    /// The path after `/_api/v1` (starts with `/`).
    pub path: String,
    pub query: String,
    /// The `Authorization: Bearer` token, if any.
    pub bearer: Option<String>,
    /// Set when the gateway verified a SigV4 signature of the platform admin (admin calls).
    pub admin: bool,
    pub body: Vec<u8>,
    pub meta: RequestMeta,
}

impl std::fmt::Debug for RestRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("admin", &self.admin)
            .field("body_len", &self.body.len())
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// The IAM service could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamApiError {
    /// Unreachable or failing: the gateway answers 503.
    #[error("IAM service unavailable: {0}")]
    Unavailable(String),
}

/// What the gateway asks of the IAM service.
#[async_trait]
pub trait IamApi: Send + Sync + std::fmt::Debug {
    /// Who holds this access key (long-term or temporary), or `None` if it is unknown,
    /// disabled or deleted. Recently expired temporary keys resolve, with
    /// [`KeyGrant::expires_at`] in the past (the caller refuses them: `ExpiredToken`).
    async fn key_grant(&self, access_key: &str) -> Result<Option<KeyGrant>, IamApiError>;
    /// The principal with this ARN and its identity policies (for explanations).
    async fn principal_grant(&self, arn: &str) -> Result<Option<(Principal, Vec<NamedPolicy>)>, IamApiError>;
    /// An IAM or STS Query API call by an authenticated caller; `params` is the decoded form.
    async fn query(
        &self,
        service: QueryService,
        caller: &Caller,
        params: Vec<(String, String)>,
        meta: &RequestMeta,
    ) -> Result<ApiResponse, IamApiError>;
    /// A REST call under `/_api/v1/`.
    async fn rest(&self, req: RestRequest) -> Result<ApiResponse, IamApiError>;
    /// Whether the service and its backends answer.
    async fn ready(&self) -> Result<(), IamApiError>;
}
