//! `cloudstore admin share ...` against `cloudstore serve` on its embedded defaults: an
//! account's key creates, lists, shows and revokes a link; the link downloads with no
//! credentials until it is revoked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use cloudstore_test_services::{free_port, http_get, unique};
use serde_json::Value;

const ROOT_AK: &str = "CSSHARECLIROOTKEY001";
const ROOT_SK: &str = "share-cli-root-secret-0123456789abcdef0123";

struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve() -> Server {
    let dir = std::env::temp_dir().join(format!("cs-share-cli-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_cloudstore"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CLOUDSTORE_LISTEN", format!("127.0.0.1:{port}"))
        .env("CLOUDSTORE_DATA_DIR", dir.join("data"))
        .env("CLOUDSTORE_ROOT_ACCESS_KEY", ROOT_AK)
        .env("CLOUDSTORE_ROOT_SECRET_KEY", ROOT_SK)
        // Links are handed out under the public address (a TLS proxy in front, say).
        .env("CLOUDSTORE_PUBLIC_URL", "https://files.example.test/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cloudstore serve");
    let s = Server { child, port, dir };
    let t0 = Instant::now();
    while http_get(port, "/health/ready").0 != 200 {
        assert!(t0.elapsed() < Duration::from_secs(60), "server not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

/// `cloudstore admin ARGS...` signed with `key`; (success, stdout as JSON or Null).
fn admin(s: &Server, key: (&str, &str), args: &[&str]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstore"))
        .args(["admin", "--endpoint", &format!("http://127.0.0.1:{}", s.port)])
        .args(["--access-key", key.0, "--secret-key", key.1])
        .args(args)
        .output()
        .expect("cloudstore admin");
    let text = String::from_utf8_lossy(&out.stdout);
    let v = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON output") };
    (out.status.success(), v)
}

fn string_field<'a>(v: &'a Value, names: &[&str]) -> &'a str {
    names.iter().find_map(|n| v[*n].as_str()).unwrap_or_else(|| panic!("none of {names:?} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_share_commands_manage_links() {
    let s = serve();
    let (ok, created) = admin(&s, (ROOT_AK, ROOT_SK), &["account", "create", &format!("cli{}", unique())]);
    assert!(ok, "{created}");
    let key = &created["access_key"];
    let ak = string_field(key, &["access_key_id"]).to_owned();
    let sk = string_field(key, &["secret_access_key", "secret"]).to_owned();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(&ak, &sk, None, None, "cli"))
        .endpoint_url(format!("http://127.0.0.1:{}", s.port))
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let bucket = format!("cli-{}", unique());
    client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    client
        .put_object()
        .bucket(&bucket)
        .key("a/hello.txt")
        .body(ByteStream::from_static(b"hello cli"))
        .send()
        .await
        .unwrap();

    let me = (ak.as_str(), sk.as_str());
    let (ok, link) = admin(
        &s,
        me,
        &[
            "share",
            "create",
            "--bucket",
            &bucket,
            "--key",
            "a/hello.txt",
            "--expires-in",
            "600",
            "--max-downloads",
            "5",
        ],
    );
    assert!(ok, "{link}");
    let id = link["id"].as_str().expect("id").to_owned();
    let url = link["url"].as_str().expect("url");
    assert!(url.starts_with("https://files.example.test/s/"), "{url}");
    let path = &url[url.find("/s/").expect("/s/ path")..];
    let (status, body) = http_get(s.port, path);
    assert_eq!(status, 200);
    assert!(body.ends_with("hello cli"), "{body}");

    let (ok, list) = admin(&s, me, &["share", "list"]);
    assert!(ok);
    assert_eq!(list["shares"].as_array().map(Vec::len), Some(1), "{list}");
    let (ok, shown) = admin(&s, me, &["share", "show", &id]);
    assert!(ok);
    assert_eq!(shown["downloads"].as_u64(), Some(1), "{shown}");
    // The platform admin sees the account's links when it names the account.
    let account = string_field(&created["account"], &["account_id"]);
    let (ok, all) = admin(&s, (ROOT_AK, ROOT_SK), &["share", "list", "--account", account]);
    assert!(ok);
    assert_eq!(all["shares"].as_array().map(Vec::len), Some(1), "{all}");

    let (ok, _) = admin(&s, me, &["share", "revoke", &id]);
    assert!(ok);
    assert_eq!(http_get(s.port, path).0, 404);
    let (ok, _) = admin(&s, me, &["share", "show", "shr-nope"]);
    assert!(!ok, "an unknown link is an error");
}
