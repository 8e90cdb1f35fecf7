//! Conversion between the crate's types and DynamoDB items, attribute for attribute as the
//! Python facade (PynamoDB) writes them.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};
use crate::model::{CredentialsInfo, NewCredentials, SpecInfo, User};

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Attribute names of the specs table.
pub(crate) mod spec_attr {
    pub const SUB: &str = "sub";
    pub const UPDATED_AT_ID: &str = "updated_at_id";
    pub const ID_UPDATED_AT: &str = "id_updated_at";
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const UPDATED_AT: &str = "updated_at";
    pub const VERSION: &str = "version";
    pub const MODEL_COUNT: &str = "model_count";
    pub const TITLE: &str = "title";
    pub const DESCRIPTION: &str = "description";
}

/// Attribute names of the credentials table.
pub(crate) mod cred_attr {
    pub const SUB: &str = "sub";
    pub const ID: &str = "id";
    pub const PUBLIC_KEY: &str = "public_key";
    pub const SECRET_KEY_HASH: &str = "secret_key_hash";
    pub const SALT: &str = "salt";
}

/// How the bytes of binary (`B`) attributes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BinaryEncoding {
    /// As the Python facade (PynamoDB <= 5 "legacy encoding") stores them: the `B` attribute
    /// holds the ASCII standard-base64 text of the raw bytes (`b"\xffsalt"` is stored as the 8
    /// bytes `/3NhbHQ=`). The default, for tables shared with the Python facade.
    #[default]
    Legacy,
    /// The raw bytes, for tables only this crate (or a newer PynamoDB) uses.
    Plain,
}

impl BinaryEncoding {
    /// The attribute value storing `raw`.
    pub fn encode(self, raw: &[u8]) -> AttributeValue {
        match self {
            BinaryEncoding::Legacy => AttributeValue::B(Blob::new(STANDARD.encode(raw))),
            BinaryEncoding::Plain => AttributeValue::B(Blob::new(raw)),
        }
    }

    /// The raw bytes stored in a `B` attribute's bytes.
    pub fn decode(self, stored: &[u8]) -> std::result::Result<Vec<u8>, String> {
        match self {
            BinaryEncoding::Legacy => STANDARD
                .decode(stored)
                .map_err(|e| format!("binary attribute is not legacy base64 text: {e}")),
            BinaryEncoding::Plain => Ok(stored.to_vec()),
        }
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn invalid(table: &str, reason: String) -> Error {
    Error::InvalidItem {
        table: table.to_owned(),
        reason,
    }
}

pub(crate) fn get_s<'a>(table: &str, item: &'a Item, name: &str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(other) => Err(invalid(
            table,
            format!("attribute {name:?} is not a string: {other:?}"),
        )),
        None => Err(invalid(table, format!("attribute {name:?} is missing"))),
    }
}

fn get_opt_s(table: &str, item: &Item, name: &str) -> Result<Option<String>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(_) => get_s(table, item, name).map(|v| Some(v.to_owned())),
    }
}

fn get_u64(table: &str, name: &str, text: &str) -> Result<u64> {
    // PynamoDB writes whole numbers; tolerate a ".0" fraction a float writer may leave.
    let whole = text.strip_suffix(".0").unwrap_or(text);
    whole
        .parse::<u64>()
        .map_err(|e| invalid(table, format!("attribute {name:?} = {text:?}: {e}")))
}

fn get_b(table: &str, item: &Item, name: &str, encoding: BinaryEncoding) -> Result<Vec<u8>> {
    match item.get(name) {
        Some(AttributeValue::B(blob)) => encoding
            .decode(blob.as_ref())
            .map_err(|e| invalid(table, format!("attribute {name:?}: {e}"))),
        Some(other) => Err(invalid(
            table,
            format!("attribute {name:?} is not binary: {other:?}"),
        )),
        None => Err(invalid(table, format!("attribute {name:?} is missing"))),
    }
}

/// The item of one spec row, with the given sort keys.
pub(crate) fn spec_item(
    sub: &str,
    spec: &SpecInfo,
    updated_at_id: String,
    id_updated_at: String,
) -> Item {
    use spec_attr::*;
    let mut item = Item::with_capacity(10);
    item.insert(SUB.into(), s(sub));
    item.insert(UPDATED_AT_ID.into(), s(updated_at_id));
    item.insert(ID_UPDATED_AT.into(), s(id_updated_at));
    item.insert(ID.into(), s(spec.id.as_str()));
    item.insert(NAME.into(), s(spec.name.as_str()));
    item.insert(UPDATED_AT.into(), s(spec.updated_at.to_string()));
    item.insert(VERSION.into(), s(spec.version.as_str()));
    item.insert(
        MODEL_COUNT.into(),
        AttributeValue::N(spec.model_count.to_string()),
    );
    if let Some(title) = &spec.title {
        item.insert(TITLE.into(), s(title.as_str()));
    }
    if let Some(description) = &spec.description {
        item.insert(DESCRIPTION.into(), s(description.as_str()));
    }
    item
}

