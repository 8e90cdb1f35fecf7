//! SCRAM-SHA-256 (RFC 5802 messages, RFC 7677 hash) without channel binding: the key
//! derivation, the four messages, and proof and signature checks in constant time.
//!
//! A server stores [`StoredCredentials`] (salt, iterations, StoredKey, ServerKey) and never the
//! password. A client runs [`ScramClient`].

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, decode_b64, encode_b64};

/// Bytes of a SHA-256 key, proof or signature.
pub const KEY_LEN: usize = 32;
/// Iterations of new credentials (RFC 7677 asks for at least 4096).
pub const DEFAULT_ITERATIONS: u32 = 10_000;
/// Fewest iterations a client accepts from a server.
pub const MIN_ITERATIONS: u32 = 4096;
/// Most iterations a client accepts from a server (a hostile server cannot make it spin).
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Longest SCRAM message accepted (RFC 5802 messages of real clients are well under 300 bytes).
pub const MAX_MESSAGE_LEN: usize = 2048;
/// Bytes of a new random salt.
pub const SALT_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA-256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; KEY_LEN] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    Sha256::digest(data).into()
}

/// `SaltedPassword := Hi(Normalize(password), salt, i)`: PBKDF2-HMAC-SHA-256. (The password is
/// used as given; SASLprep is left to the caller.)
pub fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, KEY_LEN>(password.as_bytes(), salt, iterations.max(1))
}

/// What a server stores of one user: enough to check a proof and sign, not to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// `H(ClientKey)`.
    pub stored_key: [u8; KEY_LEN],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; KEY_LEN],
}

impl fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl StoredCredentials {
    /// Derives the stored keys of `password` with `salt` and `iterations`.
    pub fn from_password(password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = salted_password(password, salt, iterations);
        Self::from_salted(&salted, salt, iterations)
    }

    /// Derives the stored keys from a salted password.
    pub fn from_salted(salted: &[u8; KEY_LEN], salt: &[u8], iterations: u32) -> Self {
        let client_key = hmac_sha256(salted, b"Client Key");
        Self {
            salt: salt.to_vec(),
            iterations,
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(salted, b"Server Key"),
        }
    }

    /// New credentials for `password` with a fresh random salt.
    pub fn generate(password: &str, iterations: u32) -> Self {
        Self::from_password(password, &super::random_bytes::<SALT_LEN>(), iterations)
    }

    /// Whether `proof` proves knowledge of the password for `auth_message`: `ClientKey :=
    /// proof XOR HMAC(StoredKey, AuthMessage)` and `H(ClientKey) == StoredKey`, compared in
    /// constant time.
    pub fn verify_proof(&self, auth_message: &str, proof: &[u8]) -> bool {
        if proof.len() != KEY_LEN {
            return false;
        }
        let signature = hmac_sha256(&self.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; KEY_LEN];
        for (k, (p, s)) in client_key.iter_mut().zip(proof.iter().zip(signature)) {
            *k = p ^ s;
        }
        bool::from(sha256(&client_key).ct_eq(&self.stored_key))
    }

    /// `ServerSignature := HMAC(ServerKey, AuthMessage)`.
    pub fn server_signature(&self, auth_message: &str) -> [u8; KEY_LEN] {
        hmac_sha256(&self.server_key, auth_message.as_bytes())
    }
}

/// A parsed `client-first-message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The user name (saslname escapes `=2C` and `=3D` decoded).
    pub username: String,
    /// The client nonce.
    pub nonce: String,
    /// `client-first-message-bare`, which enters the AuthMessage.
    pub bare: String,
}

fn check_len(what: &'static str, msg: &str) -> Result<(), AuthError> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(AuthError::malformed(
            what,
            format!("longer than {MAX_MESSAGE_LEN} bytes"),
        ));
    }
    Ok(())
}

/// A nonce is printable ASCII without `,` (RFC 5802 `printable`).
fn check_nonce(what: &'static str, nonce: &str) -> Result<(), AuthError> {
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(AuthError::malformed(what, "bad nonce"));
    }
    Ok(())
}

