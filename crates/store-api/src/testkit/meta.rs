//! The [`MetadataStore`] conformance suite.
//!
//! Every run uses buckets, upload ids and blob ids with a random suffix, and cleans up after
//! itself, so the suite can run again and again against one shared database (Postgres).
//! Blob-queue assertions probe single blobs with [`MetadataStore::claim_blob`] rather than
//! reading the whole queue, so rows left behind by other runs cannot disturb them.
//!
//! Semantics the suite pins down beyond the trait docs:
//! - `delete_object` in a missing bucket is `NoSuchBucket` (as S3's DeleteObject);
//! - a commit wins over the collector: a pending blob past its deadline but not yet claimed
//!   can still be committed, after which `claim_blob` returns `false`;
//! - `abandon_blobs` makes a blob due now even if it was not registered;
//! - `complete_upload` fails with `Conflict` (and changes nothing) when the object names a blob
//!   that is not a current part of the upload (e.g. a part replaced after the caller listed
//!   the parts), since that blob is already queued for collection;
//! - `complete_upload` and `abort_upload` of an upload under another bucket or key are
//!   `NoSuchUpload`;
//! - times round-trip with millisecond precision (the suite only uses whole milliseconds).
//!
//! `StoreError::NoSuchKey` and `StoreError::BlobNotFound` are not produced by any
//! `MetadataStore` method (a missing object is `None`), and `Unavailable`/`Backend` need a
//! broken backend: each implementation tests those itself.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use cloudstore_types::{Checksum, ChecksumAlgorithm, ChecksumType};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::{
    BlobId, BlobPart, Bucket, BucketConfig, DeleteCondition, DueVersion, ListPage, ListQuery, ListedObject, LockMode,
    MetadataStore, ObjectAttributes, ObjectMeta, OutboxEvent, OutboxRow, PartMeta, Share, ShareUse, StoreError, Tag,
    Upload, UploadListQuery, VersionDue, VersionListQuery, Versioning, WriteCondition, list_object_versions,
    list_objects, list_uploads,
};

type Store = Arc<dyn MetadataStore>;

/// Grace period used for replaced and deleted blobs.
const GRACE: Duration = Duration::hours(1);
/// Deadline given to pending registrations (from now).
const PENDING: Duration = Duration::hours(2);
/// How many writers the race tests start at once.
const RACERS: usize = 16;

/// Runs the whole suite against `store`; panics on the first violation of the contract.
///
/// The store must allow at least a few concurrent operations (the race tests start
/// [`RACERS`] writers at once) and must be empty of nothing in particular: the suite only
/// touches names it generates.
pub async fn metadata_suite(store: Arc<dyn MetadataStore>) {
    let run = Run::new();
    store.ping().await.expect("ping");
    macro_rules! section {
        ($f:ident) => {{
            let started = std::time::Instant::now();
            $f(&store, &run).await;
            eprintln!("metadata suite: {} ok in {:?}", stringify!($f), started.elapsed());
        }};
    }
    section!(buckets);
    section!(objects);
    section!(conditional_writes);
    section!(batch_expiry);
    section!(attributes);
    section!(races);
    section!(delete_bucket_races_completion);
    section!(collector);
    section!(multipart);
    section!(upload_scans);
    section!(key_order);
    section!(big_listing);
    section!(outbox);
    section!(shares);
    section!(kms_keys);
    section!(account_settings);
    section!(versions);
    section!(version_races);
    section!(object_lock);
    section!(lifecycle_versions);
}

/// Names unique to one run of the suite.
#[derive(Debug)]
struct Run {
    id: String,
}

impl Run {
    fn new() -> Self {
        let mut id = uuid::Uuid::new_v4().simple().to_string();
        id.truncate(12);
        Self { id }
    }

    /// A valid bucket name unique to this run (at most 63 characters).
    fn bucket(&self, label: &str) -> String {
        format!("cst-{label}-{}", self.id)
    }

    /// An upload id unique to this run; ids made with increasing `n` sort in that order.
    fn upload_id(&self, label: &str, n: u32) -> String {
        format!("{}-{label}-{n:05}", self.id)
    }
}

macro_rules! assert_err {
    ($e:expr, $p:pat) => {
        assert_err!($e, $p, "")
    };
    ($e:expr, $p:pat, $($ctx:tt)+) => {
        match $e {
            Err($p) => {}
            other => panic!(
                "{} ({}): expected Err({}), got {:?}",
                stringify!($e),
                format_args!($($ctx)+),
                stringify!($p),
                other
            ),
        }
    };
}

fn ok<T, E: Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: unexpected error {e:?}"),
    }
}

/// Now, with whole milliseconds (the precision stores keep).
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_millisecond(t.millisecond()).expect("valid millisecond")
}

fn far_future() -> OffsetDateTime {
    now() + Duration::days(3650)
}

fn random_u64() -> u64 {
    // Truncation intended: any 64 random bits will do.
    uuid::Uuid::new_v4().as_u128() as u64
}

fn etag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn bucket_record(name: &str, owner: &str) -> Bucket {
    Bucket {
        name: name.to_owned(),
        owner: owner.to_owned(),
        region: "us-east-1".to_owned(),
        created_at: now(),
        policy: None,
        notification: None,
        cors: None,
        public_access_block: None,
        tagging: None,
        lifecycle: None,
        acl: None,
        object_ownership: None,
        encryption: None,
        versioning: None,
        object_lock: None,
    }
}

async fn make_bucket(store: &Store, name: &str) {
    ok(store.create_bucket(&bucket_record(name, "suite-owner"), &[]).await, "create_bucket");
}

/// Fresh blob ids, registered as pending.
async fn pending_blobs(store: &Store, n: usize) -> Vec<BlobId> {
    let blobs: Vec<BlobId> = (0..n).map(|_| BlobId::generate()).collect();
    ok(store.register_blobs(&blobs, now() + PENDING).await, "register_blobs");
    blobs
}

/// A plain object made of `blobs` (10 bytes each), with a fresh ETag.
pub fn object(bucket: &str, key: &str, blobs: &[BlobId]) -> ObjectMeta {
    let parts: Vec<BlobPart> = blobs
        .iter()
        .zip(1u32..)
        .map(|(b, n)| BlobPart { blob: b.clone(), size: 10, part_number: n, etag: etag(), checksum: None })
        .collect();
    ObjectMeta {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        size: 10 * parts.len() as u64,
        etag: etag(),
        last_modified: now(),
        content_type: Some("application/octet-stream".to_owned()),
        content_encoding: None,
        content_disposition: None,
        content_language: None,
        cache_control: None,
        expires: None,
        user_metadata: BTreeMap::new(),
        checksum: None,
        parts,
        multipart_parts: None,
        attributes: Default::default(),
    }
}

/// Registers one blob and puts an object made of it, unconditionally.
async fn put_new(store: &Store, bucket: &str, key: &str) -> ObjectMeta {
    let blobs = pending_blobs(store, 1).await;
    let obj = object(bucket, key, &blobs);
    ok(store.put_object(&obj, &WriteCondition::default(), GRACE, &[]).await, "put_object");
    obj
}

fn if_none_match() -> WriteCondition {
    WriteCondition { if_match: None, if_none_match: true }
}

fn if_match(etag: &str) -> WriteCondition {
    WriteCondition { if_match: Some(etag.to_owned()), if_none_match: false }
}

/// Asserts that `blob` is queued for collection `grace` from about now (and removes it).
async fn assert_queued_after(store: &Store, blob: &BlobId, grace: Duration) {
    let early = now() + grace - Duration::minutes(1);
    assert!(!ok(store.claim_blob(blob, early).await, "claim_blob"), "blob {blob} is due before its grace period");
    let late = now() + grace + Duration::minutes(1);
    assert!(ok(store.claim_blob(blob, late).await, "claim_blob"), "blob {blob} was not queued (grace {grace})");
}

/// Asserts that `blob` is due now (and removes it from the queue).
async fn assert_due_now(store: &Store, blob: &BlobId) {
    let t = now() + Duration::seconds(1);
    assert!(ok(store.claim_blob(blob, t).await, "claim_blob"), "blob {blob} is not due now");
}

/// Asserts that `blob` is still pending with the deadline [`pending_blobs`] gives (and removes it).
async fn assert_pending(store: &Store, blob: &BlobId) {
    assert_queued_after(store, blob, PENDING).await;
}

/// Asserts that `blob` is neither pending nor queued (it is live or unknown).
async fn assert_not_queued(store: &Store, blob: &BlobId) {
    assert!(
        !ok(store.claim_blob(blob, far_future()).await, "claim_blob"),
        "live blob {blob} is in the collector's queue"
    );
}

async fn get(store: &Store, bucket: &str, key: &str) -> Option<ObjectMeta> {
    ok(store.get_object(bucket, key).await, "get_object")
}

// ---------------------------------------------------------------------------------------------

