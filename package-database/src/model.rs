//! Typed inputs and outputs of the access patterns, the key formats and the input limits.

use std::fmt;

use crate::canonicalize_name;
use crate::error::{Error, Result};

/// The width `updated_at` is zero-padded to in sort keys.
pub const UPDATED_AT_WIDTH: usize = 20;
/// The literal used instead of the padded time in the keys of a spec's latest row.
pub const LATEST: &str = "latest";

/// Largest `sub` in bytes (DynamoDB allows 2048 for a partition key; room is kept).
pub const MAX_SUB_BYTES: usize = 1024;
/// Largest spec id (canonical name) or credentials id in bytes, so that sort keys stay under
/// DynamoDB's 1024-byte limit.
pub const MAX_ID_BYTES: usize = 1000;
/// Largest public key in bytes (it is the partition key of the `publicKey` index).
pub const MAX_PUBLIC_KEY_BYTES: usize = 1024;
/// Largest spec version in bytes.
pub const MAX_VERSION_BYTES: usize = 1024;
/// Largest spec title in bytes.
pub const MAX_TITLE_BYTES: usize = 16 * 1024;
/// Largest spec description in bytes (items stay under DynamoDB's 400 KB limit).
pub const MAX_DESCRIPTION_BYTES: usize = 256 * 1024;
/// Largest salt or secret key hash in bytes.
pub const MAX_BINARY_BYTES: usize = 1024;

/// The sort-key form of `updated_at`: zero-padded to [`UPDATED_AT_WIDTH`] characters.
pub fn padded_updated_at(updated_at: u64) -> String {
    format!("{updated_at:0>width$}", width = UPDATED_AT_WIDTH)
}

/// The table sort key `updated_at_id` of a versioned row: `p + "#" + id`.
pub fn updated_at_id(updated_at: u64, id: &str) -> String {
    format!("{}#{id}", padded_updated_at(updated_at))
}

/// The index sort key `id_updated_at` of a versioned row: `id + "#" + p`.
pub fn id_updated_at(id: &str, updated_at: u64) -> String {
    format!("{id}#{}", padded_updated_at(updated_at))
}

/// The table sort key of a spec's latest row: `latest#<id>`.
pub fn latest_updated_at_id(id: &str) -> String {
    format!("{LATEST}#{id}")
}

/// The index sort key of a spec's latest row: `<id>#latest`.
pub fn latest_id_updated_at(id: &str) -> String {
    format!("{id}#{LATEST}")
}

/// A spec version to store with [`Database::create_update_spec`](crate::Database::create_update_spec).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewSpec {
    /// The user.
    pub sub: String,
    /// The spec name as the user wrote it; its id is [`canonicalize_name`] of it.
    pub name: String,
    /// The spec's version.
    pub version: String,
    /// How many models the spec defines.
    pub model_count: u64,
    /// The spec's title, stored only when given.
    pub title: Option<String>,
    /// The spec's description, stored only when given.
    pub description: Option<String>,
}

impl NewSpec {
    /// A spec version without title and description.
    pub fn new(
        sub: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
        model_count: u64,
    ) -> Self {
        NewSpec {
            sub: sub.into(),
            name: name.into(),
            version: version.into(),
            model_count,
            title: None,
            description: None,
        }
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Checks the limits and returns the spec id.
    pub(crate) fn validate(&self) -> Result<String> {
        validate_sub(&self.sub)?;
        let id = spec_id(&self.name)?;
        check_len("version", &self.version, MAX_VERSION_BYTES)?;
        if let Some(title) = &self.title {
            check_len("title", title, MAX_TITLE_BYTES)?;
        }
        if let Some(description) = &self.description {
            check_len("description", description, MAX_DESCRIPTION_BYTES)?;
        }
        Ok(id)
    }
}

/// What is stored about one spec version (or the latest version) of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecInfo {
    /// The canonical name.
    pub id: String,
    /// The name as given when this version was stored.
    pub name: String,
    /// Seconds since the epoch when this version was stored.
    pub updated_at: u64,
    /// The version.
    pub version: String,
    /// How many models the version defines.
    pub model_count: u64,
    /// The title, when one was given.
    pub title: Option<String>,
    /// The description, when one was given.
    pub description: Option<String>,
}

impl SpecInfo {
    pub(crate) fn from_new(spec: &NewSpec, id: String, updated_at: u64) -> Self {
        SpecInfo {
            id,
            name: spec.name.clone(),
            updated_at,
            version: spec.version.clone(),
            model_count: spec.model_count,
            title: spec.title.clone(),
            description: spec.description.clone(),
        }
    }
}

/// Credentials to store with
/// [`Database::create_update_credentials`](crate::Database::create_update_credentials).
///
/// Holds the secret key's hash and salt, never the secret key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCredentials {
    /// The user.
    pub sub: String,
    /// The credentials id (the service uses [`DEFAULT_CREDENTIALS_ID`](crate::keys::DEFAULT_CREDENTIALS_ID)).
    pub id: String,
    /// The public key, unique across users.
    pub public_key: String,
    /// PBKDF2 hash of the secret key.
    pub secret_key_hash: Vec<u8>,
    /// The salt the secret key and its hash were made with.
    pub salt: Vec<u8>,
}

