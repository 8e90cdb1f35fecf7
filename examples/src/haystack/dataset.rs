//! Store URLs that name datasets, as the seed writes them: `haystack-import carytown.zinc
//! s3://B` publishes the dataset `carytown.zinc` in the bucket `B`, and
//! `HAYSTACK_DB=s3://B/carytown.zinc` serves it. A URL whose last segment has a Haystack file
//! extension names a dataset; any other URL names a store (a bucket, a prefix, a directory).
//!
//! A server never starts on nothing: the store must exist, and the dataset must have been
//! imported (a bare store URL is accepted when the store holds exactly one dataset).

use std::sync::Arc;

use super::db::{Db, DbError, META_DIR, validate_dataset};
use super::formats::Format;
use crate::store::{self, VersionedStore};

/// A store URL split into the store and, when the URL names one, the dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    /// The store: `s3://bucket[/prefix]`, a directory or `file://` URL.
    pub store: String,
    /// The dataset's file name (`carytown.zinc`), when the URL ends with one.
    pub dataset: Option<String>,
}

/// Splits `url`: `s3://B/carytown.zinc` is the dataset `carytown.zinc` in `s3://B`;
/// `s3://B/prefix` and `./dir` name stores.
pub fn split_db_url(url: &str) -> DbUrl {
    let trimmed = url.trim_end_matches('/');
    let (parent, last) = match trimmed.rsplit_once('/') {
        Some((p, l)) => (p, l),
        // `carytown.zinc` alone: the dataset in the current directory.
        None => (".", trimmed),
    };
    let names_dataset = Format::from_path(last).is_some_and(|f| f != Format::Csv);
    // `s3://carytown.zinc` is a bucket, not a dataset.
    if !names_dataset || parent.is_empty() || parent.ends_with(':') || parent.ends_with(":/") {
        return DbUrl {
            store: url.to_owned(),
            dataset: None,
        };
    }
    DbUrl {
        store: parent.to_owned(),
        dataset: Some(last.to_owned()),
    }
}

/// The datasets a store holds, sorted.
pub async fn datasets(store: &dyn VersionedStore) -> Result<Vec<String>, DbError> {
    let mut names = store.children(META_DIR).await?;
    names.retain(|n| validate_dataset(n).is_ok());
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let manifest = format!("{META_DIR}/{name}/manifest.json");
        if !store.versions(&manifest).await?.is_empty() {
            out.push(name);
        }
    }
    Ok(out)
}

/// The file name at the end of a source URL or path (`carytown.zinc` of
/// `s3://src/sample/carytown.zinc`), without any query string.
pub fn source_name(source: &str) -> &str {
    let path = source.split(['?', '#']).next().unwrap_or(source);
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

async fn open_ts(
    store: &Arc<dyn VersionedStore>,
    ts_url: Option<&str>,
    create: bool,
) -> Result<Arc<dyn VersionedStore>, DbError> {
    Ok(match ts_url {
        Some(url) => store::open_with(url, create).await?,
        None => store.clone(),
    })
}

/// Opens the dataset `db_url` names for serving, with series in `ts_url` (default: the same
/// store). Errors when the store does not exist, or when the URL names no imported dataset,
/// unless `allow_empty` (then an empty dataset is returned, to be filled, e.g. with the sample).
pub async fn open_for_serving(
    db_url: &str,
    ts_url: Option<&str>,
    allow_empty: bool,
) -> Result<Db, DbError> {
    let url = split_db_url(db_url);
    let store = store::open_with(&url.store, allow_empty).await?;
    let ts = open_ts(&store, ts_url, allow_empty).await?;
    let found = datasets(store.as_ref()).await?;
    let name = match url.dataset {
        Some(name) => name,
        None => match found.as_slice() {
            [only] => only.clone(),
            [] if allow_empty => super::db::DEFAULT_DATASET.to_owned(),
            [] => {
                return Err(DbError::NotFound(format!(
                    "HAYSTACK_DB={db_url} names nothing: the store holds no dataset \
                     (import one with `haystack-import FILE {db_url}`)"
                )));
            }
            several => {
                return Err(DbError::NotFound(format!(
                    "HAYSTACK_DB={db_url} holds several datasets ({}): name one, e.g. {}/{}",
                    several.join(", "),
                    db_url.trim_end_matches('/'),
                    several.first().map_or("", String::as_str)
                )));
            }
        },
    };
    let db = Db::dataset(store, ts, &name)?;
    if !allow_empty && !db.exists().await? {
        let there = if found.is_empty() {
            "none".to_owned()
        } else {
            found.join(", ")
        };
        return Err(DbError::NotFound(format!(
            "HAYSTACK_DB={db_url} names nothing: no dataset {name} in {} (datasets there: {there})",
            url.store
        )));
    }
    Ok(db)
}

/// Opens the dataset an import of `source` into `store_url` writes: the dataset the URL names,
/// else the source's own file name (`haystack-import carytown.zinc s3://B` publishes
/// `carytown.zinc`).
pub async fn open_for_import(
    source: &str,
    store_url: &str,
    ts_url: Option<&str>,
) -> Result<Db, DbError> {
    let url = split_db_url(store_url);
    let name = url
        .dataset
        .clone()
        .unwrap_or_else(|| source_name(source).to_owned());
    validate_dataset(&name)?;
    let store = store::open_with(&url.store, true).await?;
    let ts = open_ts(&store, ts_url, true).await?;
    Db::dataset(store, ts, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = split_db_url("s3://bucket/carytown.zinc");
        assert_eq!(u.store, "s3://bucket");
        assert_eq!(u.dataset.as_deref(), Some("carytown.zinc"));
        let u = split_db_url("s3://bucket/pre/fix/other.json");
        assert_eq!(u.store, "s3://bucket/pre/fix");
        assert_eq!(u.dataset.as_deref(), Some("other.json"));
        assert_eq!(split_db_url("s3://bucket").dataset, None);
        assert_eq!(split_db_url("s3://bucket/db").dataset, None);
        assert_eq!(split_db_url("s3://carytown.zinc").dataset, None);
        assert_eq!(split_db_url("./db/site.zinc").store, "./db");
        assert_eq!(split_db_url("/abs/db/site.trio").store, "/abs/db");
        assert_eq!(split_db_url("site.zinc").store, ".");
        assert_eq!(split_db_url("db").dataset, None);
        assert_eq!(
            source_name("https://h/x/carytown.zinc?x=1"),
            "carytown.zinc"
        );
        assert_eq!(source_name("carytown.zinc"), "carytown.zinc");
    }
}
