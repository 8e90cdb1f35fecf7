//! Key material: salts, public keys, secret keys and their PBKDF2 hashes, as the original
//! service makes them, and [`authenticate`].
//!
//! - salt: [`SALT_LEN`] random bytes from the operating system's generator;
//! - public key: `"pk_" + urlsafe_b64(sha256(sub + 32 random bytes))` (padded);
//! - secret key: `"sk_" + urlsafe_b64(sha256(sub + salt + service_secret))`, re-derivable by the
//!   service from its own secret, never stored;
//! - `secret_key_hash = PBKDF2-HMAC-SHA256(secret_key, salt)`, [`DEFAULT_PBKDF2_ITERATIONS`]
//!   iterations, [`HASH_LEN`] bytes, compared in constant time.

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::database::Database;
use crate::error::Result;
use crate::model::NewCredentials;

/// The credentials id the service uses when the user does not name one.
pub const DEFAULT_CREDENTIALS_ID: &str = "default";
/// Length of a generated salt in bytes.
pub const SALT_LEN: usize = 32;
/// Length of a secret key hash in bytes.
pub const HASH_LEN: usize = 32;
/// The original's PBKDF2 iteration count.
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 10_000;

/// A secret key. Never stored; its `Debug` output is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret key received from a client.
    pub fn new(secret_key: impl Into<String>) -> Self {
        SecretKey(secret_key.into())
    }

    /// The secret key itself, to show the user once or compare; do not log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// How secret keys are hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HashParams {
    /// PBKDF2 iterations.
    pub iterations: NonZeroU32,
}

impl HashParams {
    /// Hashing with `iterations` PBKDF2 iterations.
    pub fn with_iterations(iterations: NonZeroU32) -> Self {
        HashParams { iterations }
    }
}

