//! Conversions between the protocol's messages ([`pb`]) and this crate's types. Encoding never
//! fails; decoding refuses what the Rust types can't hold (a missing principal, an unspecified
//! enum, an HTTP status out of range) with [`ConvertError`].

use super::pb;
use crate::{
    ApiResponse, Caller, KeyGrant, NamedPolicy, Principal, PrincipalKind, QueryService, RequestMeta, RestRequest,
};

/// A message that doesn't decode into the Rust types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed IAM gRPC message: {0}")]
pub struct ConvertError(pub String);

fn missing(what: &str) -> ConvertError {
    ConvertError(format!("{what} is missing"))
}

// ------------------------------------------------------------------------------ principals

impl From<PrincipalKind> for pb::PrincipalKind {
    fn from(k: PrincipalKind) -> Self {
        match k {
            PrincipalKind::Admin => Self::Admin,
            PrincipalKind::AccountRoot => Self::AccountRoot,
            PrincipalKind::User => Self::User,
            PrincipalKind::AssumedRole => Self::AssumedRole,
            PrincipalKind::Anonymous => Self::Anonymous,
            PrincipalKind::Service => Self::Service,
        }
    }
}

impl TryFrom<pb::PrincipalKind> for PrincipalKind {
    type Error = ConvertError;

    fn try_from(k: pb::PrincipalKind) -> Result<Self, ConvertError> {
        Ok(match k {
            pb::PrincipalKind::Admin => Self::Admin,
            pb::PrincipalKind::AccountRoot => Self::AccountRoot,
            pb::PrincipalKind::User => Self::User,
            pb::PrincipalKind::AssumedRole => Self::AssumedRole,
            pb::PrincipalKind::Anonymous => Self::Anonymous,
            pb::PrincipalKind::Service => Self::Service,
            pb::PrincipalKind::Unspecified => return Err(ConvertError("principal kind is unspecified".into())),
        })
    }
}

impl From<&Principal> for pb::Principal {
    fn from(p: &Principal) -> Self {
        Self {
            kind: pb::PrincipalKind::from(p.kind).into(),
            arn: p.arn.clone(),
            account_id: p.account_id.clone(),
            user_id: p.user_id.clone(),
            name: p.name.clone(),
            role_arn: p.role_arn.clone(),
        }
    }
}

impl TryFrom<pb::Principal> for Principal {
    type Error = ConvertError;

    fn try_from(p: pb::Principal) -> Result<Self, ConvertError> {
        let kind = pb::PrincipalKind::try_from(p.kind)
            .map_err(|_| ConvertError(format!("unknown principal kind {}", p.kind)))?
            .try_into()?;
        Ok(Self { kind, arn: p.arn, account_id: p.account_id, user_id: p.user_id, name: p.name, role_arn: p.role_arn })
    }
}

impl From<&NamedPolicy> for pb::NamedPolicy {
    fn from(p: &NamedPolicy) -> Self {
        Self { label: p.label.clone(), document: p.document.clone() }
    }
}

impl From<pb::NamedPolicy> for NamedPolicy {
    fn from(p: pb::NamedPolicy) -> Self {
        Self { label: p.label, document: p.document }
    }
}

/// Encodes a list of policies.
pub(crate) fn policies_to_pb(policies: &[NamedPolicy]) -> Vec<pb::NamedPolicy> {
    policies.iter().map(pb::NamedPolicy::from).collect()
}

/// Decodes a list of policies.
pub(crate) fn policies_from_pb(policies: Vec<pb::NamedPolicy>) -> Vec<NamedPolicy> {
    policies.into_iter().map(NamedPolicy::from).collect()
}

// ------------------------------------------------------------------------------ key grants

impl From<&KeyGrant> for pb::KeyGrant {
    fn from(g: &KeyGrant) -> Self {
        Self {
            secret_key: g.secret_key.clone(),
            principal: Some((&g.principal).into()),
            policies: policies_to_pb(&g.policies),
            session_token_hash: g.session_token_hash.clone(),
            expires_at: g.expires_at,
            presigned_not_before: g.presigned_not_before,
        }
    }
}

impl TryFrom<pb::KeyGrant> for KeyGrant {
    type Error = ConvertError;

    fn try_from(g: pb::KeyGrant) -> Result<Self, ConvertError> {
        Ok(Self {
            secret_key: g.secret_key,
            principal: g.principal.ok_or_else(|| missing("KeyGrant.principal"))?.try_into()?,
            policies: policies_from_pb(g.policies),
            session_token_hash: g.session_token_hash,
            expires_at: g.expires_at,
            presigned_not_before: g.presigned_not_before,
        })
    }
}

