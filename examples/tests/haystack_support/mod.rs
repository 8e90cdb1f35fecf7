//! Running the built Haystack binaries from tests: the server on a free loopback port (it prints
//! the bound address as its first line), the importer to completion.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running `haystack-server`; killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `haystack-server` with `args` and `envs` on `127.0.0.1:0`. `Err` holds what it wrote
/// to stderr when it exited instead of listening.
pub fn spawn_server(args: &[&str], envs: &[(&str, &str)]) -> Result<Server, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haystack-server"))
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--log-level", "warn"])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("haystack-server starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let first = rx.recv_timeout(Duration::from_secs(120)).ok().flatten();
    match first
        .as_deref()
        .and_then(|l| l.strip_prefix("listening on "))
    {
        Some(url) => {
            // Drain stderr too.
            if let Some(mut err) = child.stderr.take() {
                std::thread::spawn(move || {
                    let mut sink = Vec::new();
                    let _ = err.read_to_end(&mut sink);
                });
            }
            let base = url.trim_end_matches('/').to_owned();
            let addr = base.trim_start_matches("http://").to_owned();
            Ok(Server { child, base, addr })
        }
        None => {
            let status = child.wait().expect("wait");
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            Err(format!("{status}: {err}"))
        }
    }
}

/// Runs `haystack-import` with `args` and `envs` to completion.
pub fn run_import(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haystack-import"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("haystack-import runs")
}

/// GETs `url` and reads the answer as a Zinc grid.
pub async fn get_zinc(client: &reqwest::Client, url: &str) -> haystack_core::Grid {
    let resp = client.get(url).send().await.expect("answer");
    assert_eq!(resp.status(), 200, "{url}");
    let text = resp.text().await.expect("body");
    haystack_zinc::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}\n{text}"))
}
