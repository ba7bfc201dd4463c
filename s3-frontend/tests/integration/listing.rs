//! Listings: ListObjects v1 and v2 with every parameter, UTF-8 keys, byte order,
//! ListObjectVersions, and a listing of 10,050 keys through pages.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;
use futures::StreamExt as _;

use crate::harness::{Harness, expect_err, md5_hex, quoted};

const KEYS: [&str; 9] = ["a/1", "a/2", "a/b/3", "a/b/4", "b", "c/x", "c/y", "d", "sp ace+plus/ü.txt"];

/// Decodes a key listed with `encoding-type=url` (`+` or `%20` for a space).
fn url_decode(s: &str) -> String {
    urlencoding::decode(&s.replace('+', " ")).expect("valid percent-encoding").into_owned()
}

async fn seed(h: &Harness, b: &str, keys: &[&str]) {
    for k in keys {
        h.put(b, k, k.as_bytes().to_vec()).await;
    }
}

/// One entry of a delimited listing: `(name, is_prefix)`.
type Entry = (String, bool);

async fn v2_pages(h: &Harness, b: &str, prefix: Option<&str>, delimiter: Option<&str>, max: i32) -> Vec<Vec<Entry>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = h
            .client
            .list_objects_v2()
            .bucket(b)
            .set_prefix(prefix.map(str::to_owned))
            .set_delimiter(delimiter.map(str::to_owned))
            .max_keys(max)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(out.continuation_token(), token.as_deref());
        let mut page: Vec<Entry> = out.contents().iter().map(|o| (o.key().unwrap().to_owned(), false)).collect();
        page.extend(out.common_prefixes().iter().map(|p| (p.prefix().unwrap().to_owned(), true)));
        page.sort();
        assert_eq!(out.key_count(), Some(i32::try_from(page.len()).unwrap()));
        assert!(page.len() <= usize::try_from(max).unwrap());
        pages.push(page);
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().expect("a truncated page has a next token").to_owned());
        } else {
            assert!(out.next_continuation_token().is_none());
            return pages;
        }
    }
}

async fn v1_pages(h: &Harness, b: &str, delimiter: Option<&str>, max: i32) -> Vec<Vec<Entry>> {
    let mut pages = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = h
            .client
            .list_objects()
            .bucket(b)
            .set_delimiter(delimiter.map(str::to_owned))
            .max_keys(max)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(out.marker().unwrap_or(""), marker.as_deref().unwrap_or(""));
        let mut page: Vec<Entry> = out.contents().iter().map(|o| (o.key().unwrap().to_owned(), false)).collect();
        page.extend(out.common_prefixes().iter().map(|p| (p.prefix().unwrap().to_owned(), true)));
        page.sort();
        let last_key = out.contents().last().and_then(|o| o.key()).map(str::to_owned);
        pages.push(page);
        if out.is_truncated() != Some(true) {
            return pages;
        }
        // NextMarker comes with a delimiter only; without one, clients continue after the last key.
        marker = Some(match delimiter {
            Some(_) => out.next_marker().expect("a truncated delimited v1 page has NextMarker").to_owned(),
            None => {
                assert!(out.next_marker().is_none(), "NextMarker only with a delimiter");
                last_key.expect("a truncated page has keys")
            }
        });
    }
}

fn entries(list: &[(&str, bool)]) -> Vec<Entry> {
    list.iter().map(|(k, p)| ((*k).to_owned(), *p)).collect()
}

