//! [`Ref`], [`Coord`] and [`XStr`].

use std::fmt;
use std::sync::Arc;

use crate::{Error, Result};

/// A reference to an entity: an id such as `site-1` and an optional display name.
///
/// Equality, ordering and hashing use the id only: the display name is a cached convenience.
/// Id and display name share one allocation, so cloning is cheap.
///
/// ```
/// use haystack_core::Ref;
/// let r = Ref::new("site-1").unwrap();
/// assert_eq!(r.id(), "site-1");
/// assert_eq!(r, Ref::with_dis("site-1", "HQ"));
/// assert_eq!(Ref::with_dis("site-1", "HQ").dis(), Some("HQ"));
/// assert!(Ref::new("bad id").is_err());
/// ```
#[derive(Clone)]
pub struct Ref {
    /// The id followed by the display name, if any.
    text: Arc<str>,
    id_len: usize,
    has_dis: bool,
}

/// Whether `b` may appear in a ref id or symbol name: `a-z A-Z 0-9 _ : - . ~`.
#[inline]
pub fn is_ref_char(b: u8) -> bool {
    crate::zinc::chars::is(b, crate::zinc::chars::REF)
}

/// Whether `id` is a valid, non-empty ref id (or symbol name).
pub fn is_ref_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(is_ref_char)
}

impl Ref {
    /// A ref without display name; errors if `id` has characters other than
    /// `a-z A-Z 0-9 _ : - . ~` or is empty.
    pub fn new(id: impl Into<Arc<str>>) -> Result<Self> {
        let id = id.into();
        if !is_ref_id(&id) {
            return Err(Error::InvalidValue {
                kind: "Ref",
                message: format!("invalid id {id:?}"),
            });
        }
        Ok(Ref::from_parts(id, None))
    }

    /// A ref with a display name, not validated (for ids known to be valid, e.g. from a reader).
    pub fn with_dis(id: impl AsRef<str>, dis: impl AsRef<str>) -> Self {
        Ref::from_strs(id.as_ref(), Some(dis.as_ref()))
    }

    /// A ref from parts, not validated (for ids known to be valid, e.g. from a reader).
    pub fn from_parts(id: impl Into<Arc<str>>, dis: Option<Arc<str>>) -> Self {
        match dis {
            None => {
                let text: Arc<str> = id.into();
                Ref {
                    id_len: text.len(),
                    text,
                    has_dis: false,
                }
            }
            Some(dis) => Ref::from_strs(&id.into(), Some(&dis)),
        }
    }

    /// A ref from borrowed parts, with one allocation; not validated.
    pub fn from_strs(id: &str, dis: Option<&str>) -> Self {
        let text: Arc<str> = match dis {
            None => Arc::from(id),
            Some(dis) => {
                let mut s = String::with_capacity(id.len() + dis.len());
                s.push_str(id);
                s.push_str(dis);
                Arc::from(s)
            }
        };
        Ref {
            text,
            id_len: id.len(),
            has_dis: dis.is_some(),
        }
    }

    /// A ref with display name from its id and display name joined in `text`, the id being
    /// its first `id_len` bytes (a char boundary); not validated.
    pub(crate) fn from_joined(text: Arc<str>, id_len: usize) -> Self {
        Ref {
            text,
            id_len,
            has_dis: true,
        }
    }

    /// The id, without `@`.
    pub fn id(&self) -> &str {
        // `id_len` is the length of the id at the start of `text`, a char boundary.
        self.text.get(..self.id_len).unwrap_or_default()
    }

    /// The display name, if any.
    pub fn dis(&self) -> Option<&str> {
        if self.has_dis {
            self.text.get(self.id_len..)
        } else {
            None
        }
    }

    /// The display name or else the id.
    pub fn display_name(&self) -> &str {
        self.dis().unwrap_or(self.id())
    }

    /// This ref with another display name.
    pub fn set_dis(&mut self, dis: Option<Arc<str>>) {
        *self = Ref::from_strs(self.id(), dis.as_deref());
    }
}

impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ref")
            .field("id", &self.id())
            .field("dis", &self.dis())
            .finish()
    }
}

impl PartialEq for Ref {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for Ref {}

impl PartialOrd for Ref {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ref {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id().cmp(other.id())
    }
}

impl std::hash::Hash for Ref {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_value(&mut s, &crate::Value::Ref(self.clone()));
        f.write_str(&s)
    }
}

/// A geographic coordinate in decimal degrees.
///
/// ```
/// use haystack_core::Coord;
/// let c = Coord::new(37.55, -77.45).unwrap();
/// assert_eq!(c.to_string(), "C(37.55,-77.45)");
/// assert!(Coord::new(91.0, 0.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Coord {
    lat: f64,
    lng: f64,
}

impl Coord {
    /// A coordinate; errors unless `-90 <= lat <= 90` and `-180 <= lng <= 180`.
    pub fn new(lat: f64, lng: f64) -> Result<Self> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(Error::InvalidValue {
                kind: "Coord",
                message: format!("latitude {lat} outside -90..90"),
            });
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(Error::InvalidValue {
                kind: "Coord",
                message: format!("longitude {lng} outside -180..180"),
            });
        }
        Ok(Coord {
            lat: lat + 0.0,
            lng: lng + 0.0,
        })
    }

    /// Latitude in decimal degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in decimal degrees.
    pub fn lng(&self) -> f64 {
        self.lng
    }
}

// Coordinates are never NaN (checked by `Coord::new`), so equality is an equivalence relation.
impl Eq for Coord {}

impl PartialOrd for Coord {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Coord {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.lat
            .total_cmp(&other.lat)
            .then(self.lng.total_cmp(&other.lng))
    }
}

impl std::hash::Hash for Coord {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        crate::value::Number::value_hash_bits(self.lat).hash(state);
        crate::value::Number::value_hash_bits(self.lng).hash(state);
    }
}

impl fmt::Display for Coord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_value(&mut s, &crate::Value::Coord(*self));
        f.write_str(&s)
    }
}

/// An extended typed string: a type name starting with `A-Z` and a string value, e.g.
/// `Color("red")`.
///
/// ```
/// use haystack_core::XStr;
/// let x = XStr::new("Color", "red").unwrap();
/// assert_eq!((x.kind(), x.value()), ("Color", "red"));
/// assert!(XStr::new("color", "red").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct XStr {
    kind: Box<str>,
    value: Box<str>,
}

/// Whether `name` is a valid XStr type name: `A-Z` then ASCII letters, digits or `_`.
pub fn is_xstr_type(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(b'A'..=b'Z')) && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

impl XStr {
    /// An XStr; errors if the type name is not `[A-Z][a-zA-Z0-9_]*`.
    pub fn new(kind: impl Into<Box<str>>, value: impl Into<Box<str>>) -> Result<Self> {
        let kind = kind.into();
        if !is_xstr_type(&kind) {
            return Err(Error::InvalidValue {
                kind: "XStr",
                message: format!("invalid type name {kind:?}"),
            });
        }
        Ok(XStr {
            kind,
            value: value.into(),
        })
    }

    /// The type name, e.g. `Color`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The string value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for XStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_value(&mut s, &crate::Value::XStr(self.clone()));
        f.write_str(&s)
    }
}
