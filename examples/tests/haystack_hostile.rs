//! Hostile requests against the real `haystack-server` process on a loopback port: each case
//! must be answered with a 4xx error grid, and after every case the process must still be alive
//! and answer `about`.

mod haystack_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use haystack_support::{Server, spawn_server};

/// Starts the built server on a free loopback port with the sample site.
fn start(dir: &tempfile::TempDir) -> Server {
    let db = dir.path().join("db");
    let db = db.to_string_lossy();
    spawn_server(
        &[
            "--db",
            &db,
            "--sample",
            "--body-timeout",
            "2",
            "--header-timeout",
            "2",
        ],
        &[],
    )
    .unwrap()
}

trait Hostile {
    async fn assert_alive(&mut self, client: &reqwest::Client, case: &str);
    async fn post_expect(
        &mut self,
        client: &reqwest::Client,
        case: &str,
        op: &str,
        ctype: Option<&str>,
        body: Vec<u8>,
        status: u16,
    );
}

impl Hostile for Server {
    /// The process is alive and answers `about` with a grid.
    async fn assert_alive(&mut self, client: &reqwest::Client, case: &str) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "{case}: the server process exited"
        );
        let resp = client
            .get(format!("{}/about", self.base))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{case}: about did not answer: {e}"));
        assert_eq!(resp.status(), 200, "{case}: about");
        let grid = haystack_zinc::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(
            grid.row(0)
                .and_then(|r| r.get("serverName"))
                .and_then(|v| v.as_str()),
            Some("haystack-server"),
            "{case}"
        );
    }

    /// POSTs `body` to `op` and checks the status and that the body is an error grid.
    async fn post_expect(
        &mut self,
        client: &reqwest::Client,
        case: &str,
        op: &str,
        ctype: Option<&str>,
        body: Vec<u8>,
        status: u16,
    ) {
        let mut req = client.post(format!("{}/{op}", self.base)).body(body);
        if let Some(c) = ctype {
            req = req.header("Content-Type", c);
        }
        let resp = req
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{case}: no answer: {e}"));
        assert_eq!(resp.status().as_u16(), status, "{case}");
        let text = resp.text().await.unwrap();
        let grid = haystack_zinc::from_str(&text)
            .unwrap_or_else(|e| panic!("{case}: not a Zinc grid ({e}): {text:.300}"));
        assert!(
            grid.meta().has("err"),
            "{case}: not an error grid: {text:.300}"
        );
        self.assert_alive(client, case).await;
    }
}

fn zinc_filter(filter: &str) -> Vec<u8> {
    format!("ver:\"3.0\"\nfilter\n\"{filter}\"\n").into_bytes()
}

