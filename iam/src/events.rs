//! Identity events (ADR 0006): registrations, logins (and failed ones), sessions revoked,
//! profile and password changes, access keys, users, groups, roles and policies, written to the
//! event outbox of the identity database (the metadata database: the gateway's relay publishes
//! them) when [`crate::service::ServiceConfig::events`] is on.
//!
//! A change of the identity database writes its event in its own transaction: the API layer
//! describes who asks and from where in an [`Audit`], the use case adds what only it knows (a
//! new key's id) and hands the rows to the store method that makes the change. Logins, failed
//! logins and revoked sessions change only the session store; their events are appended after
//! ([`IamService::emit`]).

use cloudstore_events::{Event, EventType};
use cloudstore_iam_api::{ADMIN_ACCOUNT_ID, Caller, RequestMeta};
use cloudstore_store_api::OutboxEvent;

use crate::service::IamService;
use crate::store::User;

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// An event of `t` from the request `meta`, by nobody yet.
pub(crate) fn event(t: EventType, meta: &RequestMeta, status: u16) -> Event {
    let mut e = Event::new(t, cloudstore_store_api::sql::now_ms());
    e.source_ip.clone_from(&meta.source_ip);
    e.user_agent.clone_from(&meta.user_agent);
    e.request_id = some(&meta.request_id);
    e.status = Some(status);
    e
}

/// Sets the actor to a user (a session's, or the one logging in).
pub(crate) fn by_user(mut e: Event, u: &User) -> Event {
    e.account_id = some(&u.account_id);
    e.user_id = some(&u.id);
    e.principal_arn = Some(if u.is_root {
        format!("arn:aws:iam::{}:root", u.account_id)
    } else {
        format!("arn:aws:iam::{}:user{}{}", u.account_id, u.path, u.name)
    });
    e
}

/// Sets the actor to the platform admin (its REST calls are signed with the root key pair).
pub(crate) fn by_admin(mut e: Event) -> Event {
    e.principal_arn = Some(format!("arn:aws:iam::{ADMIN_ACCOUNT_ID}:root"));
    e.detail.insert("actor_account".into(), ADMIN_ACCOUNT_ID.to_owned());
    e
}

/// Sets the actor to a signed caller.
pub(crate) fn by_caller(mut e: Event, c: &Caller) -> Event {
    e.account_id = some(&c.principal.account_id);
    e.user_id = some(&c.principal.user_id);
    e.principal_arn = some(&c.principal.arn);
    e.access_key = some(&c.access_key);
    e
}

/// The identity event a change writes in its own transaction, or none.
#[derive(Debug, Clone, Default)]
pub struct Audit(Option<Event>);

impl Audit {
    /// No event: changes nobody asked for through an API (bootstrap, tests).
    #[must_use]
    pub fn none() -> Self {
        Self(None)
    }

    /// The event `e` (its actor and request already set).
    pub(crate) fn of(e: Event) -> Self {
        Self(Some(e))
    }

    /// Adds a detail, if there is an event.
    #[must_use]
    pub(crate) fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        if let Some(e) = &mut self.0 {
            e.detail.insert(key.to_owned(), value.into());
        }
        self
    }

    /// The outbox rows to write with the change: none when events are off.
    pub(crate) fn rows(&self, events_on: bool) -> Vec<OutboxEvent> {
        self.0.iter().filter(|_| events_on).map(outbox_row).collect()
    }
}

fn outbox_row(e: &Event) -> OutboxEvent {
    OutboxEvent { key: e.partition_key(), body: String::from_utf8_lossy(&e.encode()).into_owned() }
}

/// The event of a successful IAM Query API action that changes something, if it is one.
pub(crate) fn of_action(action: &str) -> Option<EventType> {
    Some(match action {
        "CreateAccessKey" => EventType::AccessKeyCreated,
        "DeleteAccessKey" => EventType::AccessKeyDeleted,
        "UpdateAccessKey" | "RevokePresignedUrls" => EventType::AccessKeyUpdated,
        "CreateUser" => EventType::UserCreated,
        "DeleteUser" => EventType::UserDeleted,
        a if a.starts_with("Put") || a.starts_with("Attach") || a.starts_with("Detach") => EventType::PolicyChanged,
        "CreatePolicy" | "DeletePolicy" | "DeleteUserPolicy" | "DeleteGroupPolicy" | "DeleteRolePolicy" => {
            EventType::PolicyChanged
        }
        "CreateGroup" | "DeleteGroup" | "AddUserToGroup" | "RemoveUserFromGroup" | "CreateRole" | "DeleteRole" => {
            EventType::IdentityChanged
        }
        _ => return None,
    })
}

impl IamService {
    /// Whether identity events are written.
    pub(crate) fn events_on(&self) -> bool {
        self.cfg.events
    }

    /// The outbox rows of `audit`, to write with the change it describes.
    pub(crate) fn audit_rows(&self, audit: &Audit) -> Vec<OutboxEvent> {
        audit.rows(self.cfg.events)
    }

    /// Appends events of session-store changes (logins, failed logins, revoked sessions) to
    /// the outbox (when events are on). The change they describe has happened; a failure here
    /// is logged, never turned into a failed request.
    pub(crate) async fn emit(&self, events: Vec<Event>) {
        if !self.cfg.events || events.is_empty() {
            return;
        }
        let rows: Vec<OutboxEvent> = events.iter().map(outbox_row).collect();
        if let Err(e) = self.store.append_events(&rows).await {
            tracing::warn!(error = %e, events = rows.len(), "identity events not written to the outbox");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changing_actions_have_events_and_reads_have_none() {
        assert_eq!(of_action("CreateAccessKey"), Some(EventType::AccessKeyCreated));
        assert_eq!(of_action("DeleteAccessKey"), Some(EventType::AccessKeyDeleted));
        assert_eq!(of_action("PutUserPolicy"), Some(EventType::PolicyChanged));
        assert_eq!(of_action("AttachRolePolicy"), Some(EventType::PolicyChanged));
        assert_eq!(of_action("DeleteGroupPolicy"), Some(EventType::PolicyChanged));
        assert_eq!(of_action("CreateUser"), Some(EventType::UserCreated));
        assert_eq!(of_action("AddUserToGroup"), Some(EventType::IdentityChanged));
        for read in ["GetUser", "ListUsers", "GetPolicy", "ListAttachedUserPolicies", "GetRolePolicy"] {
            assert_eq!(of_action(read), None, "{read}");
        }
    }
}
