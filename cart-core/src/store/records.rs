//! The stored form of carts, shared by the backends: a header record and file records.

use crate::{Cart, CartFile, CartSummary, Error, Result};
use serde::{Deserialize, Serialize};

/// The schema version of the records stores write. 2: a header record per cart (no files,
/// with `schema` and `file_count`) and one record per file (with `schema`). 1 (records
/// without `schema`): the whole cart, files included, in one record; still read, and rewritten
/// as version 2 on first load.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct HeaderOut<'a> {
    schema: u32,
    file_count: usize,
    cart: &'a Cart,
}

#[derive(Deserialize)]
struct HeaderIn {
    schema: u32,
    file_count: usize,
    cart: Cart,
}

#[derive(Serialize)]
struct FileOut<'a> {
    schema: u32,
    file: &'a CartFile,
}

#[derive(Deserialize)]
struct FileIn {
    schema: u32,
    file: CartFile,
}

/// A decoded header record.
pub(crate) enum Header {
    /// Schema 2: the cart without its files, and how many there are.
    Split { cart: Cart, file_count: usize },
    /// Schema 1: the whole cart.
    Whole(Cart),
}

fn newer(schema: u32) -> Error {
    Error::store(format!(
        "record schema {schema} is newer than this build's {SCHEMA_VERSION}: upgrade the server"
    ))
}

/// The header record of `cart` (its files are left out).
pub(crate) fn encode_header(cart: &Cart) -> Result<String> {
    let header = cart.clone_header();
    serde_json::to_string(&HeaderOut {
        schema: SCHEMA_VERSION,
        file_count: cart.files.len(),
        cart: &header,
    })
    .map_err(|e| Error::store_caused("encoding cart header", false, e))
}

/// Reads a header record of any known schema.
pub(crate) fn decode_header(body: &str) -> Result<Header> {
    #[derive(Deserialize)]
    struct Probe {
        schema: Option<u32>,
    }
    let probe: Probe = serde_json::from_str(body)
        .map_err(|e| Error::store_caused("decoding cart header", false, e))?;
    match probe.schema {
        None => serde_json::from_str(body)
            .map(Header::Whole)
            .map_err(|e| Error::store_caused("decoding cart (schema 1)", false, e)),
        Some(s) if s > SCHEMA_VERSION => Err(newer(s)),
        Some(_) => {
            let h: HeaderIn = serde_json::from_str(body)
                .map_err(|e| Error::store_caused("decoding cart header", false, e))?;
            if h.file_count > crate::MAX_FILES {
                return Err(Error::store(format!(
                    "cart header names {} files, more than the limit {}",
                    h.file_count,
                    crate::MAX_FILES
                )));
            }
            let _ = h.schema;
            Ok(Header::Split {
                cart: h.cart,
                file_count: h.file_count,
            })
        }
    }
}

/// The summary of a header record.
pub(crate) fn summary(body: &str) -> Result<CartSummary> {
    Ok(match decode_header(body)? {
        Header::Split { cart, file_count } => CartSummary {
            file_count,
            ..cart.summary()
        },
        Header::Whole(cart) => cart.summary(),
    })
}

/// A file record.
pub(crate) fn encode_file(file: &CartFile) -> Result<String> {
    serde_json::to_string(&FileOut {
        schema: SCHEMA_VERSION,
        file,
    })
    .map_err(|e| Error::store_caused("encoding file record", false, e))
}

/// Reads a file record.
pub(crate) fn decode_file(body: &str) -> Result<CartFile> {
    let f: FileIn = serde_json::from_str(body)
        .map_err(|e| Error::store_caused("decoding file record", false, e))?;
    if f.schema > SCHEMA_VERSION {
        return Err(newer(f.schema));
    }
    Ok(f.file)
}

/// A fresh name for a cart's file records (unique per insert, across servers).
pub(crate) fn new_files_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
