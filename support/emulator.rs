//! Test support shared by every crate's emulator-backed tests.
//!
//! Included with `#[path = "../../support/emulator.rs"] mod emulator;` (from a crate's `tests/`
//! or `src/`), so that one piece of code decides how tests find the local AWS protocol emulator.
//!
//! `scripts/test` starts `moto_server` on a free loopback port and exports `AWS_ENDPOINT_URL`,
//! `AWS_REGION` and dummy credentials. Without `AWS_ENDPOINT_URL`:
//! - under `CI` the test fails, naming the command that runs it;
//! - otherwise it prints a visible `SKIPPED (needs emulator): run scripts/test` line and the
//!   caller returns early.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// The command that starts the emulator and runs every test.
pub const TEST_COMMAND: &str = "scripts/test";

/// The AWS configuration for the emulator, or `None` (after printing a SKIPPED line) when no
/// emulator is configured and this is not CI. Panics under `CI` when the emulator is missing, so
/// an emulator-backed test never passes silently.
pub async fn sdk_config(test: &str) -> Option<aws_config::SdkConfig> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: AWS_ENDPOINT_URL is not set; under CI the emulator is required: run `{TEST_COMMAND}`"
                );
            }
            eprintln!("SKIPPED (needs emulator): {test}: run `{TEST_COMMAND}`");
            return None;
        }
    };
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let credentials = aws_credential_types::Credentials::from_keys("testing", "testing", None);
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await;
    Some(config)
}

/// A name unique to this process and call, for tables, buckets and queues (lowercase, S3-safe).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}