/// The spec info of a spec row.
pub(crate) fn spec_from_item(table: &str, item: &Item) -> Result<SpecInfo> {
    use spec_attr::*;
    let model_count = match item.get(MODEL_COUNT) {
        Some(AttributeValue::N(n)) => get_u64(table, MODEL_COUNT, n)?,
        Some(other) => {
            return Err(invalid(
                table,
                format!("attribute {MODEL_COUNT:?} is not a number: {other:?}"),
            ));
        }
        None => {
            return Err(invalid(
                table,
                format!("attribute {MODEL_COUNT:?} is missing"),
            ));
        }
    };
    let updated_at_text = get_s(table, item, UPDATED_AT)?;
    Ok(SpecInfo {
        id: get_s(table, item, ID)?.to_owned(),
        name: get_s(table, item, NAME)?.to_owned(),
        updated_at: get_u64(table, UPDATED_AT, updated_at_text)?,
        version: get_s(table, item, VERSION)?.to_owned(),
        model_count,
        title: get_opt_s(table, item, TITLE)?,
        description: get_opt_s(table, item, DESCRIPTION)?,
    })
}

/// The item of a credentials record.
pub(crate) fn credentials_item(credentials: &NewCredentials, encoding: BinaryEncoding) -> Item {
    use cred_attr::*;
    let mut item = Item::with_capacity(5);
    item.insert(SUB.into(), s(credentials.sub.as_str()));
    item.insert(ID.into(), s(credentials.id.as_str()));
    item.insert(PUBLIC_KEY.into(), s(credentials.public_key.as_str()));
    item.insert(
        SECRET_KEY_HASH.into(),
        encoding.encode(&credentials.secret_key_hash),
    );
    item.insert(SALT.into(), encoding.encode(&credentials.salt));
    item
}

/// The credentials info of a credentials item.
pub(crate) fn credentials_from_item(
    table: &str,
    item: &Item,
    encoding: BinaryEncoding,
) -> Result<CredentialsInfo> {
    use cred_attr::*;
    Ok(CredentialsInfo {
        id: get_s(table, item, ID)?.to_owned(),
        public_key: get_s(table, item, PUBLIC_KEY)?.to_owned(),
        salt: get_b(table, item, SALT, encoding)?,
    })
}

/// The user of a credentials item.
pub(crate) fn user_from_item(table: &str, item: &Item, encoding: BinaryEncoding) -> Result<User> {
    use cred_attr::*;
    Ok(User {
        sub: get_s(table, item, SUB)?.to_owned(),
        salt: get_b(table, item, SALT, encoding)?,
        secret_key_hash: get_b(table, item, SECRET_KEY_HASH, encoding)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_encoding_stores_base64_text() {
        let value = BinaryEncoding::Legacy.encode(b"\xffsalt");
        assert_eq!(value, AttributeValue::B(Blob::new(b"/3NhbHQ=".to_vec())));
        assert_eq!(
            BinaryEncoding::Legacy.decode(b"/3NhbHQ=").ok(),
            Some(b"\xffsalt".to_vec())
        );
        assert!(BinaryEncoding::Legacy.decode(b"\xff").is_err());
        assert_eq!(
            BinaryEncoding::Plain.encode(b"\xff"),
            AttributeValue::B(Blob::new(b"\xff".to_vec()))
        );
    }

    #[test]
    fn spec_items_omit_absent_optionals_and_round_trip() {
        let spec = SpecInfo {
            id: "a".into(),
            name: "A".into(),
            updated_at: 5,
            version: "1".into(),
            model_count: 2,
            title: None,
            description: Some("d".into()),
        };
        let item = spec_item("s", &spec, "k1".into(), "k2".into());
        assert!(!item.contains_key("title"));
        assert_eq!(
            item.get("model_count"),
            Some(&AttributeValue::N("2".into()))
        );
        assert_eq!(item.get("updated_at"), Some(&AttributeValue::S("5".into())));
        assert_eq!(spec_from_item("t", &item).ok(), Some(spec));
    }

    #[test]
    fn malformed_items_are_reported() {
        let mut item = Item::new();
        item.insert("id".into(), AttributeValue::N("1".into()));
        assert!(matches!(
            spec_from_item("t", &item),
            Err(Error::InvalidItem { .. })
        ));
    }
}