impl Default for HashParams {
    /// The original's parameters: [`DEFAULT_PBKDF2_ITERATIONS`].
    fn default() -> Self {
        HashParams {
            iterations: NonZeroU32::new(DEFAULT_PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// [`SALT_LEN`] random bytes from the operating system's generator.
pub fn generate_salt() -> [u8; SALT_LEN] {
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    salt
}

/// A new public key for `sub`: `"pk_" + urlsafe_b64(sha256(sub + 32 random bytes))`.
pub fn generate_public_key(sub: &str) -> String {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let digest = Sha256::new()
        .chain_update(sub.as_bytes())
        .chain_update(random)
        .finalize();
    format!("pk_{}", URL_SAFE.encode(digest))
}

/// The secret key of `sub` for `salt`: `"sk_" + urlsafe_b64(sha256(sub + salt + service_secret))`.
///
/// The service re-derives it whenever the user asks to see it; it is never stored.
pub fn derive_secret_key(sub: &str, salt: &[u8], service_secret: &[u8]) -> SecretKey {
    let digest = Sha256::new()
        .chain_update(sub.as_bytes())
        .chain_update(salt)
        .chain_update(service_secret)
        .finalize();
    SecretKey(format!("sk_{}", URL_SAFE.encode(digest)))
}

/// `PBKDF2-HMAC-SHA256(secret_key, salt)` with the original's parameters.
pub fn hash_secret_key(secret_key: &SecretKey, salt: &[u8]) -> [u8; HASH_LEN] {
    hash_secret_key_with(secret_key, salt, HashParams::default())
}

/// `PBKDF2-HMAC-SHA256(secret_key, salt)` with the given parameters.
pub fn hash_secret_key_with(
    secret_key: &SecretKey,
    salt: &[u8],
    params: HashParams,
) -> [u8; HASH_LEN] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, HASH_LEN>(
        secret_key.0.as_bytes(),
        salt,
        params.iterations.get(),
    )
}

/// Whether `secret_key` hashes to `expected_hash` with `salt`, compared in constant time.
pub fn verify_secret_key(
    secret_key: &SecretKey,
    salt: &[u8],
    expected_hash: &[u8],
    params: HashParams,
) -> bool {
    let actual = hash_secret_key_with(secret_key, salt, params);
    bool::from(actual.as_slice().ct_eq(expected_hash))
}

/// Freshly generated credentials: the record to store and the secret key to show once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GeneratedCredentials {
    /// What to store: public key, salt and secret key hash.
    pub credentials: NewCredentials,
    /// The secret key, derived from `sub`, the salt and the service secret.
    pub secret_key: SecretKey,
}

impl GeneratedCredentials {
    /// Generates a salt and public key for `sub`, derives the secret key and hashes it.
    pub fn generate(sub: &str, id: &str, service_secret: &[u8]) -> Self {
        Self::generate_with(sub, id, service_secret, HashParams::default())
    }

    /// [`GeneratedCredentials::generate`] with explicit hash parameters.
    pub fn generate_with(sub: &str, id: &str, service_secret: &[u8], params: HashParams) -> Self {
        let salt = generate_salt();
        let secret_key = derive_secret_key(sub, &salt, service_secret);
        let hash = hash_secret_key_with(&secret_key, &salt, params);
        GeneratedCredentials {
            credentials: NewCredentials::new(
                sub,
                id,
                generate_public_key(sub),
                hash.to_vec(),
                salt.to_vec(),
            ),
            secret_key,
        }
    }
}

/// Generates credentials for `sub`, stores them under `id` and returns them with the secret key.
pub async fn create_credentials<D: Database + ?Sized>(
    db: &D,
    sub: &str,
    id: &str,
    service_secret: &[u8],
) -> Result<GeneratedCredentials> {
    let generated = GeneratedCredentials::generate(sub, id, service_secret);
    db.create_update_credentials(&generated.credentials).await?;
    Ok(generated)
}

/// The `sub` owning `public_key` when `secret_key` is its secret key, else `None`.
///
/// Looks the public key up with [`Database::get_user`] and verifies the secret key against the
/// stored hash in constant time with the original's parameters. An unknown public key costs the
/// same hashing work as a known one.
pub async fn authenticate<D: Database + ?Sized>(
    db: &D,
    public_key: &str,
    secret_key: &str,
) -> Result<Option<String>> {
    authenticate_with(db, public_key, secret_key, HashParams::default()).await
}

/// [`authenticate`] with explicit hash parameters.
pub async fn authenticate_with<D: Database + ?Sized>(
    db: &D,
    public_key: &str,
    secret_key: &str,
    params: HashParams,
) -> Result<Option<String>> {
    let secret_key = SecretKey::new(secret_key);
    if public_key.is_empty() {
        return Ok(None);
    }
    match db.get_user(public_key).await? {
        Some(user) => Ok(
            verify_secret_key(&secret_key, &user.salt, &user.secret_key_hash, params)
                .then_some(user.sub),
        ),
        None => {
            // Same work as a known key, so response times do not reveal which keys exist.
            let _ = hash_secret_key_with(&secret_key, &[0u8; SALT_LEN], params);
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;

    #[test]
    fn public_keys_are_padded_urlsafe_sha256() {
        let key = generate_public_key("user");
        let body = key.strip_prefix("pk_").unwrap_or_default();
        assert_eq!(body.len(), 44);
        assert!(body.ends_with('='));
        assert_eq!(URL_SAFE.decode(body).map(|d| d.len()).ok(), Some(32));
        assert_ne!(key, generate_public_key("user"));
    }

    #[test]
    fn secret_key_is_rederivable_and_matches_the_formula() {
        let salt = [1u8; SALT_LEN];
        let a = derive_secret_key("user", &salt, b"service");
        assert_eq!(a, derive_secret_key("user", &salt, b"service"));
        assert_ne!(a, derive_secret_key("user", &salt, b"other"));
        let mut input = b"user".to_vec();
        input.extend_from_slice(&salt);
        input.extend_from_slice(b"service");
        let expected = format!("sk_{}", URL_SAFE.encode(Sha256::digest(&input)));
        assert_eq!(a.expose_secret(), expected);
        assert_eq!(format!("{a:?}"), "SecretKey(<redacted>)");
    }

    #[test]
    fn pbkdf2_matches_rfc_7914_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64), first 32 bytes.
        let params = HashParams::with_iterations(NonZeroU32::MIN);
        let hash = hash_secret_key_with(&SecretKey::new("passwd"), b"salt", params);
        assert_eq!(hash[..8], [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]);
    }

    #[test]
    fn generated_credentials_never_show_the_secret_key() {
        let made = GeneratedCredentials::generate("user", DEFAULT_CREDENTIALS_ID, b"service");
        let shown = format!("{made:?}");
        assert!(!shown.contains(made.secret_key.expose_secret()));
        assert!(shown.contains("SecretKey(<redacted>)"));
        assert_eq!(made.credentials.salt.len(), SALT_LEN);
        let salt = made.credentials.salt.clone();
        assert_eq!(
            made.credentials.secret_key_hash,
            hash_secret_key(&derive_secret_key("user", &salt, b"service"), &salt).to_vec()
        );
    }

    #[test]
    fn verify_accepts_only_the_right_key() {
        let salt = generate_salt();
        let key = SecretKey::new("sk_abc");
        let hash = hash_secret_key(&key, &salt);
        let params = HashParams::default();
        assert!(verify_secret_key(&key, &salt, &hash, params));
        assert!(!verify_secret_key(
            &SecretKey::new("sk_abd"),
            &salt,
            &hash,
            params
        ));
        assert!(!verify_secret_key(&key, &salt, &hash[..31], params));
    }
}
