//! Validated identifiers, the cart request, and the stored cart and file records.

use crate::hash::{ExpectedHash, HashType};
use crate::status::{CartStatus, FileStatus, FileStep, Step};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Longest accepted cart uid, in bytes.
pub const MAX_UID_LEN: usize = 128;
/// Longest accepted bundle path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;
/// Longest accepted path segment, in bytes (the usual file system limit).
pub const MAX_SEGMENT_LEN: usize = 255;
/// Longest accepted archive id, in bytes.
pub const MAX_ARCHIVE_ID_LEN: usize = 1024;
/// Longest accepted download file name, in bytes.
pub const MAX_FILE_NAME_LEN: usize = 200;
/// Most files accepted in one cart.
pub const MAX_FILES: usize = 100_000;

macro_rules! string_newtype {
    ($name:ident, $what:literal) => {
        impl $name {
            /// The validated string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::new(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A cart's unique id: 1 to [`MAX_UID_LEN`] characters of `A-Z a-z 0-9 . _ -`, not starting with
/// `.` (so it is always a safe single directory name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CartUid(String);
string_newtype!(CartUid, "uid");

impl CartUid {
    /// Validates a uid.
    pub fn new(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > MAX_UID_LEN {
            return Err(Error::invalid(
                "uid",
                format!("must be 1 to {MAX_UID_LEN} bytes"),
            ));
        }
        if s.starts_with('.') {
            return Err(Error::invalid("uid", "must not start with '.'"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(Error::invalid(
                "uid",
                format!("character {c:?} not allowed (use A-Z a-z 0-9 . _ -)"),
            ));
        }
        Ok(CartUid(s.to_owned()))
    }
}

/// Where a file goes inside the bundle: relative, `/`-separated, normalized to Unicode NFC, with
/// no `.`/`..` or empty segments, no backslashes, NUL or other control characters, no segment
/// that is only whitespace or ends in a space or a dot (unusable on Windows), at most
/// [`MAX_PATH_LEN`] bytes and [`MAX_SEGMENT_LEN`] bytes per segment (after NFC).
///
/// Two paths that are equal after NFC are the same path (so a request naming both is a
/// duplicate):
///
/// ```
/// use cart_core::BundlePath;
/// let composed = BundlePath::new("caf\u{e9}.txt").unwrap();
/// let decomposed = BundlePath::new("cafe\u{301}.txt").unwrap();
/// assert_eq!(composed, decomposed);
/// assert!(BundlePath::new("a/dir./b").is_err());
/// assert!(BundlePath::new("a/ /b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BundlePath(String);
string_newtype!(BundlePath, "path");

impl BundlePath {
    /// Validates a bundle path and normalizes it to NFC.
    pub fn new(s: &str) -> Result<Self> {
        let bad = |reason: &str| Err(Error::invalid("path", format!("{s:?}: {reason}")));
        if s.is_empty() {
            return bad("empty");
        }
        // Bound the work before normalizing (NFC never more than triples a string's length).
        if s.len() > MAX_PATH_LEN {
            return bad("too long");
        }
        let normalized: String = s.nfc().collect();
        if normalized.len() > MAX_PATH_LEN {
            return bad("too long");
        }
        if normalized.starts_with('/') {
            return bad("absolute paths are not allowed");
        }
        if normalized.contains('\\') {
            return bad("backslashes are not allowed");
        }
        if normalized.chars().any(char::is_control) {
            return bad("NUL and control characters are not allowed");
        }
        for seg in normalized.split('/') {
            match seg {
                "" => return bad("empty segments are not allowed"),
                "." | ".." => return bad("'.' and '..' segments are not allowed"),
                _ if seg.len() > MAX_SEGMENT_LEN => return bad("segment too long"),
                _ if seg.trim().is_empty() => {
                    return bad("whitespace-only segments are not allowed");
                }
                _ if seg.ends_with(' ') || seg.ends_with('.') => {
                    return bad(
                        "segments ending in a space or a dot are not allowed (unusable on Windows)",
                    );
                }
                _ => {}
            }
        }
        Ok(BundlePath(normalized))
    }

    /// The `/`-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

/// Whether `path` is acceptable as a [`BundlePath`].
pub fn is_safe_bundle_path(path: &str) -> bool {
    BundlePath::new(path).is_ok()
}

/// A file's id in the archive (the JSON may give a string or an integer): 1 to
/// [`MAX_ARCHIVE_ID_LEN`] bytes without control characters. Backends add their own rules (the
/// local directory archive requires a safe relative path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArchiveId(String);
string_newtype!(ArchiveId, "id");

impl ArchiveId {
    /// Validates an archive id.
    pub fn new(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > MAX_ARCHIVE_ID_LEN {
            return Err(Error::invalid(
                "id",
                format!("must be 1 to {MAX_ARCHIVE_ID_LEN} bytes"),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid("id", "control characters are not allowed"));
        }
        Ok(ArchiveId(s.to_owned()))
    }
}

/// A download file name (`?filename=`), as the user gave it: any 1 to [`MAX_FILE_NAME_LEN`]
/// bytes without control characters (spaces, parentheses, quotes and non-ASCII are fine). It
/// never goes anywhere raw: [`content_disposition`](Self::content_disposition) encodes it per
/// RFC 6266 and [`stem`](Self::stem) is a sanitized single directory name for the tar.
///
/// ```
/// use cart_core::DownloadName;
/// let name = DownloadName::new("Résumé (v2).tar").unwrap();
/// assert_eq!(name.stem(), "Résumé (v2)");
/// assert_eq!(
///     name.content_disposition(),
///     "attachment; filename=\"R_sum_ (v2).tar\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%28v2%29.tar"
/// );
/// assert_eq!(DownloadName::new("../../etc/x.tar").unwrap().stem(), "_.._etc_x");
/// assert!(DownloadName::new("a\r\nSet-Cookie: x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DownloadName(String);
string_newtype!(DownloadName, "filename");

/// The top directory used when a download name sanitizes to nothing.
const FALLBACK_STEM: &str = "data";

impl DownloadName {
    /// Validates a download file name.
    pub fn new(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > MAX_FILE_NAME_LEN {
            return Err(Error::invalid(
                "filename",
                format!("must be 1 to {MAX_FILE_NAME_LEN} bytes"),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "filename",
                "control characters are not allowed",
            ));
        }
        Ok(DownloadName(s.to_owned()))
    }

    /// The default name for a cart, `data_YYYY_MM_DD_HH_MM_SS.tar`, from a time.
    pub fn default_for(at: Timestamp) -> Self {
        let t = at.to_offset_date_time();
        DownloadName(format!(
            "data_{:04}_{:02}_{:02}_{:02}_{:02}_{:02}.tar",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ))
    }

    /// The tar's top directory: the name without a trailing `.tar`, made a safe single
    /// directory name everywhere: NFC; `/ \ : * ? " < > |` become `_`; leading dots and
    /// spaces and trailing dots and spaces are dropped; `data` if nothing is left.
    pub fn stem(&self) -> String {
        let raw = self.0.strip_suffix(".tar").unwrap_or(&self.0);
        let replaced: String = raw
            .nfc()
            .map(|c| match c {
                '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
                c if c.is_control() => '_',
                c => c,
            })
            .collect();
        let trimmed = replaced
            .trim_start_matches(['.', ' '])
            .trim_end_matches(['.', ' ']);
        if trimmed.trim().is_empty() {
            FALLBACK_STEM.to_owned()
        } else {
            trimmed.to_owned()
        }
    }

    /// The `Content-Disposition` header value (RFC 6266): `attachment; filename=NAME` with the
    /// name as a token when it is one (as the original sent it), else quoted with non-ASCII,
    /// `"` and `\` replaced by `_`; then `filename*=UTF-8''` and the percent-encoded name.
    pub fn content_disposition(&self) -> String {
        let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$&+-.^_`|~".contains(c);
        let fallback = if self.0.chars().all(is_tchar) {
            self.0.clone()
        } else {
            let quoted: String = self
                .0
                .chars()
                .map(|c| match c {
                    '"' | '\\' => '_',
                    c if c.is_ascii() && !c.is_ascii_control() => c,
                    _ => '_',
                })
                .collect();
            format!("\"{quoted}\"")
        };
        let mut encoded = String::with_capacity(self.0.len() * 3);
        for b in self.0.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("attachment; filename={fallback}; filename*=UTF-8''{encoded}")
    }
}

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the epoch.
    pub fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    /// Milliseconds since the epoch.
    pub fn unix_millis(self) -> i64 {
        self.0
    }
    /// The current wall-clock time.
    pub fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
    /// This time plus a duration (saturating).
    pub fn plus(self, d: std::time::Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }
    /// As a `time::OffsetDateTime` in UTC (the epoch when out of range).
    pub fn to_offset_date_time(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
    /// Whole seconds since the epoch, clamped at zero (for tar headers).
    pub fn unix_seconds(self) -> u64 {
        u64::try_from(self.0.div_euclid(1000)).unwrap_or(0)
    }
}

/// One requested file, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRequest {
    /// The file's id in the archive.
    pub id: ArchiveId,
    /// Where it goes inside the bundle.
    pub path: BundlePath,
    /// The expected digest, when the request gave one.
    pub hash: Option<ExpectedHash>,
}

/// A validated cart request: the body of `POST /{uid}`.
///
/// ```
/// let req = cart_core::CartRequest::from_json(
///     br#"{"fileids": [{"id": 7, "path": "1/2/3/foo.txt", "hashtype": "md5",
///          "hashsum": "900150983cd24fb0d6963f7d28e17f72"}], "bundle": true}"#,
/// ).unwrap();
/// assert_eq!(req.files[0].id.as_str(), "7");
/// assert!(req.bundle);
/// let err = cart_core::CartRequest::from_json(br#"{"fileids": [{"id": "a", "path": "../x"}]}"#)
///     .unwrap_err();
/// assert!(err.to_string().starts_with("Error parsing file Ids with error: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartRequest {
    /// The files, in request order.
    pub files: Vec<FileRequest>,
    /// Whether to build the tar ahead of download.
    pub bundle: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    fileids: Vec<RawFile>,
    #[serde(default)]
    bundle: bool,
}

#[derive(Deserialize)]
struct RawFile {
    id: serde_json::Value,
    path: String,
    #[serde(default)]
    hashtype: Option<String>,
    #[serde(default)]
    hashsum: Option<String>,
}

impl CartRequest {
    /// Parses and validates the JSON body. Every failure is [`Error::InvalidRequest`].
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let raw: RawRequest =
            serde_json::from_slice(body).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let mut files = Vec::with_capacity(raw.fileids.len().min(MAX_FILES));
        for (i, f) in raw.fileids.into_iter().enumerate() {
            files.push(Self::file(f).map_err(|e| reason(i, e))?);
        }
        Self::new(files, raw.bundle)
    }

    fn file(f: RawFile) -> Result<FileRequest> {
        let id = match f.id {
            serde_json::Value::String(s) => ArchiveId::new(&s)?,
            serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => {
                ArchiveId::new(&n.to_string())?
            }
            _ => return Err(Error::invalid("id", "must be a string or an integer")),
        };
        let path = BundlePath::new(&f.path)?;
        let hash = match (f.hashtype, f.hashsum) {
            (None, None) => None,
            (Some(t), Some(s)) => Some(ExpectedHash::new(HashType::parse(&t)?, &s)?),
            _ => {
                return Err(Error::invalid(
                    "hash",
                    "hashtype and hashsum must be given together",
                ));
            }
        };
        Ok(FileRequest { id, path, hash })
    }

    /// Validates a request built in code: 1 to [`MAX_FILES`] files, paths unique, and no path
    /// inside another file's path (`a` and `a/b` cannot both be files).
    pub fn new(files: Vec<FileRequest>, bundle: bool) -> Result<Self> {
        if files.is_empty() {
            return Err(Error::InvalidRequest("no files requested".into()));
        }
        if files.len() > MAX_FILES {
            return Err(Error::InvalidRequest(format!(
                "more than {MAX_FILES} files requested"
            )));
        }
        let mut seen: HashSet<&str> = HashSet::with_capacity(files.len());
        for f in &files {
            if !seen.insert(f.path.as_str()) {
                return Err(Error::InvalidRequest(format!(
                    "duplicate path {:?}",
                    f.path.as_str()
                )));
            }
        }
        for f in &files {
            let p = f.path.as_str();
            for (i, _) in p.match_indices('/') {
                // `i` is the byte index of an ASCII '/', so slicing there is on a char boundary.
                let parent = &p[..i];
                if seen.contains(parent) {
                    return Err(Error::InvalidRequest(format!(
                        "path {p:?} is inside the file {parent:?}"
                    )));
                }
            }
        }
        Ok(CartRequest { files, bundle })
    }
}

fn reason(index: usize, e: Error) -> Error {
    match e {
        Error::InvalidRequest(r) => Error::InvalidRequest(r),
        other => Error::InvalidRequest(format!("fileids[{index}]: {other}")),
    }
}

/// A lease on a cart's work, held by one server while it works on the cart.
///
/// `token` is the fencing token: it grows with every claim of the cart (never reused, see
/// [`Cart::fence`]), and every write a worker makes is conditional on the stored lease still
/// carrying its token, so a server that lost its lease can no longer change the cart.
/// Expiry is never judged by comparing `expires` with another server's clock: a taker
/// needs to have seen the lease unchanged (same token and `renewals`) for `ttl_ms` on its own
/// monotonic clock (see [`crate::engine`] for the rule and its bound); `expires` is the
/// holder's own estimate, for people reading the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The node id of the holder.
    pub owner: String,
    /// The holder's wall clock plus the lease duration at the last claim or renewal
    /// (informational).
    pub expires: Timestamp,
    /// The fencing token of this claim.
    #[serde(default)]
    pub token: u64,
    /// How often the holder renewed the lease (any renewal changes the lease).
    #[serde(default)]
    pub renewals: u64,
    /// The lease duration the holder works with, in milliseconds (0 in records written before
    /// leases had one: the reader's own duration applies).
    #[serde(default)]
    pub ttl_ms: u64,
}

impl Lease {
    /// The lease duration, or `fallback` when the record has none.
    pub fn ttl_or(&self, fallback: std::time::Duration) -> std::time::Duration {
        if self.ttl_ms == 0 {
            fallback
        } else {
            std::time::Duration::from_millis(self.ttl_ms)
        }
    }
}

/// One file of a cart as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartFile {
    /// The file's id in the archive.
    pub id: ArchiveId,
    /// Where it goes inside the bundle.
    pub path: BundlePath,
    /// The expected digest, if any.
    pub hash: Option<ExpectedHash>,
    /// The size, once known.
    pub size: Option<u64>,
    /// Its status.
    pub status: FileStatus,
    /// Why it failed (empty otherwise).
    pub error: String,
    /// When its staged copy was completed (the member's modification time in the tar).
    #[serde(default)]
    pub staged_at: Option<Timestamp>,
}

impl CartFile {
    /// Applies a legal file step; [`Error::Conflict`] when illegal from the current status.
    pub fn apply(&mut self, step: &FileStep) -> Result<()> {
        let next = step.apply(self.status).ok_or_else(|| {
            Error::Conflict(format!(
                "file {} cannot go {:?} from {}",
                self.id, step, self.status
            ))
        })?;
        self.status = next;
        match step {
            FileStep::Staged { size } => self.size = Some(*size),
            FileStep::Fail(msg) => self.error = msg.clone(),
            FileStep::Reset => self.error.clear(),
            FileStep::Start => {}
        }
        Ok(())
    }
}

/// A cart as stored. Equality ignores [`files_key`](Self::files_key) (where a store keeps the
/// files, not what the cart is).
#[derive(Debug, Clone, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// Its uid.
    pub uid: CartUid,
    /// Its files, in request order.
    pub files: Vec<CartFile>,
    /// Whether the tar is built ahead of download.
    pub bundle: bool,
    /// Its status.
    pub status: CartStatus,
    /// The message clients see (`X-Pacifica-Message`); empty unless in error.
    pub message: String,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// When it was last created, downloaded or otherwise used (for LRU eviction).
    pub last_used: Timestamp,
    /// Size of the pre-built tar once bundled.
    pub bundle_size: Option<u64>,
    /// Who is working on it, if anyone.
    pub lease: Option<Lease>,
    /// The last fencing token issued for this cart (the next claim gets one more). Kept when
    /// a lease is released, so tokens never repeat.
    #[serde(default)]
    pub fence: u64,
    /// How often its work was interrupted by a restart.
    #[serde(default)]
    pub restarts: u32,
    /// The store's name for this cart's file records (set by stores that keep files apart
    /// from the header, fresh for every insert; empty otherwise). Not part of the header JSON.
    #[serde(skip)]
    pub files_key: String,
}

/// A cart's header as listed by [`CartStore::list`](crate::CartStore::list): everything but
/// the files, which are stored as records of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartSummary {
    /// Its uid.
    pub uid: CartUid,
    /// Its status.
    pub status: CartStatus,
    /// When it last changed.
    pub updated: Timestamp,
    /// When it was last used (for LRU eviction).
    pub last_used: Timestamp,
    /// Who is working on it, if anyone.
    pub lease: Option<Lease>,
    /// How many files it has.
    pub file_count: usize,
}

impl PartialEq for Cart {
    fn eq(&self, o: &Self) -> bool {
        let Cart {
            uid,
            files,
            bundle,
            status,
            message,
            created,
            updated,
            last_used,
            bundle_size,
            lease,
            fence,
            restarts,
            files_key: _,
        } = self;
        *uid == o.uid
            && *files == o.files
            && *bundle == o.bundle
            && *status == o.status
            && *message == o.message
            && *created == o.created
            && *updated == o.updated
            && *last_used == o.last_used
            && *bundle_size == o.bundle_size
            && *lease == o.lease
            && *fence == o.fence
            && *restarts == o.restarts
    }
}

impl Cart {
    /// A new `waiting` cart for a request.
    pub fn new(uid: CartUid, request: CartRequest, now: Timestamp) -> Self {
        let files = request
            .files
            .into_iter()
            .map(|f| CartFile {
                id: f.id,
                path: f.path,
                hash: f.hash,
                size: None,
                status: FileStatus::Waiting,
                error: String::new(),
                staged_at: None,
            })
            .collect();
        Cart {
            uid,
            files,
            bundle: request.bundle,
            status: CartStatus::Waiting,
            message: String::new(),
            created: now,
            updated: now,
            last_used: now,
            bundle_size: None,
            lease: None,
            fence: 0,
            restarts: 0,
            files_key: String::new(),
        }
    }

    /// Applies a legal step; [`Error::Conflict`] when the cart is not in the step's `from` status.
    /// A step that settles the cart (`ready`, `error`) also drops its work lease.
    pub fn apply(&mut self, step: &Step, now: Timestamp) -> Result<()> {
        if self.status != step.from() {
            return Err(Error::Conflict(format!(
                "cart {} is {}, expected {}",
                self.uid,
                self.status,
                step.from()
            )));
        }
        self.status = step.to();
        self.message = step.message().to_owned();
        self.updated = now;
        if self.status.active().is_none() {
            self.lease = None;
        }
        Ok(())
    }

    /// The default download name of this cart (from its creation time); a pre-built tar uses
    /// its stem as top directory.
    pub fn default_download_name(&self) -> DownloadName {
        DownloadName::default_for(self.created)
    }

    /// A copy of everything but the files (and the store's files key).
    pub(crate) fn clone_header(&self) -> Cart {
        Cart {
            uid: self.uid.clone(),
            files: Vec::new(),
            bundle: self.bundle,
            status: self.status,
            message: self.message.clone(),
            created: self.created,
            updated: self.updated,
            last_used: self.last_used,
            bundle_size: self.bundle_size,
            lease: self.lease.clone(),
            fence: self.fence,
            restarts: self.restarts,
            files_key: String::new(),
        }
    }

    /// The header as listed.
    pub fn summary(&self) -> CartSummary {
        CartSummary {
            uid: self.uid.clone(),
            status: self.status,
            updated: self.updated,
            last_used: self.last_used,
            lease: self.lease.clone(),
            file_count: self.files.len(),
        }
    }

    /// Total size of the files whose size is known.
    pub fn known_size(&self) -> u64 {
        self.files.iter().filter_map(|f| f.size).sum()
    }
}
