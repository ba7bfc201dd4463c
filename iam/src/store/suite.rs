//! The conformance suite every [`IamStore`] passes (run on SQLite and PostgreSQL by
//! `iam/tests/store.rs`). Each run uses fresh random names, so runs can share a database.

use super::{AccessKey, Account, Group, IamStore, InlinePolicy, ManagedPolicy, OwnerKind, Role, User};
use cloudstore_store_api::OutboxEvent;

use crate::error::Error;
use crate::ids;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn user(account_id: &str, name: &str, is_root: bool) -> User {
    User {
        id: ids::unique_id("AIDA"),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: "/".to_owned(),
        is_root,
        email: None,
        display_name: None,
        password_hash: None,
        created_at: now(),
        presigned_not_before: None,
    }
}

fn policy(account_id: &str, name: &str) -> ManagedPolicy {
    ManagedPolicy {
        id: ids::unique_id("ANPA"),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: "/".to_owned(),
        arn: format!("arn:aws:iam::{account_id}:policy/{name}"),
        document: format!("{{\"Statement\":\"{name}\"}}"),
        description: None,
        created_at: now(),
        updated_at: now(),
    }
}

macro_rules! code {
    ($e:expr, $pat:pat) => {
        match $e {
            Err($pat) => {}
            other => panic!("{}: expected {}, got {other:?}", stringify!($e), stringify!($pat)),
        }
    };
}

/// The outbox rows each change hands the store: a marker per call, all under one key.
struct Marks {
    key: String,
    committed: Vec<String>,
}

impl Marks {
    /// The event of a change that succeeds: it must be in the outbox.
    fn ok(&mut self, what: &str) -> Vec<OutboxEvent> {
        self.committed.push(what.to_owned());
        vec![OutboxEvent { key: self.key.clone(), body: what.to_owned() }]
    }

    /// The event of a change the store refuses: it must not be.
    fn refused(&self, what: &str) -> Vec<OutboxEvent> {
        vec![OutboxEvent { key: self.key.clone(), body: format!("refused {what}") }]
    }
}

/// What a suite run expects of the event outbox: the bodies under `key`, in commit order.
#[derive(Debug)]
pub struct ExpectedOutbox {
    pub key: String,
    pub bodies: Vec<String>,
}

