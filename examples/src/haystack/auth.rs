//! The server side of the Auth chapter: HELLO, SCRAM (SHA-256) and BEARER over the
//! [`haystack_core::auth`] primitives, with a users file of stored keys only.
//!
//! - Any request without `Authorization` is answered `401` with `WWW-Authenticate: HELLO`.
//! - `HELLO username=<b64url>` gets `401` with `WWW-Authenticate: SCRAM hash=SHA-256,
//!   handshakeToken=<t>`, for known and unknown users alike.
//! - `SCRAM handshakeToken=<t>, data=<client-first>` gets `401` with the server-first message; an
//!   unknown user gets a salt derived from the name with the server's secret, so the answer has
//!   the same shape and stays the same across attempts.
//! - `SCRAM handshakeToken=<t>, data=<client-final>` gets the op's answer (200) with
//!   `Authentication-Info: authToken=<token>, hash=SHA-256, data=<server-final>`, or `403` when
//!   the proof fails (wrong password or unknown user).
//! - `BEARER authToken=<token>` is a session until the token expires or `close` ends it.
//!
//! Handshakes expire after [`AuthConfig::handshake_ttl`], tokens after
//! [`AuthConfig::token_ttl`]; both are bounded in number ([`AuthConfig::max_handshakes`],
//! [`AuthConfig::max_sessions`]), and a server over a bound answers 503. The handshake token
//! stays the same for the whole exchange (clients such as `phable` send the first one again).
//! `data` is sent as base64 without padding in the standard alphabet (clients that decode
//! base64url read it too, and `phable` reads no `-` or `_`); both alphabets are accepted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use haystack_core::auth::scram::{self, StoredCredentials};
use haystack_core::auth::{self as hauth, AuthHeader};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Errors of the users file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// The file could not be read or written.
    #[error("users file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a users file.
    #[error("users file {path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
}

/// One user of the users file: SCRAM-SHA-256 stored keys, never a password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    /// The user name.
    pub name: String,
    /// The salt, base64.
    pub salt: String,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// StoredKey, base64.
    pub stored_key: String,
    /// ServerKey, base64.
    pub server_key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    /// Always `"SCRAM-SHA-256"`.
    mechanism: String,
    users: Vec<UserRecord>,
}

/// The users a server knows.
#[derive(Debug, Default, Clone)]
pub struct Users {
    users: HashMap<String, StoredCredentials>,
    records: Vec<UserRecord>,
}

fn key32(path: &str, what: &str, text: &str) -> Result<[u8; 32], UsersError> {
    hauth::decode_b64(text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| UsersError::Invalid {
            path: path.to_owned(),
            why: format!("{what} is not 32 bytes of base64"),
        })
}