/// Decodes a saslname (`=2C` is `,`, `=3D` is `=`).
fn decode_saslname(text: &str) -> Result<String, AuthError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3);
        match esc {
            Some("=2C") | Some("=2c") => out.push(','),
            Some("=3D") | Some("=3d") => out.push('='),
            _ => {
                return Err(AuthError::malformed(
                    "client-first-message",
                    "bad `=` escape in the user name",
                ));
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Encodes a saslname.
fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Parses `gs2-header client-first-message-bare` (`n,,n=user,r=nonce`). Channel binding
/// (`p=`) and an authorization identity (`a=`) are refused as unsupported.
pub fn parse_client_first(msg: &str) -> Result<ClientFirst, AuthError> {
    const WHAT: &str = "client-first-message";
    check_len(WHAT, msg)?;
    let mut parts = msg.splitn(3, ',');
    let cbind = parts.next().unwrap_or("");
    let authzid = parts.next();
    let bare = parts.next();
    match cbind {
        "n" | "y" => {}
        c if c.starts_with("p=") => {
            return Err(AuthError::Unsupported("channel binding".into()));
        }
        _ => return Err(AuthError::malformed(WHAT, "bad gs2 header")),
    }
    let (Some(authzid), Some(bare)) = (authzid, bare) else {
        return Err(AuthError::malformed(WHAT, "no gs2 header"));
    };
    if !authzid.is_empty() {
        return Err(AuthError::Unsupported("an authorization identity".into()));
    }
    let mut attrs = bare.split(',');
    let username = match attrs.next() {
        Some(a) if a.starts_with("m=") => {
            return Err(AuthError::Unsupported("mandatory extensions".into()));
        }
        Some(a) => a
            .strip_prefix("n=")
            .ok_or_else(|| AuthError::malformed(WHAT, "no `n=` user name"))?,
        None => return Err(AuthError::malformed(WHAT, "empty")),
    };
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| AuthError::malformed(WHAT, "no `r=` nonce"))?;
    check_nonce(WHAT, nonce)?;
    Ok(ClientFirst {
        username: decode_saslname(username)?,
        nonce: nonce.to_owned(),
        bare: bare.to_owned(),
    })
}

/// `server-first-message`: `r=<client+server nonce>,s=<salt>,i=<iterations>`.
pub fn server_first_message(nonce: &str, salt: &[u8], iterations: u32) -> String {
    format!("r={nonce},s={},i={iterations}", encode_b64(salt))
}

/// A parsed `server-first-message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFirst {
    /// The combined nonce.
    pub nonce: String,
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
}

/// Parses a `server-first-message`.
pub fn parse_server_first(msg: &str) -> Result<ServerFirst, AuthError> {
    const WHAT: &str = "server-first-message";
    check_len(WHAT, msg)?;
    if msg.starts_with("m=") {
        return Err(AuthError::Unsupported("mandatory extensions".into()));
    }
    let (mut nonce, mut salt, mut iterations) = (None, None, None);
    for attr in msg.split(',') {
        match attr.split_once('=') {
            Some(("r", v)) => nonce = Some(v),
            Some(("s", v)) => salt = Some(decode_b64(v)?),
            Some(("i", v)) => {
                iterations = Some(
                    v.parse::<u32>()
                        .map_err(|_| AuthError::malformed(WHAT, "bad `i=` iteration count"))?,
                );
            }
            _ => {}
        }
    }
    let nonce = nonce.ok_or_else(|| AuthError::malformed(WHAT, "no `r=` nonce"))?;
    check_nonce(WHAT, nonce)?;
    Ok(ServerFirst {
        nonce: nonce.to_owned(),
        salt: salt.ok_or_else(|| AuthError::malformed(WHAT, "no `s=` salt"))?,
        iterations: iterations.ok_or_else(|| AuthError::malformed(WHAT, "no `i=` count"))?,
    })
}

/// A parsed `client-final-message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// The `c=` channel-binding attribute, decoded (`n,,` without channel binding).
    pub channel_binding: Vec<u8>,
    /// The combined nonce (`r=`).
    pub nonce: String,
    /// The proof (`p=`), decoded.
    pub proof: Vec<u8>,
    /// `client-final-message-without-proof`, which enters the AuthMessage.
    pub without_proof: String,
}