impl NewCredentials {
    /// Credentials from their parts.
    pub fn new(
        sub: impl Into<String>,
        id: impl Into<String>,
        public_key: impl Into<String>,
        secret_key_hash: impl Into<Vec<u8>>,
        salt: impl Into<Vec<u8>>,
    ) -> Self {
        NewCredentials {
            sub: sub.into(),
            id: id.into(),
            public_key: public_key.into(),
            secret_key_hash: secret_key_hash.into(),
            salt: salt.into(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_sub(&self.sub)?;
        validate_credentials_id(&self.id)?;
        validate_public_key(&self.public_key)?;
        check_binary("secret_key_hash", &self.secret_key_hash)?;
        check_binary("salt", &self.salt)
    }
}

impl fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCredentials")
            .field("sub", &self.sub)
            .field("id", &self.id)
            .field("public_key", &self.public_key)
            .field("secret_key_hash", &Redacted(self.secret_key_hash.len()))
            .field("salt", &Redacted(self.salt.len()))
            .finish()
    }
}

/// What a user sees of stored credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialsInfo {
    /// The credentials id.
    pub id: String,
    /// The public key.
    pub public_key: String,
    /// The salt.
    pub salt: Vec<u8>,
}

/// The owner of a public key, with what is needed to check a secret key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// The user.
    pub sub: String,
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 hash of the secret key.
    pub secret_key_hash: Vec<u8>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("sub", &self.sub)
            .field("salt", &Redacted(self.salt.len()))
            .field("secret_key_hash", &Redacted(self.secret_key_hash.len()))
            .finish()
    }
}

/// Shows only the length of a sensitive byte string.
pub(crate) struct Redacted(pub(crate) usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0)
    }
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("{} bytes is more than the limit of {max}", value.len()),
        ));
    }
    Ok(())
}

fn check_nonempty(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    check_len(field, value, max)
}

fn check_binary(field: &'static str, value: &[u8]) -> Result<()> {
    if value.len() > MAX_BINARY_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "{} bytes is more than the limit of {MAX_BINARY_BYTES}",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// Checks a user id: not empty, at most [`MAX_SUB_BYTES`].
pub(crate) fn validate_sub(sub: &str) -> Result<()> {
    check_nonempty("sub", sub, MAX_SUB_BYTES)
}

/// Checks a spec name and returns its id: the id must not be empty and at most [`MAX_ID_BYTES`].
pub(crate) fn spec_id(name: &str) -> Result<String> {
    let id = canonicalize_name(name);
    if id.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::invalid(
            "name",
            format!(
                "canonical name of {} bytes is more than the limit of {MAX_ID_BYTES}",
                id.len()
            ),
        ));
    }
    Ok(id)
}

/// Checks a sub and a spec name together and returns the spec id.
pub(crate) fn validate_spec_key(sub: &str, name: &str) -> Result<String> {
    validate_sub(sub)?;
    spec_id(name)
}

/// Checks a credentials id.
pub(crate) fn validate_credentials_id(id: &str) -> Result<()> {
    check_nonempty("id", id, MAX_ID_BYTES)
}

/// Checks a public key.
pub(crate) fn validate_public_key(public_key: &str) -> Result<()> {
    check_nonempty("public_key", public_key, MAX_PUBLIC_KEY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats_match_the_wire_example() {
        assert_eq!(
            updated_at_id(1_612_345_678, "my-spec-name"),
            "00000000001612345678#my-spec-name"
        );
        assert_eq!(
            id_updated_at("my-spec-name", 1_612_345_678),
            "my-spec-name#00000000001612345678"
        );
        assert_eq!(latest_updated_at_id("a#b"), "latest#a#b");
        assert_eq!(latest_id_updated_at("a"), "a#latest");
        assert_eq!(padded_updated_at(u64::MAX), "18446744073709551615");
    }

    #[test]
    fn limits_are_enforced() {
        assert!(matches!(
            spec_id("---"),
            Ok(ref id) if id == "-"
        ));
        assert!(matches!(
            spec_id(""),
            Err(Error::InvalidInput { field: "name", .. })
        ));
        assert!(matches!(
            spec_id(&"x".repeat(MAX_ID_BYTES + 1)),
            Err(Error::InvalidInput { field: "name", .. })
        ));
        assert!(matches!(
            validate_sub(""),
            Err(Error::InvalidInput { field: "sub", .. })
        ));
        let spec = NewSpec::new("s", "n", "1", 1).with_title("t".repeat(MAX_TITLE_BYTES + 1));
        assert!(matches!(
            spec.validate(),
            Err(Error::InvalidInput { field: "title", .. })
        ));
    }

    #[test]
    fn debug_redacts_binary_material() {
        let creds = NewCredentials::new("s", "default", "pk_x", vec![7; 32], vec![9; 32]);
        let shown = format!("{creds:?}");
        assert!(shown.contains("<redacted 32 bytes>"));
        assert!(!shown.contains("[7, 7"));
    }
}
