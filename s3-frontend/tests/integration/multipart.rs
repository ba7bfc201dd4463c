//! Multipart uploads.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectAttributes};

use crate::harness::{Harness, expect_err, md5_hex, pattern, quoted};

const MIB: usize = 1024 * 1024;

/// S3's multipart ETag: MD5 of the parts' binary MD5s, `-` part count (unquoted).
pub fn multipart_etag(parts: &[&[u8]]) -> String {
    use md5::Digest as _;
    let mut cat = Vec::new();
    for p in parts {
        cat.extend_from_slice(&md5::Md5::digest(p));
    }
    format!("{}-{}", md5_hex(&cat), parts.len())
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build()).collect(),
        ))
        .build()
}

async fn upload_part(h: &Harness, b: &str, key: &str, id: &str, n: i32, data: &[u8]) -> String {
    let out = h
        .client
        .upload_part()
        .bucket(b)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload part {n}: {e:?}"));
    out.e_tag().unwrap().to_owned()
}

pub async fn multipart_upload_roundtrip(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("multipart").await;
    let key = "mp/object.bin";
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key(key)
        .content_type("video/mp4")
        .metadata("m", "1")
        .send()
        .await
        .unwrap();
    assert_eq!((up.bucket(), up.key()), (Some(b.as_str()), Some(key)));
    let id = up.upload_id().unwrap().to_owned();
    let p1 = pattern(5 * MIB, 12);
    let p2_first = pattern(500, 13);
    let p2 = pattern(1000, 14);

    // Parts in any order; a part uploaded again replaces the earlier one.
    let e2 = upload_part(h, &b, key, &id, 2, &p2_first).await;
    assert_eq!(e2, quoted(&md5_hex(&p2_first)));
    let e1 = upload_part(h, &b, key, &id, 1, &p1).await;
    assert_eq!(e1, quoted(&md5_hex(&p1)));
    let e2 = upload_part(h, &b, key, &id, 2, &p2).await;
    assert_eq!(e2, quoted(&md5_hex(&p2)));

    let parts = c.list_parts().bucket(&b).key(key).upload_id(&id).send().await.unwrap();
    let listed: Vec<(i32, &str, i64)> =
        parts.parts().iter().map(|p| (p.part_number().unwrap(), p.e_tag().unwrap(), p.size().unwrap())).collect();
    assert_eq!(listed, vec![(1, e1.as_str(), 5 * 1024 * 1024), (2, e2.as_str(), 1000)]);
    assert_eq!(parts.is_truncated(), Some(false));
    let page = c.list_parts().bucket(&b).key(key).upload_id(&id).max_parts(1).send().await.unwrap();
    assert_eq!(page.parts().len(), 1);
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_part_number_marker(), Some("1"));
    let page = c.list_parts().bucket(&b).key(key).upload_id(&id).part_number_marker("1").send().await.unwrap();
    assert_eq!(page.parts().iter().map(|p| p.part_number().unwrap()).collect::<Vec<_>>(), vec![2]);

    // Listed uploads, and no object yet.
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert_eq!(
        uploads.uploads().iter().map(|u| (u.key().unwrap(), u.upload_id().unwrap())).collect::<Vec<_>>(),
        vec![(key, id.as_str())]
    );
    assert!(!h.exists(&b, key).await);

    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .unwrap();
    let etag = quoted(&multipart_etag(&[&p1, &p2]));
    assert_eq!(done.e_tag(), Some(etag.as_str()));
    assert_eq!((done.bucket(), done.key()), (Some(b.as_str()), Some(key)));

    let whole = [p1.as_slice(), p2.as_slice()].concat();
    let get = c.get_object().bucket(&b).key(key).send().await.unwrap();
    assert_eq!(get.e_tag(), Some(etag.as_str()));
    assert_eq!(get.content_length(), Some(i64::try_from(whole.len()).unwrap()));
    assert_eq!(get.content_type(), Some("video/mp4"));
    assert_eq!(get.metadata().and_then(|m| m.get("m")).map(String::as_str), Some("1"));
    assert!(get.body.collect().await.unwrap().into_bytes().as_ref() == whole.as_slice(), "object = part 1 + part 2");

    // partNumber reads one part.
    let total = whole.len();
    let part1 = c.get_object().bucket(&b).key(key).part_number(1).send().await.unwrap();
    assert_eq!(part1.parts_count(), Some(2));
    assert_eq!(part1.content_length(), Some(i64::try_from(5 * MIB).unwrap()));
    assert_eq!(part1.content_range(), Some(format!("bytes 0-{}/{total}", 5 * MIB - 1).as_str()));
    assert!(part1.body.collect().await.unwrap().into_bytes().as_ref() == p1.as_slice());
    let part2 = c.get_object().bucket(&b).key(key).part_number(2).send().await.unwrap();
    assert_eq!(part2.parts_count(), Some(2));
    assert_eq!(part2.content_range(), Some(format!("bytes {}-{}/{total}", 5 * MIB, total - 1).as_str()));
    assert_eq!(part2.body.collect().await.unwrap().into_bytes().as_ref(), p2.as_slice());
    let head = c.head_object().bucket(&b).key(key).part_number(2).send().await.unwrap();
    assert_eq!((head.content_length(), head.parts_count()), (Some(1000), Some(2)));
    expect_err(c.get_object().bucket(&b).key(key).part_number(3).send().await, 400, Some("InvalidPart"));
    // A range across the part boundary.
    let start = 5 * MIB - 10;
    let out = c.get_object().bucket(&b).key(key).range(format!("bytes={start}-{}", start + 19)).send().await.unwrap();
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), &whole[start..start + 20]);

    // GetObjectAttributes knows the parts.
    let attrs = c
        .get_object_attributes()
        .bucket(&b)
        .key(key)
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    // Unquoted at AWS, quoted by s3s: see objects::get_object_attributes.
    assert_eq!(attrs.e_tag().map(|e| e.trim_matches('"')), Some(multipart_etag(&[&p1, &p2]).as_str()));
    assert_eq!(attrs.object_size(), Some(i64::try_from(total).unwrap()));
    assert_eq!(attrs.object_parts().and_then(|p| p.total_parts_count()), Some(2));

    // The upload is gone.
    expect_err(c.list_parts().bucket(&b).key(key).upload_id(&id).send().await, 404, Some("NoSuchUpload"));
    assert!(c.list_multipart_uploads().bucket(&b).send().await.unwrap().uploads().is_empty());
}

