//! OAuth2 token refresh: on an authentication error, refresh, save, and retry once.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::source::{Context, SOURCE_CHANGE};
use crate::state::Map;
use crate::{Error, Result};

/// Tokens returned by a refresh. Its `Debug` output never shows the tokens.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Tokens {
    /// The new access token.
    pub access_token: String,
    /// The new refresh token, when the provider rotates it.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Lifetime of the access token in seconds, when given.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Exchanges a refresh token for new tokens.
#[async_trait]
pub trait TokenRefresher: Send + Sync + Debug + 'static {
    /// New tokens for `refresh_token`. A refused refresh token is [`Error::Unauthorized`].
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens>;
}

#[async_trait]
impl<T: TokenRefresher + ?Sized> TokenRefresher for Arc<T> {
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        (**self).refresh(refresh_token).await
    }
}

type Callback = Box<dyn Fn(&Tokens) + Send + Sync>;

/// How long before `expires_in` runs out the guard refreshes on its own (at most a tenth of
/// the lifetime).
pub const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// Wraps calls that use an OAuth2 access token kept in the source parameters (the original's
/// `validate_token`). When a call fails with an authentication error it refreshes the token,
/// stores the new access and refresh tokens in the parameters, fires `source-change` (so the
/// runner saves them), calls the optional callback, and retries the call once.
///
/// Refreshes are single-flight: concurrent calls that fail together refresh once, and a call
/// whose token was already replaced by another call's refresh retries with the new token
/// instead of refreshing again (providers that rotate refresh tokens refuse a second use). When
/// a refresh said how long the token lives (`expires_in`), the guard refreshes ahead of the
/// expiry (`REFRESH_AHEAD`, 60 s) rather than waiting for a refusal.
pub struct TokenGuard {
    refresher: Arc<dyn TokenRefresher>,
    access_key: String,
    refresh_key: String,
    callback: Option<Callback>,
    trigger: fn(&Error) -> bool,
    /// Held while a refresh runs.
    refreshing: tokio::sync::Mutex<()>,
    /// When the current token should be refreshed ahead of its expiry, if known.
    refresh_at: std::sync::Mutex<Option<Instant>>,
}

impl Debug for TokenGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGuard")
            .field("refresher", &self.refresher)
            .field("access_key", &self.access_key)
            .field("refresh_key", &self.refresh_key)
            .finish_non_exhaustive()
    }
}

impl TokenGuard {
    /// A guard using `refresher`, parameters `access_token` and `refresh_token`, refreshing on
    /// [`Error::Unauthorized`].
    pub fn new(refresher: impl TokenRefresher) -> Self {
        Self {
            refresher: Arc::new(refresher),
            access_key: "access_token".into(),
            refresh_key: "refresh_token".into(),
            callback: None,
            trigger: Error::is_unauthorized,
            refreshing: tokio::sync::Mutex::new(()),
            refresh_at: std::sync::Mutex::new(None),
        }
    }

    /// Uses other parameter names for the tokens.
    pub fn with_keys(
        mut self,
        access_key: impl Into<String>,
        refresh_key: impl Into<String>,
    ) -> Self {
        self.access_key = access_key.into();
        self.refresh_key = refresh_key.into();
        self
    }

    /// Calls `callback` with the new tokens after each refresh.
    pub fn with_callback(mut self, callback: impl Fn(&Tokens) + Send + Sync + 'static) -> Self {
        self.callback = Some(Box::new(callback));
        self
    }

    /// Chooses which errors trigger a refresh (default: [`Error::is_unauthorized`]).
    pub fn with_trigger(mut self, trigger: fn(&Error) -> bool) -> Self {
        self.trigger = trigger;
        self
    }

