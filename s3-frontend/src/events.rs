//! The gateway's events (ADR 0006): who did what, to what, from where, in which request.
//! Changes put their events in the metadata transaction that makes them (the store methods
//! take them); downloads and denials go through the [`EventBuffer`], batched into the outbox.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cloudstore_events::{Event, EventType};
use cloudstore_outbox::{EventBuffer, OutboxMetrics};
use cloudstore_store_api::OutboxEvent;
use http::HeaderMap;

use crate::access::Authorized;
use crate::server::ClientAddr;

/// The request id of a request, put in its extensions by the server.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The events side of the gateway: on, with its buffer and counters, or off.
#[derive(Debug, Clone)]
pub struct Events {
    buffer: EventBuffer,
    metrics: Arc<OutboxMetrics>,
}

impl Events {
    #[must_use]
    pub fn new(buffer: EventBuffer, metrics: Arc<OutboxMetrics>) -> Self {
        Self { buffer, metrics }
    }

    /// Queues an event that describes no state change (a download, a denial).
    pub fn record(&self, event: &Event) {
        self.buffer.push(to_outbox(event));
    }

    /// Counts events committed with a change.
    pub fn committed(&self, n: usize) {
        self.metrics.produced.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// An event as an outbox row.
#[must_use]
pub fn to_outbox(event: &Event) -> OutboxEvent {
    OutboxEvent { key: event.partition_key(), body: String::from_utf8_lossy(&event.encode()).into_owned() }
}

/// Who made a request and from where: what every event of the request carries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Actor {
    /// The account the events belong to (the bucket owner's, else the caller's).
    account_id: Option<String>,
    /// The caller's own account.
    actor_account: Option<String>,
    user_id: Option<String>,
    access_key: Option<String>,
    principal_arn: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl Actor {
    /// The actor of a request, from what the server and access control put in its extensions.
    /// The events belong to the account that owns the bucket the request touched (so an owner
    /// sees who used its data, strangers included); without a bucket, to the caller's account.
    pub(crate) fn of(extensions: &http::Extensions, headers: &HeaderMap, access_key: Option<&str>) -> Self {
        let authorized = extensions.get::<Authorized>();
        let principal = authorized.map(|a| &a.identity.principal);
        let owner = authorized.and_then(|a| a.bucket.as_ref()).map(|b| b.owner.as_str());
        Self {
            account_id: owner.and_then(some).or_else(|| principal.and_then(|p| some(&p.account_id))),
            actor_account: principal.and_then(|p| some(&p.account_id)),
            user_id: principal.and_then(|p| some(&p.user_id)),
            access_key: access_key.and_then(some),
            principal_arn: principal.and_then(|p| some(&p.arn)),
            source_ip: extensions.get::<ClientAddr>().map(|a| a.0.ip().to_string()),
            user_agent: headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).and_then(some),
            request_id: extensions.get::<RequestId>().map(|r| r.0.clone()),
        }
    }

    /// Sets the principal fields of an identity (for denials: no `Authorized` exists yet) and
    /// the account the event belongs to: the bucket's owner when there is one.
    pub(crate) fn with_principal(mut self, p: &cloudstore_policy::Principal, bucket_owner: Option<&str>) -> Self {
        self.actor_account = some(&p.account_id);
        self.account_id = bucket_owner.and_then(some).or_else(|| some(&p.account_id));
        self.user_id = some(&p.user_id);
        self.principal_arn = some(&p.arn);
        self
    }

    /// A new event by this actor, now.
    pub(crate) fn event(&self, event_type: EventType, bucket: &str, key: Option<&str>) -> Event {
        let mut e = Event::new(event_type, cloudstore_store_api::sql::now_ms());
        e.account_id.clone_from(&self.account_id);
        e.user_id.clone_from(&self.user_id);
        e.access_key.clone_from(&self.access_key);
        e.principal_arn.clone_from(&self.principal_arn);
        e.source_ip.clone_from(&self.source_ip);
        e.user_agent.clone_from(&self.user_agent);
        e.request_id.clone_from(&self.request_id);
        if self.actor_account.is_some() && self.actor_account != self.account_id {
            e.detail.insert("actor_account".into(), self.actor_account.clone().unwrap_or_default());
        }
        e.bucket = some(bucket);
        e.object_key = key.map(str::to_owned);
        e
    }
}

/// An event with the object's size and ETag, and a status.
pub(crate) fn with_object(mut e: Event, bytes: u64, etag: &str, status: u16) -> Event {
    e.bytes = Some(bytes);
    e.etag = some(etag);
    e.status = Some(status);
    e
}