#[tokio::test]
async fn hostile_requests_get_4xx_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    // No pooled connections: the server closes idle ones after its header-read timeout (2 s
    // here), and a request must not race that on a connection the pool kept.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    server.assert_alive(&client, "start").await;
    const ZINC: Option<&str> = Some("text/zinc");
    const JSON: Option<&str> = Some("application/json");

    // An 800 KB `id->id->...` path (this overflowed the stack of the old server).
    let long_path = vec!["id"; 200_000].join("->");
    server
        .post_expect(
            &client,
            "long path",
            "read",
            ZINC,
            zinc_filter(&long_path),
            400,
        )
        .await;
    let resp = client
        .get(format!("{}/read", server.base))
        .query(&[("filter", vec!["siteRef"; 40].join("->"))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "path over the limit by GET");
    server.assert_alive(&client, "long path by GET").await;

    // Deep nesting, in Zinc and JSON.
    let deep = format!(
        "ver:\"3.0\"\nid\n{}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    server
        .post_expect(&client, "deep zinc", "read", ZINC, deep.into_bytes(), 400)
        .await;
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    server
        .post_expect(&client, "deep json", "read", JSON, deep.into_bytes(), 400)
        .await;

    // A header of 100,000 columns.
    let cols: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
    let bomb = format!("ver:\"3.0\"\n{}\n", cols.join(","));
    server
        .post_expect(&client, "column bomb", "read", ZINC, bomb.into_bytes(), 400)
        .await;

    // A 439 KB list of dicts with distinct tags (the dense grid wanted ~36 GB).
    let dicts: Vec<String> = (0..40_000).map(|i| format!("{{\"t{i}\":1}}")).collect();
    let bomb = format!("[{}]", dicts.join(","));
    assert!(bomb.len() > 400_000);
    server
        .post_expect(
            &client,
            "list-of-dicts bomb",
            "read",
            JSON,
            bomb.into_bytes(),
            400,
        )
        .await;

    // A JSON grid that declares 20,000 columns and 20,000 empty rows.
    let cols: Vec<String> = (0..20_000)
        .map(|i| format!("{{\"name\":\"c{i}\"}}"))
        .collect();
    let rows = vec!["{}"; 20_000].join(",");
    let bomb = format!(
        "{{\"_kind\":\"grid\",\"meta\":{{\"ver\":\"3.0\"}},\"cols\":[{}],\"rows\":[{rows}]}}",
        cols.join(",")
    );
    server
        .post_expect(
            &client,
            "json grid bomb",
            "read",
            JSON,
            bomb.into_bytes(),
            400,
        )
        .await;

    // Bodies of 1 MiB: over the cap, and just under it with far too many rows.
    let mut big = b"ver:\"3.0\"\nid\n".to_vec();
    big.resize((1 << 20) + 1, b'\n');
    server
        .post_expect(&client, "body over 1 MiB", "read", ZINC, big, 413)
        .await;
    let mut rows = b"ver:\"3.0\"\nid\n".to_vec();
    while rows.len() < (1 << 20) - 8 {
        rows.extend_from_slice(b"@a\n");
    }
    server
        .post_expect(&client, "1 MiB of rows", "read", ZINC, rows, 400)
        .await;

    // Invalid UTF-8, no Content-Type, an unsupported one.
    server
        .post_expect(
            &client,
            "invalid UTF-8",
            "read",
            ZINC,
            b"ver:\"3.0\"\nfilter\n\"\xff\xfe\"\n".to_vec(),
            400,
        )
        .await;
    server
        .post_expect(
            &client,
            "no Content-Type",
            "read",
            None,
            zinc_filter("site"),
            400,
        )
        .await;
    server
        .post_expect(
            &client,
            "unsupported Content-Type",
            "read",
            Some("image/png"),
            zinc_filter("site"),
            415,
        )
        .await;

    // A slow sender: headers and 10 of 1000 promised bytes, then nothing. Others are served
    // meanwhile; the slow one gets 408 after the body timeout (2 s here).
    let mut slow = std::net::TcpStream::connect(&server.addr).unwrap();
    write!(
        slow,
        "POST /read HTTP/1.1\r\nHost: x\r\nContent-Type: text/zinc\r\nContent-Length: 1000\r\n\r\nver:\"3.0\"\n"
    )
    .unwrap();
    let t = Instant::now();
    server.assert_alive(&client, "during a slow sender").await;
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "about waited for the slow sender"
    );
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = [0u8; 64];
    let n = slow.read(&mut answer).unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "timed out too early"
    );
    // A slow header sender holds only its own connection, and only until the header-read
    // timeout (2 s here) closes it.
    let mut loris = std::net::TcpStream::connect(&server.addr).unwrap();
    write!(loris, "GET /about HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    let t = Instant::now();
    server
        .assert_alive(&client, "during a slow header sender")
        .await;
    loris
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    // The server closes the connection (with or without a 408 first): the read ends.
    let closed = match loris.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "the slow header sender was not cut off");
    assert!(
        t.elapsed() >= Duration::from_millis(1500) && t.elapsed() < Duration::from_secs(15),
        "cut off after {:?}",
        t.elapsed()
    );

    // A method other than GET or POST.
    let resp = client
        .put(format!("{}/read", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    server.assert_alive(&client, "PUT").await;
}