impl Users {
    /// Reads a users file (JSON: `{"mechanism": "SCRAM-SHA-256", "users": [{"name", "salt",
    /// "iterations", "storedKey", "serverKey"}]}`); a missing file is an error.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Io {
            path: p.clone(),
            source,
        })?;
        let file: UsersFile = serde_json::from_str(&text).map_err(|e| UsersError::Invalid {
            path: p.clone(),
            why: e.to_string(),
        })?;
        if file.mechanism != "SCRAM-SHA-256" {
            return Err(UsersError::Invalid {
                path: p,
                why: format!("mechanism {:?}, expected SCRAM-SHA-256", file.mechanism),
            });
        }
        let mut users = Self::default();
        for r in file.users {
            let creds = StoredCredentials {
                salt: hauth::decode_b64(&r.salt).map_err(|e| UsersError::Invalid {
                    path: p.clone(),
                    why: format!("user {}: salt: {e}", r.name),
                })?,
                iterations: r.iterations,
                stored_key: key32(&p, "storedKey", &r.stored_key)?,
                server_key: key32(&p, "serverKey", &r.server_key)?,
            };
            users.insert_creds(r, creds);
        }
        Ok(users)
    }

    /// Reads `path`, or an empty set when it does not exist yet.
    pub fn load_or_empty(path: &Path) -> Result<Self, UsersError> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self::default())
        }
    }

    fn insert_creds(&mut self, record: UserRecord, creds: StoredCredentials) {
        self.records.retain(|r| r.name != record.name);
        self.users.insert(record.name.clone(), creds);
        self.records.push(record);
    }

    /// Adds (or replaces) `name` with stored keys derived from `password`.
    pub fn add(&mut self, name: &str, password: &str, iterations: u32) {
        let creds = StoredCredentials::generate(password, iterations);
        let record = UserRecord {
            name: name.to_owned(),
            salt: hauth::encode_b64(&creds.salt),
            iterations,
            stored_key: hauth::encode_b64(&creds.stored_key),
            server_key: hauth::encode_b64(&creds.server_key),
        };
        self.insert_creds(record, creds);
    }

    /// Writes the file atomically (a temporary file beside it, then a rename), mode 0600 on Unix.
    pub fn save(&self, path: &Path) -> Result<(), UsersError> {
        let p = path.display().to_string();
        let io = |source| UsersError::Io {
            path: p.clone(),
            source,
        };
        let file = UsersFile {
            mechanism: "SCRAM-SHA-256".into(),
            users: self.records.clone(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| UsersError::Invalid {
            path: p.clone(),
            why: e.to_string(),
        })?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// The stored keys of `name`.
    pub fn get(&self, name: &str) -> Option<&StoredCredentials> {
        self.users.get(name)
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Lifetimes and bounds of handshakes and sessions.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// How long a handshake may take from HELLO to the client-final message.
    pub handshake_ttl: Duration,
    /// How long a bearer token is valid.
    pub token_ttl: Duration,
    /// Most handshakes in flight; one more is answered 503.
    pub max_handshakes: usize,
    /// Most live sessions; one more is answered 503.
    pub max_sessions: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            handshake_ttl: Duration::from_secs(60),
            token_ttl: Duration::from_secs(3600),
            max_handshakes: 10_000,
            max_sessions: 100_000,
        }
    }
}

#[derive(Debug)]
enum Stage {
    Hello,
    First {
        bare: String,
        server_first: String,
        nonce: String,
    },
}

#[derive(Debug)]
struct Handshake {
    username: String,
    stage: Stage,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Session {
    user: String,
    expires: Instant,
}

/// What the server does with a request, by its `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A valid bearer token of `user`: serve the request.
    Session {
        /// The user.
        user: String,
        /// The token (what `close` ends).
        token: String,
    },
    /// The last SCRAM message succeeded: serve the request as `user` and send
    /// `Authentication-Info: <info>`.
    LoggedIn {
        /// The user.
        user: String,
        /// The `Authentication-Info` value.
        info: String,
    },
    /// 401 with `WWW-Authenticate: <challenge>`.
    Challenge(String),
    /// 403: the handshake failed.
    Forbidden(String),
    /// 400: the header does not parse.
    BadRequest(String),
    /// 503: too many handshakes or sessions.
    Busy,
}

/// The authenticator of one server.
#[derive(Debug)]
pub struct Auth {
    users: Users,
    secret: [u8; 32],
    /// The iteration count unknown users are given: the one most users of the file have.
    fake_iterations: u32,
    config: AuthConfig,
    handshakes: Mutex<HashMap<String, Handshake>>,
    sessions: Mutex<HashMap<String, Session>>,
}

const SCHEME: &str = "SCRAM";
const HASH: &str = "SHA-256";

