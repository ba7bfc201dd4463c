//! How the IAM service is reached: [`InProcessIam`] implements the gateway's
//! [`IamApi`] directly on an [`IamService`]; [`rest`] serves `/_api/v1/`, [`query`] the IAM
//! Query API and [`sts`] STS.

pub mod query;
pub mod rest;
pub mod sts;
mod xml;

use async_trait::async_trait;
use cloudstore_iam_api::{
    ApiResponse, Caller, IamApi, IamApiError, KeyGrant, NamedPolicy, Principal, QueryService, RequestMeta, RestRequest,
};

use crate::error::Error;
use crate::service::IamService;

/// The IAM service called in process (`cloudstore serve`, tests, and the gRPC server's inner
/// side).
#[derive(Debug, Clone)]
pub struct InProcessIam {
    svc: IamService,
}

impl InProcessIam {
    /// Wraps a service.
    pub fn new(svc: IamService) -> Self {
        Self { svc }
    }

    /// The wrapped service.
    pub fn service(&self) -> &IamService {
        &self.svc
    }
}

fn unavailable(e: Error) -> IamApiError {
    IamApiError::Unavailable(e.to_string())
}

#[async_trait]
impl IamApi for InProcessIam {
    async fn key_grant(&self, access_key: &str) -> Result<Option<KeyGrant>, IamApiError> {
        self.svc.key_grant(access_key).await.map_err(unavailable)
    }

    async fn principal_grant(&self, arn: &str) -> Result<Option<(Principal, Vec<NamedPolicy>)>, IamApiError> {
        self.svc.principal_by_arn(arn).await.map_err(unavailable)
    }

    async fn query(
        &self,
        service: QueryService,
        caller: &Caller,
        params: Vec<(String, String)>,
        meta: &RequestMeta,
    ) -> Result<ApiResponse, IamApiError> {
        Ok(match service {
            QueryService::Iam => query::handle(&self.svc, caller, params, meta).await,
            QueryService::Sts => sts::handle(&self.svc, caller, params, meta).await,
        })
    }

    async fn rest(&self, req: RestRequest) -> Result<ApiResponse, IamApiError> {
        Ok(rest::handle(&self.svc, req).await)
    }

    async fn ready(&self) -> Result<(), IamApiError> {
        self.svc.ready().await.map_err(unavailable)
    }
}