/// Runs every check against `store`. Every change hands the store an event: the caller checks
/// with [`ExpectedOutbox`] that exactly the events of the changes that succeeded were written
/// (in their transactions), in order, and none of a refused change.
pub async fn iam_store_suite(store: &dyn IamStore) -> ExpectedOutbox {
    store.ping().await.expect("ping");
    let tag = ids::unique_id("").to_lowercase();
    let mut marks = Marks { key: format!("iam-suite-{tag}"), committed: Vec::new() };

    // ---- accounts ----
    let acct = Account { id: ids::account_id(), name: format!("Alice-{tag}"), created_at: now() };
    let root = user(&acct.id, &acct.name, true);
    store.create_account(&acct, &root, &marks.ok("create_account 1")).await.expect("create_account");
    assert_eq!(store.get_account(&acct.id).await.expect("get"), Some(acct.clone()));
    assert_eq!(store.find_account(&acct.name.to_uppercase()).await.expect("find"), Some(acct.clone()));
    let dup = Account { id: ids::account_id(), name: acct.name.to_lowercase(), created_at: now() };
    code!(
        store.create_account(&dup, &user(&dup.id, &dup.name, true), &marks.refused("create_account 2")).await,
        Error::EntityAlreadyExists(_)
    );
    assert_eq!(store.get_account(&dup.id).await.expect("get"), None, "a failed registration left an account");
    assert!(store.list_accounts().await.expect("list").iter().any(|a| a.id == acct.id));
    assert_eq!(store.root_user(&acct.id).await.expect("root").map(|u| u.id), Some(root.id.clone()));

    // ---- users ----
    let bob = user(&acct.id, "Bob", false);
    store.create_user(&bob, &marks.ok("create_user 3")).await.expect("create_user");
    code!(
        store.create_user(&user(&acct.id, "BOB", false), &marks.refused("create_user 4")).await,
        Error::EntityAlreadyExists(_)
    );
    assert_eq!(store.find_user(&acct.id, "bob").await.expect("find").as_ref(), Some(&bob));
    assert_eq!(store.get_user(&bob.id).await.expect("get").as_ref(), Some(&bob));
    let names: Vec<String> = store.list_users(&acct.id).await.expect("list").into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["Bob"], "root is not an IAM user");
    store
        .update_profile(&bob.id, Some("bob@example.com"), Some("Bob B"), &marks.ok("update_profile 5"))
        .await
        .expect("profile");
    // Only account roots are found by e-mail (S3 ACL grants name accounts), case-insensitively.
    let by_bob = store.roots_by_email("bob@example.com").await.expect("by email");
    assert!(by_bob.iter().all(|u| u.account_id != acct.id), "an IAM user was found by e-mail");
    let root_mail = format!("alice-{tag}@example.com");
    store.update_profile(&root.id, Some(&root_mail), None, &marks.ok("update_profile 5a")).await.expect("profile");
    let found = store.roots_by_email(&root_mail.to_uppercase()).await.expect("by email");
    assert_eq!(found.iter().map(|u| u.account_id.as_str()).collect::<Vec<_>>(), [acct.id.as_str()]);
    store.set_password(&bob.id, "$argon2id$x", &marks.ok("set_password 6")).await.expect("password");
    let got = store.get_user(&bob.id).await.expect("get").expect("bob");
    assert_eq!(
        (got.email.as_deref(), got.display_name.as_deref(), got.password_hash.as_deref()),
        (Some("bob@example.com"), Some("Bob B"), Some("$argon2id$x"))
    );
    code!(
        store.update_profile("AIDANOSUCH", None, None, &marks.refused("update_profile 7")).await,
        Error::NoSuchEntity(_)
    );

    // The same user name in another account is fine.
    let other = Account { id: ids::account_id(), name: format!("other-{tag}"), created_at: now() };
    store
        .create_account(&other, &user(&other.id, &other.name, true), &marks.ok("create_account 8"))
        .await
        .expect("create other");
    let other_bob = user(&other.id, "bob", false);
    store.create_user(&other_bob, &marks.ok("create_user 9")).await.expect("same name, other account");

    // ---- access keys ----
    let k1 = AccessKey {
        id: ids::access_key_id(),
        user_id: bob.id.clone(),
        account_id: acct.id.clone(),
        secret_sealed: "v1:sealed".into(),
        active: true,
        created_at: now(),
        last_used_at: None,
        presigned_not_before: None,
    };
    store.create_access_key(&k1, &marks.ok("create_access_key 10")).await.expect("create key");
    assert_eq!(store.get_access_key(&k1.id).await.expect("get key").as_ref(), Some(&k1));
    store.set_access_key_active(&bob.id, &k1.id, false, &marks.ok("set_access_key_active 11")).await.expect("disable");
    assert!(!store.get_access_key(&k1.id).await.expect("get").expect("key").active);
    code!(
        store.set_access_key_active(&other_bob.id, &k1.id, true, &marks.refused("set_access_key_active 12")).await,
        Error::NoSuchEntity(_)
    );
    store.touch_access_key(&k1.id, 1234).await.expect("touch");
    assert_eq!(store.get_access_key(&k1.id).await.expect("get").expect("key").last_used_at, Some(1234));
    // Presigned URL revocations: per key and per user, never moved back, only the owner's key.
    store.revoke_presigned(&bob.id, Some(&k1.id), 2000, &marks.ok("revoke_presigned key")).await.expect("revoke key");
    store.revoke_presigned(&bob.id, Some(&k1.id), 1500, &marks.ok("revoke_presigned earlier")).await.expect("earlier");
    assert_eq!(store.get_access_key(&k1.id).await.expect("get").expect("key").presigned_not_before, Some(2000));
    code!(
        store.revoke_presigned(&other_bob.id, Some(&k1.id), 3000, &marks.refused("revoke_presigned not hers")).await,
        Error::NoSuchEntity(_)
    );
    assert_eq!(store.get_access_key(&k1.id).await.expect("get").expect("key").presigned_not_before, Some(2000));
    store.revoke_presigned(&bob.id, None, 2500, &marks.ok("revoke_presigned user")).await.expect("revoke user");
    assert_eq!(store.get_user(&bob.id).await.expect("get").expect("bob").presigned_not_before, Some(2500));
    assert_eq!(store.get_user(&other_bob.id).await.expect("get").expect("bob").presigned_not_before, None);
    code!(
        store.revoke_presigned("AIDANOSUCH", None, 1, &marks.refused("revoke_presigned nobody")).await,
        Error::NoSuchEntity(_)
    );
    assert_eq!(store.list_access_keys(&bob.id).await.expect("list").len(), 1);
    code!(store.delete_user(&bob.id, &marks.refused("delete_user 13")).await, Error::DeleteConflict(_));
    code!(
        store.delete_access_key(&other_bob.id, &k1.id, &marks.refused("delete_access_key 14")).await,
        Error::NoSuchEntity(_)
    );
    store.delete_access_key(&bob.id, &k1.id, &marks.ok("delete_access_key 15")).await.expect("delete key");
    assert_eq!(store.get_access_key(&k1.id).await.expect("get"), None);

    // ---- inline policies ----
    let inline = InlinePolicy { name: "read".into(), document: "{\"v\":1}".into() };
    store
        .put_inline_policy(OwnerKind::User, &bob.id, &inline, &marks.ok("put_inline_policy 16"))
        .await
        .expect("put inline");
    let replaced = InlinePolicy { name: "read".into(), document: "{\"v\":2}".into() };
    store
        .put_inline_policy(OwnerKind::User, &bob.id, &replaced, &marks.ok("put_inline_policy 17"))
        .await
        .expect("replace inline");
    assert_eq!(
        store.get_inline_policy(OwnerKind::User, &bob.id, "read").await.expect("get inline"),
        Some(replaced.clone())
    );
    assert_eq!(
        store.list_inline_policies(OwnerKind::User, &bob.id).await.expect("list"),
        std::slice::from_ref(&replaced)
    );
    code!(store.delete_user(&bob.id, &marks.refused("delete_user 18")).await, Error::DeleteConflict(_));

    // ---- groups ----
    let devs = Group {
        id: ids::unique_id("AGPA"),
        account_id: acct.id.clone(),
        name: "Devs".into(),
        path: "/".into(),
        created_at: now(),
    };
    store.create_group(&devs, &marks.ok("create_group 19")).await.expect("create group");
    code!(
        store
            .create_group(&Group { id: ids::unique_id("AGPA"), ..devs.clone() }, &marks.refused("create_group 20"))
            .await,
        Error::EntityAlreadyExists(_)
    );
    assert_eq!(store.find_group(&acct.id, "devs").await.expect("find").as_ref(), Some(&devs));
    store.add_member(&devs.id, &bob.id, &marks.ok("add_member 21")).await.expect("add");
    store.add_member(&devs.id, &bob.id, &marks.ok("add_member 22")).await.expect("add twice is fine");
    assert_eq!(store.members(&devs.id).await.expect("members").len(), 1);
    assert_eq!(store.groups_of_user(&bob.id).await.expect("groups"), std::slice::from_ref(&devs));
    code!(store.delete_group(&devs.id, &marks.refused("delete_group 23")).await, Error::DeleteConflict(_));
    let group_inline = InlinePolicy { name: "g".into(), document: "{\"g\":1}".into() };
    store
        .put_inline_policy(OwnerKind::Group, &devs.id, &group_inline, &marks.ok("put_inline_policy 24"))
        .await
        .expect("group inline");

    // ---- managed policies ----
    let mp = policy(&acct.id, "S3Read");
    store.create_managed_policy(&mp, &marks.ok("create_managed_policy 25")).await.expect("create policy");
    code!(
        store
            .create_managed_policy(
                &ManagedPolicy { id: ids::unique_id("ANPA"), arn: format!("{}x", mp.arn), ..mp.clone() },
                &marks.refused("create_managed_policy 26")
            )
            .await,
        Error::EntityAlreadyExists(_)
    );
    assert_eq!(store.get_managed_policy(&mp.arn).await.expect("get").as_ref(), Some(&mp));
    assert_eq!(store.list_managed_policies(&acct.id).await.expect("list"), std::slice::from_ref(&mp));
    store.attach_policy(&mp.id, OwnerKind::User, &bob.id, &marks.ok("attach_policy 27")).await.expect("attach");
    store.attach_policy(&mp.id, OwnerKind::User, &bob.id, &marks.ok("attach_policy 28")).await.expect("attach twice");
    store.attach_policy(&mp.id, OwnerKind::Group, &devs.id, &marks.ok("attach_policy 29")).await.expect("attach group");
    code!(
        store.attach_policy("ANPANOSUCH", OwnerKind::User, &bob.id, &marks.refused("attach_policy 30")).await,
        Error::NoSuchEntity(_)
    );
    assert_eq!(store.attached_policies(OwnerKind::User, &bob.id).await.expect("attached"), std::slice::from_ref(&mp));
    code!(
        store.delete_managed_policy(&mp.id, &marks.refused("delete_managed_policy 31")).await,
        Error::DeleteConflict(_)
    );

    let mut labels: Vec<String> = store
        .effective_policies(OwnerKind::User, &bob.id)
        .await
        .expect("effective")
        .into_iter()
        .map(|p| p.label)
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            format!("group/Devs/attached/{}", mp.arn),
            "group/Devs/inline/g".to_owned(),
            format!("user/attached/{}", mp.arn),
            "user/inline/read".to_owned(),
        ]
    );
    assert!(store.effective_policies(OwnerKind::User, &other_bob.id).await.expect("effective").is_empty());

    // ---- roles ----
    let role = Role {
        id: ids::unique_id("AROA"),
        account_id: acct.id.clone(),
        name: "Deployer".into(),
        path: "/".into(),
        trust_policy: "{\"t\":1}".into(),
        description: Some("deploys".into()),
        max_session_secs: 3600,
        created_at: now(),
    };
    store.create_role(&role, &marks.ok("create_role 32")).await.expect("create role");
    code!(
        store.create_role(&Role { id: ids::unique_id("AROA"), ..role.clone() }, &marks.refused("create_role 33")).await,
        Error::EntityAlreadyExists(_)
    );
    assert_eq!(store.find_role(&acct.id, "deployer").await.expect("find").as_ref(), Some(&role));
    assert_eq!(store.list_roles(&acct.id).await.expect("list"), std::slice::from_ref(&role));
    store
        .put_inline_policy(OwnerKind::Role, &role.id, &inline, &marks.ok("put_inline_policy 34"))
        .await
        .expect("role inline");
    let role_labels: Vec<String> = store
        .effective_policies(OwnerKind::Role, &role.id)
        .await
        .expect("effective")
        .into_iter()
        .map(|p| p.label)
        .collect();
    assert_eq!(role_labels, ["role/inline/read"]);
    code!(store.delete_role(&role.id, &marks.refused("delete_role 35")).await, Error::DeleteConflict(_));
    store
        .delete_inline_policy(OwnerKind::Role, &role.id, "read", &marks.ok("delete_inline_policy 36"))
        .await
        .expect("delete role inline");
    store.delete_role(&role.id, &marks.ok("delete_role 37")).await.expect("delete role");
    assert_eq!(store.find_role(&acct.id, "Deployer").await.expect("find"), None);

    // ---- tear down in AWS order ----
    store.detach_policy(&mp.id, OwnerKind::User, &bob.id, &marks.ok("detach_policy 38")).await.expect("detach");
    code!(
        store.detach_policy(&mp.id, OwnerKind::User, &bob.id, &marks.refused("detach_policy 39")).await,
        Error::NoSuchEntity(_)
    );
    store.detach_policy(&mp.id, OwnerKind::Group, &devs.id, &marks.ok("detach_policy 40")).await.expect("detach group");
    store.delete_managed_policy(&mp.id, &marks.ok("delete_managed_policy 41")).await.expect("delete policy");
    store
        .delete_inline_policy(OwnerKind::User, &bob.id, "read", &marks.ok("delete_inline_policy 42"))
        .await
        .expect("delete inline");
    code!(
        store.delete_inline_policy(OwnerKind::User, &bob.id, "read", &marks.refused("delete_inline_policy 43")).await,
        Error::NoSuchEntity(_)
    );
    store
        .delete_inline_policy(OwnerKind::Group, &devs.id, "g", &marks.ok("delete_inline_policy 44"))
        .await
        .expect("delete group inline");
    store.remove_member(&devs.id, &bob.id, &marks.ok("remove_member 45")).await.expect("remove");
    code!(store.remove_member(&devs.id, &bob.id, &marks.refused("remove_member 46")).await, Error::NoSuchEntity(_));
    store.delete_group(&devs.id, &marks.ok("delete_group 47")).await.expect("delete group");
    store.delete_user(&bob.id, &marks.ok("delete_user 48")).await.expect("delete user");
    assert_eq!(store.get_user(&bob.id).await.expect("get"), None);

    // Deleting an account removes everything inside it.
    store
        .put_inline_policy(OwnerKind::User, &other_bob.id, &inline, &marks.ok("put_inline_policy 49"))
        .await
        .expect("inline");
    store.delete_account(&other.id, &marks.ok("delete_account 50")).await.expect("delete account");
    assert_eq!(store.get_user(&other_bob.id).await.expect("get"), None);
    assert!(store.list_inline_policies(OwnerKind::User, &other_bob.id).await.expect("list").is_empty());
    code!(store.delete_account(&other.id, &marks.refused("delete_account 51")).await, Error::NoSuchEntity(_));
    store.delete_account(&acct.id, &marks.ok("delete_account 52")).await.expect("delete account");
    ExpectedOutbox { key: marks.key, bodies: marks.committed }
}