impl Auth {
    /// An authenticator for `users` with a fresh random secret.
    pub fn new(users: Users, config: AuthConfig) -> Self {
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for c in users.users.values() {
            *counts.entry(c.iterations).or_default() += 1;
        }
        let fake_iterations = counts
            .into_iter()
            .max_by_key(|&(i, n)| (n, i))
            .map_or(scram::DEFAULT_ITERATIONS, |(i, _)| i);
        Self {
            users,
            fake_iterations,
            secret: hauth::random_bytes::<32>(),
            config,
            handshakes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The users.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The stored keys of `name`, or for an unknown name keys derived from the name and the
    /// server's secret: a stable salt, the iteration count most users have, and keys no
    /// password matches.
    fn credentials(&self, name: &str) -> StoredCredentials {
        if let Some(c) = self.users.get(name) {
            return c.clone();
        }
        let salt = scram::hmac_sha256(&self.secret, format!("salt\0{name}").as_bytes());
        StoredCredentials {
            salt: salt.get(..scram::SALT_LEN).unwrap_or(&salt).to_vec(),
            iterations: self.fake_iterations,
            stored_key: scram::hmac_sha256(&self.secret, format!("stored\0{name}").as_bytes()),
            server_key: scram::hmac_sha256(&self.secret, format!("server\0{name}").as_bytes()),
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides what to do with a request whose `Authorization` header is `header`.
    pub fn check(&self, header: Option<&str>) -> Outcome {
        let Some(text) = header else {
            return Outcome::Challenge("HELLO".into());
        };
        let h = match AuthHeader::parse(text) {
            Ok(h) => h,
            Err(e) => return Outcome::BadRequest(format!("Authorization: {e}")),
        };
        let now = Instant::now();
        if h.is("BEARER") {
            let Some(token) = h.param("authToken") else {
                return Outcome::BadRequest("BEARER needs authToken".into());
            };
            let mut sessions = Self::lock(&self.sessions);
            return match sessions.get(token) {
                Some(s) if s.expires > now => Outcome::Session {
                    user: s.user.clone(),
                    token: token.to_owned(),
                },
                Some(_) => {
                    sessions.remove(token);
                    Outcome::Challenge("HELLO".into())
                }
                None => Outcome::Challenge("HELLO".into()),
            };
        }
        if h.is("HELLO") {
            let username = match h.require("username").and_then(hauth::decode_b64_text) {
                Ok(u) if !u.is_empty() && u.len() <= 256 => u,
                Ok(_) => return Outcome::BadRequest("HELLO: bad username".into()),
                Err(e) => return Outcome::BadRequest(format!("HELLO: {e}")),
            };
            let token = hauth::random_hex(16);
            let mut hs = Self::lock(&self.handshakes);
            if hs.len() >= self.config.max_handshakes {
                hs.retain(|_, h| h.expires > now);
                if hs.len() >= self.config.max_handshakes {
                    return Outcome::Busy;
                }
            }
            hs.insert(
                token.clone(),
                Handshake {
                    username,
                    stage: Stage::Hello,
                    expires: now + self.config.handshake_ttl,
                },
            );
            return Outcome::Challenge(
                AuthHeader::new(SCHEME, [("hash", HASH), ("handshakeToken", token.as_str())])
                    .to_string(),
            );
        }
        if h.is(SCHEME) {
            return self.scram(&h, now);
        }
        Outcome::Challenge("HELLO".into())
    }

    fn scram(&self, h: &AuthHeader, now: Instant) -> Outcome {
        let (Some(token), Some(data)) = (h.param("handshakeToken"), h.param("data")) else {
            return Outcome::BadRequest("SCRAM needs handshakeToken and data".into());
        };
        let msg = match hauth::decode_b64_text(data) {
            Ok(m) => m,
            Err(e) => return Outcome::BadRequest(format!("SCRAM data: {e}")),
        };
        let mut hs = Self::lock(&self.handshakes);
        let Some(shake) = hs.remove(token).filter(|s| s.expires > now) else {
            return Outcome::Forbidden("unknown or expired handshake".into());
        };
        match shake.stage {
            Stage::Hello => {
                let first = match scram::parse_client_first(&msg) {
                    Ok(f) => f,
                    Err(e) => return Outcome::Forbidden(e.to_string()),
                };
                if first.username != shake.username {
                    return Outcome::Forbidden("the user differs from HELLO's".into());
                }
                let creds = self.credentials(&first.username);
                let nonce = format!("{}{}", first.nonce, hauth::random_hex(16));
                let server_first =
                    scram::server_first_message(&nonce, &creds.salt, creds.iterations);
                let data = hauth::encode_b64_no_pad(server_first.as_bytes());
                hs.insert(
                    token.to_owned(),
                    Handshake {
                        username: shake.username,
                        stage: Stage::First {
                            bare: first.bare,
                            server_first,
                            nonce,
                        },
                        expires: shake.expires,
                    },
                );
                Outcome::Challenge(
                    AuthHeader::new(
                        SCHEME,
                        [("handshakeToken", token), ("hash", HASH), ("data", &data)],
                    )
                    .to_string(),
                )
            }
            Stage::First {
                bare,
                server_first,
                nonce,
            } => {
                drop(hs);
                let fin = match scram::parse_client_final(&msg) {
                    Ok(f) => f,
                    Err(e) => return Outcome::Forbidden(e.to_string()),
                };
                if fin.nonce != nonce || fin.channel_binding != b"n,," {
                    return Outcome::Forbidden("nonce or channel binding differs".into());
                }
                let creds = self.credentials(&shake.username);
                let auth = scram::auth_message(&bare, &server_first, &fin.without_proof);
                let proof_ok = creds.verify_proof(&auth, &fin.proof);
                if !proof_ok || self.users.get(&shake.username).is_none() {
                    return Outcome::Forbidden("authentication failed".into());
                }
                let token = hauth::random_hex(32);
                let mut sessions = Self::lock(&self.sessions);
                if sessions.len() >= self.config.max_sessions {
                    sessions.retain(|_, s| s.expires > now);
                    if sessions.len() >= self.config.max_sessions {
                        return Outcome::Busy;
                    }
                }
                sessions.insert(
                    token.clone(),
                    Session {
                        user: shake.username.clone(),
                        expires: now + self.config.token_ttl,
                    },
                );
                let data = hauth::encode_b64_no_pad(
                    scram::server_final_message(&creds.server_signature(&auth)).as_bytes(),
                );
                Outcome::LoggedIn {
                    user: shake.username,
                    info: AuthHeader::new(
                        "",
                        [
                            ("authToken", token.as_str()),
                            ("hash", HASH),
                            ("data", &data),
                        ],
                    )
                    .to_string(),
                }
            }
        }
    }

    /// Ends the session of `token` (the `close` op); `false` when there was none.
    pub fn close(&self, token: &str) -> bool {
        Self::lock(&self.sessions).remove(token).is_some()
    }

    /// Live sessions and handshakes in flight (expired ones not yet swept included).
    pub fn counts(&self) -> (usize, usize) {
        (
            Self::lock(&self.sessions).len(),
            Self::lock(&self.handshakes).len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haystack_core::auth::scram::ScramClient;

    fn users() -> Users {
        let mut u = Users::default();
        u.add("alice", "wonder", scram::MIN_ITERATIONS);
        u
    }

    fn value<'a>(challenge: &'a str, name: &str) -> &'a str {
        let h = AuthHeader::parse(challenge).unwrap();
        let v = h.param(name).unwrap().to_owned();
        let at = challenge.find(&v).unwrap();
        &challenge[at..at + v.len()]
    }

    /// Runs the exchange; the final outcome.
    fn login(auth: &Auth, user: &str, password: &str) -> (Outcome, Option<String>) {
        let hello = format!("HELLO username={}", hauth::encode_b64url(user.as_bytes()));
        let Outcome::Challenge(c) = auth.check(Some(&hello)) else {
            panic!("hello")
        };
        let token = value(&c, "handshakeToken").to_owned();
        let client = ScramClient::new(user, password);
        let first = format!(
            "SCRAM handshakeToken={token}, data={}",
            hauth::encode_b64url(client.client_first().as_bytes())
        );
        let Outcome::Challenge(c) = auth.check(Some(&first)) else {
            panic!("first")
        };
        let server_first = hauth::decode_b64_text(value(&c, "data")).unwrap();
        let (fin, verifier) = client.handle_server_first(&server_first).unwrap();
        let fin = format!(
            "SCRAM handshakeToken={token}, data={}",
            hauth::encode_b64url(fin.as_bytes())
        );
        let out = auth.check(Some(&fin));
        if let Outcome::LoggedIn { info, .. } = &out {
            let h = AuthHeader::parse(info).unwrap();
            verifier
                .verify(&hauth::decode_b64_text(h.param("data").unwrap()).unwrap())
                .unwrap();
            return (out.clone(), h.param("authToken").map(str::to_owned));
        }
        (out, Some(server_first))
    }

    #[tokio::test(start_paused = true)]
    async fn login_bearer_expiry_and_close() {
        let auth = Auth::new(users(), AuthConfig::default());
        assert_eq!(auth.check(None), Outcome::Challenge("HELLO".into()));
        let (out, token) = login(&auth, "alice", "wonder");
        assert!(
            matches!(&out, Outcome::LoggedIn { user, .. } if user == "alice"),
            "{out:?}"
        );
        let bearer = format!("BEARER authToken={}", token.unwrap());
        assert!(matches!(auth.check(Some(&bearer)), Outcome::Session { .. }));
        tokio::time::advance(Duration::from_secs(3601)).await;
        assert_eq!(
            auth.check(Some(&bearer)),
            Outcome::Challenge("HELLO".into())
        );

        let (_, token) = login(&auth, "alice", "wonder");
        let token = token.unwrap();
        assert!(auth.close(&token));
        assert!(!auth.close(&token));
        let bearer = format!("BEARER authToken={token}");
        assert_eq!(
            auth.check(Some(&bearer)),
            Outcome::Challenge("HELLO".into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_password_and_unknown_user_look_alike() {
        let auth = Auth::new(users(), AuthConfig::default());
        let (out, _) = login(&auth, "alice", "nope");
        assert!(matches!(out, Outcome::Forbidden(_)), "{out:?}");
        let (out, first_a) = login(&auth, "mallory", "x");
        assert!(matches!(out, Outcome::Forbidden(_)), "{out:?}");
        let (_, first_b) = login(&auth, "mallory", "y");
        // Same salt and count for the unknown user each time, as a known user's would be.
        let salt = |m: &str| m.split(',').skip(1).collect::<Vec<_>>().join(",");
        assert_eq!(salt(&first_a.unwrap()), salt(&first_b.unwrap()));
        let (_, first_c) = login(&auth, "trudy", "y");
        assert!(
            first_c
                .unwrap()
                .ends_with(&format!(",i={}", scram::MIN_ITERATIONS))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn handshakes_expire_and_are_bounded() {
        let auth = Auth::new(
            users(),
            AuthConfig {
                max_handshakes: 2,
                ..AuthConfig::default()
            },
        );
        let hello = format!("HELLO username={}", hauth::encode_b64url(b"alice"));
        let Outcome::Challenge(c) = auth.check(Some(&hello)) else {
            panic!()
        };
        let token = value(&c, "handshakeToken").to_owned();
        assert!(matches!(auth.check(Some(&hello)), Outcome::Challenge(_)));
        assert_eq!(auth.check(Some(&hello)), Outcome::Busy);
        tokio::time::advance(Duration::from_secs(61)).await;
        let client = ScramClient::new("alice", "wonder");
        let first = format!(
            "SCRAM handshakeToken={token}, data={}",
            hauth::encode_b64url(client.client_first().as_bytes())
        );
        assert!(matches!(auth.check(Some(&first)), Outcome::Forbidden(_)));
        // The expired ones are swept when a new one needs room.
        assert!(matches!(auth.check(Some(&hello)), Outcome::Challenge(_)));
        assert!(matches!(
            auth.check(Some("SCRAM data=***")),
            Outcome::BadRequest(_)
        ));
        assert!(matches!(
            auth.check(Some("HELLO username=")),
            Outcome::BadRequest(_)
        ));
    }

    #[test]
    fn users_file_round_trips_without_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.json");
        users().save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("wonder"));
        assert!(text.contains("storedKey"));
        let back = Users::load(&path).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back.get("alice").unwrap().iterations, scram::MIN_ITERATIONS);
        let auth = Auth::new(back, AuthConfig::default());
        assert!(matches!(
            login(&auth, "alice", "wonder").0,
            Outcome::LoggedIn { .. }
        ));
        std::fs::write(&path, "{\"mechanism\":\"MD5\",\"users\":[]}").unwrap();
        assert!(matches!(
            Users::load(&path),
            Err(UsersError::Invalid { .. })
        ));
        assert!(Users::load(&dir.path().join("none")).is_err());
        assert!(
            Users::load_or_empty(&dir.path().join("none"))
                .unwrap()
                .is_empty()
        );
    }
}
