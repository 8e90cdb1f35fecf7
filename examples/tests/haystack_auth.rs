//! Authentication end to end against the real `haystack-server` process: users added with
//! `haystack-server user add` (password on stdin), the HELLO/SCRAM/BEARER exchange by the
//! workspace's client, 401 challenges, 403 on a wrong password and for unknown users alike,
//! `close`, and the refusal to serve without auth on a non-loopback address.

mod haystack_support;

use std::io::Write;
use std::process::{Command, Stdio};

use examples::haystack::client::{Client, ClientError};
use haystack_core::auth::{self as hauth, AuthHeader};
use haystack_support::{Server, spawn_server};

fn add_user(users: &std::path::Path, name: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haystack-server"))
        .args(["user", "add", name, "--iterations", "4096", "--users"])
        .arg(users)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start(dir: &tempfile::TempDir, users: Option<&std::path::Path>) -> Server {
    let db = dir.path().join("db");
    let db = db.to_string_lossy().into_owned();
    let mut args = vec!["--db".to_owned(), db, "--sample".to_owned()];
    if let Some(u) = users {
        args.push("--users".into());
        args.push(u.to_string_lossy().into_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn_server(&args, &[]).expect("server starts")
}

#[tokio::test]
async fn scram_login_read_close_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.json");
    add_user(&users, "alice", "wonder land");
    add_user(&users, "bob", "builder");
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(
        text.contains("storedKey") && !text.contains("wonder"),
        "{text}"
    );
    let server = start(&dir, Some(&users));
    let http = reqwest::Client::new();

    // Unauthenticated: 401 with a challenge, for every op.
    for op in ["about", "read?filter=site", "ops"] {
        let resp = http
            .get(format!("{}/{op}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{op}");
        assert_eq!(resp.headers()["www-authenticate"], "HELLO");
    }

    // The workspace client logs in, reads, closes.
    let client = Client::open(&server.base, "alice", "wonder land")
        .await
        .unwrap();
    let about = client.call("about", None).await.unwrap();
    assert_eq!(about.len(), 1);
    let sites = client.call("read?filter=site", None).await.unwrap();
    assert!(!sites.is_empty());
    let token = client.token().unwrap().to_owned();
    client.close().await.unwrap();
    let resp = http
        .get(format!("{}/about", server.base))
        .header("Authorization", format!("BEARER authToken={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a closed session's token is refused");

    // Wrong password and unknown user: both 403 at the final step.
    for (user, password) in [("alice", "wrong"), ("mallory", "wonder land")] {
        match Client::open(&server.base, user, password).await {
            Err(ClientError::Forbidden) => {}
            other => panic!("{user}: {other:?}"),
        }
    }

    // HELLO answers look the same for known and unknown users; so do the server-first
    // messages (a salt and the same iteration count).
    let mut shapes = Vec::new();
    for user in ["bob", "nobody"] {
        let hello = http
            .get(format!("{}/about", server.base))
            .header(
                "Authorization",
                format!("HELLO username={}", hauth::encode_b64url(user.as_bytes())),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(hello.status(), 401);
        let c = AuthHeader::parse(hello.headers()["www-authenticate"].to_str().unwrap()).unwrap();
        assert_eq!(c.param("hash"), Some("SHA-256"));
        let token = c.param("handshakeToken").unwrap().to_owned();
        let first = format!("n,,n={user},r=abcdefgh");
        let resp = http
            .get(format!("{}/about", server.base))
            .header(
                "Authorization",
                format!(
                    "SCRAM handshakeToken={token}, data={}",
                    hauth::encode_b64url(first.as_bytes())
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let c = AuthHeader::parse(resp.headers()["www-authenticate"].to_str().unwrap()).unwrap();
        let sf = hauth::decode_b64_text(c.param("data").unwrap()).unwrap();
        let parts: Vec<&str> = sf.split(',').collect();
        assert!(parts[0].starts_with("r=abcdefgh"), "{sf}");
        assert!(parts[1].starts_with("s="), "{sf}");
        shapes.push((parts[0].len(), parts[1].len(), parts[2].to_owned()));
    }
    assert_eq!(shapes[0], shapes[1]);

    // A stale handshake token: 403.
    let resp = http
        .get(format!("{}/about", server.base))
        .header(
            "Authorization",
            "SCRAM handshakeToken=00ff, data=biwsbj1hLHI9eA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Hostile headers: garbage, an oversized SCRAM message, a quoted string; then still serving.
    let long = format!(
        "SCRAM handshakeToken=00, data={}",
        hauth::encode_b64url("n,,n=x,r=".repeat(500).as_bytes())
    );
    for (header, status) in [
        ("\u{1}\u{2} garbage".to_owned(), 400),
        (long, 403),
        ("SCRAM data=\"quoted\"".to_owned(), 400),
        ("HELLO username=%%%".to_owned(), 400),
        ("PLAINTEXT username=dXNlcg, password=cGFzcw".to_owned(), 401),
    ] {
        let resp = http
            .get(format!("{}/about", server.base))
            .header("Authorization", header.as_str())
            .send()
            .await;
        match resp {
            Ok(r) => assert_eq!(r.status(), status, "{header:.40}"),
            Err(e) => assert!(header.starts_with('\u{1}'), "{e}"),
        }
    }

    // Still serving.
    let again = Client::open(&server.base, "bob", "builder").await.unwrap();
    assert_eq!(again.call("about", None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn without_users_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    // Loopback without a users file: served without auth.
    let server = start(&dir, None);
    let about = Client::anonymous(&server.base)
        .call("about", None)
        .await
        .unwrap();
    assert_eq!(about.len(), 1);
    drop(server);
    // A non-loopback address without a users file: refused at start.
    let db = dir.path().join("db");
    let out = Command::new(env!("CARGO_BIN_EXE_haystack-server"))
        .args(["--addr", "0.0.0.0:0", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without authentication"), "{err}");
}
