//! The Pacifica archive interface over HTTP.

use super::{Archive, ArchiveStatus, ByteStream};
use crate::{ArchiveId, Error, Result};
use futures::{StreamExt, TryStreamExt};
use reqwest::{Client, StatusCode, Url, header::CONTENT_LENGTH};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The Pacifica archive interface (`ARCHIVE_INTERFACE_URL`): `POST {url}{id}` stages,
/// `HEAD {url}{id}` reports `X-Pacifica-File-Storage-Media` (`disk` = ready) and
/// `X-Content-Length`, `GET {url}{id}` streams the bytes. Ids are percent-encoded as one path
/// segment. 5xx answers, timeouts and connection errors are retryable; the archive interface
/// answers 500 for unknown ids, so those are retried and then reported with its message.
///
/// `pacifica-archiveinterface` 0.4.2 keeps the open file on one shared backend object, so
/// concurrent requests corrupt each other (observed: one GET returning another file's bytes).
/// Requests are therefore limited to [`max_concurrent_requests`](PacificaArchiveBuilder::max_concurrent_requests)
/// at a time (default 1); a `GET` holds its slot until its body is consumed or dropped.
#[derive(Debug, Clone)]
pub struct PacificaArchive {
    base: Url,
    client: Client,
    request_timeout: Duration,
    slots: Arc<Semaphore>,
}

/// Builds a [`PacificaArchive`].
#[derive(Debug, Clone)]
pub struct PacificaArchiveBuilder {
    url: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    client: Option<Client>,
    max_concurrent: NonZeroUsize,
}

impl PacificaArchiveBuilder {
    /// Requests in flight at once (default 1, see [`PacificaArchive`]).
    pub fn max_concurrent_requests(mut self, n: NonZeroUsize) -> Self {
        self.max_concurrent = n;
        self
    }
    /// Connection timeout (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
    /// Timeout of `HEAD` and `POST` requests and of the response headers of `GET` (default 60 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }
    /// Uses this HTTP client (its own timeouts apply).
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }
    /// The archive; fails on a URL that is not `http(s)://`.
    pub fn build(self) -> Result<PacificaArchive> {
        let mut url = self.url;
        if !url.ends_with('/') {
            url.push('/');
        }
        let base = Url::parse(&url).map_err(|e| Error::invalid("archive url", e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::invalid("archive url", "must be an http(s) URL"));
        }
        let client = match self.client {
            Some(c) => c,
            None => Client::builder()
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| Error::archive_caused("building the HTTP client", false, e))?,
        };
        Ok(PacificaArchive {
            base,
            client,
            request_timeout: self.request_timeout,
            slots: Arc::new(Semaphore::new(self.max_concurrent.get())),
        })
    }
}

fn encode_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn http_err(e: reqwest::Error, what: &str) -> Error {
    let retryable =
        e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode();
    Error::archive_caused(what, retryable, e)
}

/// Most bytes of an error response body read (the rest is never read).
const MAX_ERROR_BODY: usize = 4096;

/// Up to `limit` bytes of a response body; a body that fails midway gives what was read.
async fn bounded_body(mut resp: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - out.len();
                out.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            }
            Ok(None) | Err(_) => break,
        }
    }
    out
}

async fn status_err(resp: reqwest::Response, what: &str, id: &ArchiveId) -> Error {
    let status = resp.status();
    if status == StatusCode::NOT_FOUND {
        return Error::NotFound(format!("archive file {id}"));
    }
    let body = bounded_body(resp, MAX_ERROR_BODY).await;
    let body: String = String::from_utf8_lossy(&body).chars().take(300).collect();
    Error::Archive {
        message: format!("{what} {id}: archive interface answered {status} {body}")
            .trim_end()
            .to_owned(),
        retryable: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
        source: None,
    }
}

impl PacificaArchive {
    /// Starts building an archive client for `url` (e.g. `http://127.0.0.1:8080/`).
    pub fn builder(url: impl Into<String>) -> PacificaArchiveBuilder {
        PacificaArchiveBuilder {
            url: url.into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            client: None,
            max_concurrent: NonZeroUsize::MIN,
        }
    }

    /// An archive client with default timeouts.
    pub fn new(url: impl Into<String>) -> Result<Self> {
        Self::builder(url).build()
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit> {
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| Error::Cancelled)
    }

    /// The URL of a file.
    pub fn file_url(&self, id: &ArchiveId) -> Result<Url> {
        self.base
            .join(&encode_segment(id.as_str()))
            .map_err(|e| Error::invalid("id", e.to_string()))
    }
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

#[async_trait::async_trait]
impl Archive for PacificaArchive {
    async fn stage(&self, id: &ArchiveId) -> Result<()> {
        let _slot = self.slot().await?;
        let resp = self
            .client
            .post(self.file_url(id)?)
            .header(CONTENT_LENGTH, "0")
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| http_err(e, "staging"))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(status_err(resp, "staging", id).await)
        }
    }

    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus> {
        let _slot = self.slot().await?;
        let resp = self
            .client
            .head(self.file_url(id)?)
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| http_err(e, "status"))?;
        if !resp.status().is_success() {
            return Err(status_err(resp, "status of", id).await);
        }
        let size = header(&resp, "x-content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let ready = header(&resp, "x-pacifica-file-storage-media")
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("disk"));
        let message = header(&resp, "x-pacifica-messsage")
            .or_else(|| header(&resp, "x-pacifica-message"))
            .unwrap_or_default()
            .to_owned();
        Ok(ArchiveStatus {
            size,
            ready,
            message,
        })
    }

    async fn read(&self, id: &ArchiveId) -> Result<ByteStream> {
        let slot = self.slot().await?;
        let resp = tokio::time::timeout(
            self.request_timeout,
            self.client.get(self.file_url(id)?).send(),
        )
        .await
        .map_err(|_| Error::Timeout(format!("reading {id}: no response")))?
        .map_err(|e| http_err(e, "reading"))?;
        if !resp.status().is_success() {
            return Err(status_err(resp, "reading", id).await);
        }
        // The slot travels with the stream and is released when the stream is dropped.
        Ok(resp
            .bytes_stream()
            .map_err(move |e| {
                let _held = &slot;
                http_err(e, "reading")
            })
            .boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_encoded_segment() {
        let a = PacificaArchive::new("http://127.0.0.1:1/base").unwrap();
        let url = a.file_url(&ArchiveId::new("../x y/%2F").unwrap()).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:1/base/..%2Fx%20y%2F%252F");
        assert!(PacificaArchive::new("file:///tmp").is_err());
    }
}