pub async fn multipart_completion_errors(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("mp-errors").await;
    let key = "k";
    let id = c.create_multipart_upload().bucket(&b).key(key).send().await.unwrap().upload_id().unwrap().to_owned();
    let p1 = pattern(1024, 15);
    let p2 = pattern(2048, 16);
    let e1 = upload_part(h, &b, key, &id, 1, &p1).await;
    let e2 = upload_part(h, &b, key, &id, 2, &p2).await;
    let complete = |parts: CompletedMultipartUpload| {
        c.complete_multipart_upload().bucket(&b).key(key).upload_id(&id).multipart_upload(parts).send()
    };

    let wrong = quoted(&md5_hex(b"something else"));
    expect_err(complete(completed(&[(1, &wrong), (2, &e2)])).await, 400, Some("InvalidPart"));
    expect_err(complete(completed(&[(1, &e1), (3, &e2)])).await, 400, Some("InvalidPart"));
    expect_err(complete(completed(&[(2, &e2), (1, &e1)])).await, 400, Some("InvalidPartOrder"));
    expect_err(complete(completed(&[(1, &e1), (1, &e1)])).await, 400, Some("InvalidPartOrder"));
    // Every part but the last must be at least 5 MiB.
    expect_err(complete(completed(&[(1, &e1), (2, &e2)])).await, 400, Some("EntityTooSmall"));
    expect_err(complete(CompletedMultipartUpload::builder().build()).await, 400, Some("MalformedXML"));
    expect_err(
        c.upload_part()
            .bucket(&b)
            .key(key)
            .upload_id(&id)
            .part_number(10_001)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );

    // None of that changed anything.
    assert!(!h.exists(&b, key).await);
    let parts = c.list_parts().bucket(&b).key(key).upload_id(&id).send().await.unwrap();
    assert_eq!(parts.parts().len(), 2);

    // A single small part is a valid upload.
    let done = complete(completed(&[(2, &e2)])).await.unwrap();
    assert_eq!(done.e_tag(), Some(quoted(&multipart_etag(&[&p2])).as_str()));
    assert_eq!(h.get(&b, key).await, p2);
    // Completing it again answers as the first time did (AWS: a retry after a lost answer)
    // while the object it made is current; with other parts, the upload is gone.
    let again = complete(completed(&[(2, &e2)])).await.unwrap();
    assert_eq!(again.e_tag(), done.e_tag());
    expect_err(complete(completed(&[(1, &e1)])).await, 404, Some("NoSuchUpload"));
    h.put(&b, key, "replaced").await;
    expect_err(complete(completed(&[(2, &e2)])).await, 404, Some("NoSuchUpload"));
}

