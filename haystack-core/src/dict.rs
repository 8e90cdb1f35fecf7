//! [`Dict`]: Haystack name/value pairs, insertion-ordered with fast lookup.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::{Error, Result, Value, is_tag_name};

/// Dicts with more tags than this get a hash index; smaller ones are scanned.
const INDEX_THRESHOLD: usize = 12;

/// A Haystack Dict: tags (name/value pairs) with valid tag names, kept in insertion order.
///
/// Lookup by name is a short scan for small dicts and a hash lookup for larger ones. Equality
/// ignores order (dicts are unordered in Haystack); iteration and writers keep it.
///
/// ```
/// use haystack_core::{Dict, Value};
/// let mut d = Dict::new();
/// d.insert("dis", "Site 1").unwrap();
/// d.insert("site", Value::Marker).unwrap();
/// assert_eq!(d.get("dis"), Some(&Value::from("Site 1")));
/// assert_eq!(d.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["dis", "site"]);
/// assert!(d.insert("Bad", 1.0).is_err());
/// assert_eq!(d.to_string(), "{dis:\"Site 1\" site}");
/// ```
#[derive(Clone, Default)]
pub struct Dict {
    entries: Vec<(Arc<str>, Value)>,
    // Boxed so that a Dict (and so a Value) stays small; only large dicts have an index.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<Arc<str>, u32>>>,
}

/// Builds a [`Dict`] from literal tag names and values; panics on an invalid literal name
/// (a programming error, not an input error).
///
/// ```
/// use haystack_core::{dict, Value};
/// let d = dict! { "site" => Value::Marker, "area" => 3702.0 };
/// assert_eq!(d.len(), 2);
/// ```
#[macro_export]
macro_rules! dict {
    () => { $crate::Dict::new() };
    ($($name:expr => $value:expr),+ $(,)?) => {{
        let mut d = $crate::Dict::new();
        $(
            #[allow(clippy::expect_used)]
            d.insert($name, $value).expect("dict! literal tag name");
        )+
        d
    }};
}

impl Dict {
    /// An empty dict.
    pub fn new() -> Self {
        Dict::default()
    }

    /// An empty dict with room for `n` tags.
    pub fn with_capacity(n: usize) -> Self {
        Dict {
            entries: Vec::with_capacity(n),
            index: None,
        }
    }

    /// Builds a dict from name/value pairs; later duplicates replace earlier values.
    pub fn from_pairs<K, V, I>(pairs: I) -> Result<Self>
    where
        K: Into<Arc<str>>,
        V: Into<Value>,
        I: IntoIterator<Item = (K, V)>,
    {
        let mut d = Dict::new();
        for (k, v) in pairs {
            d.insert(k, v)?;
        }
        Ok(d)
    }

