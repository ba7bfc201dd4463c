//! Who may call which IAM / STS action: the platform admin everything, an account root
//! everything inside its account, IAM users and assumed roles what their identity policies
//! allow (resource: the ARN of the entity acted on), never anything in another account.

use cloudstore_iam_api::{Caller, NamedPolicy, PrincipalKind};
use cloudstore_policy::{AuthzInput, Context, PolicySource, Request};

use crate::error::{Error, Result};

/// Refuses unless `caller` may perform `action` (e.g. `iam:CreateUser`) on `resource` in
/// `account_id`.
pub fn check(caller: &Caller, account_id: &str, action: &str, resource: &str, context: &Context) -> Result<()> {
    let p = &caller.principal;
    match p.kind {
        PrincipalKind::Admin => return Ok(()),
        PrincipalKind::AccountRoot if p.account_id == account_id => return Ok(()),
        PrincipalKind::User | PrincipalKind::AssumedRole if p.account_id == account_id => {}
        _ => return Err(denied(caller, action, resource)),
    }
    let policies = NamedPolicy::parse_all(&caller.policies);
    let sources: Vec<PolicySource<'_>> =
        policies.iter().map(|(label, policy)| PolicySource { label: label.as_str(), policy }).collect();
    let input = AuthzInput {
        request: Request { principal: p, action, resource, context },
        identity_policies: &sources,
        resource_policy: None,
        resource_owner: Some(account_id),
    };
    if cloudstore_policy::authorize(&input).allowed { Ok(()) } else { Err(denied(caller, action, resource)) }
}

fn denied(caller: &Caller, action: &str, resource: &str) -> Error {
    Error::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource}",
        caller.principal.arn
    ))
}