    /// Runs `call` with the current access token; on a triggering error refreshes (once for
    /// all concurrent callers) and runs it once more with the new token. The call should have
    /// no side effects when it fails.
    pub async fn call<T, F, Fut>(&self, ctx: &Context, mut call: F) -> Result<T>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut token = ctx.param_str(&self.access_key).unwrap_or_default();
        if self.expiring() {
            token = self.refresh_unless_changed(ctx, &token).await?;
        }
        match call(token.clone()).await {
            Err(e) if (self.trigger)(&e) => {
                let fresh = self.refresh_unless_changed(ctx, &token).await?;
                call(fresh).await
            }
            other => other,
        }
    }

    fn expiring(&self) -> bool {
        let at = *self
            .refresh_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        at.is_some_and(|at| Instant::now() >= at)
    }

    /// Refreshes unless the token in the parameters is no longer `used` (another caller
    /// refreshed meanwhile); returns the access token to use.
    async fn refresh_unless_changed(&self, ctx: &Context, used: &str) -> Result<String> {
        let _flight = self.refreshing.lock().await;
        let current = ctx.param_str(&self.access_key).unwrap_or_default();
        if current != used && !self.expiring() {
            return Ok(current);
        }
        Ok(self.refresh_locked(ctx).await?.access_token)
    }

    /// Refreshes now: saves the new tokens in the parameters, fires `source-change`, calls the
    /// callback.
    pub async fn refresh(&self, ctx: &Context) -> Result<Tokens> {
        let _flight = self.refreshing.lock().await;
        self.refresh_locked(ctx).await
    }

    async fn refresh_locked(&self, ctx: &Context) -> Result<Tokens> {
        let refresh_token = ctx.param_str(&self.refresh_key).ok_or_else(|| {
            Error::Unauthorized(format!(
                "no {:?} parameter to refresh with",
                self.refresh_key
            ))
        })?;
        let tokens = self.refresher.refresh(&refresh_token).await?;
        let refresh_at = tokens.expires_in.and_then(|secs| {
            let life = Duration::from_secs(secs);
            let ahead = REFRESH_AHEAD.min(life / 10);
            Instant::now().checked_add(life.saturating_sub(ahead))
        });
        *self
            .refresh_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = refresh_at;
        let mut changes = Map::new();
        changes.insert(
            self.access_key.clone(),
            Value::from(tokens.access_token.clone()),
        );
        changes.insert(
            self.refresh_key.clone(),
            Value::from(tokens.refresh_token.clone().unwrap_or(refresh_token)),
        );
        ctx.fire(SOURCE_CHANGE, Value::Object(changes));
        ctx.log("refreshed the OAuth2 access token");
        if let Some(callback) = &self.callback {
            callback(&tokens);
        }
        Ok(tokens)
    }
}

/// Refreshes tokens by POSTing `grant_type=refresh_token` to a token URL (RFC 6749 §6).
#[cfg(feature = "http")]
#[derive(Debug, Clone)]
pub struct HttpTokenRefresher {
    url: String,
    client: reqwest::Client,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[cfg(feature = "http")]
impl HttpTokenRefresher {
    /// A refresher for `url`, with a 30 s request timeout.
    pub fn new(url: impl Into<String>) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Other(format!("http client: {e}")))?;
        Ok(Self {
            url: url.into(),
            client,
            client_id: None,
            client_secret: None,
        })
    }

    /// Sends `client_id` and `client_secret` with the request.
    pub fn with_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self.client_secret = Some(secret.into());
        self
    }
}

#[cfg(feature = "http")]
#[async_trait]
impl TokenRefresher for HttpTokenRefresher {
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
        let response = self
            .client
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    Error::Timeout(std::time::Duration::from_secs(30))
                } else {
                    Error::Unavailable(format!("token refresh: {e}"))
                }
            })?;
        let status = response.status();
        if status.as_u16() == 429 {
            return Err(Error::Throttled(format!("token refresh: {status}")));
        }
        if status.is_server_error() {
            return Err(Error::Unavailable(format!("token refresh: {status}")));
        }
        if status.is_client_error() {
            return Err(Error::Unauthorized(format!(
                "token refresh refused: {status}"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::Unavailable(format!("token refresh: {e}")))?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Other(format!("token refresh answer is not a token: {e}")))
    }
}