    /// The number of tags.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, name: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(name).map(|&i| i as usize),
            None => self.entries.iter().position(|(k, _)| &**k == name),
        }
    }

    /// The value of tag `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name)
            .and_then(|i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    /// The value of tag `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        let i = self.position(name)?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Whether tag `name` is present (even if its value is Null).
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Whether tag `name` is present with a non-null value (Haystack's `has`).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_null())
    }

    /// Whether tag `name` is missing or null (Haystack's `missing`).
    pub fn missing(&self, name: &str) -> bool {
        !self.has(name)
    }

    /// Sets tag `name` to `value`, keeping its position if present; returns the old value.
    /// Errors with [`Error::InvalidTagName`] if `name` is not `[a-z][a-zA-Z0-9_]*`.
    pub fn insert(
        &mut self,
        name: impl Into<Arc<str>>,
        value: impl Into<Value>,
    ) -> Result<Option<Value>> {
        let name = name.into();
        if !is_tag_name(&name) {
            return Err(Error::InvalidTagName(name.to_string()));
        }
        Ok(self.insert_valid(name, value.into()))
    }

    /// Like [`Dict::insert`] for a name the caller has already checked with
    /// [`crate::is_tag_name`] (readers whose grammar only admits tag names).
    pub fn insert_valid(&mut self, name: Arc<str>, value: Value) -> Option<Value> {
        debug_assert!(is_tag_name(&name));
        if let Some(slot) = self.position(&name).and_then(|i| self.entries.get_mut(i)) {
            return Some(std::mem::replace(&mut slot.1, value));
        }
        let i = self.entries.len();
        if let Some(index) = &mut self.index {
            index.insert(name.clone(), i as u32);
        }
        self.entries.push((name, value));
        if self.index.is_none() && self.entries.len() > INDEX_THRESHOLD {
            self.rebuild_index();
        }
        None
    }

    /// Sets tag `name` to Marker.
    pub fn insert_marker(&mut self, name: impl Into<Arc<str>>) -> Result<Option<Value>> {
        self.insert(name, Value::Marker)
    }

    fn rebuild_index(&mut self) {
        if self.entries.len() > INDEX_THRESHOLD {
            let mut index = HashMap::with_capacity(self.entries.len() * 2);
            for (i, (k, _)) in self.entries.iter().enumerate() {
                index.insert(k.clone(), i as u32);
            }
            self.index = Some(Box::new(index));
        } else {
            self.index = None;
        }
    }

    /// Removes tag `name`, keeping the order of the others; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.position(name)?;
        let (_, v) = self.entries.remove(i);
        if self.index.is_some() {
            self.rebuild_index();
        }
        Some(v)
    }

    /// The tags in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + DoubleEndedIterator {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// The tags in insertion order, names shared.
    pub fn iter_shared(&self) -> impl ExactSizeIterator<Item = (&Arc<str>, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The tag names in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// The values in insertion order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The `id` tag, if it is a Ref.
    pub fn id(&self) -> Option<&crate::Ref> {
        self.get("id").and_then(Value::as_ref)
    }

    /// The `dis` tag, if it is a Str.
    pub fn dis(&self) -> Option<&str> {
        self.get("dis").and_then(Value::as_str)
    }

    /// Sorted `(name, value)` pairs, for order-insensitive comparison.
    fn sorted(&self) -> Vec<(&str, &Value)> {
        let mut v: Vec<_> = self.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }
}

impl IntoIterator for Dict {
    type Item = (Arc<str>, Value);
    type IntoIter = std::vec::IntoIter<(Arc<str>, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = (&'a str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Arc<str>, Value)>,
        fn(&'a (Arc<str>, Value)) -> (&'a str, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }
}

impl PartialEq for Dict {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Eq for Dict {}

impl PartialOrd for Dict {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders by the tags sorted by name (consistent with the order-insensitive equality).
impl Ord for Dict {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sorted().cmp(&other.sorted())
    }
}

impl Hash for Dict {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Order-insensitive: combine per-tag hashes commutatively.
        let mut sum = 0u64;
        for (k, v) in self.iter() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            k.hash(&mut h);
            v.hash(&mut h);
            sum = sum.wrapping_add(h.finish());
        }
        self.len().hash(state);
        sum.hash(state);
    }
}

impl fmt::Debug for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Formats the dict in Zinc: `{dis:"Site" site area:35000ft²}`.
impl fmt::Display for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_dict(&mut s, self);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_dicts_index_and_keep_order() {
        let mut d = Dict::new();
        for i in 0..40 {
            d.insert(format!("t{i}"), i).unwrap();
        }
        assert_eq!(d.get("t33"), Some(&Value::from(33)));
        assert_eq!(d.remove("t0"), Some(Value::from(0)));
        assert_eq!(d.get("t39"), Some(&Value::from(39)));
        assert_eq!(d.keys().next(), Some("t1"));
        assert_eq!(d.insert("t5", "x").unwrap(), Some(Value::from(5)));
        assert_eq!(d.keys().nth(4), Some("t5"));
    }

    #[test]
    fn equality_ignores_order() {
        let a = dict! { "a" => 1, "b" => 2 };
        let b = dict! { "b" => 2, "a" => 1 };
        assert_eq!(a, b);
        let h = |d: &Dict| {
            let mut s = std::collections::hash_map::DefaultHasher::new();
            d.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(&a), h(&b));
        assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
    }

    #[test]
    fn rejects_bad_names() {
        let mut d = Dict::new();
        assert!(matches!(d.insert("9x", 1), Err(Error::InvalidTagName(_))));
        assert!(d.is_empty());
    }
}
