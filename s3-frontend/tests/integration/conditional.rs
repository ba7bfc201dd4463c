//! Conditional writes: `If-None-Match: *` and `If-Match` on PUT, and their race.

use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{Harness, expect_err, md5_hex, quoted, status_of};

pub async fn conditional_writes(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("cond-write").await;
    let put = |body: &'static str| c.put_object().bucket(&b).key("k").body(ByteStream::from_static(body.as_bytes()));

    // Create-only.
    let first = put("first").if_none_match("*").send().await.unwrap();
    assert_eq!(first.e_tag(), Some(quoted(&md5_hex(b"first")).as_str()));
    expect_err(put("second").if_none_match("*").send().await, 412, Some("PreconditionFailed"));
    assert_eq!(h.get(&b, "k").await, b"first");

    // Compare-and-swap.
    expect_err(
        put("third").if_match("\"00000000000000000000000000000000\"").send().await,
        412,
        Some("PreconditionFailed"),
    );
    assert_eq!(h.get(&b, "k").await, b"first");
    let swapped = put("fourth").if_match(first.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(h.get(&b, "k").await, b"fourth");
    // The old ETag no longer matches.
    expect_err(put("fifth").if_match(first.e_tag().unwrap()).send().await, 412, Some("PreconditionFailed"));
    put("sixth").if_match(swapped.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(h.get(&b, "k").await, b"sixth");

    // If-Match: * needs an object; If-None-Match with an ETag refuses only that ETag.
    let sixth = quoted(&md5_hex(b"sixth"));
    expect_err(put("x").if_none_match(&sixth).send().await, 412, Some("PreconditionFailed"));
    put("eighth").if_none_match("\"0123456789abcdef0123456789abcdef\"").send().await.unwrap();
    put("ninth").if_match("*").send().await.unwrap();
    assert_eq!(h.get(&b, "k").await, b"ninth");

    // After a delete, If-Match fails as AWS says: there is no such key (404), whether it names
    // an ETag or any object; create-only succeeds again.
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    expect_err(put("x").if_match("*").send().await, 404, Some("NoSuchKey"));
    expect_err(put("x").if_match(&sixth).send().await, 404, Some("NoSuchKey"));
    assert!(!h.exists(&b, "k").await, "a refused conditional write stored something");
    put("seventh").if_none_match(&sixth).send().await.unwrap();
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    put("seventh").if_none_match("*").send().await.unwrap();
    assert_eq!(h.get(&b, "k").await, b"seventh");

    // Multipart completion honours If-None-Match too.
    let up = c.create_multipart_upload().bucket(&b).key("k").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"mp"))
        .send()
        .await
        .unwrap();
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    expect_err(
        c.complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .multipart_upload(done.clone())
            .if_none_match("*")
            .send()
            .await,
        412,
        Some("PreconditionFailed"),
    );
    assert_eq!(h.get(&b, "k").await, b"seventh");
    // If-Match: * completes over an existing object; completing the same upload again answers
    // as the first time did (a retry after a lost answer), and the object stays.
    let first = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(id)
        .multipart_upload(done.clone())
        .if_match("*")
        .send()
        .await
        .unwrap();
    assert_eq!(h.get(&b, "k").await, b"mp");
    let again =
        c.complete_multipart_upload().bucket(&b).key("k").upload_id(id).multipart_upload(done.clone()).send().await;
    assert_eq!(again.unwrap().e_tag(), first.e_tag());
    // Once the object is gone the upload is gone too.
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    expect_err(
        c.complete_multipart_upload().bucket(&b).key("k").upload_id(id).multipart_upload(done).send().await,
        404,
        Some("NoSuchUpload"),
    );
    // If-Match on a missing key: 404 NoSuchKey, and the upload is still there to retry.
    let up = c.create_multipart_upload().bucket(&b).key("k").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part =
        c.upload_part().bucket(&b).key("k").upload_id(id).part_number(1).body(ByteStream::from_static(b"mp2")).send();
    let part = part.await.unwrap();
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    let complete = || c.complete_multipart_upload().bucket(&b).key("k").upload_id(id).multipart_upload(done.clone());
    expect_err(complete().if_match("*").send().await, 404, Some("NoSuchKey"));
    complete().if_none_match("*").send().await.unwrap();
    assert_eq!(h.get(&b, "k").await, b"mp2");
}

