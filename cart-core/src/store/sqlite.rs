//! The durable embedded cart store on SQLite.

use super::records::{self, Header};
use super::{CartStore, Version};
use crate::{Cart, CartFile, CartStatus, CartSummary, CartUid, Error, Result, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Carts in a SQLite database file (WAL mode, `synchronous=FULL`): every committed change
/// survives a crash or restart. Blocking calls run on Tokio's blocking pool.
///
/// Tables: `carts` (one row per cart: `uid`, `version`, `status`, `lease_token`, `files_key`
/// and `body`, the header record; indexed by status) and `cart_files` (`uid`, `idx`, `body`:
/// one row per file). Every change to a cart is one transaction; a file step updates one
/// `cart_files` row, in a transaction that checks the cart's `lease_token`. Rows of schema 1
/// (the whole cart in `body`) are rewritten as schema 2 when first loaded.
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

fn lease_token(cart: &Cart) -> Option<i64> {
    cart.lease
        .as_ref()
        .map(|l| i64::try_from(l.token).unwrap_or(i64::MAX))
}

fn version(v: i64) -> Version {
    Version(u64::try_from(v).unwrap_or(0))
}

fn index(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

/// Adds a column to `carts` when a database from an earlier version lacks it.
fn add_column(conn: &Connection, name: &str, decl: &str) -> Result<()> {
    let has: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('carts') WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if has == 0 {
        conn.execute_batch(&format!("ALTER TABLE carts ADD COLUMN {name} {decl}"))
            .map_err(db_err)?;
    }
    Ok(())
}

fn insert_files(tx: &rusqlite::Transaction<'_>, uid: &str, files: &[CartFile]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached("INSERT OR REPLACE INTO cart_files (uid, idx, body) VALUES (?1, ?2, ?3)")
        .map_err(db_err)?;
    for (i, f) in files.iter().enumerate() {
        stmt.execute(params![uid, index(i), records::encode_file(f)?])
            .map_err(db_err)?;
    }
    Ok(())
}

/// Reads a cart's header and files in `tx`; rewrites a schema 1 row as schema 2.
fn load_in(tx: &rusqlite::Transaction<'_>, uid: &str) -> Result<Option<(Cart, Version)>> {
    let row: Option<(String, i64, Option<String>)> = tx
        .query_row(
            "SELECT body, version, files_key FROM carts WHERE uid = ?1",
            params![uid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db_err)?;
    let Some((body, v, key)) = row else {
        return Ok(None);
    };
    match records::decode_header(&body)? {
        Header::Split {
            mut cart,
            file_count,
        } => {
            let mut stmt = tx
                .prepare_cached("SELECT idx, body FROM cart_files WHERE uid = ?1 ORDER BY idx")
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![uid], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db_err)?;
            let mut files = Vec::with_capacity(file_count.min(crate::MAX_FILES));
            for row in rows {
                let (i, body) = row.map_err(db_err)?;
                if i != index(files.len()) {
                    return Err(Error::store(format!(
                        "cart {uid}: file record {i} out of order"
                    )));
                }
                files.push(records::decode_file(&body)?);
            }
            if files.len() != file_count {
                return Err(Error::store(format!(
                    "cart {uid}: {} file records, the header says {file_count}",
                    files.len()
                )));
            }
            cart.files = files;
            cart.files_key = key.unwrap_or_default();
            Ok(Some((cart, version(v))))
        }
        Header::Whole(mut cart) => {
            cart.files_key = records::new_files_key();
            tx.execute("DELETE FROM cart_files WHERE uid = ?1", params![uid])
                .map_err(db_err)?;
            insert_files(tx, uid, &cart.files)?;
            tx.execute(
                "UPDATE carts SET version = version + 1, body = ?2, files_key = ?3 WHERE uid = ?1",
                params![uid, records::encode_header(&cart)?, cart.files_key],
            )
            .map_err(db_err)?;
            Ok(Some((cart, version(v + 1))))
        }
    }
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
                );
                CREATE TABLE IF NOT EXISTS cart_files (
                    uid TEXT NOT NULL,
                    idx INTEGER NOT NULL,
                    body TEXT NOT NULL,
                    PRIMARY KEY (uid, idx)
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS carts_by_status ON carts (status);",
            )
            .map_err(db_err)?;
            // Databases written by earlier versions lack these columns.
            add_column(&conn, "lease_token", "INTEGER")?;
            add_column(&conn, "files_key", "TEXT")?;
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
    /// The conditional save of the header, in one transaction: the row must still have version
    /// `expected` and, with `fence`, the lease token `fence`.
    async fn save_checked(
        &self,
        cart: &Cart,
        expected: Version,
        fence: Option<u64>,
    ) -> Result<Version> {
        let body = records::encode_header(cart)?;
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
        let mut cart = cart.clone();
        let uid = cart.uid.to_string();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let old: Option<(i64, String, String)> = tx
                .query_row(
                    "SELECT version, status, body FROM carts WHERE uid = ?1",
                    params![uid],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db_err)?;
            let next = match old {
                Some((_, s, _)) if s != CartStatus::Deleted.as_str() => {
                    return Err(Error::AlreadyExists(uid));
                }
                Some((v, _, body)) => {
                    // Fencing tokens go on growing across carts of the same uid.
                    let old = match records::decode_header(&body)? {
                        Header::Split { cart, .. } | Header::Whole(cart) => cart,
                    };
                    cart.fence = cart.fence.max(super::last_token(&old));
                    v + 1
                }
                None => 1,
            };
            cart.files_key = records::new_files_key();
            tx.execute("DELETE FROM cart_files WHERE uid = ?1", params![uid])
                .map_err(db_err)?;
            insert_files(&tx, &uid, &cart.files)?;
            tx.execute(
                "INSERT OR REPLACE INTO carts (uid, version, status, body, lease_token, files_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    uid,
                    next,
                    cart.status.as_str(),
                    records::encode_header(&cart)?,
                    lease_token(&cart),
                    cart.files_key
                ],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(version(next))
        })
        .await
    }

    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        let uid = uid.to_string();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let out = load_in(&tx, &uid)?;
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn load_header(&self, uid: &CartUid) -> Result<Option<Cart>> {
        let uid = uid.to_string();
        self.with(move |conn| {
            let body: Option<String> = conn
                .query_row("SELECT body FROM carts WHERE uid = ?1", params![uid], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db_err)?;
            body.map(|b| match records::decode_header(&b)? {
                Header::Split { cart, .. } => Ok(cart),
                Header::Whole(cart) => Ok(cart.clone_header()),
            })
            .transpose()
        })
        .await
    }

    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        self.save_checked(cart, expected, None).await
    }

    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version> {
        self.save_checked(cart, expected, Some(token)).await
    }

    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        let uid = uid.to_string();
        let key = files_key.to_owned();
        let bodies = files
            .iter()
            .map(|(i, f)| Ok((index(*i), records::encode_file(f)?)))
            .collect::<Result<Vec<_>>>()?;
        let fence_value = fence.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let row: Option<(Option<i64>, Option<String>)> = tx
                .query_row(
                    "SELECT lease_token, files_key FROM carts WHERE uid = ?1",
                    params![uid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err)?;
            let Some((token, stored_key)) = row else {
                return Err(Error::NotFound(format!("cart {uid}")));
            };
            if let Some(want) = fence_value
                && token != Some(want)
            {
                return Err(Error::LeaseLost(format!(
                    "cart {uid} is no longer leased with token {want}"
                )));
            }
            if stored_key.as_deref().unwrap_or_default() != key {
                return Err(Error::NotFound(format!("cart {uid} (files {key})")));
            }
            {
                let mut stmt = tx
                    .prepare_cached("UPDATE cart_files SET body = ?3 WHERE uid = ?1 AND idx = ?2")
                    .map_err(db_err)?;
                for (i, body) in &bodies {
                    if stmt.execute(params![uid, i, body]).map_err(db_err)? != 1 {
                        return Err(Error::NotFound(format!("file {i} of cart {uid}")));
                    }
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn list(&self) -> Result<Vec<CartSummary>> {
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
        bodies.iter().map(|b| records::summary(b)).collect()
    }

    async fn list_by_status(&self, statuses: &[CartStatus]) -> Result<Vec<CartSummary>> {
        let statuses: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        let bodies: Vec<String> = self
            .with(move |conn| {
                // One indexed lookup per status (`carts_by_status`).
                let mut stmt = conn
                    .prepare_cached("SELECT body FROM carts WHERE status = ?1")
                    .map_err(db_err)?;
                let mut out = Vec::new();
                for status in statuses {
                    let rows = stmt
                        .query_map(params![status], |r| r.get::<_, String>(0))
                        .map_err(db_err)?;
                    for row in rows {
                        out.push(row.map_err(db_err)?);
                    }
                }
                Ok(out)
            })
            .await?;
        bodies.iter().map(|b| records::summary(b)).collect()
    }

    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        let uid = uid.to_string();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            tx.execute("DELETE FROM cart_files WHERE uid = ?1", params![uid])
                .map_err(db_err)?;
            let n = tx
                .execute("DELETE FROM carts WHERE uid = ?1", params![uid])
                .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn purge(&self, uid: &CartUid, before: Timestamp) -> Result<bool> {
        let uid = uid.to_string();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM carts WHERE uid = ?1 AND status = ?2",
                    params![uid, CartStatus::Deleted.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let Some(body) = body else {
                return Ok(false);
            };
            if records::summary(&body)?.updated >= before {
                return Ok(false);
            }
            tx.execute("DELETE FROM cart_files WHERE uid = ?1", params![uid])
                .map_err(db_err)?;
            tx.execute("DELETE FROM carts WHERE uid = ?1", params![uid])
                .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(true)
        })
        .await
    }
}