pub async fn abort_and_list_multipart_uploads(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("mp-list").await;
    let bucket = b.as_str();
    let create = |k: &'static str| async move {
        c.create_multipart_upload().bucket(bucket).key(k).send().await.unwrap().upload_id().unwrap().to_owned()
    };
    let u1 = create("u/1").await;
    let u1b = create("u/1").await;
    let u2 = create("u/2").await;
    let v1 = create("v/1").await;

    let out = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    let listed: Vec<(&str, &str)> = out.uploads().iter().map(|u| (u.key().unwrap(), u.upload_id().unwrap())).collect();
    assert_eq!(listed, vec![("u/1", u1.as_str()), ("u/1", u1b.as_str()), ("u/2", u2.as_str()), ("v/1", v1.as_str())]);
    assert!(out.uploads().iter().all(|u| u.initiated().is_some()));
    let out = c.list_multipart_uploads().bucket(&b).prefix("u/").send().await.unwrap();
    assert_eq!(out.uploads().len(), 3);
    let out = c.list_multipart_uploads().bucket(&b).delimiter("/").send().await.unwrap();
    assert!(out.uploads().is_empty());
    assert_eq!(out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), vec!["u/", "v/"]);
    // Pages of one, with key and upload-id markers.
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let out = c
            .list_multipart_uploads()
            .bucket(&b)
            .max_uploads(1)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(out.uploads().iter().map(|u| u.upload_id().unwrap().to_owned()));
        if out.is_truncated() != Some(true) {
            break;
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        id_marker = out.next_upload_id_marker().map(str::to_owned);
    }
    assert_eq!(seen, vec![u1.clone(), u1b.clone(), u2.clone(), v1.clone()]);

    // Abort: the upload and its parts are gone.
    upload_part(h, &b, "u/2", &u2, 1, b"part data").await;
    c.abort_multipart_upload().bucket(&b).key("u/2").upload_id(&u2).send().await.unwrap();
    expect_err(c.list_parts().bucket(&b).key("u/2").upload_id(&u2).send().await, 404, Some("NoSuchUpload"));
    expect_err(
        c.upload_part()
            .bucket(&b)
            .key("u/2")
            .upload_id(&u2)
            .part_number(2)
            .body(ByteStream::from_static(b"late"))
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
    expect_err(
        c.complete_multipart_upload()
            .bucket(&b)
            .key("u/2")
            .upload_id(&u2)
            .multipart_upload(completed(&[(1, "\"x\"")]))
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
    expect_err(c.abort_multipart_upload().bucket(&b).key("u/2").upload_id(&u2).send().await, 404, Some("NoSuchUpload"));
    expect_err(
        c.abort_multipart_upload().bucket(&b).key("u/1").upload_id("0000nonexistent").send().await,
        404,
        Some("NoSuchUpload"),
    );
    // An upload id is bound to its key.
    expect_err(c.list_parts().bucket(&b).key("v/1").upload_id(&u1).send().await, 404, Some("NoSuchUpload"));
    assert!(!h.exists(&b, "u/2").await);

    let out = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert_eq!(
        out.uploads().iter().map(|u| u.upload_id().unwrap()).collect::<Vec<_>>(),
        vec![u1.as_str(), u1b.as_str(), v1.as_str()]
    );
}

pub async fn upload_part_copy_with_ranges(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("part-copy").await;
    let src = pattern(5 * MIB + 1000, 20);
    let src_etag = h.put(&b, "source", src.clone()).await;
    let source = crate::objects::copy_source(&b, "source");

    let id =
        c.create_multipart_upload().bucket(&b).key("assembled").send().await.unwrap().upload_id().unwrap().to_owned();
    let copy = |n: i32, range: String| {
        c.upload_part_copy()
            .bucket(&b)
            .key("assembled")
            .upload_id(&id)
            .part_number(n)
            .copy_source(&source)
            .copy_source_range(range)
            .send()
    };
    let first = 0..5 * MIB;
    let second = 5 * MIB..src.len();
    let out1 = copy(1, format!("bytes={}-{}", first.start, first.end - 1)).await.unwrap();
    let e1 = out1.copy_part_result().and_then(|r| r.e_tag()).unwrap().to_owned();
    assert_eq!(e1, quoted(&md5_hex(&src[first.clone()])));
    let out2 = copy(2, format!("bytes={}-{}", second.start, second.end - 1)).await.unwrap();
    let e2 = out2.copy_part_result().and_then(|r| r.e_tag()).unwrap().to_owned();
    assert_eq!(e2, quoted(&md5_hex(&src[second.clone()])));

    // A failing copy-source condition copies nothing.
    expect_err(
        c.upload_part_copy()
            .bucket(&b)
            .key("assembled")
            .upload_id(&id)
            .part_number(3)
            .copy_source(&source)
            .copy_source_if_match("\"00000000000000000000000000000000\"")
            .send()
            .await,
        412,
        Some("PreconditionFailed"),
    );
    let parts = c.list_parts().bucket(&b).key("assembled").upload_id(&id).send().await.unwrap();
    assert_eq!(
        parts.parts().iter().map(|p| (p.part_number().unwrap(), p.size().unwrap())).collect::<Vec<_>>(),
        vec![(1, 5 * 1024 * 1024), (2, 1000)]
    );

    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("assembled")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.e_tag(), Some(quoted(&multipart_etag(&[&src[first], &src[second]])).as_str()));
    assert!(h.get(&b, "assembled").await == src, "reassembled copy equals the source");

    // A small range of the source as a single-part upload, and a whole-object part copy.
    let id = c.create_multipart_upload().bucket(&b).key("slice").send().await.unwrap().upload_id().unwrap().to_owned();
    let out = c
        .upload_part_copy()
        .bucket(&b)
        .key("slice")
        .upload_id(&id)
        .part_number(1)
        .copy_source(&source)
        .copy_source_range("bytes=100-199")
        .copy_source_if_match(&src_etag)
        .send()
        .await
        .unwrap();
    let e = out.copy_part_result().and_then(|r| r.e_tag()).unwrap().to_owned();
    c.complete_multipart_upload()
        .bucket(&b)
        .key("slice")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e)]))
        .send()
        .await
        .unwrap();
    assert_eq!(h.get(&b, "slice").await, &src[100..200]);
}
