//! In-flight downloads, and how they end when the server stops.
//!
//! Every download response holds a [`DownloadTicket`]. On shutdown the server stops accepting
//! connections and [`Downloads::drain`] gives the downloads in progress a grace period to finish;
//! the ones still running then are cut: their body stream ends with an error, so the client sees
//! a failed transfer (fewer bytes than `Content-Length`), never a silently short tar.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Counts the downloads in progress, caps them, and can cut them all.
#[derive(Debug, Clone)]
pub struct Downloads {
    count: Arc<watch::Sender<usize>>,
    cut: CancellationToken,
    limit: usize,
}

impl Default for Downloads {
    fn default() -> Self {
        Downloads {
            count: Arc::new(watch::channel(0).0),
            cut: CancellationToken::new(),
            limit: usize::MAX,
        }
    }
}

/// A download in progress; dropping it ends the download's count.
#[derive(Debug)]
pub struct DownloadTicket {
    count: Arc<watch::Sender<usize>>,
    cut: CancellationToken,
}

impl DownloadTicket {
    /// Cancelled when the server cuts the downloads still running after the grace period.
    pub fn cut_token(&self) -> &CancellationToken {
        &self.cut
    }
}

impl Drop for DownloadTicket {
    fn drop(&mut self) {
        self.count.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// What [`Downloads::drain`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainReport {
    /// Downloads in progress when the drain began.
    pub in_flight: usize,
    /// Downloads still running at the end of the grace period, which were cut.
    pub cut: usize,
}

/// How long cut downloads get to notice and close (their streams end at their next chunk).
const CUT_SETTLE: Duration = Duration::from_secs(5);

impl Downloads {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tracker that admits at most `limit` downloads at once.
    pub fn with_limit(limit: std::num::NonZeroUsize) -> Self {
        Downloads {
            limit: limit.get(),
            ..Self::default()
        }
    }

    /// The cap on downloads at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Records a download in progress (not counted against the cap).
    pub fn start(&self) -> DownloadTicket {
        self.count.send_modify(|n| *n = n.saturating_add(1));
        self.ticket()
    }

    /// Records a download in progress if fewer than [`limit`](Self::limit) are; `None` over
    /// the cap.
    pub fn try_start(&self) -> Option<DownloadTicket> {
        let admitted = self.count.send_if_modified(|n| {
            if *n < self.limit {
                *n += 1;
                true
            } else {
                false
            }
        });
        admitted.then(|| self.ticket())
    }

    fn ticket(&self) -> DownloadTicket {
        DownloadTicket {
            count: Arc::clone(&self.count),
            cut: self.cut.clone(),
        }
    }

    /// Downloads in progress now.
    pub fn in_flight(&self) -> usize {
        *self.count.borrow()
    }

    /// Waits up to `grace` for the downloads in progress to end, then cuts the rest and waits
    /// (at most a few seconds more) for them to close.
    pub async fn drain(&self, grace: Duration) -> DrainReport {
        let mut rx = self.count.subscribe();
        let in_flight = *rx.borrow_and_update();
        let finished =
            tokio::time::timeout(grace, async { rx.wait_for(|n| *n == 0).await.map(|_| ()) }).await;
        if matches!(finished, Ok(Ok(()))) {
            return DrainReport { in_flight, cut: 0 };
        }
        let cut = *rx.borrow();
        tracing::warn!("cutting {cut} download(s) still running after {grace:?}");
        self.cut.cancel();
        let settled = tokio::time::timeout(CUT_SETTLE, async {
            rx.wait_for(|n| *n == 0).await.map(|_| ())
        })
        .await;
        if settled.is_err() {
            tracing::warn!("{} download(s) did not close after being cut", *rx.borrow());
        }
        DrainReport { in_flight, cut }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn downloads_that_finish_in_the_grace_period_are_not_cut() {
        let downloads = Downloads::new();
        let ticket = downloads.start();
        let token = ticket.cut_token().clone();
        let drain = tokio::spawn({
            let d = downloads.clone();
            async move { d.drain(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(downloads.in_flight(), 1);
        drop(ticket);
        let report = drain.await.unwrap();
        assert_eq!(
            report,
            DrainReport {
                in_flight: 1,
                cut: 0
            }
        );
        assert!(!token.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn downloads_still_running_after_the_grace_period_are_cut() {
        let downloads = Downloads::new();
        let ticket = downloads.start();
        let _idle = downloads.start();
        drop(_idle);
        let token = ticket.cut_token().clone();
        let start = tokio::time::Instant::now();
        let drain = tokio::spawn({
            let d = downloads.clone();
            async move { d.drain(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(!token.is_cancelled(), "cut before the grace period ended");
        token.cancelled().await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        drop(ticket); // the stream noticed the cut and ended
        let report = drain.await.unwrap();
        assert_eq!(
            report,
            DrainReport {
                in_flight: 1,
                cut: 1
            }
        );
        assert_eq!(downloads.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_with_nothing_in_flight_returns_at_once() {
        let downloads = Downloads::new();
        let start = tokio::time::Instant::now();
        let report = downloads.drain(Duration::from_secs(30)).await;
        assert_eq!(report, DrainReport::default());
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