/// Parses `c=...,r=...[,extensions],p=...`; the proof must come last.
pub fn parse_client_final(msg: &str) -> Result<ClientFinal, AuthError> {
    const WHAT: &str = "client-final-message";
    check_len(WHAT, msg)?;
    let (without_proof, proof) = msg
        .rsplit_once(",p=")
        .ok_or_else(|| AuthError::malformed(WHAT, "no `p=` proof at the end"))?;
    let mut attrs = without_proof.split(',');
    let cb = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or_else(|| AuthError::malformed(WHAT, "no `c=` channel binding"))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| AuthError::malformed(WHAT, "no `r=` nonce"))?;
    check_nonce(WHAT, nonce)?;
    Ok(ClientFinal {
        channel_binding: decode_b64(cb)?,
        nonce: nonce.to_owned(),
        proof: decode_b64(proof)?,
        without_proof: without_proof.to_owned(),
    })
}

/// `AuthMessage := client-first-message-bare "," server-first-message ","
/// client-final-message-without-proof`.
pub fn auth_message(client_first_bare: &str, server_first: &str, without_proof: &str) -> String {
    format!("{client_first_bare},{server_first},{without_proof}")
}

/// `server-final-message`: `v=<ServerSignature>`.
pub fn server_final_message(signature: &[u8]) -> String {
    format!("v={}", encode_b64(signature))
}

/// The client side of one exchange.
#[derive(Clone)]
pub struct ScramClient {
    password: String,
    nonce: String,
    bare: String,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("bare", &self.bare)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// An exchange for `username` and `password` with a fresh random nonce.
    pub fn new(username: &str, password: &str) -> Self {
        let nonce = super::encode_b64_no_pad(&super::random_bytes::<18>());
        Self::with_nonce(username, password, &nonce)
    }

    /// An exchange with a given nonce (for test vectors; a real client uses [`Self::new`]).
    pub fn with_nonce(username: &str, password: &str, nonce: &str) -> Self {
        Self {
            password: password.to_owned(),
            nonce: nonce.to_owned(),
            bare: format!("n={},r={nonce}", encode_saslname(username)),
        }
    }

    /// The `client-first-message` (`n,,n=user,r=nonce`).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.bare)
    }

    /// Reads the `server-first-message` and answers with the `client-final-message`, and what
    /// checks the server's final answer. Refuses a nonce that does not extend the client's and
    /// an iteration count outside [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`].
    pub fn handle_server_first(
        &self,
        server_first: &str,
    ) -> Result<(String, ServerVerifier), AuthError> {
        let sf = parse_server_first(server_first)?;
        if !sf.nonce.starts_with(&self.nonce) || sf.nonce.len() == self.nonce.len() {
            return Err(AuthError::malformed(
                "server-first-message",
                "the nonce does not extend the client's",
            ));
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&sf.iterations) {
            return Err(AuthError::Unsupported(format!(
                "{} iterations (this client takes {MIN_ITERATIONS}..={MAX_ITERATIONS})",
                sf.iterations
            )));
        }
        let salted = salted_password(&self.password, &sf.salt, sf.iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        let creds = StoredCredentials::from_salted(&salted, &sf.salt, sf.iterations);
        let without_proof = format!("c={},r={}", encode_b64(b"n,,"), sf.nonce);
        let auth = auth_message(&self.bare, server_first, &without_proof);
        let signature = hmac_sha256(&creds.stored_key, auth.as_bytes());
        let mut proof = [0u8; KEY_LEN];
        for (p, (k, s)) in proof.iter_mut().zip(client_key.iter().zip(signature)) {
            *p = k ^ s;
        }
        Ok((
            format!("{without_proof},p={}", encode_b64(&proof)),
            ServerVerifier {
                expected: creds.server_signature(&auth),
            },
        ))
    }
}

/// Checks the `server-final-message` of one exchange.
#[derive(Debug, Clone)]
pub struct ServerVerifier {
    expected: [u8; KEY_LEN],
}

