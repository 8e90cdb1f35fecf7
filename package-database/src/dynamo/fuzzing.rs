//! The item decoders, public for the fuzz targets (feature `fuzzing`; not a stable API).
//!
//! Each decoder reads one DynamoDB item (an attribute map as `GetItem` or `Query` returns it)
//! into the model, exactly as the backend does; the encoders write the model back, so a fuzz
//! target can check that whatever decodes re-encodes to an item that decodes equal.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::BinaryEncoding;
use super::items;
use crate::error::Result;
use crate::model::{CredentialsInfo, NewCredentials, SpecInfo, User};

/// A DynamoDB item: attribute names to values.
pub type Item = HashMap<String, AttributeValue>;

/// The table name the decoders put in their errors.
const TABLE: &str = "fuzz";

/// Decodes a row of the specs table.
pub fn spec_from_item(item: &Item) -> Result<SpecInfo> {
    items::spec_from_item(TABLE, item)
}

/// The specs-table row of `spec` for user `sub` (with placeholder sort keys).
pub fn spec_item(sub: &str, spec: &SpecInfo) -> Item {
    items::spec_item(sub, spec, "k1".into(), "k2".into())
}

/// Decodes a row of the credentials table as the credentials a user sees.
pub fn credentials_from_item(item: &Item, encoding: BinaryEncoding) -> Result<CredentialsInfo> {
    items::credentials_from_item(TABLE, item, encoding)
}

/// Decodes a row of the credentials table as the user it authenticates.
pub fn user_from_item(item: &Item, encoding: BinaryEncoding) -> Result<User> {
    items::user_from_item(TABLE, item, encoding)
}

/// The credentials-table row holding both decoded views of one row.
pub fn credentials_item(info: &CredentialsInfo, user: &User, encoding: BinaryEncoding) -> Item {
    let credentials = NewCredentials {
        sub: user.sub.clone(),
        id: info.id.clone(),
        public_key: info.public_key.clone(),
        secret_key_hash: user.secret_key_hash.clone(),
        salt: user.salt.clone(),
    };
    items::credentials_item(&credentials, encoding)
}
