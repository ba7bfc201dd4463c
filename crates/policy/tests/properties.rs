//! Property tests: deny is final, order does not matter, nothing means no, parsing never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unreachable_pub)]

use cloudstore_policy::{
    Authorization, AuthzInput, Context, Decision, Policy, PolicyKind, PolicySource, Principal, PrincipalKind, Reason,
    Request, authorize, evaluate,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Number, Value, json};

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";

const ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "iam:CreateUser"];
const RESOURCES: &[&str] =
    &["arn:aws:s3:::photos/cat.jpg", "arn:aws:s3:::photos", "arn:aws:s3:::other/x", "arn:aws:s3:::alice/notes"];
const ACTION_PATTERNS: &[&str] =
    &["*", "s3:*", "s3:Get*", "s3:GetObject", "s3:PutObject", "s3:?etObject", "iam:*", "s3:Delete*", "s3:List*"];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::photos/*",
    "arn:aws:s3:::photos",
    "arn:aws:s3:::other/*",
    "arn:aws:s3:::ph?tos/*",
    "arn:aws:s3:::${aws:username}/*",
];

fn principals() -> Vec<Principal> {
    vec![
        Principal::user(OWNER, "alice", "AIDAALICE"),
        Principal::user(OTHER, "eve", "AIDAEVE"),
        Principal::account_root(OWNER),
        Principal::account_root(OTHER),
        Principal::assumed_role(OWNER, "reader", "s1", "AROAREADER"),
        Principal::anonymous(),
        Principal::service("logging.s3.amazonaws.com"),
    ]
}

fn contexts() -> Vec<Context> {
    vec![
        Context::new(),
        Context::new().with("aws:SourceIp", "10.0.0.1").with("aws:SecureTransport", "true"),
        Context::new().with("aws:SourceIp", "192.168.1.1").with("aws:SecureTransport", "false"),
    ]
}

/// Indices into `principals()`, `ACTIONS`, `RESOURCES`, `contexts()`.
#[derive(Debug, Clone, Copy)]
struct Req {
    principal: usize,
    action: usize,
    resource: usize,
    context: usize,
}

fn req_strategy() -> impl Strategy<Value = Req> {
    (0..7usize, 0..ACTIONS.len(), 0..RESOURCES.len(), 0..3usize)
        .prop_map(|(principal, action, resource, context)| Req { principal, action, resource, context })
}

fn list(pool: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::sample::subsequence(pool, 1..=3).prop_map(|v| json!(v))
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        1 => Just(Some(json!({"Bool": {"aws:SecureTransport": "false"}}))),
        1 => Just(Some(json!({"StringEquals": {"aws:PrincipalAccount": OWNER}}))),
        1 => Just(Some(json!({"StringNotEqualsIfExists": {"aws:username": "alice"}}))),
        1 => Just(Some(json!({"Null": {"aws:SourceIp": "true"}}))),
    ]
}

fn principal_element() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        Just(("Principal", json!("*"))),
        Just(("Principal", json!({"AWS": "*"}))),
        Just(("Principal", json!({"AWS": OWNER}))),
        Just(("Principal", json!({"AWS": OTHER}))),
        Just(("Principal", json!({"AWS": format!("arn:aws:iam::{OWNER}:user/alice")}))),
        Just(("Principal", json!({"AWS": format!("arn:aws:iam::{OWNER}:role/reader")}))),
        Just(("Principal", json!({"Service": "logging.s3.amazonaws.com"}))),
        Just(("NotPrincipal", json!({"AWS": format!("arn:aws:iam::{OTHER}:user/eve")}))),
    ]
}

/// A statement; with `principal`, one for a bucket policy.
fn statement(effect: impl Strategy<Value = &'static str>, principal: bool) -> impl Strategy<Value = Value> {
    (
        effect,
        any::<bool>(),
        list(ACTION_PATTERNS),
        any::<bool>(),
        list(RESOURCE_PATTERNS),
        condition(),
        principal_element(),
    )
        .prop_map(move |(effect, not_action, actions, not_resource, resources, condition, (pkey, pval))| {
            let mut s = Map::new();
            s.insert("Effect".into(), json!(effect));
            s.insert(if not_action { "NotAction" } else { "Action" }.into(), actions);
            s.insert(if not_resource { "NotResource" } else { "Resource" }.into(), resources);
            if let Some(c) = condition {
                s.insert("Condition".into(), c);
            }
            if principal {
                s.insert(pkey.into(), pval);
            }
            Value::Object(s)
        })
}

fn any_effect() -> impl Strategy<Value = &'static str> {
    select(&["Allow", "Deny"][..])
}

fn parse(kind: PolicyKind, statements: &[Value]) -> Option<Policy> {
    if statements.is_empty() {
        return None;
    }
    let doc = json!({"Version": "2012-10-17", "Statement": statements});
    Some(Policy::parse(&doc.to_string(), kind).expect("generated policies are valid"))
}

struct World {
    principals: Vec<Principal>,
    contexts: Vec<Context>,
}

impl World {
    fn new() -> Self {
        Self { principals: principals(), contexts: contexts() }
    }

    fn request(&self, r: Req) -> Request<'_> {
        Request {
            principal: &self.principals[r.principal],
            action: ACTIONS[r.action],
            resource: RESOURCES[r.resource],
            context: &self.contexts[r.context],
        }
    }

    fn authorize(&self, r: Req, identity: &[&Policy], bucket: Option<&Policy>) -> Authorization {
        let labels = ["id0", "id1", "id2", "id3", "id4", "id5", "id6", "id7", "id8", "id9"];
        let sources: Vec<PolicySource<'_>> = identity
            .iter()
            .enumerate()
            .map(|(i, p)| PolicySource { label: labels[i % labels.len()], policy: p })
            .collect();
        authorize(&AuthzInput {
            request: self.request(r),
            identity_policies: &sources,
            resource_policy: bucket.map(|p| PolicySource { label: "bucket", policy: p }),
            resource_owner: Some(OWNER),
        })
    }
}

/// A Deny statement that certainly matches `r` (for bucket policies it names everyone).
fn matching_deny(r: Req, for_bucket: bool) -> impl Strategy<Value = Value> {
    let action = ACTIONS[r.action];
    let service = action.split(':').next().unwrap_or("s3");
    let actions = vec![json!(action), json!("*"), json!(format!("{service}:*"))];
    let resources = vec![json!(RESOURCES[r.resource]), json!("*")];
    // conditions that hold in every context
    let conditions = vec![
        None,
        Some(json!({"StringNotEqualsIfExists": {"aws:SourceIp": "1.1.1.1"}, "Null": {"aws:PrincipalType": "false"}})),
        Some(json!({"ForAllValues:StringEquals": {"no:such-key": "x"}})),
    ];
    (select(actions), select(resources), select(conditions)).prop_map(move |(a, res, cond)| {
        let mut s = json!({"Sid": "TheDeny", "Effect": "Deny", "Action": a, "Resource": res});
        if let Some(c) = cond {
            s["Condition"] = c;
        }
        if for_bucket {
            s["Principal"] = json!("*");
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// (1) A matching explicit Deny is never overridden, whatever Allow statements are added,
    /// wherever the Deny is placed.
    #[test]
    fn explicit_deny_is_never_overridden(
        (r, deny, in_bucket, identity_allows, bucket_allows, pos) in req_strategy().prop_flat_map(|r| {
            // the anonymous caller and services have no identity policies: their deny goes in the bucket policy
            let bucket_only = r.principal >= 5;
            let in_bucket = if bucket_only { Just(true).boxed() } else { any::<bool>().boxed() };
            in_bucket.prop_flat_map(move |in_bucket| (
                Just(r),
                matching_deny(r, in_bucket),
                Just(in_bucket),
                prop::collection::vec(statement(Just("Allow"), false), 0..8),
                prop::collection::vec(statement(Just("Allow"), true), 0..6),
                any::<prop::sample::Index>(),
            ))
        })
    ) {
        let world = World::new();
        let mut identity_allows = identity_allows;
        let mut bucket_allows = bucket_allows;
        if in_bucket {
            let at = pos.index(bucket_allows.len() + 1);
            bucket_allows.insert(at, deny);
        } else {
            let at = pos.index(identity_allows.len() + 1);
            identity_allows.insert(at, deny);
        }
        let identity = parse(PolicyKind::Identity, &identity_allows);
        let bucket = parse(PolicyKind::Resource, &bucket_allows);
        let mut sources = Vec::new();
        if let Some(p) = &identity { sources.push(PolicySource { label: "identity", policy: p }); }
        if let Some(p) = &bucket { sources.push(PolicySource { label: "bucket", policy: p }); }
        let decision = evaluate(&sources, &world.request(r));
        let Decision::ExplicitDeny(s) = &decision else {
            return Err(TestCaseError::fail(format!("expected a deny, got {decision:?}")));
        };
        prop_assert_eq!(s.sid.as_deref(), Some("TheDeny"));
        let a = world.authorize(r, identity.as_slice().iter().collect::<Vec<_>>().as_slice(), bucket.as_ref());
        prop_assert!(!a.allowed, "{}", a);
        prop_assert_eq!(a.reason, Reason::ExplicitDeny);
    }

    /// (2) Shuffling statements between and within policies, and the order of the policies,
    /// changes neither the verdict nor the reason.
    #[test]
    fn evaluation_is_order_independent(
        (r, stmts, owners, bucket_stmts, perm, bucket_perm, ctx_perm) in (
            req_strategy(),
            prop::collection::vec(statement(any_effect(), false), 1..10),
            prop::collection::vec(statement(any_effect(), true), 0..6),
        ).prop_flat_map(|(r, stmts, bucket_stmts)| {
            let n = stmts.len();
            let m = bucket_stmts.len();
            (
                Just(r),
                Just(stmts),
                prop::collection::vec(0..3usize, n),
                Just(bucket_stmts),
                Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
                Just((0..m).collect::<Vec<_>>()).prop_shuffle(),
                Just(vec![0usize, 1, 2]).prop_shuffle(),
            )
        })
    ) {
        let world = World::new();
        // original: statement i goes to policy owners[i]
        let group = |order: &[usize], policy_order: &[usize]| -> Vec<Policy> {
            policy_order.iter().filter_map(|&k| {
                let chosen: Vec<Value> = order.iter().filter(|&&i| owners[i] == k).map(|&i| stmts[i].clone()).collect();
                parse(PolicyKind::Identity, &chosen)
            }).collect()
        };
        let original: Vec<usize> = (0..stmts.len()).collect();
        let policies_a = group(&original, &[0, 1, 2]);
        let policies_b = group(&perm, &ctx_perm);
        let bucket_a = parse(PolicyKind::Resource, &bucket_stmts);
        let shuffled: Vec<Value> = bucket_perm.iter().map(|&i| bucket_stmts[i].clone()).collect();
        let bucket_b = parse(PolicyKind::Resource, &shuffled);

        let a = world.authorize(r, &policies_a.iter().collect::<Vec<_>>(), bucket_a.as_ref());
        let b = world.authorize(r, &policies_b.iter().collect::<Vec<_>>(), bucket_b.as_ref());
        prop_assert_eq!(a.allowed, b.allowed, "{} vs {}", a, b);
        prop_assert_eq!(a.reason, b.reason);
        prop_assert_eq!(std::mem::discriminant(&a.decision), std::mem::discriminant(&b.decision));

        // and the raw evaluation over all sources, with the bucket first or last
        let mut src_a: Vec<PolicySource<'_>> = policies_a.iter().map(|p| PolicySource { label: "i", policy: p }).collect();
        let mut src_b: Vec<PolicySource<'_>> = policies_b.iter().map(|p| PolicySource { label: "i", policy: p }).collect();
        if let Some(p) = &bucket_a { src_a.push(PolicySource { label: "b", policy: p }); }
        if let Some(p) = &bucket_b { src_b.insert(0, PolicySource { label: "b", policy: p }); }
        let da = evaluate(&src_a, &world.request(r));
        let db = evaluate(&src_b, &world.request(r));
        prop_assert_eq!(std::mem::discriminant(&da), std::mem::discriminant(&db), "{:?} vs {:?}", da, db);
    }

    /// (3) With no statements at all, the answer is an implicit deny (and `authorize` only lets
    /// the owner's root through).
    #[test]
    fn no_statements_means_implicit_deny(
        r in req_strategy(),
        action in ".{0,40}",
        resource in ".{0,60}",
    ) {
        let world = World::new();
        let mut req = world.request(r);
        prop_assert_eq!(evaluate(&[], &req), Decision::ImplicitDeny);
        req.action = &action;
        req.resource = &resource;
        prop_assert_eq!(evaluate(&[], &req), Decision::ImplicitDeny);
        let a = world.authorize(r, &[], None);
        let owner_root = world.principals[r.principal].kind == PrincipalKind::AccountRoot
            && world.principals[r.principal].account_id == OWNER;
        prop_assert_eq!(a.allowed, owner_root, "{}", a);
        prop_assert_eq!(a.decision, Decision::ImplicitDeny);
    }

    /// (4a) `Policy::parse` never panics on arbitrary text.
    #[test]
    fn parse_never_panics_on_arbitrary_strings(s in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
            let _ = Policy::parse(&s, kind);
            let _ = Policy::parse(&String::from_utf8_lossy(&bytes), kind);
        }
    }

    /// (4b) ... nor on JSON documents made of policy-like keys and random values; and whatever
    /// parses can be evaluated without panicking.
    #[test]
    fn parse_never_panics_on_policy_like_json(doc in policy_like_document(), r in req_strategy()) {
        let text = doc.to_string();
        let world = World::new();
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
            match Policy::parse(&text, kind) {
                Ok(p) => {
                    let _ = evaluate(&[PolicySource { label: "fuzz", policy: &p }], &world.request(r));
                    let _ = world.authorize(r, &[&p], Some(&p));
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}

const KEYS: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "StringEquals",
    "StringNotLike",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "NumericLessThanIfExists",
    "DateGreaterThan",
    "IpAddress",
    "NotIpAddress",
    "Null",
    "Bool",
    "ArnLike",
    "BinaryEquals",
    "aws:SourceIp",
    "aws:username",
    "s3:prefix",
    "aws:CurrentTime",
    "",
    "version",
];

const STRINGS: &[&str] = &[
    "2012-10-17",
    "2008-10-17",
    "Allow",
    "Deny",
    "*",
    "s3:GetObject",
    "s3:*",
    "s3:",
    ":",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::${aws:username}/*",
    "${",
    "${*}",
    "${aws:username, 'x'}",
    "10.0.0.0/8",
    "::/0",
    "10.0.0.0/99",
    "2024-01-01T00:00:00Z",
    "1714564800",
    "true",
    "false",
    "1e5",
    "-0",
    "123456789012",
    "arn:aws:iam::123456789012:root",
    "",
    "\u{0}",
    "é*?",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop_oneof![select(KEYS).prop_map(str::to_owned), ".{0,8}"], inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Mostly-plausible documents: a Version and a Statement array of statement-like objects.
fn policy_like_document() -> impl Strategy<Value = Value> {
    let statement = prop::collection::vec((select(KEYS), json_value()), 0..7)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    // valid statements with one element replaced or added at random
    let mutated = (prop::collection::vec((statement_any(), select(KEYS), json_value(), any::<bool>()), 1..4),)
        .prop_map(|(items,)| {
            let statements: Vec<Value> = items
                .into_iter()
                .map(|(mut s, key, value, mutate)| {
                    if mutate && let Value::Object(map) = &mut s {
                        map.insert(key.to_owned(), value);
                    }
                    s
                })
                .collect();
            json!({"Version": "2012-10-17", "Statement": statements})
        });
    prop_oneof![
        1 => json_value(),
        3 => (json_leaf(), prop::collection::vec(statement, 0..4)).prop_map(|(version, statements)| {
            json!({"Version": version, "Statement": statements})
        }),
        3 => mutated,
    ]
}

fn statement_any() -> impl Strategy<Value = Value> {
    prop_oneof![statement(any_effect(), false), statement(any_effect(), true)]
}