async fn buckets(store: &Store, run: &Run) {
    let (a, b, c) = (run.bucket("ba"), run.bucket("bb"), run.bucket("bc"));
    assert_eq!(ok(store.get_bucket(&a).await, "get_bucket"), None);

    let rec_a = bucket_record(&a, "owner-1");
    ok(store.create_bucket(&rec_a, &[]).await, "create_bucket");
    assert_eq!(ok(store.get_bucket(&a).await, "get_bucket").as_ref(), Some(&rec_a));
    match store.create_bucket(&bucket_record(&a, "owner-2"), &[]).await {
        Err(StoreError::BucketExists { owner }) => assert_eq!(owner, "owner-1"),
        other => panic!("create_bucket of a taken name: expected BucketExists, got {other:?}"),
    }
    assert_eq!(ok(store.get_bucket(&a).await, "get_bucket").as_ref(), Some(&rec_a), "the loser changed the bucket");

    // Created out of order; listed by name.
    let rec_c = bucket_record(&c, "owner-1");
    let rec_b = Bucket { region: "eu-west-3".to_owned(), ..bucket_record(&b, "owner-2") };
    ok(store.create_bucket(&rec_c, &[]).await, "create_bucket");
    ok(store.create_bucket(&rec_b, &[]).await, "create_bucket");
    let all = ok(store.list_buckets().await, "list_buckets");
    assert!(all.windows(2).all(|w| w[0].name < w[1].name), "list_buckets is not sorted by name");
    let mine: Vec<&Bucket> = all.iter().filter(|x| x.name.ends_with(&run.id) && x.name.starts_with("cst-b")).collect();
    assert_eq!(mine, [&rec_a, &rec_b, &rec_c]);

    assert_err!(store.delete_bucket(&run.bucket("missing"), &[]).await, StoreError::NoSuchBucket);

    // The bucket policy is stored as given, replaced, and removed.
    let doc = r#"{"Version":"2012-10-17","Statement":[]}"#;
    ok(store.set_bucket_config(&c, BucketConfig::Policy, Some(doc), &[]).await, "set_bucket_policy");
    assert_eq!(ok(store.get_bucket(&c).await, "get_bucket").and_then(|b| b.policy).as_deref(), Some(doc));
    let listed = ok(store.list_buckets().await, "list_buckets");
    assert_eq!(listed.iter().find(|x| x.name == c).and_then(|x| x.policy.as_deref()), Some(doc));
    ok(store.set_bucket_config(&c, BucketConfig::Policy, None, &[]).await, "set_bucket_policy(None)");
    assert_eq!(ok(store.get_bucket(&c).await, "get_bucket").and_then(|b| b.policy), None);
    assert_err!(
        store.set_bucket_config(&run.bucket("missing"), BucketConfig::Policy, Some(doc), &[]).await,
        StoreError::NoSuchBucket
    );
    // Each setting has its own place: notification rules beside a policy, removed alone.
    let rules = r#"{"rules":[]}"#;
    ok(store.set_bucket_config(&c, BucketConfig::Policy, Some(doc), &[]).await, "set policy");
    ok(store.set_bucket_config(&c, BucketConfig::Notification, Some(rules), &[]).await, "set notification");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!((got.policy.as_deref(), got.notification.as_deref()), (Some(doc), Some(rules)));
    ok(store.set_bucket_config(&c, BucketConfig::Notification, None, &[]).await, "remove notification");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!((got.policy.as_deref(), got.notification.as_deref()), (Some(doc), None));
    // CORS rules beside both, replaced and removed alone.
    let cors = r#"{"rules":[{"allowed_origins":["*"],"allowed_methods":["GET"]}]}"#;
    ok(store.set_bucket_config(&c, BucketConfig::Notification, Some(rules), &[]).await, "set notification");
    ok(store.set_bucket_config(&c, BucketConfig::Cors, Some("{}"), &[]).await, "set cors");
    ok(store.set_bucket_config(&c, BucketConfig::Cors, Some(cors), &[]).await, "replace cors");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!(
        (got.policy.as_deref(), got.notification.as_deref(), got.cors.as_deref()),
        (Some(doc), Some(rules), Some(cors))
    );
    let listed = ok(store.list_buckets().await, "list_buckets");
    assert_eq!(listed.iter().find(|x| x.name == c).and_then(|x| x.cors.as_deref()), Some(cors));
    // Block Public Access beside the others, removed alone.
    let block = r#"{"restrict_public_buckets":true}"#;
    ok(store.set_bucket_config(&c, BucketConfig::PublicAccessBlock, Some(block), &[]).await, "set block");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!((got.public_access_block.as_deref(), got.cors.as_deref()), (Some(block), Some(cors)));
    ok(store.set_bucket_config(&c, BucketConfig::PublicAccessBlock, None, &[]).await, "remove block");
    // The ACL and the Object Ownership setting beside the others, written alone; a bucket
    // created with both keeps them.
    let acl = r#"{"grants":[{"group":"AllUsers","permission":"READ"}]}"#;
    ok(store.set_bucket_config(&c, BucketConfig::Acl, Some(acl), &[]).await, "set acl");
    ok(store.set_bucket_config(&c, BucketConfig::ObjectOwnership, Some("ObjectWriter"), &[]).await, "set ownership");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!(
        (got.acl.as_deref(), got.object_ownership.as_deref(), got.cors.as_deref()),
        (Some(acl), Some("ObjectWriter"), Some(cors))
    );
    ok(store.set_bucket_config(&c, BucketConfig::Acl, None, &[]).await, "remove acl");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!((got.acl.as_deref(), got.object_ownership.as_deref()), (None, Some("ObjectWriter")));
    let with_acl = format!("{c}-acl");
    let record = Bucket {
        acl: Some(acl.to_owned()),
        object_ownership: Some("BucketOwnerPreferred".to_owned()),
        ..bucket_record(&with_acl, "suite-owner")
    };
    ok(store.create_bucket(&record, &[]).await, "create_bucket with an acl");
    let got = ok(store.get_bucket(&with_acl).await, "get_bucket").expect("bucket");
    assert_eq!((got.acl.as_deref(), got.object_ownership.as_deref()), (Some(acl), Some("BucketOwnerPreferred")));
    ok(store.delete_bucket(&with_acl, &[]).await, "delete_bucket");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!((got.public_access_block.as_deref(), got.cors.as_deref()), (None, Some(cors)));
    // A tag set beside the others, removed alone.
    let tags = r#"[{"key":"team","value":"ü \"q\""}]"#;
    ok(store.set_bucket_config(&c, BucketConfig::Tagging, Some(tags), &[]).await, "set tagging");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!((got.tagging.as_deref(), got.cors.as_deref()), (Some(tags), Some(cors)));
    ok(store.set_bucket_config(&c, BucketConfig::Tagging, None, &[]).await, "remove tagging");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!((got.tagging.as_deref(), got.cors.as_deref()), (None, Some(cors)));
    ok(store.set_bucket_config(&c, BucketConfig::Cors, None, &[]).await, "remove cors");
    let got = ok(store.get_bucket(&c).await, "get_bucket").expect("bucket");
    assert_eq!(
        (got.policy.as_deref(), got.notification.as_deref(), got.cors.as_deref()),
        (Some(doc), Some(rules), None)
    );
    assert_err!(
        store.set_bucket_config(&run.bucket("missing"), BucketConfig::Cors, Some(cors), &[]).await,
        StoreError::NoSuchBucket
    );
    ok(store.set_bucket_config(&c, BucketConfig::Notification, None, &[]).await, "remove notification");
    ok(store.set_bucket_config(&c, BucketConfig::Policy, None, &[]).await, "remove policy");

    // Not empty while it holds an object...
    let obj = put_new(store, &a, "k").await;
    assert_err!(store.delete_bucket(&a, &[]).await, StoreError::BucketNotEmpty);
    assert!(ok(store.get_bucket(&a).await, "get_bucket").is_some());
    ok(store.delete_object(&a, "k", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await, "delete_object");
    assert_queued_after(store, &obj.parts[0].blob, GRACE).await;
    // Multipart uploads in progress do not keep it: they are aborted with the bucket (as on
    // AWS), their parts' blobs queued now.
    let up = upload(&a, "k", &run.upload_id("bucket", 1), now());
    ok(store.create_upload(&up).await, "create_upload");
    let empty = upload(&a, "k2", &run.upload_id("bucket", 2), now());
    ok(store.create_upload(&empty).await, "create_upload");
    let blobs = pending_blobs(store, 2).await;
    for (n, blob) in (1..).zip(&blobs) {
        ok(store.put_part(&a, "k", &up.upload_id, &part(n, blob), GRACE).await, "put_part");
    }
    // A bucket that still holds an object is refused, and its uploads stay.
    let obj = put_new(store, &a, "still-here").await;
    assert_err!(store.delete_bucket(&a, &[]).await, StoreError::BucketNotEmpty);
    assert!(ok(store.get_upload(&a, "k", &up.upload_id).await, "get_upload").is_some());
    ok(
        store.delete_object(&a, "still-here", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
        "delete_object",
    );
    assert_queued_after(store, &obj.parts[0].blob, GRACE).await;

    ok(store.delete_bucket(&a, &[]).await, "delete_bucket with uploads in progress");
    for blob in &blobs {
        assert_due_now(store, blob).await;
    }
    assert_eq!(ok(store.get_upload(&a, "k", &up.upload_id).await, "get_upload"), None);
    assert_eq!(ok(store.get_upload(&a, "k2", &empty.upload_id).await, "get_upload"), None);
    assert!(ok(store.list_parts(&up.upload_id, 0, 10).await, "list_parts").is_empty());
    assert_eq!(ok(store.get_bucket(&a).await, "get_bucket"), None);
    assert_err!(store.delete_bucket(&a, &[]).await, StoreError::NoSuchBucket);
    assert!(!ok(store.list_buckets().await, "list_buckets").iter().any(|x| x.name == a));
    // The name is free again.
    ok(store.create_bucket(&bucket_record(&a, "owner-3"), &[]).await, "create_bucket after delete");
    for name in [&a, &b, &c] {
        ok(store.delete_bucket(name, &[]).await, "delete_bucket");
    }
}

async fn objects(store: &Store, run: &Run) {
    let bucket = run.bucket("obj");
    make_bucket(store, &bucket).await;
    assert_eq!(get(store, &bucket, "full").await, None);

    // Every field round-trips.
    let blobs = pending_blobs(store, 3).await;
    let mut full = object(&bucket, "full", &blobs);
    full.parts[1].checksum = Some("AAAAAA==".to_owned());
    full.size = 30;
    full.etag = format!("{}-3", etag());
    full.content_type = Some("text/plain; charset=utf-8".to_owned());
    full.content_encoding = Some("gzip".to_owned());
    full.content_disposition = Some("attachment; filename=\"a b.txt\"".to_owned());
    full.content_language = Some("fr-FR".to_owned());
    full.cache_control = Some("max-age=60".to_owned());
    full.expires = Some("Thu, 01 Dec 1994 16:00:00 GMT".to_owned());
    full.user_metadata = BTreeMap::from([
        ("color".to_owned(), "blue".to_owned()),
        ("ünï".to_owned(), "cødé \"quoted\" {json}".to_owned()),
        ("empty".to_owned(), String::new()),
    ]);
    full.checksum = Some(Checksum {
        algorithm: ChecksumAlgorithm::Crc32c,
        value: "yZRlqg==-3".to_owned(),
        kind: ChecksumType::Composite,
    });
    full.multipart_parts = Some(3);
    ok(store.put_object(&full, &WriteCondition::default(), GRACE, &[]).await, "put_object");
    assert_eq!(get(store, &bucket, "full").await.as_ref(), Some(&full));
    for b in &blobs {
        assert_not_queued(store, b).await;
    }
    let summary = ok(store.scan_objects(&bucket, "full", true, None, 1).await, "scan_objects");
    assert_eq!(summary.len(), 1);
    assert_eq!(
        (summary[0].key.as_str(), summary[0].size, summary[0].etag.as_str(), summary[0].last_modified),
        ("full", 30, full.etag.as_str(), full.last_modified)
    );
    assert_eq!(summary[0].checksum_algorithm, Some(ChecksumAlgorithm::Crc32c));
    assert_eq!(summary[0].checksum_type, Some(ChecksumType::Composite));

    // A missing bucket; the registration survives the failed write.
    let stray = pending_blobs(store, 1).await;
    assert_err!(
        store.put_object(&object(&run.bucket("nobucket"), "k", &stray), &WriteCondition::default(), GRACE, &[]).await,
        StoreError::NoSuchBucket
    );
    assert_pending(store, &stray[0]).await;

    // A blob that is not pending fails the whole write, which changes nothing.
    let registered = pending_blobs(store, 1).await;
    let mixed = object(&bucket, "full", &[registered[0].clone(), BlobId::generate()]);
    assert_err!(store.put_object(&mixed, &WriteCondition::default(), GRACE, &[]).await, StoreError::BlobReclaimed);
    assert_eq!(get(store, &bucket, "full").await.as_ref(), Some(&full), "a failed put changed the object");
    assert_pending(store, &registered[0]).await;
    for b in &blobs {
        assert_not_queued(store, b).await;
    }

    // Reclaimed by the collector (deadline passed and claimed) before the commit.
    let late = vec![BlobId::generate()];
    ok(store.register_blobs(&late, now() - Duration::minutes(1)).await, "register_blobs");
    assert!(ok(store.claim_blob(&late[0], now()).await, "claim_blob"), "claim of a blob past its deadline");
    assert_err!(
        store.put_object(&object(&bucket, "late", &late), &WriteCondition::default(), GRACE, &[]).await,
        StoreError::BlobReclaimed
    );
    assert_eq!(get(store, &bucket, "late").await, None);
    // Past its deadline but not claimed yet: the commit wins and the collector then loses.
    let overdue = vec![BlobId::generate()];
    ok(store.register_blobs(&overdue, now() - Duration::minutes(1)).await, "register_blobs");
    let overdue_obj = object(&bucket, "late", &overdue);
    ok(store.put_object(&overdue_obj, &WriteCondition::default(), GRACE, &[]).await, "put_object past deadline");
    assert!(!ok(store.claim_blob(&overdue[0], now()).await, "claim_blob"), "collector claimed a committed blob");

    // Overwrite: the replaced object's blobs are queued after the grace period.
    let replacement = put_new(store, &bucket, "full").await;
    assert_eq!(get(store, &bucket, "full").await.as_ref(), Some(&replacement));
    for b in &blobs {
        assert_queued_after(store, b, GRACE).await;
    }
    assert_not_queued(store, &replacement.parts[0].blob).await;

    // A zero-byte object has no blobs.
    let empty = object(&bucket, "empty", &[]);
    ok(store.put_object(&empty, &WriteCondition::default(), GRACE, &[]).await, "put_object zero bytes");
    assert_eq!(get(store, &bucket, "empty").await.as_ref(), Some(&empty));
    let empty2 = object(&bucket, "empty", &[]);
    ok(store.put_object(&empty2, &WriteCondition::default(), GRACE, &[]).await, "overwrite zero bytes");
    assert_eq!(get(store, &bucket, "empty").await.as_ref(), Some(&empty2));

    // A conditional delete whose condition fails keeps the object and its blobs; one whose
    // conditions hold deletes it; a missing object is no error.
    let c = put_new(store, &bucket, "cond").await;
    let wrong = [
        DeleteCondition { etag: Some("not-the-etag".into()), ..DeleteCondition::default() },
        DeleteCondition { size: Some(c.size + 1), ..DeleteCondition::default() },
        DeleteCondition { last_modified: Some(OffsetDateTime::UNIX_EPOCH), ..DeleteCondition::default() },
    ];
    for cond in &wrong {
        assert_err!(
            store.delete_object(&bucket, "cond", cond, GRACE, &|_| Vec::new()).await,
            StoreError::PreconditionFailed
        );
        assert_eq!(get(store, &bucket, "cond").await.as_ref(), Some(&c), "{cond:?} kept the object");
    }
    assert_not_queued(store, &c.parts[0].blob).await;
    let missing = DeleteCondition { etag: Some("any".into()), ..DeleteCondition::default() };
    assert_eq!(
        ok(store.delete_object(&bucket, "no-such-key", &missing, GRACE, &|_| Vec::new()).await, "missing"),
        None
    );
    let holds =
        DeleteCondition { etag: Some(c.etag.clone()), last_modified: Some(c.last_modified), size: Some(c.size) };
    let gone = ok(store.delete_object(&bucket, "cond", &holds, GRACE, &|_| Vec::new()).await, "conditional delete");
    assert_eq!(gone.as_ref(), Some(&c));
    assert_eq!(get(store, &bucket, "cond").await, None);
    assert_queued_after(store, &c.parts[0].blob, GRACE).await;

    // Delete returns the object and queues its blobs.
    let deleted = ok(
        store.delete_object(&bucket, "full", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
        "delete_object",
    );
    assert_eq!(deleted.as_ref(), Some(&replacement));
    assert_eq!(get(store, &bucket, "full").await, None);
    assert_queued_after(store, &replacement.parts[0].blob, GRACE).await;
    assert_eq!(
        ok(
            store.delete_object(&bucket, "full", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
            "delete_object again"
        ),
        None
    );
    assert_err!(
        store.delete_object(&run.bucket("nobucket"), "full", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
        StoreError::NoSuchBucket
    );

    assert_eq!(
        ok(
            store.delete_object(&bucket, "empty", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
            "delete_object"
        )
        .as_ref(),
        Some(&empty2)
    );
    ok(
        store.delete_object(&bucket, "late", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
        "delete_object",
    );
    assert_queued_after(store, &overdue[0], GRACE).await;
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

/// `delete_objects_if_unchanged` (the lifecycle pass's expiry): the objects still as a scan
/// listed them are deleted in one call, their blobs queued and their events written; an object
/// replaced (even with the same ETag and size), or deleted, since the scan is kept or skipped.
async fn batch_expiry(store: &Store, run: &Run) {
    let bucket = run.bucket("expiry");
    make_bucket(store, &bucket).await;
    let mut objs = Vec::new();
    for k in ["a", "b", "c", "d", "e", "f"] {
        objs.push(put_new(store, &bucket, k).await);
    }
    let listed = ok(store.scan_objects(&bucket, "", true, None, 100).await, "scan_objects");
    assert_eq!(listed.len(), 6);
    // After the scan: "b" replaced, "c" rewritten with the same ETag and size a second later,
    // "d" deleted.
    let b2 = put_new(store, &bucket, "b").await;
    let blobs = pending_blobs(store, 1).await;
    let mut c2 = object(&bucket, "c", &blobs);
    c2.etag.clone_from(&objs[2].etag);
    c2.last_modified = objs[2].last_modified + Duration::seconds(1);
    ok(store.put_object(&c2, &WriteCondition::default(), GRACE, &[]).await, "put_object c again");
    ok(store.delete_object(&bucket, "d", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await, "delete d");

    let made =
        |o: &ObjectMeta| vec![OutboxEvent { key: format!("expiry/{}", run.id), body: format!("expired {}", o.key) }];
    let gone =
        ok(store.delete_objects_if_unchanged(&bucket, &listed, GRACE, &made).await, "delete_objects_if_unchanged");
    let mut gone_keys: Vec<&str> = gone.iter().map(|o| o.key.as_str()).collect();
    gone_keys.sort_unstable();
    assert_eq!(gone_keys, ["a", "e", "f"]);
    for (i, o) in objs.iter().enumerate() {
        if ["a", "e", "f"].contains(&o.key.as_str()) {
            assert_eq!(gone.iter().find(|g| g.key == o.key), Some(o), "the deleted object is returned");
            assert_eq!(get(store, &bucket, &o.key).await, None);
            assert_queued_after(store, &o.parts[0].blob, GRACE).await;
        } else if i != 3 {
            assert_ne!(get(store, &bucket, &o.key).await.as_ref(), Some(o));
        }
    }
    assert_eq!(get(store, &bucket, "b").await.as_ref(), Some(&b2), "a replaced object is kept");
    assert_eq!(get(store, &bucket, "c").await.as_ref(), Some(&c2), "a rewritten object is kept");
    assert_not_queued(store, &b2.parts[0].blob).await;
    assert_not_queued(store, &c2.parts[0].blob).await;
    let rows: Vec<String> = ok(store.outbox_rows(1_000_000).await, "outbox_rows")
        .into_iter()
        .filter(|r| r.key == format!("expiry/{}", run.id))
        .map(|r| r.body)
        .collect();
    let mut rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    rows.sort_unstable();
    assert_eq!(rows, ["expired a", "expired e", "expired f"], "one event per deletion");
    // Nothing left to delete, and a missing bucket deletes nothing.
    assert!(ok(store.delete_objects_if_unchanged(&bucket, &listed, GRACE, &made).await, "again").is_empty());
    assert!(
        ok(store.delete_objects_if_unchanged(&run.bucket("nobucket"), &listed, GRACE, &made).await, "no bucket")
            .is_empty()
    );
    for k in ["b", "c"] {
        ok(store.delete_object(&bucket, k, &DeleteCondition::default(), GRACE, &|_| Vec::new()).await, "cleanup");
    }
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

/// Object attributes round-trip and are replaced by every kind of write: the plain write
/// (PostgreSQL's group commit, insert and update paths) and the conditional one (its
/// `put_object` function).
async fn attributes(store: &Store, run: &Run) {
    let bucket = run.bucket("attrs");
    make_bucket(store, &bucket).await;
    let tag = |k: &str, v: &str| Tag { key: k.to_owned(), value: v.to_owned() };
    let blobs = pending_blobs(store, 3).await;
    let mut tagged = object(&bucket, "k", &blobs[..1]);
    tagged.attributes.tags = vec![tag("ünï \"q\"", "{json}"), tag("empty", ""), tag("a", "b")];
    ok(store.put_object(&tagged, &WriteCondition::default(), GRACE, &[]).await, "put with tags");
    assert_eq!(get(store, &bucket, "k").await.as_ref(), Some(&tagged));
    let mut retagged = object(&bucket, "k", &blobs[1..2]);
    retagged.attributes.tags = vec![tag("only", "one")];
    ok(store.put_object(&retagged, &if_match(&tagged.etag), GRACE, &[]).await, "conditional retag");
    assert_eq!(get(store, &bucket, "k").await.as_ref(), Some(&retagged));
    let plain = object(&bucket, "k", &blobs[2..]);
    assert!(plain.attributes.is_empty());
    ok(store.put_object(&plain, &WriteCondition::default(), GRACE, &[]).await, "overwrite without tags");
    assert_eq!(get(store, &bucket, "k").await.as_ref(), Some(&plain));

    // In place: only the attributes change, with the change's events.
    let set = |tags: Vec<Tag>| move |_: &ObjectMeta| Ok(ObjectAttributes::with_tags(tags.clone()));
    let mark = |label: &'static str| move |o: &ObjectMeta| vec![event(run, "attrs", &format!("{label} {}", o.key))];
    let changed = ok(
        store.update_object_attributes(&bucket, "k", &set(vec![tag("x", "1")]), &mark("tagged")).await,
        "update_object_attributes",
    );
    let mut expected = plain.clone();
    expected.attributes.tags = vec![tag("x", "1")];
    assert_eq!(changed.as_ref(), Some(&expected));
    assert_eq!(get(store, &bucket, "k").await.as_ref(), Some(&expected));
    // A refusal of the change changes nothing and writes no event.
    let refuse = |_: &ObjectMeta| Err(StoreError::PreconditionFailed);
    assert_err!(
        store.update_object_attributes(&bucket, "k", &refuse, &mark("refused")).await,
        StoreError::PreconditionFailed
    );
    assert_eq!(get(store, &bucket, "k").await.as_ref(), Some(&expected));
    let missing = ok(
        store.update_object_attributes(&bucket, "nokey", &set(vec![]), &mark("missing")).await,
        "update of a missing key",
    );
    assert_eq!(missing, None);
    assert_err!(
        store.update_object_attributes(&run.bucket("nobucket"), "k", &set(vec![]), &mark("nobucket")).await,
        StoreError::NoSuchBucket
    );
    let rows: Vec<OutboxRow> = run_rows(store, run).await.into_iter().filter(|r| r.key.ends_with("/attrs")).collect();
    assert_eq!(bodies(&rows), vec!["tagged k"]);
    ok(store.outbox_remove(&rows.iter().map(|r| r.id).collect::<Vec<_>>()).await, "outbox_remove");
    ok(store.delete_object(&bucket, "k", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await, "delete");
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

async fn conditional_writes(store: &Store, run: &Run) {
    let bucket = run.bucket("cond");
    make_bucket(store, &bucket).await;
    let key = "cond/key";

    // If-Match on a missing object fails.
    let b = pending_blobs(store, 1).await;
    assert_err!(
        store.put_object(&object(&bucket, key, &b), &if_match("0123"), GRACE, &[]).await,
        StoreError::PreconditionFailed
    );
    assert_eq!(get(store, &bucket, key).await, None);
    assert_pending(store, &b[0]).await;

    // If-None-Match: * creates once.
    let b1 = pending_blobs(store, 1).await;
    let o1 = object(&bucket, key, &b1);
    ok(store.put_object(&o1, &if_none_match(), GRACE, &[]).await, "If-None-Match on a missing key");
    let b2 = pending_blobs(store, 1).await;
    assert_err!(
        store.put_object(&object(&bucket, key, &b2), &if_none_match(), GRACE, &[]).await,
        StoreError::PreconditionFailed
    );
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&o1));
    assert_pending(store, &b2[0]).await;
    assert_not_queued(store, &b1[0]).await;

    // If-Match with another ETag fails; with the current one it replaces.
    let b3 = pending_blobs(store, 1).await;
    assert_err!(
        store.put_object(&object(&bucket, key, &b3), &if_match(&etag()), GRACE, &[]).await,
        StoreError::PreconditionFailed
    );
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&o1));
    let o3 = object(&bucket, key, &b3);
    ok(store.put_object(&o3, &if_match(&o1.etag), GRACE, &[]).await, "If-Match with the current ETag");
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&o3));
    assert_queued_after(store, &b1[0], GRACE).await;

    // Both conditions together can never hold.
    let b4 = pending_blobs(store, 1).await;
    let both = WriteCondition { if_match: Some(o3.etag.clone()), if_none_match: true };
    assert_err!(store.put_object(&object(&bucket, key, &b4), &both, GRACE, &[]).await, StoreError::PreconditionFailed);
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&o3));
    assert_pending(store, &b4[0]).await;

    ok(store.delete_object(&bucket, key, &DeleteCondition::default(), GRACE, &|_| Vec::new()).await, "delete_object");
    assert_queued_after(store, &b3[0], GRACE).await;
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

/// Starts one task per item, all released at once; returns their results in order.
async fn race<T, R, F, Fut>(store: &Store, items: Vec<T>, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(Store, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(items.len()));
    let f = Arc::new(f);
    let tasks: Vec<_> = items
        .into_iter()
        .map(|item| {
            let (store, barrier, f) = (Arc::clone(store), Arc::clone(&barrier), Arc::clone(&f));
            tokio::spawn(async move {
                barrier.wait().await;
                f(store, item).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("race task panicked"));
    }
    out
}

/// DeleteBucket against CompleteMultipartUpload of one of its uploads, at the same time:
/// exactly one wins (the bucket is gone with the upload, or the object exists and keeps the
/// bucket), never a deadlock or a conflict.
async fn delete_bucket_races_completion(store: &Store, run: &Run) {
    for i in 0..8u32 {
        let bucket = run.bucket(&format!("race{i}"));
        make_bucket(store, &bucket).await;
        let up = upload(&bucket, "k", &run.upload_id("race", i), now());
        ok(store.create_upload(&up).await, "create_upload");
        let blob = pending_blobs(store, 1).await;
        let p = part(1, &blob[0]);
        ok(store.put_part(&bucket, "k", &up.upload_id, &p, GRACE).await, "put_part");
        let mut obj = object(&bucket, "k", &blob);
        obj.parts[0].etag = p.etag.clone();
        obj.multipart_parts = Some(1);
        let unconditional = WriteCondition::default();
        let (deleted, completed) = tokio::join!(
            store.delete_bucket(&bucket, &[]),
            store.complete_upload(&up.upload_id, &obj, &unconditional, None, GRACE, &[])
        );
        match (deleted, completed) {
            (Ok(()), Err(StoreError::NoSuchUpload | StoreError::NoSuchBucket)) => {
                assert_eq!(ok(store.get_bucket(&bucket).await, "get_bucket"), None);
                assert_due_now(store, &blob[0]).await;
            }
            (Err(StoreError::BucketNotEmpty), Ok(())) => {
                assert!(get(store, &bucket, "k").await.is_some(), "completed object missing");
                ok(
                    store.delete_object(&bucket, "k", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
                    "delete_object",
                );
                ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
            }
            other => panic!("round {i}: delete and complete raced to {other:?}"),
        }
    }
}

async fn races(store: &Store, run: &Run) {
    let bucket = run.bucket("race");
    make_bucket(store, &bucket).await;

    // Concurrent If-None-Match creates: exactly one winner.
    let mut objs = Vec::new();
    for _ in 0..RACERS {
        let b = pending_blobs(store, 1).await;
        objs.push(object(&bucket, "inm", &b));
    }
    let results =
        race(store, objs.clone(), |s, o| async move { s.put_object(&o, &if_none_match(), GRACE, &[]).await }).await;
    let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "If-None-Match race: {} winners: {results:?}", winners.len());
    for r in &results {
        assert!(matches!(r, Ok(()) | Err(StoreError::PreconditionFailed)), "If-None-Match race: {r:?}");
    }
    let winner = &objs[winners[0]];
    assert_eq!(get(store, &bucket, "inm").await.as_ref(), Some(winner));
    for (i, o) in objs.iter().enumerate() {
        if i == winners[0] {
            assert_not_queued(store, &o.parts[0].blob).await;
        } else {
            assert_pending(store, &o.parts[0].blob).await;
        }
    }

    // Concurrent If-Match replaces of the same version: exactly one winner.
    let mut objs = Vec::new();
    for _ in 0..RACERS {
        let b = pending_blobs(store, 1).await;
        objs.push(object(&bucket, "inm", &b));
    }
    let current = winner.etag.clone();
    let results = race(store, objs.clone(), move |s, o| {
        let cond = if_match(&current);
        async move { s.put_object(&o, &cond, GRACE, &[]).await }
    })
    .await;
    let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "If-Match race: {} winners: {results:?}", winners.len());
    for r in &results {
        assert!(matches!(r, Ok(()) | Err(StoreError::PreconditionFailed)), "If-Match race: {r:?}");
    }
    assert_eq!(get(store, &bucket, "inm").await.as_ref(), Some(&objs[winners[0]]));
    assert_queued_after(store, &winner.parts[0].blob, GRACE).await;
    for (i, o) in objs.iter().enumerate() {
        if i != winners[0] {
            assert_pending(store, &o.parts[0].blob).await;
        }
    }
    let live = objs[winners[0]].parts[0].blob.clone();

    // Concurrent unconditional puts of a new key: all succeed, one is live, and every other
    // one was replaced, so its blob is queued (none is lost).
    let mut objs = Vec::new();
    for _ in 0..RACERS {
        let b = pending_blobs(store, 1).await;
        objs.push(object(&bucket, "put", &b));
    }
    let results =
        race(store, objs.clone(), |s, o| async move { s.put_object(&o, &WriteCondition::default(), GRACE, &[]).await })
            .await;
    for r in &results {
        assert!(r.is_ok(), "unconditional put race: {r:?}");
    }
    let last = get(store, &bucket, "put").await.expect("an object after the put race");
    assert!(objs.contains(&last));
    for o in &objs {
        if o.parts == last.parts {
            assert_not_queued(store, &o.parts[0].blob).await;
        } else {
            assert_queued_after(store, &o.parts[0].blob, GRACE).await;
        }
    }

    // Concurrent creation of one bucket: exactly one winner.
    let name = run.bucket("race-b");
    let owners: Vec<String> = (0..RACERS).map(|i| format!("owner-{i}")).collect();
    let results = race(store, owners.clone(), {
        let name = name.clone();
        move |s, owner| {
            let rec = bucket_record(&name, &owner);
            async move { s.create_bucket(&rec, &[]).await }
        }
    })
    .await;
    let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "create_bucket race: {results:?}");
    for r in &results {
        match r {
            Ok(()) => {}
            Err(StoreError::BucketExists { owner }) => assert_eq!(owner, &owners[winners[0]]),
            other => panic!("create_bucket race: {other:?}"),
        }
    }
    ok(store.delete_bucket(&name, &[]).await, "delete_bucket");

    ok(store.delete_object(&bucket, "inm", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await, "delete_object");
    assert_queued_after(store, &live, GRACE).await;
    ok(store.delete_object(&bucket, "put", &DeleteCondition::default(), GRACE, &|_| Vec::new()).await, "delete_object");
    assert_queued_after(store, &last.parts[0].blob, GRACE).await;
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

async fn collector(store: &Store, _run: &Run) {
    // Deadlines at a random instant of 1970, so rows of other runs are unlikely to interleave.
    let base = OffsetDateTime::UNIX_EPOCH + Duration::milliseconds((random_u64() % 30_000_000_000) as i64);
    let ms = Duration::milliseconds;
    let (g1, g2, g3) = (BlobId::generate(), BlobId::generate(), BlobId::generate());
    // Registered out of order.
    ok(store.register_blobs(std::slice::from_ref(&g2), base + ms(2)).await, "register_blobs");
    ok(store.register_blobs(std::slice::from_ref(&g3), base + ms(3)).await, "register_blobs");
    ok(store.register_blobs(std::slice::from_ref(&g1), base + ms(1)).await, "register_blobs");
    ok(store.register_blobs(&[], base).await, "register_blobs of nothing");

    let due = ok(store.due_blobs(base + ms(2), 100_000).await, "due_blobs");
    let pos = |b: &BlobId| due.iter().position(|d| d == b);
    let (p1, p2) = (pos(&g1).expect("g1 is due"), pos(&g2).expect("g2 is due"));
    assert!(p1 < p2, "due_blobs is not oldest first");
    assert_eq!(pos(&g3), None, "a blob is due before its deadline");
    assert!(!ok(store.due_blobs(base - ms(1), 100_000).await, "due_blobs").contains(&g1));
    assert_eq!(ok(store.due_blobs(base + ms(3), 1).await, "due_blobs").len(), 1, "due_blobs ignores its limit");
    assert!(ok(store.due_blobs(base + ms(3), 0).await, "due_blobs").is_empty());

    // Claims succeed once, and only when due.
    assert!(!ok(store.claim_blob(&g3, base + ms(2)).await, "claim_blob"), "claimed before the deadline");
    assert!(ok(store.claim_blob(&g3, base + ms(3)).await, "claim_blob"), "claim at the deadline");
    assert!(!ok(store.claim_blob(&g3, base + ms(3)).await, "claim_blob"), "claimed twice");
    assert!(!ok(store.claim_blob(&BlobId::generate(), far_future()).await, "claim_blob"), "claimed an unknown blob");
    for g in [&g1, &g2] {
        assert!(ok(store.claim_blob(g, base + ms(3)).await, "claim_blob"));
    }
    assert!(
        !ok(store.due_blobs(base + ms(3), 100_000).await, "due_blobs").iter().any(|d| [&g1, &g2, &g3].contains(&d))
    );

    // Abandoned blobs are due now, registered or not.
    let a = pending_blobs(store, 2).await;
    let unregistered = BlobId::generate();
    assert!(!ok(store.claim_blob(&a[0], now()).await, "claim_blob"), "a pending blob is due early");
    ok(store.abandon_blobs(&[a[0].clone(), a[1].clone(), unregistered.clone()]).await, "abandon_blobs");
    ok(store.abandon_blobs(&[]).await, "abandon_blobs of nothing");
    assert!(ok(store.due_blobs(now() + Duration::seconds(1), 100_000).await, "due_blobs").contains(&a[1]));
    for b in [&a[0], &a[1], &unregistered] {
        assert_due_now(store, b).await;
    }
}

fn upload(bucket: &str, key: &str, upload_id: &str, initiated: OffsetDateTime) -> Upload {
    let mut template = object(bucket, key, &[]);
    template.size = 0;
    template.etag = String::new();
    template.content_type = Some("video/mp4".to_owned());
    template.cache_control = Some("no-cache".to_owned());
    template.user_metadata = BTreeMap::from([("origin".to_owned(), "suite".to_owned())]);
    template.attributes.tags = vec![Tag { key: "stage".to_owned(), value: "uploaded".to_owned() }];
    Upload {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        initiated,
        template,
        checksum_algorithm: Some(ChecksumAlgorithm::Crc32c),
        checksum_type: Some(ChecksumType::Composite),
    }
}

fn part(n: u32, blob: &BlobId) -> PartMeta {
    PartMeta {
        part_number: n,
        blob: blob.clone(),
        size: 5 * 1024 * 1024 + u64::from(n),
        etag: etag(),
        checksum: (n % 2 == 1).then(|| format!("c{n}==")),
        last_modified: now(),
    }
}

/// The object a completion of `parts` makes.
fn completed(up: &Upload, parts: &[&PartMeta]) -> ObjectMeta {
    let mut obj = up.template.clone();
    obj.parts = parts
        .iter()
        .map(|p| BlobPart {
            blob: p.blob.clone(),
            size: p.size,
            part_number: p.part_number,
            etag: p.etag.clone(),
            checksum: p.checksum.clone(),
        })
        .collect();
    obj.size = parts.iter().map(|p| p.size).sum();
    obj.etag = format!("{}-{}", etag(), parts.len());
    obj.multipart_parts = Some(parts.len() as u32);
    obj.last_modified = now();
    obj
}

async fn multipart(store: &Store, run: &Run) {
    let bucket = run.bucket("mp");
    make_bucket(store, &bucket).await;
    let key = "mp/object.bin";

    let missing = upload(&run.bucket("nobucket"), key, &run.upload_id("mp", 0), now());
    assert_err!(store.create_upload(&missing).await, StoreError::NoSuchBucket);

    let up = upload(&bucket, key, &run.upload_id("mp", 1), now());
    ok(store.create_upload(&up).await, "create_upload");
    assert_eq!(ok(store.get_upload(&bucket, key, &up.upload_id).await, "get_upload").as_ref(), Some(&up));
    assert_eq!(ok(store.get_upload(&bucket, "other", &up.upload_id).await, "get_upload"), None);
    assert_eq!(ok(store.get_upload(&run.bucket("nobucket"), key, &up.upload_id).await, "get_upload"), None);
    assert_eq!(ok(store.get_upload(&bucket, key, &run.upload_id("mp", 99)).await, "get_upload"), None);

    // Parts, uploaded out of order.
    let blobs = pending_blobs(store, 3).await;
    let parts: Vec<PartMeta> = (1..=3).map(|n| part(n, &blobs[n as usize - 1])).collect();
    for i in [2, 0, 1] {
        ok(store.put_part(&bucket, key, &up.upload_id, &parts[i], GRACE).await, "put_part");
    }
    for b in &blobs {
        assert_not_queued(store, b).await;
    }
    let stray = pending_blobs(store, 1).await;
    assert_err!(
        store.put_part(&bucket, key, &run.upload_id("mp", 99), &part(4, &stray[0]), GRACE).await,
        StoreError::NoSuchUpload
    );
    assert_err!(
        store.put_part(&bucket, "other", &up.upload_id, &part(4, &stray[0]), GRACE).await,
        StoreError::NoSuchUpload
    );
    assert_pending(store, &stray[0]).await;
    assert_err!(
        store.put_part(&bucket, key, &up.upload_id, &part(4, &BlobId::generate()), GRACE).await,
        StoreError::BlobReclaimed
    );

    // Replacing a part queues the old blob.
    let b2 = pending_blobs(store, 1).await;
    let part2 = part(2, &b2[0]);
    ok(store.put_part(&bucket, key, &up.upload_id, &part2, GRACE).await, "put_part replace");
    assert_queued_after(store, &blobs[1], GRACE).await;
    assert_not_queued(store, &b2[0]).await;

    let listed = ok(store.list_parts(&up.upload_id, 0, 1000).await, "list_parts");
    assert_eq!(listed, [parts[0].clone(), part2.clone(), parts[2].clone()]);
    assert_eq!(ok(store.list_parts(&up.upload_id, 1, 1).await, "list_parts"), std::slice::from_ref(&part2));
    assert_eq!(ok(store.list_parts(&up.upload_id, 2, 1000).await, "list_parts"), [parts[2].clone()]);
    assert!(ok(store.list_parts(&up.upload_id, 3, 1000).await, "list_parts").is_empty());
    assert!(ok(store.list_parts(&run.upload_id("mp", 99), 0, 1000).await, "list_parts").is_empty());

    // An object exists at the key: If-None-Match fails and nothing changes.
    let existing = put_new(store, &bucket, key).await;
    let obj = completed(&up, &[&parts[0], &parts[2]]);
    assert_err!(
        store.complete_upload(&up.upload_id, &obj, &if_none_match(), None, GRACE, &[]).await,
        StoreError::PreconditionFailed
    );
    assert_err!(
        store.complete_upload(&up.upload_id, &obj, &if_match(&etag()), None, GRACE, &[]).await,
        StoreError::PreconditionFailed
    );
    assert!(ok(store.get_upload(&bucket, key, &up.upload_id).await, "get_upload").is_some());
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&existing));

    // Naming a blob that is no longer a part (replaced meanwhile) is a conflict.
    let replaced = completed(&up, &[&parts[0], &parts[1]]);
    assert_err!(
        store.complete_upload(&up.upload_id, &replaced, &WriteCondition::default(), None, GRACE, &[]).await,
        StoreError::Conflict
    );
    // Under another key it is no such upload.
    let mut elsewhere = obj.clone();
    elsewhere.key = "mp/other".to_owned();
    assert_err!(
        store.complete_upload(&up.upload_id, &elsewhere, &WriteCondition::default(), None, GRACE, &[]).await,
        StoreError::NoSuchUpload
    );
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&existing));
    assert_eq!(get(store, &bucket, "mp/other").await, None);
    assert_eq!(ok(store.list_parts(&up.upload_id, 0, 1000).await, "list_parts").len(), 3);

    // Complete with parts 1 and 3: part 2 and the replaced object are queued.
    ok(
        store.complete_upload(&up.upload_id, &obj, &if_match(&existing.etag), None, GRACE, &[]).await,
        "complete_upload",
    );
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&obj));
    assert_eq!(ok(store.get_upload(&bucket, key, &up.upload_id).await, "get_upload"), None);
    assert!(ok(store.list_parts(&up.upload_id, 0, 1000).await, "list_parts").is_empty());
    assert_queued_after(store, &b2[0], GRACE).await;
    assert_queued_after(store, &existing.parts[0].blob, GRACE).await;
    assert_not_queued(store, &blobs[0]).await;
    assert_not_queued(store, &blobs[2]).await;
    assert_err!(
        store.complete_upload(&up.upload_id, &obj, &WriteCondition::default(), None, GRACE, &[]).await,
        StoreError::NoSuchUpload
    );
    assert_err!(store.abort_upload(&bucket, key, &up.upload_id).await, StoreError::NoSuchUpload);

    // Complete onto a missing key with If-None-Match.
    let up2 = upload(&bucket, "mp/new", &run.upload_id("mp", 2), now());
    ok(store.create_upload(&up2).await, "create_upload");
    let b = pending_blobs(store, 1).await;
    let p = part(1, &b[0]);
    ok(store.put_part(&bucket, "mp/new", &up2.upload_id, &p, GRACE).await, "put_part");
    let obj2 = completed(&up2, &[&p]);
    ok(store.complete_upload(&up2.upload_id, &obj2, &if_none_match(), None, GRACE, &[]).await, "complete_upload");
    assert_eq!(get(store, &bucket, "mp/new").await.as_ref(), Some(&obj2));

    // Abort queues every part now.
    let up3 = upload(&bucket, key, &run.upload_id("mp", 3), now());
    ok(store.create_upload(&up3).await, "create_upload");
    let b3 = pending_blobs(store, 2).await;
    for (n, blob) in (1..).zip(&b3) {
        ok(store.put_part(&bucket, key, &up3.upload_id, &part(n, blob), GRACE).await, "put_part");
    }
    assert_err!(store.abort_upload(&bucket, "other", &up3.upload_id).await, StoreError::NoSuchUpload);
    assert_err!(store.abort_upload(&bucket, key, &run.upload_id("mp", 99)).await, StoreError::NoSuchUpload);
    ok(store.abort_upload(&bucket, key, &up3.upload_id).await, "abort_upload");
    for blob in &b3 {
        assert_due_now(store, blob).await;
    }
    assert_eq!(ok(store.get_upload(&bucket, key, &up3.upload_id).await, "get_upload"), None);
    assert_err!(store.abort_upload(&bucket, key, &up3.upload_id).await, StoreError::NoSuchUpload);
    let late = pending_blobs(store, 1).await;
    assert_err!(
        store.put_part(&bucket, key, &up3.upload_id, &part(3, &late[0]), GRACE).await,
        StoreError::NoSuchUpload
    );
    assert_pending(store, &late[0]).await;
    assert_eq!(get(store, &bucket, key).await.as_ref(), Some(&obj), "abort touched the object");

    // Stale uploads: initiated strictly before the cut-off.
    let old_time = now() - Duration::days(400) - Duration::milliseconds((random_u64() % 1_000_000) as i64);
    let old = upload(&bucket, "mp/old", &run.upload_id("mp", 4), old_time);
    let fresh = upload(&bucket, "mp/fresh", &run.upload_id("mp", 5), now());
    ok(store.create_upload(&old).await, "create_upload");
    ok(store.create_upload(&fresh).await, "create_upload");
    let stale = ok(store.stale_uploads(old_time + Duration::milliseconds(1), 100_000).await, "stale_uploads");
    assert!(stale.iter().any(|s| s.upload_id == old.upload_id && s.bucket == bucket && s.key == "mp/old"));
    assert!(!stale.iter().any(|s| s.upload_id == fresh.upload_id));
    let stale = ok(store.stale_uploads(old_time, 100_000).await, "stale_uploads");
    assert!(!stale.iter().any(|s| s.upload_id == old.upload_id), "stale_uploads cut-off is not strict");
    assert_eq!(ok(store.stale_uploads(far_future(), 1).await, "stale_uploads").len(), 1);

    ok(store.abort_upload(&bucket, "mp/old", &old.upload_id).await, "abort_upload");
    ok(store.abort_upload(&bucket, "mp/fresh", &fresh.upload_id).await, "abort_upload");
    for k in [key, "mp/new"] {
        let o = ok(
            store.delete_object(&bucket, k, &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
            "delete_object",
        )
        .expect("object to delete");
        for p in &o.parts {
            assert_queued_after(store, &p.blob, GRACE).await;
        }
    }
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

async fn upload_scans(store: &Store, run: &Run) {
    let bucket = run.bucket("ups");
    make_bucket(store, &bucket).await;
    let keys = ["b", "aé", "a~", "a/b", "a", "a/c/d"];
    let mut all = Vec::new();
    let mut n = 0;
    for round in 0..2 {
        for key in keys {
            // Ids of one key increase with `round`, and are created newest key first.
            n += 1;
            let up = upload(&bucket, key, &run.upload_id("scan", round * 100 + (100 - n)), now());
            ok(store.create_upload(&up).await, "create_upload");
            all.push(up);
        }
    }
    all.sort_by(|x, y| (x.key.as_bytes(), x.upload_id.as_bytes()).cmp(&(y.key.as_bytes(), y.upload_id.as_bytes())));
    let ids = |v: &[Upload]| v.iter().map(|u| (u.key.clone(), u.upload_id.clone())).collect::<Vec<_>>();

    let scan = |from: &'static str, id: Option<String>, inclusive: bool, to: Option<&'static str>, limit: usize| {
        let store = Arc::clone(store);
        let bucket = bucket.clone();
        async move { ok(store.scan_uploads(&bucket, from, id.as_deref(), inclusive, to, limit).await, "scan_uploads") }
    };
    let got = scan("", None, true, None, 1000).await;
    assert_eq!(ids(&got), ids(&all), "scan_uploads order");
    assert_eq!(got, all, "scan_uploads returns the uploads as created");
    let key_order: Vec<&str> = got.iter().map(|u| u.key.as_str()).step_by(2).collect();
    assert_eq!(key_order, ["a", "a/b", "a/c/d", "a~", "aé", "b"], "upload keys are not in byte order");

    let expect = |f: &dyn Fn(&Upload) -> bool| all.iter().filter(|u| f(u)).cloned().collect::<Vec<_>>();
    assert_eq!(ids(&scan("a", None, false, None, 1000).await), ids(&expect(&|u| u.key.as_str() > "a")));
    assert_eq!(ids(&scan("a", None, true, None, 1000).await), ids(&expect(&|u| u.key.as_str() >= "a")));
    assert_eq!(
        ids(&scan("a", None, true, Some("a~"), 1000).await),
        ids(&expect(&|u| u.key.as_str() >= "a" && u.key.as_str() < "a~"))
    );
    assert_eq!(ids(&scan("", None, true, None, 3).await), ids(&all[..3]));
    // With an upload-id marker: the rest of that key, then later keys.
    let first_a = all[0].upload_id.clone();
    assert_eq!(all[0].key, "a");
    for inclusive in [false, true] {
        assert_eq!(ids(&scan("a", Some(first_a.clone()), inclusive, None, 1000).await), ids(&all[1..]));
    }
    assert_eq!(ids(&scan("a", Some(first_a.clone()), false, Some("a/c"), 1000).await), ids(&all[1..4]));
    assert_eq!(ids(&scan("a", Some(all[1].upload_id.clone()), false, None, 2).await), ids(&all[2..4]));
    assert!(scan("b", Some(all[11].upload_id.clone()), false, None, 1000).await.is_empty());

    // The generic listing on top: common prefixes and paging.
    let q = UploadListQuery { delimiter: Some("/".into()), max_uploads: 1000, ..Default::default() };
    let page = ok(list_uploads(store.as_ref(), &bucket, &q).await, "list_uploads");
    assert_eq!(page.common_prefixes, ["a/"]);
    assert_eq!(
        page.uploads.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(),
        ["a", "a", "a~", "a~", "aé", "aé", "b", "b"]
    );
    let mut q = UploadListQuery { max_uploads: 5, ..Default::default() };
    let mut seen = Vec::new();
    loop {
        let page = ok(list_uploads(store.as_ref(), &bucket, &q).await, "list_uploads");
        assert!(page.uploads.len() <= 5);
        seen.extend(page.uploads);
        if !page.is_truncated {
            break;
        }
        q.key_marker = page.next_key_marker;
        q.upload_id_marker = page.next_upload_id_marker;
    }
    assert_eq!(ids(&seen), ids(&all), "list_uploads paging");

    for up in &all {
        ok(store.abort_upload(&bucket, &up.key, &up.upload_id).await, "abort_upload");
    }
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

/// What a listing of `keys` (sorted) should return, all pages together, as entry names.
fn model_listing(keys: &[String], prefix: &str, delimiter: Option<&str>, after: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys.iter().filter(|k| k.starts_with(prefix)) {
        let entry = match delimiter.and_then(|d| k[prefix.len()..].find(d).map(|i| (i, d))) {
            Some((i, d)) => format!("P:{}", &k[..prefix.len() + i + d.len()]),
            None => k.clone(),
        };
        if after.is_some_and(|a| entry.trim_start_matches("P:") <= a) {
            continue;
        }
        if out.last() != Some(&entry) {
            out.push(entry);
        }
    }
    out
}

fn entry_names(page: &ListPage) -> Vec<String> {
    page.entries
        .iter()
        .map(|e| match e {
            ListedObject::Object(o) => o.key.clone(),
            ListedObject::Prefix(p) => format!("P:{p}"),
        })
        .collect()
}

/// Lists every page of `q` with `list_objects`, checking page sizes and markers.
async fn list_all(store: &Store, bucket: &str, mut q: ListQuery) -> Vec<String> {
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = ok(list_objects(store.as_ref(), bucket, &q).await, "list_objects");
        pages += 1;
        assert!(page.entries.len() <= q.max_keys, "a page larger than max_keys");
        seen.extend(entry_names(&page));
        let Some(next) = page.next_marker() else {
            assert!(!page.is_truncated);
            break;
        };
        assert!(page.entries.len() == q.max_keys, "a truncated page that is not full");
        q.after = Some(next.to_owned());
        assert!(pages < 100_000, "listing does not end");
    }
    seen
}

async fn key_order(store: &Store, run: &Run) {
    let bucket = run.bucket("keys");
    make_bucket(store, &bucket).await;
    let mut keys: Vec<String> = [
        "a",
        "a/b",
        "a~",
        "aé",
        "b",
        "A",
        "a b",
        "a\u{7f}",
        "a/",
        "a//",
        "é",
        "ü/x",
        "日本語/キー",
        "\u{10FFFF}",
        "\u{FFFD}x",
        "a\u{1F600}",
        "a%2F",
        "a+b",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    keys.push("k".repeat(1024));
    keys.push("é".repeat(512));
    keys.push(format!("{}é", "a".repeat(1022)));
    // Created in reverse byte order.
    keys.sort();
    for k in keys.iter().rev() {
        let obj = object(&bucket, k, &[]);
        ok(store.put_object(&obj, &WriteCondition::default(), GRACE, &[]).await, "put_object");
    }
    let summaries = |v: Vec<crate::ObjectSummary>| v.into_iter().map(|s| s.key).collect::<Vec<_>>();
    let got = summaries(ok(store.scan_objects(&bucket, "", true, None, 1000).await, "scan_objects"));
    assert_eq!(got, keys, "scan_objects is not in byte order");
    let sample: Vec<&String> = got.iter().filter(|k| ["a", "a/b", "a~", "aé", "b"].contains(&k.as_str())).collect();
    assert_eq!(sample, ["a", "a/b", "a~", "aé", "b"]);

    let expect = |f: &dyn Fn(&str) -> bool| keys.iter().filter(|k| f(k)).cloned().collect::<Vec<_>>();
    let scan = |from: &'static str, inclusive: bool, to: Option<&'static str>, limit: usize| {
        let store = Arc::clone(store);
        let bucket = bucket.clone();
        async move { summaries(ok(store.scan_objects(&bucket, from, inclusive, to, limit).await, "scan_objects")) }
    };
    assert_eq!(scan("a", false, None, 1000).await, expect(&|k| k > "a"));
    assert_eq!(scan("a", true, None, 1000).await, expect(&|k| k >= "a"));
    assert_eq!(scan("a", true, Some("b"), 1000).await, expect(&|k| ("a".."b").contains(&k)));
    assert_eq!(scan("a/", false, Some("a0"), 1000).await, ["a//", "a/b"]);
    assert_eq!(scan("a~", false, Some("b"), 1000).await, expect(&|k| k > "a~" && k < "b"));
    assert_eq!(scan("a", true, None, 2).await, expect(&|k| k >= "a")[..2]);
    assert!(scan("b", true, Some("b"), 1000).await.is_empty());
    assert!(scan("a", true, None, 0).await.is_empty());

    for k in ["k".repeat(1024), "é".repeat(512)] {
        assert_eq!(get(store, &bucket, &k).await.map(|o| o.key), Some(k.clone()), "a 1024-byte key");
    }

    for (prefix, delimiter) in
        [("", Some("/")), ("a", Some("/")), ("a/", Some("/")), ("", None), ("a", None), ("é", Some("/"))]
    {
        let q =
            ListQuery { prefix: prefix.to_owned(), delimiter: delimiter.map(str::to_owned), after: None, max_keys: 2 };
        let got = list_all(store, &bucket, q).await;
        assert_eq!(
            got,
            model_listing(&keys, prefix, delimiter, None),
            "listing prefix {prefix:?} delimiter {delimiter:?}"
        );
    }

    for k in &keys {
        assert!(
            ok(
                store.delete_object(&bucket, k, &DeleteCondition::default(), GRACE, &|_| Vec::new()).await,
                "delete_object"
            )
            .is_some()
        );
    }
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

/// Puts (or deletes, with `delete`) zero-byte objects at `keys` from several tasks.
async fn bulk(store: &Store, bucket: &str, keys: &[String], delete: bool) {
    const TASKS: usize = 8;
    let chunk = keys.len().div_ceil(TASKS);
    let tasks: Vec<_> = keys
        .chunks(chunk)
        .map(|c| {
            let (store, bucket, c) = (Arc::clone(store), bucket.to_owned(), c.to_vec());
            tokio::spawn(async move {
                for k in c {
                    if delete {
                        assert!(
                            ok(
                                store
                                    .delete_object(&bucket, &k, &DeleteCondition::default(), GRACE, &|_| Vec::new())
                                    .await,
                                "delete_object"
                            )
                            .is_some()
                        );
                    } else {
                        let obj = object(&bucket, &k, &[]);
                        ok(store.put_object(&obj, &WriteCondition::default(), GRACE, &[]).await, "put_object");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("bulk task panicked");
    }
}

async fn big_listing(store: &Store, run: &Run) {
    let bucket = run.bucket("big");
    make_bucket(store, &bucket).await;
    let mut keys: Vec<String> = (0..10_000).map(|i| format!("dir{}/file{i:05}", i % 7)).collect();
    keys.extend((0..50).map(|i| format!("top{i:02}")));
    keys.extend((0..20).map(|i| format!("dir3/sub/x{i:02}")));
    keys.extend(["dir3/", "dir3", "dir3/sub/"].map(str::to_owned));
    keys.sort();
    bulk(store, &bucket, &keys, false).await;

    let q = |prefix: &str, delimiter: Option<&str>, after: Option<&str>, max_keys: usize| ListQuery {
        prefix: prefix.to_owned(),
        delimiter: delimiter.map(str::to_owned),
        after: after.map(str::to_owned),
        max_keys,
    };
    // Everything, 1000 a page.
    let got = list_all(store, &bucket, q("", None, None, 1000)).await;
    assert_eq!(got.len(), keys.len());
    assert!(got == keys, "listing every key in pages of 1000 lost or reordered keys");

    // Grouped at the top level, a few entries a page.
    let got = list_all(store, &bucket, q("", Some("/"), None, 3)).await;
    assert_eq!(got, model_listing(&keys, "", Some("/"), None));
    assert_eq!(got.iter().filter(|e| e.starts_with("P:")).count(), 7);

    // One directory: 1400-odd objects plus one sub-prefix, 1000 a page.
    let got = list_all(store, &bucket, q("dir3/", Some("/"), None, 1000)).await;
    let want = model_listing(&keys, "dir3/", Some("/"), None);
    assert_eq!(got, want);
    assert!(want.contains(&"P:dir3/sub/".to_owned()) && want.contains(&"dir3/".to_owned()));

    // Starting after a marker, with and without a delimiter.
    let got = list_all(store, &bucket, q("dir3/", None, Some("dir3/file05000"), 250)).await;
    assert_eq!(got, model_listing(&keys, "dir3/", None, Some("dir3/file05000")));
    let got = list_all(store, &bucket, q("", Some("/"), Some("dir3/"), 4)).await;
    assert_eq!(got, model_listing(&keys, "", Some("/"), Some("dir3/")));

    let empty = ok(list_objects(store.as_ref(), &bucket, &q("", None, None, 0)).await, "list_objects");
    assert!(empty.entries.is_empty() && !empty.is_truncated);

    bulk(store, &bucket, &keys, true).await;
    assert!(ok(store.scan_objects(&bucket, "", true, None, 10).await, "scan_objects").is_empty());
    ok(store.delete_bucket(&bucket, &[]).await, "delete_bucket");
}

// ---------------------------------------------------------------------------------------------

/// An event for the outbox whose key names this run and `label`.
fn event(run: &Run, label: &str, body: &str) -> OutboxEvent {
    OutboxEvent { key: format!("{}/{label}", run.id), body: body.to_owned() }
}

/// The outbox rows of this run (other runs may share the database), oldest first.
async fn run_rows(store: &Store, run: &Run) -> Vec<OutboxRow> {
    let rows = ok(store.outbox_rows(1_000_000).await, "outbox_rows");
    rows.into_iter().filter(|r| r.key.starts_with(&run.id)).collect()
}

fn bodies(rows: &[OutboxRow]) -> Vec<&str> {
    rows.iter().map(|r| r.body.as_str()).collect()
}

/// Events are written with the change that succeeds and never with one that fails; reading,
/// removing and the backlog; the relay lease.
async fn outbox(store: &Store, run: &Run) {
    let b = run.bucket("ob");
    // With the change.
    ok(store.create_bucket(&bucket_record(&b, "suite-owner"), &[event(run, "b", "created")]).await, "create_bucket");
    assert_err!(
        store.create_bucket(&bucket_record(&b, "suite-owner"), &[event(run, "b", "created twice")]).await,
        StoreError::BucketExists { .. }
    );
    let blobs = pending_blobs(store, 2).await;
    let first = object(&b, "k", &blobs[..1]);
    ok(store.put_object(&first, &WriteCondition::default(), GRACE, &[event(run, "k", "put 1")]).await, "put_object");
    // A refused write writes no event.
    let second = object(&b, "k", &blobs[1..]);
    assert_err!(
        store.put_object(&second, &if_none_match(), GRACE, &[event(run, "k", "refused put")]).await,
        StoreError::PreconditionFailed
    );
    ok(
        store
            .put_object(
                &second,
                &if_match(&first.etag),
                GRACE,
                &[event(run, "k", "put 2"), event(run, "k", "put 2 bis")],
            )
            .await,
        "put_object",
    );
    ok(
        store.set_bucket_config(&b, BucketConfig::Policy, Some("{}"), &[event(run, "b", "policy")]).await,
        "set_bucket_policy",
    );
    assert_err!(
        store
            .set_bucket_config(
                &run.bucket("none"),
                BucketConfig::Policy,
                Some("{}"),
                &[event(run, "b", "policy of nothing")]
            )
            .await,
        StoreError::NoSuchBucket
    );
    // Deletion events are made from what was deleted; deleting nothing makes none.
    let made = |o: &ObjectMeta| vec![OutboxEvent { key: format!("{}/k", run.id), body: format!("deleted {}", o.etag) }];
    let gone = ok(store.delete_object(&b, "k", &DeleteCondition::default(), GRACE, &made).await, "delete_object");
    assert_eq!(gone.as_ref().map(|o| o.etag.as_str()), Some(second.etag.as_str()));
    assert_eq!(
        ok(store.delete_object(&b, "k", &DeleteCondition::default(), GRACE, &made).await, "delete_object"),
        None
    );
    ok(store.append_events(&[event(run, "r", "read 1"), event(run, "r", "read 2")]).await, "append_events");
    ok(store.delete_bucket(&b, &[event(run, "b", "deleted")]).await, "delete_bucket");
    for blob in &blobs {
        assert_queued_after(store, blob, GRACE).await;
    }

    let rows = run_rows(store, run).await;
    let deleted = format!("deleted {}", second.etag);
    assert_eq!(
        bodies(&rows),
        vec!["created", "put 1", "put 2", "put 2 bis", "policy", deleted.as_str(), "read 1", "read 2", "deleted"],
        "the outbox holds the events of the changes made, in commit order"
    );
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id), "ids increase: {rows:?}");
    let backlog = ok(store.outbox_backlog().await, "outbox_backlog");
    assert!(backlog.rows >= rows.len() as u64, "{backlog:?}");
    let oldest = backlog.oldest_ms.expect("an oldest row");
    assert!(oldest <= rows[0].created_at, "{backlog:?}");
    assert!(ok(store.outbox_rows(2).await, "outbox_rows").len() <= 2, "the limit holds");

    // Removal takes exactly the rows named.
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ok(store.outbox_remove(&ids[..3]).await, "outbox_remove");
    assert_eq!(bodies(&run_rows(store, run).await).len(), rows.len() - 3);
    ok(store.outbox_remove(&ids[3..]).await, "outbox_remove");
    assert!(run_rows(store, run).await.is_empty());

    // The lease: one owner at a time, taken over once it lapses.
    let ttl = std::time::Duration::from_millis(1500);
    let (a, b) = (format!("{}-relay-a", run.id), format!("{}-relay-b", run.id));
    let started = std::time::Instant::now();
    // Another run's lease may still be running out.
    while !ok(store.outbox_lease(&a, ttl).await, "outbox_lease") {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the lease was never free");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!ok(store.outbox_lease(&b, ttl).await, "outbox_lease"), "a second relay got a held lease");
    assert!(ok(store.outbox_lease(&a, ttl).await, "outbox_lease"), "the holder renews");
    tokio::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
    assert!(ok(store.outbox_lease(&b, ttl).await, "outbox_lease"), "a lapsed lease is taken over");
    assert!(!ok(store.outbox_lease(&a, ttl).await, "outbox_lease"), "the old holder lost it");
}

fn share_record(run: &Run, label: &str, account: &str, expires_in: Duration, max: Option<u64>) -> Share {
    let created = now();
    Share {
        id: format!("{}-{label}", run.id),
        token_hash: format!("{}-{label}-hash", run.id),
        account_id: account.to_owned(),
        creator_arn: format!("arn:aws:iam::{account}:root"),
        bucket: run.bucket("sh"),
        key: "dir/file.txt".to_owned(),
        filename: Some("report.txt".to_owned()),
        created_at: created,
        expires_at: created + expires_in,
        max_downloads: max,
        downloads: 0,
        last_used_at: None,
        last_counted_at: None,
        revoked: false,
        password_hash: None,
        guesses: 0,
        guesses_since: None,
        upload_rules: None,
        folder: false,
    }
}

/// Share links: round trip by id and token hash, listing per account, revocation, expiry, and
/// the download count, atomic under concurrent downloads.
async fn shares(store: &Store, run: &Run) {
    let account = format!("acct-{}", run.id);
    let a = share_record(run, "a", &account, Duration::hours(1), Some(2));
    ok(store.create_share(&a, &[event(run, "share", "created")]).await, "create_share");
    assert_err!(store.create_share(&a, &[]).await, StoreError::Conflict);
    assert_eq!(ok(store.get_share(&a.id).await, "get_share").as_ref(), Some(&a));
    assert_eq!(ok(store.share_by_token(&a.token_hash).await, "share_by_token").as_ref(), Some(&a));
    assert_eq!(ok(store.get_share("no-such-share").await, "get_share"), None);
    assert!(run_rows(store, run).await.iter().any(|r| r.body == "created"), "create_share wrote its event");

    let mut b = share_record(run, "b", &account, Duration::hours(1), None);
    // An upload link's rules are kept as given (ADR 0015).
    b.upload_rules = Some(r#"{"max_bytes":10}"#.to_owned());
    ok(store.create_share(&b, &[]).await, "create_share");
    assert_eq!(ok(store.get_share(&b.id).await, "get_share").as_ref(), Some(&b));
    // A folder link (its key a prefix) reads back as one.
    let mut f = share_record(run, "f", &account, Duration::hours(1), None);
    f.key = "dir/".to_owned();
    f.folder = true;
    ok(store.create_share(&f, &[]).await, "create_share");
    assert_eq!(ok(store.share_by_token(&f.token_hash).await, "share_by_token").as_ref(), Some(&f));
    let listed = ok(store.list_shares(&account, 100).await, "list_shares");
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.contains(&a.id.as_str()) && ids.contains(&b.id.as_str()));
    assert!(ok(store.list_shares("someone-else", 100).await, "list_shares").is_empty());

    // Counting: a resume before any download is allowed (downloads remain); downloads count up
    // to the limit; then only resumes within the grace period pass.
    let t = now();
    let resumed = ok(store.use_share(&a.id, t, ShareUse::Resume { counted_after: t }).await, "use_share");
    assert_eq!(resumed.map(|s| (s.downloads, s.last_used_at)), Some((0, Some(t))));
    for n in 1..=2 {
        let used = ok(store.use_share(&a.id, t, ShareUse::Download).await, "use_share").expect("download allowed");
        assert_eq!((used.downloads, used.last_counted_at), (n, Some(t)));
    }
    assert_eq!(ok(store.use_share(&a.id, t, ShareUse::Download).await, "use_share"), None, "limit reached");
    let before = t - Duration::minutes(1);
    let after = t + Duration::minutes(1);
    assert!(ok(store.use_share(&a.id, t, ShareUse::Resume { counted_after: before }).await, "use").is_some());
    assert!(ok(store.use_share(&a.id, t, ShareUse::Resume { counted_after: after }).await, "use").is_none());
    assert_eq!(ok(store.get_share(&a.id).await, "get_share").map(|s| s.downloads), Some(2));
    // A refunded use frees a slot (an upload link's failed upload); never below zero.
    ok(store.refund_share_use(&a.id).await, "refund_share_use");
    assert!(ok(store.use_share(&a.id, t, ShareUse::Download).await, "use_share").is_some(), "the slot is free again");
    ok(store.refund_share_use(&b.id).await, "refund_share_use");
    assert_eq!(ok(store.get_share(&b.id).await, "get_share").map(|s| s.downloads), Some(0));

    // Expiry.
    assert!(ok(store.use_share(&b.id, b.expires_at, ShareUse::Download).await, "use_share").is_none(), "expired");
    assert!(
        ok(store.use_share(&b.id, b.expires_at - Duration::milliseconds(1), ShareUse::Download).await, "use").is_some()
    );

    // Revocation.
    assert!(ok(store.revoke_share(&b.id).await, "revoke_share"));
    assert!(!ok(store.revoke_share("no-such-share").await, "revoke_share"));
    assert!(ok(store.get_share(&b.id).await, "get_share").is_some_and(|s| s.revoked));
    assert!(ok(store.use_share(&b.id, now(), ShareUse::Download).await, "use_share").is_none(), "revoked");
    assert!(ok(store.use_share("no-such-share", now(), ShareUse::Download).await, "use_share").is_none());

    // Racing downloads never exceed the limit.
    let c = share_record(run, "c", &account, Duration::hours(1), Some(5));
    ok(store.create_share(&c, &[]).await, "create_share");
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (store, id) = (store.clone(), c.id.clone());
        tasks.push(tokio::spawn(async move { store.use_share(&id, now(), ShareUse::Download).await }));
    }
    let mut won = 0;
    for t in tasks {
        if ok(t.await.expect("task"), "use_share").is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 5, "exactly max_downloads racing downloads win");

    // Password guesses: at most `max` per window, charged atomically; a refund gives one back;
    // a new window starts after the last one ended.
    let mut d = share_record(run, "d", &account, Duration::hours(1), None);
    d.password_hash = Some("$argon2id$fake".to_owned());
    ok(store.create_share(&d, &[]).await, "create_share");
    let t = now();
    let window = Duration::minutes(15);
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (store, id) = (store.clone(), d.id.clone());
        tasks.push(tokio::spawn(async move { store.charge_share_guess(&id, t, window, 3).await }));
    }
    let mut charged = 0;
    for t in tasks {
        if ok(t.await.expect("task"), "charge_share_guess") {
            charged += 1;
        }
    }
    assert_eq!(charged, 3, "exactly max guesses are charged in a window");
    let shown = ok(store.get_share(&d.id).await, "get_share").expect("share");
    assert_eq!(
        (shown.guesses, shown.guesses_since, shown.password_hash.as_deref()),
        (3, Some(t), Some("$argon2id$fake"))
    );
    ok(store.refund_share_guess(&d.id).await, "refund_share_guess");
    assert!(ok(store.charge_share_guess(&d.id, t, window, 3).await, "charge"), "a refund gives a guess back");
    assert!(!ok(store.charge_share_guess(&d.id, t + Duration::minutes(14), window, 3).await, "charge"));
    assert!(ok(store.charge_share_guess(&d.id, t + window, window, 3).await, "charge"), "a new window");
    let shown = ok(store.get_share(&d.id).await, "get_share").expect("share");
    assert_eq!((shown.guesses, shown.guesses_since), (1, Some(t + window)));
    assert_eq!(ok(store.get_share(&c.id).await, "get_share").map(|s| s.downloads), Some(5));

    // The live download links serving a key (the explain tool's): `a` and `c` are used up, `b`
    // is revoked (and an upload link); `f` is a folder over the key, `d` the key's own. A
    // folder's prefix is compared as text, not as a LIKE pattern.
    let mut g = share_record(run, "g", &account, Duration::hours(1), None);
    g.key = "d_r/".to_owned();
    g.folder = true;
    ok(store.create_share(&g, &[]).await, "create_share");
    let live = |key: Option<&'static str>, at: OffsetDateTime| {
        let store = store.clone();
        let bucket = run.bucket("sh");
        async move {
            let mut ids: Vec<String> =
                ok(store.live_shares(&bucket, key, at, 100).await, "live_shares").into_iter().map(|s| s.id).collect();
            ids.sort();
            ids
        }
    };
    let mut want = vec![d.id.clone(), f.id.clone()];
    want.sort();
    assert_eq!(live(Some("dir/file.txt"), now()).await, want);
    assert_eq!(live(Some("dir/other"), now()).await, [f.id.clone()]);
    assert!(live(Some("dar/file.txt"), now()).await.is_empty(), "d_r/ is no pattern");
    assert!(live(Some("dirx"), now()).await.is_empty());
    let mut all = vec![d.id.clone(), f.id.clone(), g.id.clone()];
    all.sort();
    assert_eq!(live(None, now()).await, all);
    assert!(live(None, now() + Duration::hours(2)).await.is_empty(), "expired links are not live");
    assert!(ok(store.live_shares("no-such-bucket", None, now(), 100).await, "live_shares").is_empty());
}

/// KMS keys (ADR 0014): created once per id, read back as written, listed by id; a bucket's
/// default encryption is a bucket setting like the others.
async fn kms_keys(store: &Store, run: &Run) {
    let key = |label: &str, account: Option<&str>| crate::KmsKeyRecord {
        id: format!("{}-{label}", run.id),
        account_id: account.map(str::to_owned),
        sealed_material: format!("sealed-{label}"),
        description: Some("suite".into()),
        created_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time"),
    };
    let a = key("a", None);
    let b = key("b", Some("acct-1"));
    ok(store.create_kms_key(&b).await, "create_kms_key");
    ok(store.create_kms_key(&a).await, "create_kms_key");
    assert_err!(store.create_kms_key(&key("a", Some("other"))).await, StoreError::Conflict);
    assert_eq!(ok(store.get_kms_key(&a.id).await, "get_kms_key").as_ref(), Some(&a));
    assert_eq!(ok(store.get_kms_key(&b.id).await, "get_kms_key").as_ref(), Some(&b));
    assert_eq!(ok(store.get_kms_key("no-such-key").await, "get_kms_key"), None);
    let ids: Vec<String> = ok(store.list_kms_keys().await, "list_kms_keys")
        .into_iter()
        .map(|k| k.id)
        .filter(|id| id.starts_with(&run.id))
        .collect();
    assert_eq!(ids, vec![a.id.clone(), b.id.clone()], "listed by id");

    let name = run.bucket("enc");
    ok(store.create_bucket(&bucket_record(&name, "acct-1"), &[]).await, "create_bucket");
    let rule = r#"{"algorithm":"AES256"}"#;
    ok(store.set_bucket_config(&name, BucketConfig::Encryption, Some(rule), &[]).await, "set encryption");
    let got = ok(store.get_bucket(&name).await, "get_bucket").expect("bucket");
    assert_eq!(got.encryption.as_deref(), Some(rule));
    ok(store.set_bucket_config(&name, BucketConfig::Encryption, None, &[]).await, "delete encryption");
    let got = ok(store.get_bucket(&name).await, "get_bucket").expect("bucket");
    assert_eq!(got.encryption, None);
    ok(store.delete_bucket(&name, &[]).await, "delete_bucket");
}

/// Account-wide settings: none until set, replaced, removed, one account's apart from
/// another's, written with their events.
async fn account_settings(store: &Store, run: &Run) {
    let a = format!("{}-acct-a", run.id);
    let b = format!("{}-acct-b", run.id);
    let cfg = crate::AccountConfig::PublicAccessBlock;
    assert_eq!(ok(store.get_account_config(&a, cfg).await, "get_account_config"), None);
    let on = r#"{"restrict_public_buckets":true}"#;
    let ev = event(run, "acct", "account block");
    ok(store.set_account_config(&a, cfg, Some(on), &[ev]).await, "set_account_config");
    assert_eq!(ok(store.get_account_config(&a, cfg).await, "get_account_config").as_deref(), Some(on));
    assert_eq!(ok(store.get_account_config(&b, cfg).await, "get_account_config"), None, "another account's");
    let rows: Vec<OutboxRow> = run_rows(store, run).await.into_iter().filter(|r| r.body == "account block").collect();
    assert_eq!(rows.len(), 1, "the change's event is written with it");
    ok(store.outbox_remove(&rows.iter().map(|r| r.id).collect::<Vec<_>>()).await, "outbox_remove");
    let all = r#"{"block_public_acls":true,"ignore_public_acls":true}"#;
    ok(store.set_account_config(&a, cfg, Some(all), &[]).await, "replace");
    ok(store.set_account_config(&b, cfg, Some(on), &[]).await, "set b");
    assert_eq!(ok(store.get_account_config(&a, cfg).await, "get_account_config").as_deref(), Some(all));
    ok(store.set_account_config(&a, cfg, None, &[]).await, "remove");
    assert_eq!(ok(store.get_account_config(&a, cfg).await, "get_account_config"), None);
    assert_eq!(ok(store.get_account_config(&b, cfg).await, "get_account_config").as_deref(), Some(on));
    ok(store.set_account_config(&b, cfg, None, &[]).await, "remove b");
}

// ---------------------------------------------------------------------------------------------
// Versions (ADR 0017).

/// A fresh object of one pending blob carrying version id `id`.
async fn version_of(store: &Store, bucket: &str, key: &str, id: Option<&str>) -> ObjectMeta {
    let blobs = pending_blobs(store, 1).await;
    let mut obj = object(bucket, key, &blobs);
    obj.attributes.version_id = id.map(str::to_owned);
    obj
}

async fn put_version(store: &Store, obj: &ObjectMeta, v: Versioning) {
    ok(store.put_object_version(obj, &WriteCondition::default(), v, GRACE, &[]).await, "put_object_version");
}

/// `(version id or "null", is delete marker, is latest)` of every version of `bucket`, in order.
async fn all_versions(store: &Store, bucket: &str, q: VersionListQuery) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let mut q = q;
    loop {
        let page = ok(list_object_versions(store.as_ref(), bucket, &q).await, "list_object_versions");
        for v in &page.versions {
            out.push((
                v.meta.key.clone(),
                v.version_id().unwrap_or("null").to_owned(),
                v.is_delete_marker,
                v.is_latest,
            ));
        }
        if !page.is_truncated {
            return out;
        }
        q.key_marker = page.next_key_marker;
        q.version_id_marker = page.next_version_id_marker;
    }
}

fn no_events(_: &ObjectMeta) -> Vec<OutboxEvent> {
    Vec::new()
}

async fn versions(store: &Store, run: &Run) {
    let b = run.bucket("versions");
    make_bucket(store, &b).await;
    ok(store.set_bucket_config(&b, BucketConfig::Versioning, Some("Enabled"), &[]).await, "set versioning");
    let rec = ok(store.get_bucket(&b).await, "get_bucket").expect("bucket");
    assert_eq!(rec.versioning, Some(Versioning::Enabled));

    // A null version written before versioning, then two versions: every blob stays live.
    let null = put_new(store, &b, "k").await;
    let v1 = version_of(store, &b, "k", Some("v1")).await;
    put_version(store, &v1, Versioning::Enabled).await;
    let v2 = version_of(store, &b, "k", Some("v2")).await;
    put_version(store, &v2, Versioning::Enabled).await;
    assert_eq!(get(store, &b, "k").await.expect("current").attributes.version_id.as_deref(), Some("v2"));
    for o in [&null, &v1, &v2] {
        assert_not_queued(store, &o.parts[0].blob).await;
    }
    let got = ok(store.get_object_version(&b, "k", Some("v1")).await, "get_object_version").expect("v1");
    assert_eq!((got.meta.etag.as_str(), got.is_latest, got.is_delete_marker), (v1.etag.as_str(), false, false));
    let got = ok(store.get_object_version(&b, "k", None).await, "get_object_version").expect("null");
    assert_eq!(got.meta.etag, null.etag);
    assert!(ok(store.get_object_version(&b, "k", Some("nope")).await, "get_object_version").is_none());
    let listed = all_versions(store, &b, VersionListQuery { max_keys: 1, ..Default::default() }).await;
    let want = |v: &[(&str, &str, bool, bool)]| {
        v.iter().map(|(k, i, m, l)| ((*k).to_owned(), (*i).to_owned(), *m, *l)).collect::<Vec<_>>()
    };
    assert_eq!(listed, want(&[("k", "v2", false, true), ("k", "v1", false, false), ("k", "null", false, false)]));

    // If-None-Match refuses while there is a current version.
    let refused = version_of(store, &b, "k", Some("v-refused")).await;
    assert_err!(
        store.put_object_version(&refused, &if_none_match(), Versioning::Enabled, GRACE, &[]).await,
        StoreError::PreconditionFailed
    );

    // A delete marker hides the key and keeps every version.
    let marker = ok(
        store
            .put_delete_marker(
                &b,
                "k",
                Some("m1"),
                now(),
                &DeleteCondition::default(),
                Versioning::Enabled,
                GRACE,
                &no_events,
            )
            .await,
        "put_delete_marker",
    );
    assert!(marker.is_delete_marker && marker.is_latest);
    assert!(get(store, &b, "k").await.is_none());
    let latest = ok(store.latest_version(&b, "k").await, "latest_version").expect("marker");
    assert!(latest.is_delete_marker && latest.version_id() == Some("m1"));
    assert_not_queued(store, &v2.parts[0].blob).await;
    ok(
        store.delete_bucket(&b, &[]).await.map(|_| ()).or_else(|e| match e {
            StoreError::BucketNotEmpty => Ok(()),
            e => Err(e),
        }),
        "delete_bucket",
    );
    assert!(ok(store.get_bucket(&b).await, "get_bucket").is_some(), "a bucket with versions was deleted");

    // Deleting the marker by id promotes v2 again; deleting v2 (current) promotes v1.
    let gone = ok(store.delete_object_version(&b, "k", Some("m1"), GRACE, &no_events).await, "delete marker");
    assert!(gone.expect("marker").is_delete_marker);
    assert_eq!(get(store, &b, "k").await.expect("v2 current").etag, v2.etag);
    let gone = ok(store.delete_object_version(&b, "k", Some("v2"), GRACE, &no_events).await, "delete v2");
    assert!(gone.expect("v2").is_latest);
    assert_queued_after(store, &v2.parts[0].blob, GRACE).await;
    assert_eq!(get(store, &b, "k").await.expect("v1 current").etag, v1.etag);
    assert!(ok(store.delete_object_version(&b, "k", Some("v2"), GRACE, &no_events).await, "again").is_none());

    // Suspended: a write replaces the null version (its blobs queued), keeps v1.
    ok(store.set_bucket_config(&b, BucketConfig::Versioning, Some("Suspended"), &[]).await, "suspend");
    let s1 = version_of(store, &b, "k", None).await;
    put_version(store, &s1, Versioning::Suspended).await;
    assert_queued_after(store, &null.parts[0].blob, GRACE).await;
    assert_not_queued(store, &v1.parts[0].blob).await;
    let s2 = version_of(store, &b, "k", None).await;
    put_version(store, &s2, Versioning::Suspended).await;
    assert_queued_after(store, &s1.parts[0].blob, GRACE).await;
    // A suspended delete replaces the null version with a null marker.
    let m = ok(
        store
            .put_delete_marker(
                &b,
                "k",
                None,
                now(),
                &DeleteCondition::default(),
                Versioning::Suspended,
                GRACE,
                &no_events,
            )
            .await,
        "null marker",
    );
    assert_eq!(m.version_id(), None);
    assert_queued_after(store, &s2.parts[0].blob, GRACE).await;
    let listed = all_versions(store, &b, VersionListQuery { max_keys: 1000, ..Default::default() }).await;
    assert_eq!(listed, want(&[("k", "null", true, true), ("k", "v1", false, false)]));

    // Listing with prefix, delimiter and markers over several keys.
    ok(store.set_bucket_config(&b, BucketConfig::Versioning, Some("Enabled"), &[]).await, "enable");
    for (key, id) in [("a/1", "x1"), ("a/1", "x2"), ("a/2", "x3"), ("b", "x4"), ("b", "x5")] {
        let o = version_of(store, &b, key, Some(id)).await;
        put_version(store, &o, Versioning::Enabled).await;
    }
    let q = VersionListQuery { delimiter: Some("/".into()), max_keys: 2, ..Default::default() };
    let page = ok(list_object_versions(store.as_ref(), &b, &q).await, "list");
    assert_eq!(page.common_prefixes, vec!["a/".to_owned()]);
    assert_eq!(page.versions.len(), 1);
    assert_eq!(page.versions[0].version_id(), Some("x5"));
    assert!(page.is_truncated);
    assert_eq!(page.next_key_marker.as_deref(), Some("b"));
    assert_eq!(page.next_version_id_marker.as_deref(), Some("x5"));
    let rest = all_versions(
        store,
        &b,
        VersionListQuery {
            key_marker: Some("b".into()),
            version_id_marker: Some("x5".into()),
            max_keys: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(rest, want(&[("b", "x4", false, false), ("k", "null", true, true), ("k", "v1", false, false)]));
    let prefixed =
        all_versions(store, &b, VersionListQuery { prefix: "a/".into(), max_keys: 1, ..Default::default() }).await;
    assert_eq!(prefixed, want(&[("a/1", "x2", false, true), ("a/1", "x1", false, false), ("a/2", "x3", false, true)]));

    // Emptying every version lets the bucket go.
    for (key, id) in [
        ("a/1", Some("x1")),
        ("a/1", Some("x2")),
        ("a/2", Some("x3")),
        ("b", Some("x4")),
        ("b", Some("x5")),
        ("k", None),
        ("k", Some("v1")),
    ] {
        assert!(
            ok(store.delete_object_version(&b, key, id, GRACE, &no_events).await, "delete").is_some(),
            "{key} {id:?}"
        );
    }
    assert_queued_after(store, &v1.parts[0].blob, GRACE).await;
    ok(store.delete_bucket(&b, &[]).await, "delete_bucket");
}

/// Concurrent writes of one key's versions (the s3-tests' concurrent create and remove): every
/// version written is listed, every version removed at once is gone, whatever the order in
/// which removals promote the next newest version.
async fn version_races(store: &Store, run: &Run) {
    let b = run.bucket("vrace");
    make_bucket(store, &b).await;
    ok(store.set_bucket_config(&b, BucketConfig::Versioning, Some("Enabled"), &[]).await, "set versioning");
    for round in 0..3 {
        let mut objs = Vec::new();
        for i in 0..6 {
            objs.push(version_of(store, &b, "k", Some(&format!("r{round}v{i}"))).await);
        }
        race(store, objs, |store, obj| async move {
            ok(
                store.put_object_version(&obj, &WriteCondition::default(), Versioning::Enabled, GRACE, &[]).await,
                "put",
            );
        })
        .await;
        let listed = all_versions(store, &b, VersionListQuery { max_keys: 1000, ..Default::default() }).await;
        assert_eq!(listed.len(), 6, "round {round}: {listed:?}");
        assert_eq!(listed.iter().filter(|v| v.3).count(), 1, "one latest: {listed:?}");
        let items: Vec<(String, String)> = listed.into_iter().map(|v| (b.clone(), v.1)).collect();
        let removed = race(store, items, |store, (bucket, id)| async move {
            ok(store.delete_object_version(&bucket, "k", Some(&id), GRACE, &no_events).await, "delete version")
                .is_some()
        })
        .await;
        assert!(removed.iter().all(|r| *r), "round {round}: every version was there to remove");
        assert!(get(store, &b, "k").await.is_none(), "round {round}: no current version left");
        assert!(all_versions(store, &b, VersionListQuery { max_keys: 1000, ..Default::default() }).await.is_empty());
    }
    ok(store.delete_bucket(&b, &[]).await, "delete_bucket");
}

// ---------------------------------------------------------------------------------------------
// Object lock (ADR 0018).

/// Milliseconds since the epoch, `d` from now.
fn ms_from_now(d: Duration) -> i64 {
    i64::try_from((now() + d).unix_timestamp_nanos() / 1_000_000).expect("ms")
}

/// A locked version cannot be removed by any path of the store (by version id, by the
/// suspended null-version replacement); an unlocked one (retention expired, hold off) can;
/// GOVERNANCE yields to the bypass, COMPLIANCE and a legal hold do not. Nothing of a locked
/// version is queued for collection. The versioning and lock settings guard each other.
async fn object_lock(store: &Store, run: &Run) {
    let b = run.bucket("lock");
    make_bucket(store, &b).await;
    // Object lock needs versioning Enabled, and keeps it.
    assert_err!(store.set_bucket_config(&b, BucketConfig::ObjectLock, Some("{}"), &[]).await, StoreError::ObjectLocked);
    ok(store.set_bucket_config(&b, BucketConfig::Versioning, Some("Enabled"), &[]).await, "set versioning");
    ok(store.set_bucket_config(&b, BucketConfig::ObjectLock, Some("{}"), &[]).await, "set object lock");
    assert_err!(
        store.set_bucket_config(&b, BucketConfig::Versioning, Some("Suspended"), &[]).await,
        StoreError::ObjectLocked
    );
    let rec = ok(store.get_bucket(&b).await, "get_bucket").expect("bucket");
    assert_eq!((rec.versioning, rec.object_lock.as_deref()), (Some(Versioning::Enabled), Some("{}")));
    assert_err!(
        store.set_bucket_config("no-such-bucket-lock", BucketConfig::ObjectLock, Some("{}"), &[]).await,
        StoreError::NoSuchBucket
    );

    // A bucket created locked and versioned.
    let created = run.bucket("lockc");
    let mut rec = bucket_record(&created, "owner");
    rec.versioning = Some(Versioning::Enabled);
    rec.object_lock = Some("{}".to_owned());
    ok(store.create_bucket(&rec, &[]).await, "create locked bucket");
    let got = ok(store.get_bucket(&created).await, "get_bucket").expect("bucket");
    assert_eq!((got.versioning, got.object_lock.as_deref()), (Some(Versioning::Enabled), Some("{}")));
    ok(store.delete_bucket(&created, &[]).await, "delete_bucket");

    let future = ms_from_now(Duration::days(1));
    let past = ms_from_now(Duration::seconds(-1));
    let comp_until = ms_from_now(Duration::seconds(3));
    type Case = (&'static str, Option<LockMode>, Option<i64>, Option<bool>, bool, bool);
    let cases: [Case; 6] = [
        // (version id, mode, retain until, legal hold, removable without bypass, with bypass)
        ("gov", Some(LockMode::Governance), Some(future), None, false, true),
        // Short, so that the run can remove it once it expired: nothing else may.
        ("comp", Some(LockMode::Compliance), Some(comp_until), None, false, false),
        ("hold", None, None, Some(true), false, false),
        ("hold-gov", Some(LockMode::Governance), Some(future), Some(true), false, false),
        ("expired", Some(LockMode::Compliance), Some(past), None, true, true),
        ("hold-off", None, None, Some(false), true, true),
    ];
    for (i, &(id, mode, until, hold, plain, bypass)) in cases.iter().enumerate() {
        let key = format!("k{i}");
        let mut v = version_of(store, &b, &key, Some(id)).await;
        v.attributes.lock_mode = mode;
        v.attributes.retain_until = until;
        v.attributes.legal_hold = hold;
        put_version(store, &v, Versioning::Enabled).await;
        // Current, then noncurrent under a newer version: both paths of the removal.
        for current in [true, false] {
            if !current {
                let newer = version_of(store, &b, &key, Some(&format!("{id}-newer"))).await;
                put_version(store, &newer, Versioning::Enabled).await;
            }
            if !plain {
                assert_err!(
                    store.delete_object_version(&b, &key, Some(id), GRACE, &no_events).await,
                    StoreError::ObjectLocked,
                    "{id} current={current}"
                );
                // Nothing changed: the version is there, its blob not queued.
                let still = ok(store.get_object_version(&b, &key, Some(id)).await, "get").expect("kept");
                assert_eq!(still.meta.etag, v.etag, "{id}");
                assert_not_queued(store, &v.parts[0].blob).await;
            }
            if !bypass {
                assert_err!(
                    store.delete_object_version_with(&b, &key, Some(id), true, GRACE, &no_events).await,
                    StoreError::ObjectLocked,
                    "{id} bypass current={current}"
                );
                assert_not_queued(store, &v.parts[0].blob).await;
            }
        }
        if plain || bypass {
            let gone =
                ok(store.delete_object_version_with(&b, &key, Some(id), !plain, GRACE, &no_events).await, "delete");
            assert!(gone.is_some(), "{id}");
            assert_queued_after(store, &v.parts[0].blob, GRACE).await;
        } else {
            // Lift the lock (PutObjectLegalHold OFF, a GOVERNANCE retention shortened; a
            // COMPLIANCE one only expires), then remove.
            if mode == Some(LockMode::Compliance) {
                while ms_from_now(Duration::ZERO) <= comp_until {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
            let change = |o: &ObjectMeta| {
                let mut a = o.attributes.clone();
                a.legal_hold = Some(false);
                if a.lock_mode == Some(LockMode::Governance) {
                    a.retain_until = Some(past);
                }
                Ok(a)
            };
            ok(store.update_version_attributes(&b, &key, Some(id), &change, &no_events).await, "unlock").expect("v");
            let gone = ok(store.delete_object_version(&b, &key, Some(id), GRACE, &no_events).await, "delete");
            assert!(gone.is_some(), "{id}");
            assert_queued_after(store, &v.parts[0].blob, GRACE).await;
        }
        // A delete marker over a locked version is allowed (and removable).
        let newer = format!("{id}-newer");
        let marker = ok(
            store
                .put_delete_marker(
                    &b,
                    &key,
                    Some("m"),
                    now(),
                    &DeleteCondition::default(),
                    Versioning::Enabled,
                    GRACE,
                    &no_events,
                )
                .await,
            "marker",
        );
        assert!(marker.is_delete_marker);
        for vid in ["m", newer.as_str()] {
            assert!(ok(store.delete_object_version(&b, &key, Some(vid), GRACE, &no_events).await, "delete").is_some());
        }
    }

    // No attributes change weakens a COMPLIANCE retention in force, whoever asks: the store
    // refuses it (current and noncurrent versions); lengthening it or changing other
    // attributes is fine.
    // A short retention, so that the run can remove the version when it has expired.
    let soon = ms_from_now(Duration::seconds(3));
    let mut comp = version_of(store, &b, "comp", Some("c1")).await;
    comp.attributes.lock_mode = Some(LockMode::Compliance);
    comp.attributes.retain_until = Some(soon);
    put_version(store, &comp, Versioning::Enabled).await;
    let drop_lock = |o: &ObjectMeta| {
        let mut a = o.attributes.clone();
        a.lock_mode = None;
        a.retain_until = None;
        Ok(a)
    };
    let shorten = |o: &ObjectMeta| {
        let mut a = o.attributes.clone();
        a.retain_until = Some(soon - 1);
        Ok(a)
    };
    let to_governance = |o: &ObjectMeta| {
        let mut a = o.attributes.clone();
        a.lock_mode = Some(LockMode::Governance);
        Ok(a)
    };
    let lengthen_and_tag = |o: &ObjectMeta| {
        let mut a = o.attributes.clone();
        a.retain_until = Some(soon + 1);
        a.tags = vec![Tag { key: "k".into(), value: "v".into() }];
        Ok(a)
    };
    let weakening: [crate::AttributesChange<'_>; 3] = [&drop_lock, &shorten, &to_governance];
    for change in weakening {
        assert_err!(store.update_object_attributes(&b, "comp", change, &no_events).await, StoreError::ObjectLocked);
        assert_err!(
            store.update_version_attributes(&b, "comp", Some("c1"), change, &no_events).await,
            StoreError::ObjectLocked
        );
    }
    let got =
        ok(store.update_object_attributes(&b, "comp", &lengthen_and_tag, &no_events).await, "lengthen").expect("comp");
    assert_eq!((got.attributes.retain_until, got.attributes.tags.len()), (Some(soon + 1), 1));
    let newer = version_of(store, &b, "comp", Some("c2")).await;
    put_version(store, &newer, Versioning::Enabled).await;
    for change in weakening {
        assert_err!(
            store.update_version_attributes(&b, "comp", Some("c1"), change, &no_events).await,
            StoreError::ObjectLocked
        );
    }
    assert_err!(store.delete_object_version(&b, "comp", Some("c1"), GRACE, &no_events).await, StoreError::ObjectLocked);
    assert_not_queued(store, &comp.parts[0].blob).await;
    // Once expired, it goes like any version.
    while ms_from_now(Duration::ZERO) <= soon + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for id in ["c1", "c2"] {
        assert!(ok(store.delete_object_version(&b, "comp", Some(id), GRACE, &no_events).await, "delete").is_some());
    }
    assert_queued_after(store, &comp.parts[0].blob, GRACE).await;

    // A locked null version is not replaced for good by the suspended write path (reachable
    // only if a bucket were suspended after locking, which the guard above refuses).
    let nb = run.bucket("locknull");
    make_bucket(store, &nb).await;
    ok(store.set_bucket_config(&nb, BucketConfig::Versioning, Some("Suspended"), &[]).await, "suspend");
    let mut null = version_of(store, &nb, "n", None).await;
    null.attributes.legal_hold = Some(true);
    put_version(store, &null, Versioning::Suspended).await;
    let replacing = version_of(store, &nb, "n", None).await;
    assert_err!(
        store.put_object_version(&replacing, &WriteCondition::default(), Versioning::Suspended, GRACE, &[]).await,
        StoreError::ObjectLocked
    );
    assert_err!(
        store
            .put_delete_marker(
                &nb,
                "n",
                None,
                now(),
                &DeleteCondition::default(),
                Versioning::Suspended,
                GRACE,
                &no_events
            )
            .await,
        StoreError::ObjectLocked
    );
    assert_not_queued(store, &null.parts[0].blob).await;
    assert_eq!(get(store, &nb, "n").await.expect("kept").etag, null.etag);
    // Nor by an unversioned delete.
    assert_err!(
        store.delete_object(&nb, "n", &DeleteCondition::default(), GRACE, &no_events).await,
        StoreError::ObjectLocked
    );
    let unhold = |o: &ObjectMeta| {
        let mut a = o.attributes.clone();
        a.legal_hold = Some(false);
        Ok(a)
    };
    ok(store.update_object_attributes(&nb, "n", &unhold, &no_events).await, "unhold").expect("n");
    assert!(ok(store.delete_object_version(&nb, "n", None, GRACE, &no_events).await, "delete").is_some());
    ok(store.abandon_blobs(&[replacing.parts[0].blob.clone()]).await, "abandon");
    ok(store.delete_bucket(&nb, &[]).await, "delete_bucket");
    ok(store.delete_bucket(&b, &[]).await, "delete_bucket");
}
/// A version of `key` (`id`) put with modification time `at`.
async fn put_version_at(store: &Store, bucket: &str, key: &str, id: &str, at: OffsetDateTime) -> ObjectMeta {
    let mut obj = version_of(store, bucket, key, Some(id)).await;
    obj.last_modified = at;
    put_version(store, &obj, Versioning::Enabled).await;
    obj
}

/// The scanned entry of `key` with version id `id`.
async fn scanned(store: &Store, bucket: &str, key: &str, id: &str) -> crate::ObjectVersion {
    let all = ok(store.scan_versions(bucket, "", None, true, None, 1000).await, "scan_versions");
    all.into_iter().find(|v| v.meta.key == key && v.version_id() == Some(id)).expect("scanned version")
}

fn due(v: &crate::ObjectVersion, due: VersionDue) -> DueVersion {
    DueVersion { key: v.meta.key.clone(), version_id: v.meta.attributes.version_id.clone(), seq: v.seq, due }
}

/// `delete_versions_if_due` (the lifecycle pass's noncurrent and delete-marker expiry): a
/// version is removed only while it is still noncurrent since the time given (its successor's
/// modification time), with enough newer noncurrent versions, or still its key's only
/// version (a marker); each removal queues its blobs and writes its events; a version
/// promoted back to current since the scan is kept.
async fn lifecycle_versions(store: &Store, run: &Run) {
    let b = run.bucket("lcv");
    make_bucket(store, &b).await;
    ok(store.set_bucket_config(&b, BucketConfig::Versioning, Some("Enabled"), &[]).await, "set versioning");
    let t0 = now() - Duration::days(30);
    let day = Duration::days(1);
    // "k": four versions a day apart (k4 current).
    let k: Vec<ObjectMeta> = versions_a_step_apart(store, &b, "k", t0, day, 4).await;
    // "m": one version, then a marker (latest) a day later.
    let m1 = put_version_at(store, &b, "m", "m1", t0).await;
    let marker = ok(
        store
            .put_delete_marker(
                &b,
                "m",
                Some("mm"),
                t0 + day,
                &DeleteCondition::default(),
                Versioning::Enabled,
                GRACE,
                &no_events,
            )
            .await,
        "put_delete_marker",
    );
    // "p": two versions; the older is promoted back to current after the scan.
    let p: Vec<ObjectMeta> = versions_a_step_apart(store, &b, "p", t0, day, 2).await;
    // "s": a marker alone, then a version written after the scan.
    ok(
        store
            .put_delete_marker(
                &b,
                "s",
                Some("sm"),
                t0,
                &DeleteCondition::default(),
                Versioning::Enabled,
                GRACE,
                &no_events,
            )
            .await,
        "marker alone",
    );
    let (k1, k2, k3) =
        (scanned(store, &b, "k", "k1").await, scanned(store, &b, "k", "k2").await, scanned(store, &b, "k", "k3").await);
    let (sm, mm, p1, m1v) = (
        scanned(store, &b, "s", "sm").await,
        scanned(store, &b, "m", "mm").await,
        scanned(store, &b, "p", "p1").await,
        scanned(store, &b, "m", "m1").await,
    );
    assert!(mm.is_latest && mm.is_delete_marker);
    let s2 = put_version_at(store, &b, "s", "s2", now()).await;
    ok(store.delete_object_version(&b, "p", Some("p2"), GRACE, &no_events).await, "delete p2");

    let made = |o: &ObjectMeta| {
        vec![OutboxEvent {
            key: format!("lcv/{}", run.id),
            body: format!("{} {}", o.key, o.attributes.version_id.as_deref().unwrap_or("null")),
        }]
    };
    let list = vec![
        // k1: noncurrent since k2's time, two newer noncurrent (k2, k3): due keeping 2.
        due(&k1, VersionDue::Noncurrent { since: k[1].last_modified, newer: 2 }),
        // k2: only one newer noncurrent (k3): kept when 2 must stay.
        due(&k2, VersionDue::Noncurrent { since: far_future(), newer: 2 }),
        // k3: noncurrent since k4's time, later than the time given: kept.
        due(&k3, VersionDue::Noncurrent { since: k[3].last_modified - Duration::seconds(1), newer: 0 }),
        // m's marker has m1 behind it: not alone, kept.
        due(&mm, VersionDue::SoleMarker),
        // p1 is current again since the scan: kept.
        due(&p1, VersionDue::Noncurrent { since: far_future(), newer: 0 }),
        // s's marker is no longer alone (nor latest): kept.
        due(&sm, VersionDue::SoleMarker),
    ];
    let gone = ok(store.delete_versions_if_due(&b, &list, GRACE, &made).await, "delete_versions_if_due");
    let ids: Vec<Option<&str>> = gone.iter().map(crate::ObjectVersion::version_id).collect();
    assert_eq!(ids, [Some("k1")]);
    assert!(!gone[0].is_latest && !gone[0].is_delete_marker);
    assert_queued_after(store, &k[0].parts[0].blob, GRACE).await;
    for o in [&k[1], &k[2], &k[3], &p[0], &m1, &s2] {
        assert_not_queued(store, &o.parts[0].blob).await;
    }
    assert_eq!(get(store, &b, "p").await.expect("p1 current").etag, p[0].etag);

    // m1 noncurrent since the marker: removed; then the marker is alone and goes too, in the
    // same call, given first as a scan lists it: a key's versions are checked oldest first.
    let list = vec![
        due(&mm, VersionDue::SoleMarker),
        due(&m1v, VersionDue::Noncurrent { since: marker.meta.last_modified, newer: 0 }),
    ];
    let gone = ok(store.delete_versions_if_due(&b, &list, GRACE, &made).await, "m");
    let ids: Vec<Option<&str>> = gone.iter().map(crate::ObjectVersion::version_id).collect();
    assert_eq!(ids, [Some("m1"), Some("mm")]);
    assert_queued_after(store, &m1.parts[0].blob, GRACE).await;
    assert!(ok(store.latest_version(&b, "m").await, "latest_version").is_none());
    // Nothing again; a missing bucket removes nothing.
    assert!(ok(store.delete_versions_if_due(&b, &list, GRACE, &made).await, "again").is_empty());
    assert!(ok(store.delete_versions_if_due(&run.bucket("nolcv"), &list, GRACE, &made).await, "none").is_empty());

    let mut rows: Vec<String> = ok(store.outbox_rows(1_000_000).await, "outbox_rows")
        .into_iter()
        .filter(|r| r.key == format!("lcv/{}", run.id))
        .map(|r| r.body)
        .collect();
    rows.sort_unstable();
    assert_eq!(rows, ["k k1", "m m1", "m mm"], "one event per removal");

    // Cleanup.
    for v in ok(store.scan_versions(&b, "", None, true, None, 1000).await, "scan_versions") {
        ok(store.delete_object_version(&b, &v.meta.key, v.version_id(), GRACE, &no_events).await, "cleanup");
    }
    ok(store.delete_bucket(&b, &[]).await, "delete_bucket");
}

/// `n` versions of `key` (ids `<key>1`..), the first at `t0`, each `step` after the last.
async fn versions_a_step_apart(
    store: &Store,
    bucket: &str,
    key: &str,
    t0: OffsetDateTime,
    step: Duration,
    n: i32,
) -> Vec<ObjectMeta> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(put_version_at(store, bucket, key, &format!("{key}{}", i + 1), t0 + step * i).await);
    }
    out
}
