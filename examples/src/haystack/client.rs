//! A small Haystack HTTP client: logs in by the Auth chapter (HELLO, SCRAM-SHA-256, BEARER),
//! checks the server's signature, then calls ops with Zinc request grids.
//!
//! ```no_run
//! # async fn demo() -> Result<(), examples::haystack::client::ClientError> {
//! use examples::haystack::client::Client;
//! let client = Client::open("http://127.0.0.1:8080", "alice", "secret").await?;
//! let about = client.call("about", None).await?;
//! client.close().await?;
//! # Ok(()) }
//! ```

use haystack_core::Grid;
use haystack_core::auth::scram::ScramClient;
use haystack_core::auth::{self as hauth, AuthError, AuthHeader};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the credentials (403).
    #[error("authentication failed: the server refused the user or password")]
    Forbidden,
    /// The handshake went wrong (a missing header, a bad message, a bad server signature).
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    /// The server answered with an unexpected status.
    #[error("{op}: HTTP {status}: {body}")]
    Status {
        /// The op.
        op: String,
        /// The status.
        status: StatusCode,
        /// The body (an error grid's text, usually).
        body: String,
    },
    /// The server answered with an error grid.
    #[error("{op}: {dis}")]
    ErrorGrid {
        /// The op.
        op: String,
        /// The grid's `dis`.
        dis: String,
    },
    /// The request could not be sent or the answer read.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// The answer is not a Zinc grid.
    #[error("{op}: bad Zinc answer: {message}")]
    Zinc {
        /// The op.
        op: String,
        /// Why.
        message: String,
    },
}

/// A logged-in session with a Haystack server (or an anonymous one, [`Client::anonymous`]).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

fn header_of(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl Client {
    /// A client that sends no credentials (for servers without auth).
    pub fn anonymous(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// Logs in as `user` at `base` (the URL the ops hang under): HELLO, the two SCRAM
    /// messages, and a check of the server's final signature.
    pub async fn open(base: &str, user: &str, password: &str) -> Result<Self, ClientError> {
        let mut client = Self::anonymous(base);
        let url = format!("{}/about", client.base);
        let hello = format!("HELLO username={}", hauth::encode_b64url(user.as_bytes()));
        let challenge = client.step(&url, &hello, StatusCode::UNAUTHORIZED).await?;
        let c = AuthHeader::parse(&header_of(&challenge, WWW_AUTHENTICATE).unwrap_or_default())?;
        if !c.is("SCRAM")
            || !c
                .param("hash")
                .is_some_and(|h| h.eq_ignore_ascii_case("SHA-256"))
        {
            return Err(AuthError::Unsupported(format!("server offers {c}")).into());
        }
        let mut token = c.require("handshakeToken")?.to_owned();
        let scram = ScramClient::new(user, password);
        let first = format!(
            "SCRAM handshakeToken={token}, data={}",
            hauth::encode_b64url(scram.client_first().as_bytes())
        );
        let challenge = client.step(&url, &first, StatusCode::UNAUTHORIZED).await?;
        let c = AuthHeader::parse(&header_of(&challenge, WWW_AUTHENTICATE).unwrap_or_default())?;
        if let Some(t) = c.param("handshakeToken") {
            token = t.to_owned();
        }
        let server_first = hauth::decode_b64_text(c.require("data")?)?;
        let (fin, verifier) = scram.handle_server_first(&server_first)?;
        let fin = format!(
            "SCRAM handshakeToken={token}, data={}",
            hauth::encode_b64url(fin.as_bytes())
        );
        let done = client.step(&url, &fin, StatusCode::OK).await?;
        let info = AuthHeader::parse(&header_of(&done, "authentication-info").unwrap_or_default())?;
        verifier.verify(&hauth::decode_b64_text(info.require("data")?)?)?;
        client.token = Some(info.require("authToken")?.to_owned());
        Ok(client)
    }

    async fn step(
        &self,
        url: &str,
        authorization: &str,
        expect: StatusCode,
    ) -> Result<HeaderMap, ClientError> {
        let resp = self
            .http
            .get(url)
            .header(AUTHORIZATION, authorization)
            .send()
            .await?;
        let status = resp.status();
        if status == StatusCode::FORBIDDEN {
            return Err(ClientError::Forbidden);
        }
        if status != expect {
            return Err(ClientError::Status {
                op: "about".into(),
                status,
                body: resp.text().await.unwrap_or_default(),
            });
        }
        Ok(resp.headers().clone())
    }

    /// The bearer token of the session.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Calls `op`, POSTing `request` as Zinc (a GET when `None`); the answer grid, or
    /// [`ClientError::ErrorGrid`] when it is an error grid.
    pub async fn call(&self, op: &str, request: Option<&Grid>) -> Result<Grid, ClientError> {
        let url = format!("{}/{op}", self.base);
        let mut req = match request {
            Some(g) => self
                .http
                .post(&url)
                .header(CONTENT_TYPE, "text/zinc; charset=utf-8")
                .body(haystack_zinc::to_string(g)),
            None => self.http.get(&url),
        }
        .header(ACCEPT, "text/zinc");
        if let Some(t) = &self.token {
            req = req.header(AUTHORIZATION, format!("BEARER authToken={t}"));
        }
        let resp = req.send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        if status != StatusCode::OK {
            return Err(ClientError::Status {
                op: op.to_owned(),
                status,
                body,
            });
        }
        let grid = haystack_zinc::from_str(&body).map_err(|e| ClientError::Zinc {
            op: op.to_owned(),
            message: e.to_string(),
        })?;
        if grid.meta().has("err") {
            return Err(ClientError::ErrorGrid {
                op: op.to_owned(),
                dis: grid
                    .meta()
                    .get("dis")
                    .and_then(|v| v.as_str())
                    .unwrap_or("error")
                    .to_owned(),
            });
        }
        Ok(grid)
    }

    /// Ends the session (`close`).
    pub async fn close(&self) -> Result<(), ClientError> {
        self.call("close", None).await.map(|_| ())
    }
}
