//! Authentication by the Haystack Auth chapter: the header syntax of its HELLO, SCRAM and BEARER
//! schemes ([`header`]) and SCRAM-SHA-256 by RFC 5802 and RFC 7677 ([`scram`]), for servers and
//! clients alike. Only the messages and the key arithmetic live here; HTTP, token stores and
//! expiry belong to the program that uses them.
//!
//! A full exchange, client and server side:
//!
//! ```
//! use haystack_core::auth::scram::{self, ScramClient, StoredCredentials};
//!
//! // The server keeps only these (salt, iterations, StoredKey, ServerKey), never the password.
//! let creds = StoredCredentials::from_password("pencil", b"some salt", 4096);
//!
//! let client = ScramClient::new("user", "pencil");
//! let first = client.client_first();
//! let parsed = scram::parse_client_first(&first)?;
//! let nonce = format!("{}{}", parsed.nonce, "server-part");
//! let server_first = scram::server_first_message(&nonce, &creds.salt, creds.iterations);
//!
//! let (client_final, verifier) = client.handle_server_first(&server_first)?;
//! let fin = scram::parse_client_final(&client_final)?;
//! let auth_message = scram::auth_message(&parsed.bare, &server_first, &fin.without_proof);
//! assert!(creds.verify_proof(&auth_message, &fin.proof));
//! verifier.verify(&scram::server_final_message(&creds.server_signature(&auth_message)))?;
//! # Ok::<(), haystack_core::auth::AuthError>(())
//! ```

pub mod header;
pub mod scram;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

pub use header::AuthHeader;

/// Why an authentication message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A message or header does not have the syntax its RFC or the Auth chapter gives.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// Which message or header.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A well-formed request for something this implementation does not do (channel binding,
    /// another hash, an authorization identity).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The client's proof does not match the stored key (wrong password or unknown user).
    #[error("the client proof does not match")]
    BadProof,
    /// The server's signature does not match: the server does not know the user's keys.
    #[error("the server signature does not match")]
    BadServerSignature,
    /// The server answered the exchange with an error (`e=...`).
    #[error("the server refused: {0}")]
    ServerError(String),
}

impl AuthError {
    pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            why: why.into(),
        }
    }
}

/// Base64url without padding, as the Auth chapter encodes `username` and `data` parameters.
pub fn encode_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Standard base64 with padding, as RFC 5802 encodes attribute values (`s=`, `p=`, `v=`).
pub fn encode_b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Standard base64 without padding: the alphabet clients that only know standard base64 (for
/// example the Python `phable`) read correctly, with no `-` or `_`.
pub fn encode_b64_no_pad(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// Decodes base64 in either alphabet (standard or URL-safe), with or without padding: clients
/// in the field send all four.
pub fn decode_b64(text: &str) -> Result<Vec<u8>, AuthError> {
    let normal: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    STANDARD_NO_PAD
        .decode(normal.as_bytes())
        .map_err(|e| AuthError::malformed("base64", e.to_string()))
}

/// Decodes base64 (either alphabet) of UTF-8 text.
pub fn decode_b64_text(text: &str) -> Result<String, AuthError> {
    String::from_utf8(decode_b64(text)?)
        .map_err(|_| AuthError::malformed("base64", "the decoded bytes are not UTF-8"))
}

/// `n` random bytes from the thread-local CSPRNG (seeded by the operating system), as lower-case
/// hex: handshake and bearer tokens that are valid header tokens in every client.
pub fn random_hex(n: usize) -> String {
    use rand::RngCore as _;
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` random bytes from the thread-local CSPRNG (salts, nonces, server secrets).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore as _;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reads_every_alphabet_and_padding() {
        let bytes = [0xfbu8, 0xff, 0xbf, 0x01];
        for text in [
            encode_b64url(&bytes),
            encode_b64(&bytes),
            encode_b64_no_pad(&bytes),
            URL_SAFE_NO_PAD.encode(bytes) + "==",
        ] {
            assert_eq!(decode_b64(&text).unwrap(), bytes, "{text}");
        }
        assert_eq!(encode_b64url(b"user"), "dXNlcg");
        assert!(matches!(
            decode_b64("a*b"),
            Err(AuthError::Malformed { what: "base64", .. })
        ));
    }

    #[test]
    fn random_values_differ() {
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16), random_hex(16));
        assert_ne!(random_bytes::<16>(), random_bytes::<16>());
    }
}
