//! The load generator of `haystack-load --url`: `read` requests against any Haystack server
//! (ours or a peer) on loopback, each a POST of a Zinc request grid with one `filter`, from a
//! fixed number of concurrent keep-alive connections, the way `wrk -c` loads a server.

use std::time::{Duration, Instant};

use haystack_core::{Grid, GridBuilder, Value};

/// The filters of issue #24, measured side by side against rusty-haystack-server.
pub const PEER_FILTERS: [&str; 4] = [
    "site and geoCity == \"Paris\"",
    "equip and siteRef->geoCity == \"Tokyo\"",
    "point and curVal > 89.5°F",
    "point and siteRef==@s42",
];

/// The Zinc request grid of a `read` by `filter` (one `filter` column, one row).
pub fn read_request(filter: &str) -> String {
    let grid = GridBuilder::new()
        .col("filter")
        .row(vec![Value::from(filter)])
        .build()
        .unwrap_or_default();
    haystack_zinc::to_string(&grid)
}

/// Sends one `read` of `filter` to `{base}/read` and returns the answer.
pub async fn read_once(client: &reqwest::Client, base: &str, filter: &str) -> Result<Grid, String> {
    let resp = client
        .post(format!("{base}/read"))
        .header("Content-Type", "text/zinc; charset=utf-8")
        .header("Accept", "text/zinc")
        .body(read_request(filter))
        .send()
        .await
        .map_err(|e| format!("POST {base}/read: {e}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("POST {base}/read: {e}"))?;
    if !status.is_success() {
        return Err(format!("POST {base}/read: {status}: {text}"));
    }
    let grid = haystack_zinc::from_str(&text).map_err(|e| format!("the answer: {e}"))?;
    if grid.meta().has("err") {
        return Err(format!("error grid: {:?}", grid.meta().dis()));
    }
    Ok(grid)
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered with a success status and read to the end.
    pub ok: usize,
    /// Requests that failed (connection error, non-2xx status, body cut).
    pub errors: usize,
    /// How long the run took.
    pub elapsed: Duration,
    /// Latency of every request, sorted.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    /// Successful requests per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0.0 to 1.0), nearest rank.
    pub fn percentile(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let i = ((n as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
        self.latencies
            .get(i.min(n - 1))
            .copied()
            .unwrap_or_default()
    }
}

/// Sends `read` of `filter` to `{base}/read` from `connections` concurrent clients for
/// `duration` (at most `max_requests` in all).
pub async fn run(
    base: &str,
    filter: &str,
    connections: usize,
    duration: Duration,
    max_requests: usize,
) -> LoadReport {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections.max(1))
        .build()
        .unwrap_or_default();
    let url = format!("{base}/read");
    let body = bytes::Bytes::from(read_request(filter));
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(max_requests));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (client, url, body, budget) =
            (client.clone(), url.clone(), body.clone(), budget.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline
                && budget
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |b| b.checked_sub(1),
                    )
                    .is_ok()
            {
                let t = Instant::now();
                let sent = client
                    .post(&url)
                    .header("Content-Type", "text/zinc; charset=utf-8")
                    .header("Accept", "text/zinc")
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                        Ok(_) => latencies.push(t.elapsed()),
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0usize);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((l, e)) => {
                latencies.extend(l);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    LoadReport {
        ok: latencies.len(),
        errors,
        elapsed,
        latencies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_grid_reads_back_with_its_filter() {
        for f in PEER_FILTERS {
            let grid = haystack_zinc::from_str(&read_request(f)).unwrap();
            assert_eq!(grid.len(), 1);
            assert_eq!(grid.row(0).unwrap().get("filter"), Some(&Value::from(f)));
            haystack_core::filter::Filter::parse(f).unwrap();
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let r = LoadReport {
            ok: 4,
            errors: 0,
            elapsed: Duration::from_secs(2),
            latencies: (1..=4).map(Duration::from_millis).collect(),
        };
        assert_eq!(r.per_second(), 2.0);
        assert_eq!(r.percentile(0.0), Duration::from_millis(1));
        assert_eq!(r.percentile(0.99), Duration::from_millis(4));
        assert_eq!(r.percentile(0.5), Duration::from_millis(3));
    }
}