pub async fn concurrent_if_none_match_has_one_winner(h: &Harness) {
    let b = h.bucket("race").await;
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let client = h.client.clone();
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!("writer {i}: {}", "x".repeat(usize::try_from(i).unwrap() * 100));
            let res = client
                .put_object()
                .bucket(&b)
                .key("contended")
                .body(ByteStream::from(body.clone().into_bytes()))
                .if_none_match("*")
                .send()
                .await;
            (i, body, res)
        }));
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (i, body, res) = t.await.unwrap();
        match res {
            Ok(out) => winners.push((i, body, out.e_tag().unwrap().to_owned())),
            Err(e) => {
                assert_eq!(status_of(&e), 412, "writer {i}: {e:?}");
                assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&e), Some("PreconditionFailed"), "writer {i}");
                refused += 1;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {:?}", winners.iter().map(|w| w.0).collect::<Vec<_>>());
    assert_eq!(refused, 15);
    let (_, body, etag) = &winners[0];
    let get = h.client.get_object().bucket(&b).key("contended").send().await.unwrap();
    assert_eq!(get.e_tag(), Some(etag.as_str()));
    assert_eq!(get.body.collect().await.unwrap().into_bytes().as_ref(), body.as_bytes());

    // Losers refused at commit (after writing their body) left their blob queued, never live:
    // collecting them keeps the winner intact.
    let due = h.meta.due_blobs(time::OffsetDateTime::now_utc(), 100).await.unwrap();
    assert!(due.len() <= 15, "{due:?}");
    let live = h.meta.get_object(&b, "contended").await.unwrap().unwrap().parts;
    assert!(live.iter().all(|p| !due.contains(&p.blob)), "the winner's blob is not garbage");
    assert_eq!(h.collector().run_once().await.unwrap().blobs, due.len());
    assert_eq!(h.get(&b, "contended").await, body.as_bytes());
}

/// Conditional deletes (If-Match, x-amz-if-match-last-modified-time, x-amz-if-match-size, and
/// their DeleteObjects fields): a failed condition is 412 and keeps the object; a missing
/// object is no error.
pub async fn conditional_deletes(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("cdel").await;
    let put = c.put_object().bucket(&b).key("k").body(ByteStream::from_static(b"data")).send().await.expect("put");
    let etag = put.e_tag().expect("etag").to_owned();
    let head = c.head_object().bucket(&b).key("k").send().await.expect("head");
    let mtime = head.last_modified().expect("mtime").to_owned();

    expect_err(
        c.delete_object().bucket(&b).key("k").if_match("\"badetag\"").send().await,
        412,
        Some("PreconditionFailed"),
    );
    expect_err(c.delete_object().bucket(&b).key("k").if_match_size(9999).send().await, 412, Some("PreconditionFailed"));
    let old = aws_sdk_s3::primitives::DateTime::from_secs(1_420_070_400);
    expect_err(
        c.delete_object().bucket(&b).key("k").if_match_last_modified_time(old).send().await,
        412,
        Some("PreconditionFailed"),
    );
    assert_eq!(h.get(&b, "k").await, b"data", "a failed condition keeps the object");
    c.delete_object()
        .bucket(&b)
        .key("k")
        .if_match(&etag)
        .if_match_size(4)
        .if_match_last_modified_time(mtime)
        .send()
        .await
        .expect("delete when every condition holds");
    expect_err(c.head_object().bucket(&b).key("k").send().await, 404, None);
    // A missing object: no error, whatever the condition.
    c.delete_object().bucket(&b).key("k").if_match("\"badetag\"").send().await.expect("missing, bad etag");
    c.delete_object().bucket(&b).key("k").if_match("*").send().await.expect("missing, any");
    // If-Match: * deletes an existing object.
    c.put_object().bucket(&b).key("k").body(ByteStream::from_static(b"again")).send().await.expect("put");
    c.delete_object().bucket(&b).key("k").if_match("*").send().await.expect("any");
    expect_err(c.head_object().bucket(&b).key("k").send().await, 404, None);

    // DeleteObjects: per-key ETag conditions.
    let put = c.put_object().bucket(&b).key("m").body(ByteStream::from_static(b"multi")).send().await.expect("put");
    let etag = put.e_tag().expect("etag").to_owned();
    let one = |e: &str| {
        aws_sdk_s3::types::Delete::builder()
            .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("m").e_tag(e).build().expect("id"))
            .build()
            .expect("delete")
    };
    let r = c.delete_objects().bucket(&b).delete(one("\"badetag\"")).send().await.expect("delete objects");
    assert_eq!(r.errors().first().and_then(|e| e.code()), Some("PreconditionFailed"), "{r:?}");
    assert_eq!(h.get(&b, "m").await, b"multi");
    let r = c.delete_objects().bucket(&b).delete(one(&etag)).send().await.expect("delete objects");
    assert_eq!(r.deleted().first().and_then(|d| d.key()), Some("m"), "{r:?}");
    let r = c.delete_objects().bucket(&b).delete(one("\"badetag\"")).send().await.expect("missing");
    assert!(r.errors().is_empty(), "a missing object is no error: {r:?}");
}
