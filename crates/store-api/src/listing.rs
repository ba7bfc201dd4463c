//! Listing with prefix, delimiter and markers, built once over the stores' range scans.
//!
//! Stores only answer "keys in this range, in byte order". Grouping into common prefixes and
//! skipping a whole group with one seek (so a page costs the same whatever the bucket's
//! size) happens here, for every store alike.

use std::future::Future;

use crate::{MetadataStore, ObjectSummary, ObjectVersion, Result, Upload};

/// Most rows fetched from a store in one scan.
const SCAN_BATCH: usize = 1000;

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys that contain this after the prefix into common prefixes.
    pub delimiter: Option<String>,
    /// Only keys (or common prefixes) after this one: the larger of `marker`/`start-after`
    /// and the decoded continuation token.
    pub after: Option<String>,
    /// At most this many objects and common prefixes together.
    pub max_keys: usize,
}

/// One entry of a listing page, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedObject {
    /// An object.
    Object(ObjectSummary),
    /// A common prefix (ends with the delimiter).
    Prefix(String),
}

impl ListedObject {
    /// The key or common prefix, which is what a marker continues from.
    #[must_use]
    pub fn marker(&self) -> &str {
        match self {
            Self::Object(o) => &o.key,
            Self::Prefix(p) => p,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Objects and common prefixes, in key order.
    pub entries: Vec<ListedObject>,
    /// Whether more entries follow.
    pub is_truncated: bool,
}

impl ListPage {
    /// Where the next page starts (the last entry), when truncated.
    #[must_use]
    pub fn next_marker(&self) -> Option<&str> {
        if self.is_truncated { self.entries.last().map(ListedObject::marker) } else { None }
    }
}

/// The smallest string greater than every string that starts with `s`, if there is one.
#[must_use]
pub fn prefix_successor(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    while let Some(c) = chars.pop() {
        let mut next = u32::from(c) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(n) = char::from_u32(next) {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The common prefix `key` falls into under `prefix` and `delimiter`, if any.
fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    let i = rest.find(delimiter)?;
    Some(&key[..prefix.len() + i + delimiter.len()])
}

/// Lists objects of `bucket` as S3 ListObjects/ListObjectsV2 do.
pub async fn list_objects(store: &dyn MetadataStore, bucket: &str, q: &ListQuery) -> Result<ListPage> {
    list_with(q, |from, inclusive, to, limit| async move {
        store.scan_objects(bucket, &from, inclusive, to.as_deref(), limit).await
    })
    .await
}

/// Where a scan starts: `(from, inclusive)` for the query, skipping a whole common prefix
/// when the marker is one.
fn start_point(prefix: &str, delimiter: Option<&str>, after: Option<&str>) -> (String, bool) {
    match after {
        Some(after) if after >= prefix => {
            if let Some(cp) = common_prefix(after, prefix, delimiter)
                && cp == after
                && let Some(succ) = prefix_successor(cp)
            {
                return (succ, true);
            }
            (after.to_owned(), false)
        }
        _ => (prefix.to_owned(), true),
    }
}

/// A scan position: rows after (or at, when `inclusive`) `key`; for uploads, after `id`
/// within `key`.
#[derive(Debug, Clone)]
struct Cursor {
    key: String,
    id: Option<String>,
    inclusive: bool,
}

/// A listing entry before it is split into the S3 response's lists.
enum Entry<T> {
    Item(Box<T>),
    Prefix(String),
}

/// The shared engine: scans rows in key order from `start`, folds keys containing the
/// delimiter into common prefixes (skipping each group with one seek), and stops after
/// `max + 1` entries to learn whether the page is truncated.
async fn grouped_scan<T, F, Fut>(
    prefix: &str,
    delimiter: Option<&str>,
    start: Cursor,
    max: usize,
    key_of: fn(&T) -> &str,
    cursor_after: fn(&T) -> Cursor,
    mut scan: F,
) -> Result<(Vec<Entry<T>>, bool)>
where
    F: FnMut(Cursor, Option<String>, usize) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    let mut entries: Vec<Entry<T>> = Vec::new();
    if max == 0 {
        return Ok((entries, false));
    }
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let to = if prefix.is_empty() { None } else { prefix_successor(prefix) };
    let want = max.saturating_add(1);
    let mut cursor = start;
    'scan: loop {
        let limit = (want - entries.len()).clamp(1, SCAN_BATCH);
        let rows = scan(cursor.clone(), to.clone(), limit).await?;
        let exhausted = rows.len() < limit;
        let mut seek: Option<String> = None;
        for row in rows {
            if let Some(Entry::Prefix(cp)) = entries.last()
                && key_of(&row).starts_with(cp.as_str())
            {
                continue;
            }
            if entries.len() == want {
                break 'scan;
            }
            match common_prefix(key_of(&row), prefix, delimiter) {
                Some(cp) => {
                    seek = prefix_successor(cp);
                    entries.push(Entry::Prefix(cp.to_owned()));
                }
                None => {
                    seek = None;
                    cursor = cursor_after(&row);
                    entries.push(Entry::Item(Box::new(row)));
                }
            }
        }
        if let Some(s) = seek {
            cursor = Cursor { key: s, id: None, inclusive: true };
        } else if matches!(entries.last(), Some(Entry::Prefix(_))) {
            // A group with no successor string: nothing can follow it.
            break;
        }
        if exhausted || entries.len() == want {
            break;
        }
    }
    let truncated = entries.len() > max;
    entries.truncate(max);
    Ok((entries, truncated))
}

async fn list_with<F, Fut>(q: &ListQuery, mut scan: F) -> Result<ListPage>
where
    F: FnMut(String, bool, Option<String>, usize) -> Fut,
    Fut: Future<Output = Result<Vec<ObjectSummary>>>,
{
    let (key, inclusive) = start_point(&q.prefix, q.delimiter.as_deref(), q.after.as_deref());
    let (entries, is_truncated) = grouped_scan(
        &q.prefix,
        q.delimiter.as_deref(),
        Cursor { key, id: None, inclusive },
        q.max_keys,
        |o: &ObjectSummary| o.key.as_str(),
        |o| Cursor { key: o.key.clone(), id: None, inclusive: false },
        |c, to, limit| scan(c.key, c.inclusive, to, limit),
    )
    .await?;
    let entries = entries
        .into_iter()
        .map(|e| match e {
            Entry::Item(o) => ListedObject::Object(*o),
            Entry::Prefix(p) => ListedObject::Prefix(p),
        })
        .collect();
    Ok(ListPage { entries, is_truncated })
}

/// What multipart uploads to list.
#[derive(Debug, Clone, Default)]
pub struct UploadListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys into common prefixes at this delimiter.
    pub delimiter: Option<String>,
    /// `key-marker`.
    pub key_marker: Option<String>,
    /// `upload-id-marker` (only meaningful with a key marker).
    pub upload_id_marker: Option<String>,
    /// `max-uploads`.
    pub max_uploads: usize,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, Default)]