pub async fn list_v1_and_v2_parameters(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("listing").await;
    seed(h, &b, &KEYS).await;

    // Plain v2.
    let out = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(out.name(), Some(b.as_str()));
    assert_eq!(out.max_keys(), Some(1000));
    assert_eq!(out.key_count(), Some(9));
    assert_eq!(out.is_truncated(), Some(false));
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), KEYS.to_vec());
    let first = &out.contents()[0];
    assert_eq!(first.size(), Some(3));
    assert_eq!(first.e_tag(), Some(quoted(&md5_hex(b"a/1")).as_str()));
    assert!(first.last_modified().is_some());
    assert!(first.owner().is_none(), "no owner without fetch-owner");

    // Prefix and delimiter.
    let out = c.list_objects_v2().bucket(&b).prefix("a/").delimiter("/").send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), vec!["a/1", "a/2"]);
    assert_eq!(out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), vec!["a/b/"]);
    assert_eq!(out.key_count(), Some(3));
    assert_eq!(out.prefix(), Some("a/"));
    assert_eq!(out.delimiter(), Some("/"));
    let out = c.list_objects_v2().bucket(&b).delimiter("/").send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), vec!["b", "d"]);
    assert_eq!(
        out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(),
        vec!["a/", "c/", "sp ace+plus/"]
    );
    let out = c.list_objects_v2().bucket(&b).prefix("nothing-here").send().await.unwrap();
    assert_eq!(out.key_count(), Some(0));
    assert!(out.contents().is_empty());

    // Pages: max-keys with continuation tokens, with and without a delimiter.
    let pages = v2_pages(h, &b, None, None, 2).await;
    assert_eq!(pages.len(), 5);
    assert_eq!(pages.concat(), KEYS.iter().map(|k| ((*k).to_owned(), false)).collect::<Vec<_>>());
    let all = entries(&[("a/", true), ("b", false), ("c/", true), ("d", false), ("sp ace+plus/", true)]);
    assert_eq!(v2_pages(h, &b, None, Some("/"), 2).await.concat(), all);
    // A page that ends on a common prefix continues after everything under it.
    assert_eq!(v2_pages(h, &b, None, Some("/"), 1).await.concat(), all);
    assert_eq!(
        v2_pages(h, &b, Some("a/"), Some("/"), 1).await.concat(),
        entries(&[("a/1", false), ("a/2", false), ("a/b/", true)])
    );

    // start-after, alone and under a prefix.
    let out = c.list_objects_v2().bucket(&b).start_after("b").send().await.unwrap();
    assert_eq!(
        out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(),
        vec!["c/x", "c/y", "d", "sp ace+plus/ü.txt"]
    );
    assert_eq!(out.start_after(), Some("b"));
    let out = c.list_objects_v2().bucket(&b).prefix("a/").start_after("a/b/").send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), vec!["a/b/3", "a/b/4"]);

    // fetch-owner.
    let out = c.list_objects_v2().bucket(&b).fetch_owner(true).send().await.unwrap();
    assert!(out.contents().iter().all(|o| o.owner().and_then(|o| o.id()).is_some()));

    // encoding-type=url: keys, prefixes and delimiters come back percent-encoded.
    let out = c.list_objects_v2().bucket(&b).encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let raw: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    let special = raw.last().unwrap();
    assert!(special.is_ascii() && !special.contains(' '), "key not URL-encoded: {special:?}");
    assert_eq!(raw.iter().map(|k| url_decode(k)).collect::<Vec<_>>(), KEYS.to_vec());
    let out = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("sp ace")
        .delimiter("/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let p = out.common_prefixes()[0].prefix().unwrap();
    assert!(p.is_ascii() && !p.contains(' '), "prefix not URL-encoded: {p:?}");
    assert_eq!(url_decode(p), "sp ace+plus/");
    assert_eq!(url_decode(out.prefix().unwrap()), "sp ace");

    expect_err(
        c.list_objects_v2().bucket(&b).continuation_token("%%%not-a-token").send().await,
        400,
        Some("InvalidArgument"),
    );

    // v1: markers, with and without a delimiter.
    let out = c.list_objects().bucket(&b).send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), KEYS.to_vec());
    assert_eq!(out.is_truncated(), Some(false));
    assert!(out.contents().iter().all(|o| o.owner().is_some()), "v1 always lists owners");
    assert_eq!(
        v1_pages(h, &b, None, 3).await.concat(),
        KEYS.iter().map(|k| ((*k).to_owned(), false)).collect::<Vec<_>>()
    );
    assert_eq!(v1_pages(h, &b, Some("/"), 2).await.concat(), all);
    assert_eq!(v1_pages(h, &b, Some("/"), 1).await.concat(), all);
    let out = c.list_objects().bucket(&b).marker("c/x").send().await.unwrap();
    assert_eq!(
        out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(),
        vec!["c/y", "d", "sp ace+plus/ü.txt"]
    );
    let out = c.list_objects().bucket(&b).prefix("c/").delimiter("/").send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), vec!["c/x", "c/y"]);
    let out = c.list_objects().bucket(&b).encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| url_decode(o.key().unwrap())).collect::<Vec<_>>(), KEYS.to_vec());
}