impl ServerVerifier {
    /// `Ok` when `server_final` is `v=<the expected signature>`.
    pub fn verify(&self, server_final: &str) -> Result<(), AuthError> {
        check_len("server-final-message", server_final)?;
        if let Some(e) = server_final.strip_prefix("e=") {
            return Err(AuthError::ServerError(e.to_owned()));
        }
        let v = server_final
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .ok_or_else(|| AuthError::malformed("server-final-message", "no `v=` signature"))?;
        let got = decode_b64(v)?;
        if bool::from(got.as_slice().ct_eq(&self.expected)) {
            Ok(())
        } else {
            Err(AuthError::BadServerSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3: user "user", password "pencil".
    const C_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    #[test]
    fn rfc7677_client_side() {
        let client = ScramClient::with_nonce("user", "pencil", C_NONCE);
        assert_eq!(client.client_first(), CLIENT_FIRST);
        let (fin, verifier) = client.handle_server_first(SERVER_FIRST).unwrap();
        assert_eq!(fin, CLIENT_FINAL);
        verifier.verify(SERVER_FINAL).unwrap();
        assert_eq!(
            verifier.verify("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(AuthError::BadServerSignature)
        );
        assert_eq!(
            verifier.verify("e=invalid-proof"),
            Err(AuthError::ServerError("invalid-proof".into()))
        );
    }

    #[test]
    fn rfc7677_server_side() {
        let salt = decode_b64("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let creds = StoredCredentials::from_password("pencil", &salt, 4096);
        let first = parse_client_first(CLIENT_FIRST).unwrap();
        assert_eq!(first.username, "user");
        assert_eq!(first.nonce, C_NONCE);
        let server_first = server_first_message(
            "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            &creds.salt,
            creds.iterations,
        );
        assert_eq!(server_first, SERVER_FIRST);
        let fin = parse_client_final(CLIENT_FINAL).unwrap();
        assert_eq!(fin.channel_binding, b"n,,");
        let auth = auth_message(&first.bare, &server_first, &fin.without_proof);
        assert!(creds.verify_proof(&auth, &fin.proof));
        assert_eq!(
            server_final_message(&creds.server_signature(&auth)),
            SERVER_FINAL
        );
        // Another password, a flipped proof bit, a short proof: refused.
        let other = StoredCredentials::from_password("pencil2", &salt, 4096);
        assert!(!other.verify_proof(&auth, &fin.proof));
        let mut flipped = fin.proof.clone();
        flipped[0] ^= 1;
        assert!(!creds.verify_proof(&auth, &flipped));
        assert!(!creds.verify_proof(&auth, &fin.proof[..31]));
    }

    #[test]
    fn messages_that_are_refused() {
        for (msg, unsupported) in [
            ("p=tls-unique,,n=user,r=abc", true),
            ("n,a=admin,n=user,r=abc", true),
            ("n,,m=ext,n=user,r=abc", true),
            ("x,,n=user,r=abc", false),
            ("n,,n=user", false),
            ("n,,r=abc", false),
            ("n,,n=us=5Fer,r=abc", false),
            ("n,,n=user,r=", false),
            ("n,,", false),
        ] {
            let err = parse_client_first(msg).unwrap_err();
            assert_eq!(
                matches!(err, AuthError::Unsupported(_)),
                unsupported,
                "{msg}: {err}"
            );
        }
        assert_eq!(
            parse_client_first("n,,n=a=2Cb=3Dc,r=x").unwrap().username,
            "a,b=c"
        );
        assert!(parse_client_first(&"n,,n=u,r=".repeat(300)).is_err());
        for msg in ["c=biws,r=abc", "r=abc,p=AAAA", "c=biws,r=abc,p=*"] {
            assert!(parse_client_final(msg).is_err(), "{msg}");
        }
        let client = ScramClient::with_nonce("user", "pencil", C_NONCE);
        for sf in [
            "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
            "r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
            "r=rOprNGfwEbeRWgbNEkqOxx,i=4096",
        ] {
            assert!(client.handle_server_first(sf).is_err(), "{sf}");
        }
    }

    #[test]
    fn generated_credentials_round_trip() {
        let creds = StoredCredentials::generate("secret", MIN_ITERATIONS);
        assert_eq!(creds.salt.len(), SALT_LEN);
        let client = ScramClient::new("bob", "secret");
        let first = parse_client_first(&client.client_first()).unwrap();
        let nonce = format!("{}srv", first.nonce);
        let sf = server_first_message(&nonce, &creds.salt, creds.iterations);
        let (fin, verifier) = client.handle_server_first(&sf).unwrap();
        let fin = parse_client_final(&fin).unwrap();
        let auth = auth_message(&first.bare, &sf, &fin.without_proof);
        assert!(creds.verify_proof(&auth, &fin.proof));
        verifier
            .verify(&server_final_message(&creds.server_signature(&auth)))
            .unwrap();
        assert!(!format!("{creds:?}").contains("stored_key"));
    }
}