impl std::fmt::Debug for pb::KeyGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyGrant")
            .field("principal", &self.principal.as_ref().map(|p| &p.arn))
            .field("policies", &self.policies.len())
            .field("temporary", &self.session_token_hash.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for pb::ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .field("user_id", &self.user_id)
            .field("keep_session", &self.keep_session.is_some())
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for pb::RestRequest {
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

// ------------------------------------------------------------------------------ calls

impl From<&Caller> for pb::Caller {
    fn from(c: &Caller) -> Self {
        Self {
            principal: Some((&c.principal).into()),
            access_key: c.access_key.clone(),
            policies: policies_to_pb(&c.policies),
        }
    }
}

impl TryFrom<pb::Caller> for Caller {
    type Error = ConvertError;

    fn try_from(c: pb::Caller) -> Result<Self, ConvertError> {
        Ok(Self {
            principal: c.principal.ok_or_else(|| missing("Caller.principal"))?.try_into()?,
            access_key: c.access_key,
            policies: policies_from_pb(c.policies),
        })
    }
}

impl From<&RequestMeta> for pb::RequestMeta {
    fn from(m: &RequestMeta) -> Self {
        Self {
            source_ip: m.source_ip.clone(),
            user_agent: m.user_agent.clone(),
            request_id: m.request_id.clone(),
            secure: m.secure,
        }
    }
}

impl From<pb::RequestMeta> for RequestMeta {
    fn from(m: pb::RequestMeta) -> Self {
        Self { source_ip: m.source_ip, user_agent: m.user_agent, request_id: m.request_id, secure: m.secure }
    }
}

/// Decodes an optional request meta (absent: no facts known).
pub(crate) fn meta_from_pb(m: Option<pb::RequestMeta>) -> RequestMeta {
    m.map(RequestMeta::from).unwrap_or_default()
}

impl From<QueryService> for pb::QueryService {
    fn from(s: QueryService) -> Self {
        match s {
            QueryService::Iam => Self::Iam,
            QueryService::Sts => Self::Sts,
        }
    }
}

impl TryFrom<pb::QueryService> for QueryService {
    type Error = ConvertError;

    fn try_from(s: pb::QueryService) -> Result<Self, ConvertError> {
        match s {
            pb::QueryService::Iam => Ok(Self::Iam),
            pb::QueryService::Sts => Ok(Self::Sts),
            pb::QueryService::Unspecified => Err(ConvertError("query service is unspecified".into())),
        }
    }
}

impl pb::QueryRequest {
    /// The message for [`crate::IamApi::query`]'s arguments.
    pub fn from_parts(
        service: QueryService,
        caller: &Caller,
        params: Vec<(String, String)>,
        meta: &RequestMeta,
    ) -> Self {
        Self {
            service: pb::QueryService::from(service).into(),
            caller: Some(caller.into()),
            params: params.into_iter().map(|(name, value)| pb::Param { name, value }).collect(),
            meta: Some(meta.into()),
        }
    }

    /// Back into [`crate::IamApi::query`]'s arguments.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(self) -> Result<(QueryService, Caller, Vec<(String, String)>, RequestMeta), ConvertError> {
        let service = pb::QueryService::try_from(self.service)
            .map_err(|_| ConvertError(format!("unknown query service {}", self.service)))?
            .try_into()?;
        let caller = self.caller.ok_or_else(|| missing("QueryRequest.caller"))?.try_into()?;
        let params = self.params.into_iter().map(|p| (p.name, p.value)).collect();
        Ok((service, caller, params, meta_from_pb(self.meta)))
    }
}

impl From<RestRequest> for pb::RestRequest {
    fn from(r: RestRequest) -> Self {
        Self {
            method: r.method,
            path: r.path,
            query: r.query,
            bearer: r.bearer,
            admin: r.admin,
            body: r.body,
            meta: Some((&r.meta).into()),
        }
    }
}

impl From<pb::RestRequest> for RestRequest {
    fn from(r: pb::RestRequest) -> Self {
        Self {
            method: r.method,
            path: r.path,
            query: r.query,
            bearer: r.bearer,
            admin: r.admin,
            body: r.body,
            meta: meta_from_pb(r.meta),
        }
    }
}

impl From<ApiResponse> for pb::ApiResponse {
    fn from(r: ApiResponse) -> Self {
        Self { status: u32::from(r.status), content_type: r.content_type, body: r.body }
    }
}

impl TryFrom<pb::ApiResponse> for ApiResponse {
    type Error = ConvertError;

    fn try_from(r: pb::ApiResponse) -> Result<Self, ConvertError> {
        let status = u16::try_from(r.status)
            .ok()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| ConvertError(format!("HTTP status {} is out of range", r.status)))?;
        Ok(Self { status, content_type: r.content_type, body: r.body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_session() -> Principal {
        Principal {
            kind: PrincipalKind::AssumedRole,
            arn: "arn:aws:sts::123456789012:assumed-role/ops/s1".into(),
            account_id: "123456789012".into(),
            user_id: "AROAEXAMPLE:s1".into(),
            name: "s1".into(),
            role_arn: Some("arn:aws:iam::123456789012:role/team/ops".into()),
        }
    }

    #[test]
    fn every_principal_kind_round_trips() {
        for kind in [
            PrincipalKind::Admin,
            PrincipalKind::AccountRoot,
            PrincipalKind::User,
            PrincipalKind::AssumedRole,
            PrincipalKind::Anonymous,
            PrincipalKind::Service,
        ] {
            let p = Principal { kind, ..role_session() };
            assert_eq!(Principal::try_from(pb::Principal::from(&p)), Ok(p));
        }
        let unspecified = pb::Principal { kind: 0, ..pb::Principal::from(&role_session()) };
        assert!(Principal::try_from(unspecified).is_err());
        let unknown = pb::Principal { kind: 99, ..pb::Principal::from(&role_session()) };
        assert!(Principal::try_from(unknown).is_err());
    }

    #[test]
    fn key_grants_round_trip_and_hide_their_secret() {
        let g = KeyGrant {
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            principal: role_session(),
            policies: vec![NamedPolicy { label: "role/inline/p".into(), document: "{}".into() }],
            session_token_hash: Some("ab".repeat(32)),
            expires_at: Some(1_700_000_000),
            presigned_not_before: Some(1_699_999_000),
        };
        let wire = pb::KeyGrant::from(&g);
        assert!(!format!("{wire:?}").contains("EXAMPLEKEY"));
        let back = KeyGrant::try_from(wire).expect("decode");
        assert_eq!(back.secret_key, g.secret_key);
        assert_eq!(back.principal, g.principal);
        assert_eq!(back.policies, g.policies);
        assert_eq!(back.session_token_hash, g.session_token_hash);
        assert_eq!(back.expires_at, g.expires_at);
        assert_eq!(back.presigned_not_before, g.presigned_not_before);
        let long_term = KeyGrant { session_token_hash: None, expires_at: None, ..g };
        let back = KeyGrant::try_from(pb::KeyGrant::from(&long_term)).expect("decode");
        assert_eq!((back.session_token_hash, back.expires_at), (None, None));
        assert!(KeyGrant::try_from(pb::KeyGrant { principal: None, ..pb::KeyGrant::default() }).is_err());
    }

    #[test]
    fn query_and_rest_requests_round_trip() {
        let caller = Caller { principal: role_session(), access_key: "ASIAEXAMPLE".into(), policies: vec![] };
        let meta = RequestMeta {
            source_ip: Some("203.0.113.7".into()),
            user_agent: None,
            request_id: "r1".into(),
            secure: true,
        };
        let params = vec![("Action".to_owned(), "ListUsers".to_owned()), ("Action".to_owned(), "x".to_owned())];
        let msg = pb::QueryRequest::from_parts(QueryService::Sts, &caller, params.clone(), &meta);
        let (service, c, p, m) = msg.into_parts().expect("decode");
        assert_eq!(service, QueryService::Sts);
        assert_eq!(c.principal, caller.principal);
        assert_eq!(c.access_key, caller.access_key);
        assert_eq!(p, params);
        assert_eq!((m.source_ip, m.user_agent, m.request_id, m.secure), meta.clone().into_parts());
        assert!(pb::QueryRequest { service: 0, ..pb::QueryRequest::default() }.into_parts().is_err());

        let rest = RestRequest {
            method: "POST".into(),
            path: "/auth/login".into(),
            query: "a=1".into(),
            bearer: Some("bearer-secret".into()),
            admin: true,
            body: b"{\"password\":\"pw-secret\"}".to_vec(),
            meta,
        };
        let wire = pb::RestRequest::from(rest.clone());
        let shown = format!("{wire:?}");
        assert!(!shown.contains("bearer-secret") && !shown.contains("pw-secret"), "{shown}");
        let back = RestRequest::from(wire);
        assert_eq!(
            (back.method, back.path, back.query, back.bearer, back.admin, back.body),
            (rest.method, rest.path, rest.query, rest.bearer, rest.admin, rest.body)
        );
    }

    #[test]
    fn api_responses_check_their_status() {
        let r = ApiResponse { status: 201, content_type: "application/json".into(), body: "{}".into() };
        assert_eq!(ApiResponse::try_from(pb::ApiResponse::from(r.clone())), Ok(r));
        for bad in [0, 99, 600, 70_000] {
            assert!(ApiResponse::try_from(pb::ApiResponse { status: bad, ..pb::ApiResponse::default() }).is_err());
        }
    }

    trait IntoParts {
        fn into_parts(self) -> (Option<String>, Option<String>, String, bool);
    }

    impl IntoParts for RequestMeta {
        fn into_parts(self) -> (Option<String>, Option<String>, String, bool) {
            (self.source_ip, self.user_agent, self.request_id, self.secure)
        }
    }
}