pub struct UploadListPage {
    /// Uploads, ordered by key then upload id.
    pub uploads: Vec<Upload>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// `NextKeyMarker`.
    pub next_key_marker: Option<String>,
    /// `NextUploadIdMarker`.
    pub next_upload_id_marker: Option<String>,
}

/// Lists multipart uploads of `bucket` as S3 ListMultipartUploads does.
pub async fn list_uploads(store: &dyn MetadataStore, bucket: &str, q: &UploadListQuery) -> Result<UploadListPage> {
    let delimiter = q.delimiter.as_deref();
    let start = match (&q.key_marker, &q.upload_id_marker) {
        (Some(k), Some(id)) if k.as_str() >= q.prefix.as_str() => {
            Cursor { key: k.clone(), id: Some(id.clone()), inclusive: false }
        }
        (Some(k), _) => {
            let (key, inclusive) = start_point(&q.prefix, delimiter, Some(k));
            Cursor { key, id: None, inclusive }
        }
        (None, _) => Cursor { key: q.prefix.clone(), id: None, inclusive: true },
    };
    let (entries, is_truncated) = grouped_scan(
        &q.prefix,
        delimiter,
        start,
        q.max_uploads,
        |u: &Upload| u.key.as_str(),
        |u| Cursor { key: u.key.clone(), id: Some(u.upload_id.clone()), inclusive: false },
        |c, to, limit| async move {
            store.scan_uploads(bucket, &c.key, c.id.as_deref(), c.inclusive, to.as_deref(), limit).await
        },
    )
    .await?;
    let mut out = UploadListPage { is_truncated, ..Default::default() };
    if is_truncated {
        match entries.last() {
            Some(Entry::Item(u)) => {
                out.next_key_marker = Some(u.key.clone());
                out.next_upload_id_marker = Some(u.upload_id.clone());
            }
            Some(Entry::Prefix(p)) => out.next_key_marker = Some(p.clone()),
            None => {}
        }
    }
    for e in entries {
        match e {
            Entry::Item(u) => out.uploads.push(*u),
            Entry::Prefix(p) => out.common_prefixes.push(p),
        }
    }
    Ok(out)
}

