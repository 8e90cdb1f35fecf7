//! Hash types (hashlib names) and digests computed while bytes stream.

use crate::{Error, Result};
use digest::DynDigest;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A digest algorithm a cart request may name in `hashtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashType {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashType {
    /// Parses a hashlib name (case-insensitive, as Python's hashlib accepts).
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "md5" => HashType::Md5,
            "sha1" => HashType::Sha1,
            "sha224" => HashType::Sha224,
            "sha256" => HashType::Sha256,
            "sha384" => HashType::Sha384,
            "sha512" => HashType::Sha512,
            _ => {
                return Err(Error::invalid(
                    "hashtype",
                    format!("unsupported hash type {name:?}"),
                ));
            }
        })
    }

    /// The hashlib name.
    pub fn as_str(self) -> &'static str {
        match self {
            HashType::Md5 => "md5",
            HashType::Sha1 => "sha1",
            HashType::Sha224 => "sha224",
            HashType::Sha256 => "sha256",
            HashType::Sha384 => "sha384",
            HashType::Sha512 => "sha512",
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashType::Md5 => 16,
            HashType::Sha1 => 20,
            HashType::Sha224 => 28,
            HashType::Sha256 => 32,
            HashType::Sha384 => 48,
            HashType::Sha512 => 64,
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        let inner: Box<dyn DynDigest + Send> = match self {
            HashType::Md5 => Box::new(md5::Md5::default()),
            HashType::Sha1 => Box::new(sha1::Sha1::default()),
            HashType::Sha224 => Box::new(sha2::Sha224::default()),
            HashType::Sha256 => Box::new(sha2::Sha256::default()),
            HashType::Sha384 => Box::new(sha2::Sha384::default()),
            HashType::Sha512 => Box::new(sha2::Sha512::default()),
        };
        Hasher { kind: self, inner }
    }

    /// The lowercase hex digest of `data`.
    pub fn digest_hex(self, data: &[u8]) -> String {
        let mut h = self.hasher();
        h.update(data);
        h.finish_hex()
    }
}

impl fmt::Display for HashType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An expected digest: a hash type and its lowercase hex value (validated length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedHash {
    kind: HashType,
    hex: String,
}

impl ExpectedHash {
    /// Validates `hex` (case-insensitive) as a digest of `kind`.
    pub fn new(kind: HashType, hex: &str) -> Result<Self> {
        let hex = hex.to_ascii_lowercase();
        let ok = hex.len() == kind.digest_len() * 2 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(Error::invalid(
                "hashsum",
                format!("not a {kind} hex digest: {hex:?}"),
            ));
        }
        Ok(ExpectedHash { kind, hex })
    }
    /// The hash type.
    pub fn kind(&self) -> HashType {
        self.kind
    }
    /// The lowercase hex digest.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

/// An incremental hasher over one of the [`HashType`]s.
pub struct Hasher {
    kind: HashType,
    inner: Box<dyn DynDigest + Send>,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").field("kind", &self.kind).finish()
    }
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }
    /// The lowercase hex digest of everything fed.
    pub fn finish_hex(self) -> String {
        hex::encode(self.inner.finalize())
    }
    /// Compares the digest with `expected`, naming `id` in the error.
    pub fn verify(self, expected: &ExpectedHash, id: &str) -> Result<()> {
        let actual = self.finish_hex();
        if actual == expected.hex {
            Ok(())
        } else {
            Err(Error::HashMismatch {
                id: id.to_owned(),
                hash_type: expected.kind.as_str(),
                expected: expected.hex.clone(),
                actual,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let cases = [
            (HashType::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (HashType::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashType::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                HashType::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (kind, hex) in cases {
            assert_eq!(kind.digest_hex(b"abc"), hex);
            let mut h = kind.hasher();
            h.update(b"a");
            h.update(b"bc");
            h.verify(&ExpectedHash::new(kind, &hex.to_uppercase()).unwrap(), "x")
                .unwrap();
        }
        assert_eq!(HashType::Sha384.digest_hex(b"").len(), 96);
        assert_eq!(HashType::Sha512.digest_hex(b"").len(), 128);
    }

    #[test]
    fn rejects_bad_digests_and_types() {
        assert!(HashType::parse("crc32").is_err());
        assert_eq!(HashType::parse("SHA256").unwrap(), HashType::Sha256);
        assert!(ExpectedHash::new(HashType::Md5, "abc").is_err());
        assert!(ExpectedHash::new(HashType::Md5, &"g".repeat(32)).is_err());
        let mut h = HashType::Md5.hasher();
        h.update(b"abd");
        let err = h
            .verify(
                &ExpectedHash::new(HashType::Md5, "900150983cd24fb0d6963f7d28e17f72").unwrap(),
                "f",
            )
            .unwrap_err();
        assert!(matches!(err, Error::HashMismatch { .. }));
    }
}
