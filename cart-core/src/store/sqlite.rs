//! The durable embedded cart store on SQLite.

use super::{CartStore, Version};
use crate::{Cart, CartStatus, CartUid, Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Carts in a SQLite database file (WAL mode, `synchronous=FULL`): every committed change
/// survives a crash or restart. Blocking calls run on Tokio's blocking pool.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use cart_core::{Cart, CartRequest, CartStore, CartUid, SqliteStore, Timestamp};
/// let dir = tempfile::tempdir().unwrap();
/// let store = SqliteStore::open(dir.path().join("carts.db")).await.unwrap();
/// let req = CartRequest::from_json(br#"{"fileids": [{"id": "a", "path": "a.txt"}]}"#).unwrap();
/// let uid = CartUid::new("c1").unwrap();
/// store.insert(&Cart::new(uid.clone(), req, Timestamp::now())).await.unwrap();
/// drop(store);
/// let reopened = SqliteStore::open(dir.path().join("carts.db")).await.unwrap();
/// assert!(reopened.load(&uid).await.unwrap().is_some());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// One statement at a time reaches the blocking pool: callers queue here (async) rather
    /// than as blocked pool threads waiting on the connection's lock, so a burst of requests
    /// does not grow the pool.
    gate: Arc<tokio::sync::Semaphore>,
}

fn db_err(e: rusqlite::Error) -> Error {
    let retryable = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    Error::store_caused("sqlite", retryable, e)
}

fn task_err(e: tokio::task::JoinError) -> Error {
    Error::store_caused("sqlite task", false, e)
}

fn to_json(cart: &Cart) -> Result<String> {
    serde_json::to_string(cart).map_err(|e| Error::store_caused("encoding cart", false, e))
}

fn from_json(body: &str) -> Result<Cart> {
    serde_json::from_str(body).map_err(|e| Error::store_caused("decoding cart", false, e))
}

fn version(v: i64) -> Version {
    Version(u64::try_from(v).unwrap_or(0))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let conn = Connection::open(&path).map_err(db_err)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(db_err)?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(db_err)?;
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(db_err)?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS carts (
                    uid TEXT PRIMARY KEY NOT NULL,
                    version INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    body TEXT NOT NULL
                )",
            )
            .map_err(db_err)?;
            Ok(conn)
        })
        .await
        .map_err(task_err)??;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            gate: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let _turn = self
            .gate
            .acquire()
            .await
            .map_err(|_| Error::store("sqlite store closed"))?;
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| Error::store("sqlite connection lock poisoned"))?;
            f(&mut guard)
        })
        .await
        .map_err(task_err)?
    }
}

#[async_trait::async_trait]
impl CartStore for SqliteStore {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        let body = to_json(cart)?;
        let uid = cart.uid.to_string();
        let status = cart.status.as_str();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let old: Option<(i64, String)> = tx
                .query_row(
                    "SELECT version, status FROM carts WHERE uid = ?1",
                    params![uid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err)?;
            let next = match old {
                Some((_, s)) if s != CartStatus::Deleted.as_str() => {
                    return Err(Error::AlreadyExists(uid));
                }
                Some((v, _)) => v + 1,
                None => 1,
            };
            tx.execute(
                "INSERT OR REPLACE INTO carts (uid, version, status, body) VALUES (?1, ?2, ?3, ?4)",
                params![uid, next, status, body],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(version(next))
        })
        .await
    }

    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        let uid = uid.to_string();
        let row: Option<(String, i64)> = self
            .with(move |conn| {
                conn.query_row(
                    "SELECT body, version FROM carts WHERE uid = ?1",
                    params![uid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err)
            })
            .await?;
        row.map(|(body, v)| Ok((from_json(&body)?, version(v))))
            .transpose()
    }

    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        let body = to_json(cart)?;
        let uid = cart.uid.to_string();
        let status = cart.status.as_str();
        let expected = i64::try_from(expected.0)
            .map_err(|_| Error::Conflict(format!("cart {uid}: version out of range")))?;
        self.with(move |conn| {
            let n = conn
                .execute(
                    "UPDATE carts SET version = version + 1, status = ?3, body = ?4
                     WHERE uid = ?1 AND version = ?2",
                    params![uid, expected, status, body],
                )
                .map_err(db_err)?;
            if n == 1 {
                return Ok(version(expected + 1));
            }
            let exists: Option<i64> = conn
                .query_row(
                    "SELECT version FROM carts WHERE uid = ?1",
                    params![uid],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            Err(match exists {
                Some(_) => Error::Conflict(format!("cart {uid} changed")),
                None => Error::NotFound(format!("cart {uid}")),
            })
        })
        .await
    }

    async fn list(&self) -> Result<Vec<Cart>> {
        let bodies: Vec<String> = self
            .with(|conn| {
                let mut stmt = conn
                    .prepare("SELECT body FROM carts ORDER BY uid")
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(db_err)?;
                rows.collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(db_err)
            })
            .await?;
        bodies.iter().map(|b| from_json(b)).collect()
    }

    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        let uid = uid.to_string();
        self.with(move |conn| {
            conn.execute("DELETE FROM carts WHERE uid = ?1", params![uid])
                .map(|n| n > 0)
                .map_err(db_err)
        })
        .await
    }
}