/// What versions to list (ListObjectVersions).
#[derive(Debug, Clone, Default)]
pub struct VersionListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys into common prefixes at this delimiter.
    pub delimiter: Option<String>,
    /// `key-marker`.
    pub key_marker: Option<String>,
    /// `version-id-marker` (only meaningful with a key marker); `"null"` names the null version.
    pub version_id_marker: Option<String>,
    /// `max-keys`: versions, delete markers and common prefixes together.
    pub max_keys: usize,
}

/// One page of ListObjectVersions.
#[derive(Debug, Clone, Default)]
pub struct VersionListPage {
    /// Versions and delete markers, by key, newest first within a key.
    pub versions: Vec<ObjectVersion>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// `NextKeyMarker`.
    pub next_key_marker: Option<String>,
    /// `NextVersionIdMarker` (`"null"` for the null version).
    pub next_version_id_marker: Option<String>,
}

/// Lists the versions of `bucket` as S3 ListObjectVersions does. A `version-id-marker` that
/// names no version of the key marker continues after that key.
pub async fn list_object_versions(
    store: &dyn MetadataStore,
    bucket: &str,
    q: &VersionListQuery,
) -> Result<VersionListPage> {
    let delimiter = q.delimiter.as_deref();
    let mut start = match &q.key_marker {
        Some(k) => {
            let (key, inclusive) = start_point(&q.prefix, delimiter, Some(k));
            Cursor { key, id: None, inclusive }
        }
        None => Cursor { key: q.prefix.clone(), id: None, inclusive: true },
    };
    if let (Some(k), Some(v)) = (&q.key_marker, &q.version_id_marker)
        && k.as_str() >= q.prefix.as_str()
    {
        let vid = (v != "null").then_some(v.as_str());
        if let Some(found) = store.get_object_version(bucket, k, vid).await? {
            start = Cursor { key: k.clone(), id: Some(found.seq.to_string()), inclusive: false };
        }
    }
    let first_key = start.id.as_ref().map(|_| start.key.clone());
    let (entries, is_truncated) = grouped_scan(
        &q.prefix,
        delimiter,
        start,
        q.max_keys,
        |v: &ObjectVersion| v.meta.key.as_str(),
        |v| Cursor { key: v.meta.key.clone(), id: Some(v.seq.to_string()), inclusive: false },
        |c, to, limit| async move {
            let below = c.id.as_deref().and_then(|s| s.parse::<i64>().ok());
            store.scan_versions(bucket, &c.key, below, c.inclusive, to.as_deref(), limit).await
        },
    )
    .await?;
    let mut out = VersionListPage { is_truncated, ..Default::default() };
    if is_truncated {
        match entries.last() {
            Some(Entry::Item(v)) => {
                out.next_key_marker = Some(v.meta.key.clone());
                out.next_version_id_marker = Some(v.version_id().unwrap_or("null").to_owned());
            }
            Some(Entry::Prefix(p)) => out.next_key_marker = Some(p.clone()),
            None => {}
        }
    }
    // The newest entry of a key is the latest version, unless the page starts inside the key.
    let mut last_key: Option<String> = first_key;
    for e in entries {
        match e {
            Entry::Item(mut v) => {
                v.is_latest = last_key.as_deref() != Some(v.meta.key.as_str()) && v.is_latest;
                last_key = Some(v.meta.key.clone());
                out.versions.push(*v);
            }
            Entry::Prefix(p) => out.common_prefixes.push(p),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use time::OffsetDateTime;

    fn summary(key: &str) -> ObjectSummary {
        ObjectSummary {
            key: key.to_owned(),
            size: 1,
            etag: "e".into(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
            checksum_algorithm: None,
            checksum_type: None,
        }
    }

    /// Runs the listing over an in-memory key set; returns the page and the number of scans.
    async fn list(keys: &BTreeSet<String>, q: &ListQuery) -> (ListPage, usize) {
        let scans = AtomicUsize::new(0);
        let page = list_with(q, |from, inclusive, to, limit| {
            scans.fetch_add(1, Ordering::Relaxed);
            let rows: Vec<_> = keys
                .iter()
                .filter(|k| if inclusive { k.as_str() >= from.as_str() } else { k.as_str() > from.as_str() })
                .filter(|k| to.as_ref().is_none_or(|t| k.as_str() < t.as_str()))
                .take(limit)
                .map(|k| summary(k))
                .collect();
            async move { Ok(rows) }
        })
        .await
        .expect("in-memory scan cannot fail");
        (page, scans.into_inner())
    }

    fn names(page: &ListPage) -> Vec<String> {
        page.entries
            .iter()
            .map(|e| match e {
                ListedObject::Object(o) => o.key.clone(),
                ListedObject::Prefix(p) => format!("P:{p}"),
            })
            .collect()
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn successor_skips_past_every_extension() {
        assert_eq!(prefix_successor("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
    }

    #[tokio::test]
    async fn delimiter_groups_and_pages_without_duplicates() {
        let keys = set(&["a", "b/1", "b/2", "c/x/y", "c/z", "d", "e/"]);
        let q = ListQuery { delimiter: Some("/".into()), max_keys: 2, ..Default::default() };
        let (p1, _) = list(&keys, &q).await;
        assert_eq!(names(&p1), ["a", "P:b/"]);
        assert!(p1.is_truncated);
        let q2 = ListQuery { after: p1.next_marker().map(str::to_owned), ..q.clone() };
        let (p2, _) = list(&keys, &q2).await;
        assert_eq!(names(&p2), ["P:c/", "d"]);
        let q3 = ListQuery { after: p2.next_marker().map(str::to_owned), ..q.clone() };
        let (p3, _) = list(&keys, &q3).await;
        assert_eq!(names(&p3), ["P:e/"]);
        assert!(!p3.is_truncated);
        assert_eq!(p3.next_marker(), None);
    }

    #[tokio::test]
    async fn prefix_and_delimiter_together() {
        let keys = set(&["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg", "videos/v"]);
        let q =
            ListQuery { prefix: "photos/".into(), delimiter: Some("/".into()), max_keys: 1000, ..Default::default() };
        let (p, _) = list(&keys, &q).await;
        assert_eq!(names(&p), ["P:photos/2024/", "P:photos/2025/", "photos/top.jpg"]);
        assert!(!p.is_truncated);
    }

    #[tokio::test]
    async fn a_page_over_many_grouped_keys_costs_one_seek_per_group() {
        let mut keys = BTreeSet::new();
        for g in 0..5 {
            for i in 0..3000 {
                keys.insert(format!("g{g}/{i:05}"));
            }
        }
        let q = ListQuery { delimiter: Some("/".into()), max_keys: 1000, ..Default::default() };
        let (p, scans) = list(&keys, &q).await;
        assert_eq!(names(&p), ["P:g0/", "P:g1/", "P:g2/", "P:g3/", "P:g4/"]);
        assert!(scans <= 6, "{scans} scans");
    }

    #[tokio::test]
    async fn pages_cover_every_key_once_in_byte_order() {
        let mut keys = BTreeSet::new();
        for i in 0..2500 {
            keys.insert(format!("k{i}"));
        }
        keys.insert("zé".into());
        keys.insert("z~".into());
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let q = ListQuery { after: after.clone(), max_keys: 1000, ..Default::default() };
            let (p, _) = list(&keys, &q).await;
            seen.extend(names(&p));
            if !p.is_truncated {
                break;
            }
            after = p.next_marker().map(str::to_owned);
        }
        let expected: Vec<String> = keys.iter().cloned().collect();
        assert_eq!(seen, expected);
        // Byte order puts '~' (0x7E) before 'é' (0xC3 0xA9).
        assert_eq!(&seen[seen.len() - 2..], ["z~", "zé"]);
    }

    #[tokio::test]
    async fn start_after_before_prefix_and_zero_max_keys() {
        let keys = set(&["a1", "b1", "b2"]);
        let q = ListQuery { prefix: "b".into(), after: Some("a9".into()), max_keys: 10, ..Default::default() };
        assert_eq!(names(&list(&keys, &q).await.0), ["b1", "b2"]);
        let q = ListQuery { prefix: "b".into(), after: Some("b1".into()), max_keys: 10, ..Default::default() };
        assert_eq!(names(&list(&keys, &q).await.0), ["b2"]);
        let q = ListQuery { max_keys: 0, ..Default::default() };
        let (p, scans) = list(&keys, &q).await;
        assert!(p.entries.is_empty() && !p.is_truncated && scans == 0);
    }

    #[tokio::test]
    async fn exact_page_boundary_is_not_truncated() {
        let keys = set(&["a", "b"]);
        let q = ListQuery { max_keys: 2, ..Default::default() };
        let (p, _) = list(&keys, &q).await;
        assert_eq!(names(&p), ["a", "b"]);
        assert!(!p.is_truncated);
    }
}
