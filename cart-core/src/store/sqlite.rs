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

/// The fencing token of a cart's lease, as stored in the `lease_token` column.
fn lease_token(cart: &Cart) -> Option<i64> {
    cart.lease
        .as_ref()
        .map(|l| i64::try_from(l.token).unwrap_or(i64::MAX))
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
                    body TEXT NOT NULL,
                    lease_token INTEGER
                )",
            )
            .map_err(db_err)?;
            // Databases written before fencing lack the lease token column.
            let has_token: bool = conn
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info('carts') WHERE name = 'lease_token'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(db_err)?
                > 0;
            if !has_token {
                conn.execute_batch("ALTER TABLE carts ADD COLUMN lease_token INTEGER")
                    .map_err(db_err)?;
            }
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

impl SqliteStore {
    /// The conditional save, in one transaction: the row must still have version `expected`
    /// and, with `fence`, the lease token `fence`.
    async fn save_checked(
        &self,
        cart: &Cart,
        expected: Version,
        fence: Option<u64>,
    ) -> Result<Version> {
        let body = to_json(cart)?;
        let uid = cart.uid.to_string();
        let status = cart.status.as_str();
        let token = lease_token(cart);
        let expected = i64::try_from(expected.0)
            .map_err(|_| Error::Conflict(format!("cart {uid}: version out of range")))?;
        let fence_value = fence.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let n = tx
                .execute(
                    "UPDATE carts SET version = version + 1, status = ?3, body = ?4,
                         lease_token = ?5
                     WHERE uid = ?1 AND version = ?2 AND (?6 IS NULL OR lease_token = ?6)",
                    params![uid, expected, status, body, token, fence_value],
                )
                .map_err(db_err)?;
            if n == 1 {
                tx.commit().map_err(db_err)?;
                return Ok(version(expected + 1));
            }
            let row: Option<Option<i64>> = tx
                .query_row(
                    "SELECT lease_token FROM carts WHERE uid = ?1",
                    params![uid],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            Err(match (row, fence_value) {
                (None, _) => Error::NotFound(format!("cart {uid}")),
                (Some(stored), Some(want)) if stored != Some(want) => {
                    Error::LeaseLost(format!("cart {uid} is no longer leased with token {want}"))
                }
                (Some(_), _) => Error::Conflict(format!("cart {uid} changed")),
            })
        })
        .await
    }
}

#[async_trait::async_trait]
impl CartStore for SqliteStore {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        let body = to_json(cart)?;
        let uid = cart.uid.to_string();
        let status = cart.status.as_str();
        let token = lease_token(cart);
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
                "INSERT OR REPLACE INTO carts (uid, version, status, body, lease_token)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![uid, next, status, body, token],
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
        self.save_checked(cart, expected, None).await
    }

    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version> {
        self.save_checked(cart, expected, Some(token)).await
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