pub async fn utf8_keys_and_key_length(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("utf8").await;
    let max_multibyte = "é".repeat(512);
    let max_ascii = "k".repeat(1024);
    assert_eq!((max_multibyte.len(), max_ascii.len()), (1024, 1024));
    let keys = [
        "ключ/значение",
        "日本語/ファイル.txt",
        "emoji-😀-key",
        "e\u{301}",
        "é",
        "quote\"apos'amp&lt<gt>",
        max_multibyte.as_str(),
        max_ascii.as_str(),
    ];
    for k in keys {
        h.put(&b, k, k.as_bytes().to_vec()).await;
        assert_eq!(h.get(&b, k).await, k.as_bytes(), "{k}");
    }
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort_unstable();
    assert_eq!(h.keys(&b).await, expected);

    // One byte more is refused, and nothing is stored.
    let too_long = format!("{max_multibyte}x");
    let too_long_ascii = "k".repeat(1025);
    for k in [too_long.as_str(), too_long_ascii.as_str()] {
        expect_err(
            c.put_object().bucket(&b).key(k).body(ByteStream::from_static(b"x")).send().await,
            400,
            Some("KeyTooLongError"),
        );
        expect_err(c.create_multipart_upload().bucket(&b).key(k).send().await, 400, Some("KeyTooLongError"));
        expect_err(
            c.copy_object().bucket(&b).key(k).copy_source(crate::objects::copy_source(&b, "é")).send().await,
            400,
            Some("KeyTooLongError"),
        );
    }
    assert_eq!(h.keys(&b).await, expected);

    // A NUL in a key is refused on write (PostgreSQL text cannot hold it; both stores agree),
    // and reading or deleting such a key answers as for a missing one.
    let nul = "a\0b";
    expect_err(
        c.put_object().bucket(&b).key(nul).body(ByteStream::from_static(b"x")).send().await,
        400,
        Some("InvalidArgument"),
    );
    expect_err(c.create_multipart_upload().bucket(&b).key(nul).send().await, 400, Some("InvalidArgument"));
    expect_err(c.get_object().bucket(&b).key(nul).send().await, 404, Some("NoSuchKey"));
    c.delete_object().bucket(&b).key(nul).send().await.expect("delete of a NUL key answers like a missing key");
    assert_eq!(h.keys(&b).await, expected);
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert!(uploads.uploads().is_empty());
}

pub async fn keys_sort_in_byte_order(h: &Harness) {
    let b = h.bucket("order").await;
    // Orders that differ between byte order, case-insensitive, locale and UTF-16 collations.
    let keys = [
        "a", "B", "b", "Z", "_", "~", "0", "9", "A", "z", "a b", "a-b", "a.b", "a/b", "a_b", "aB", "ab", "ä", "ÿ",
        "中", "😀", "\u{e000}", "\u{fffd}", "a\u{7f}",
    ];
    let bucket = b.as_str();
    futures::stream::iter(keys)
        .for_each_concurrent(8, |k| async move {
            h.put(bucket, k, Vec::new()).await;
        })
        .await;
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
    assert_eq!(h.keys(&b).await, expected);
    // The same order across pages (continuation tokens of non-ASCII keys) and in v1.
    let paged: Vec<String> = v2_pages(h, &b, None, None, 5).await.concat().into_iter().map(|(k, _)| k).collect();
    assert_eq!(paged, expected);
    let paged: Vec<String> = v1_pages(h, &b, None, 7).await.concat().into_iter().map(|(k, _)| k).collect();
    assert_eq!(paged, expected);
    // start-after between multi-byte keys.
    let out = h.client.list_objects_v2().bucket(&b).start_after("ÿ").send().await.unwrap();
    assert_eq!(
        out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(),
        vec!["中", "\u{e000}", "\u{fffd}", "😀"]
    );
}

