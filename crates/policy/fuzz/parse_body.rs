//! The body of the `parse` fuzz target, shared with `tests/fuzz_corpus.rs` of the policy crate
//! so that the checked-in corpus also runs under a plain `cargo test`.

use cloudstore_policy::{
    AuthzInput, Context, Policy, PolicyKind, PolicySource, Principal, Request, authorize, evaluate,
};

/// Parses `data` (as UTF-8, invalid sequences replaced) as each kind of policy; whatever parses
/// is evaluated and authorized for a few requests, one of which uses the input itself as
/// action and resource. Must never panic, whatever the input.
pub(crate) fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let head: String = text.chars().take(64).collect();
    let principals = [
        Principal::user("111122223333", "alice", "AIDAALICE"),
        Principal::assumed_role("111122223333", "reader", "s1", "AROAREADER"),
        Principal::account_root("444455556666"),
        Principal::anonymous(),
        Principal::service("logging.s3.amazonaws.com"),
    ];
    let context = Context::new()
        .with("aws:SourceIp", "10.1.2.3")
        .with("aws:SecureTransport", "true")
        .with("aws:CurrentTime", "2024-05-01T12:00:00Z")
        .with_many("aws:TagKeys", ["env", "team"])
        .with("s3:prefix", head.as_str());
    let requests = [("s3:GetObject", "arn:aws:s3:::photos/alice/cat.jpg"), (head.as_str(), head.as_str())];
    for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
        let Ok(policy) = Policy::parse(&text, kind) else {
            continue;
        };
        let sources = [PolicySource { label: "fuzz", policy: &policy }];
        for principal in &principals {
            for (action, resource) in requests {
                let request = Request { principal, action, resource, context: &context };
                let _ = evaluate(&sources, &request);
                let _ = authorize(&AuthzInput {
                    request,
                    identity_policies: &sources,
                    resource_policy: Some(sources[0]),
                    resource_owner: Some("111122223333"),
                });
            }
        }
    }
}