pub async fn list_object_versions(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("versions").await;
    seed(h, &b, &["v1", "v2", "dir/v3"]).await;
    let out = c.list_object_versions().bucket(&b).send().await.unwrap();
    let versions = out.versions();
    assert_eq!(versions.iter().map(|v| v.key().unwrap()).collect::<Vec<_>>(), vec!["dir/v3", "v1", "v2"]);
    for v in versions {
        assert_eq!(v.version_id(), Some("null"));
        assert_eq!(v.is_latest(), Some(true));
        assert_eq!(v.e_tag(), Some(quoted(&md5_hex(v.key().unwrap().as_bytes())).as_str()));
        assert_eq!(v.size(), Some(i64::try_from(v.key().unwrap().len()).unwrap()));
    }
    assert!(out.delete_markers().is_empty());
    assert_eq!(out.is_truncated(), Some(false));

    let out = c.list_object_versions().bucket(&b).prefix("v").send().await.unwrap();
    assert_eq!(out.versions().len(), 2);
    let out = c.list_object_versions().bucket(&b).delimiter("/").send().await.unwrap();
    assert_eq!(out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), vec!["dir/"]);
    assert_eq!(out.versions().len(), 2);

    // Paging with key markers.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = c.list_object_versions().bucket(&b).max_keys(1).set_key_marker(marker.clone()).send().await.unwrap();
        seen.extend(out.versions().iter().map(|v| v.key().unwrap().to_owned()));
        if out.is_truncated() != Some(true) {
            break;
        }
        assert_eq!(out.next_version_id_marker(), Some("null"));
        marker = Some(out.next_key_marker().unwrap().to_owned());
    }
    assert_eq!(seen, vec!["dir/v3", "v1", "v2"]);

    // The "null" version is the object itself.
    let get = c.get_object().bucket(&b).key("v1").version_id("null").send().await.unwrap();
    assert_eq!(get.body.collect().await.unwrap().into_bytes().as_ref(), b"v1");
    c.head_object().bucket(&b).key("v1").version_id("null").send().await.unwrap();
    // Any other version does not exist.
    let bogus = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY";
    expect_err(c.get_object().bucket(&b).key("v1").version_id(bogus).send().await, 400, Some("InvalidArgument"));
    expect_err(c.head_object().bucket(&b).key("v1").version_id(bogus).send().await, 400, None);
    expect_err(c.delete_object().bucket(&b).key("v1").version_id(bogus).send().await, 400, Some("InvalidArgument"));
    assert!(h.exists(&b, "v1").await);
    c.delete_object().bucket(&b).key("v1").version_id("null").send().await.unwrap();
    assert!(!h.exists(&b, "v1").await);
    // Versioning is off, and reported as never enabled.
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert!(v.status().is_none());
}

pub async fn ten_thousand_keys_list_completely(h: &Harness) {
    const N: usize = 10_050;
    let b = h.bucket("big").await;
    let keys: Vec<String> = (0..N).map(|i| format!("big/{i:05}")).collect();
    futures::stream::iter(keys.iter())
        .for_each_concurrent(32, |k| {
            let b = &b;
            async move {
                h.put(b, k, Vec::new()).await;
            }
        })
        .await;

    // v2 with the default page size: 11 pages.
    let pages = v2_pages(h, &b, None, None, 1000).await;
    assert_eq!(pages.len(), 11);
    assert!(pages[..10].iter().all(|p| p.len() == 1000));
    assert_eq!(pages[10].len(), 50);
    let listed: Vec<String> = pages.concat().into_iter().map(|(k, _)| k).collect();
    assert_eq!(listed, keys);

    // v1 with markers.
    let pages = v1_pages(h, &b, None, 1000).await;
    assert_eq!(pages.len(), 11);
    let listed: Vec<String> = pages.concat().into_iter().map(|(k, _)| k).collect();
    assert_eq!(listed, keys);

    // A delimiter rolls them all into one prefix; max-keys above 1000 is capped at 1000.
    let out = h.client.list_objects_v2().bucket(&b).delimiter("/").send().await.unwrap();
    assert_eq!(out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), vec!["big/"]);
    assert!(out.contents().is_empty());
    let out = h.client.list_objects_v2().bucket(&b).max_keys(5000).send().await.unwrap();
    assert_eq!(out.contents().len(), 1000);
    assert_eq!(out.is_truncated(), Some(true));
    let out = h.client.list_objects_v2().bucket(&b).prefix("big/0999").send().await.unwrap();
    assert_eq!(out.key_count(), Some(10));
}
