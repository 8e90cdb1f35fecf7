//! Evaluation primitives: comparisons with Haystack filter semantics, and `->` path walking
//! through a [`Resolver`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

use super::CmpOp;
use crate::Dict;
use crate::value::{Ref, Value};

/// Looks up the tags of the entity a Ref points to, so that `siteRef->geoCity` can follow
/// `siteRef`. A [`GridIndex`](super::GridIndex) (a grid indexed by `id`) is one resolver; a
/// `HashMap<String, Dict>` keyed by id is another.
pub trait Resolver {
    /// The value of tag `name` of the entity with id `id`, or `None` if there is no such entity
    /// or it has no such tag.
    fn tag(&self, id: &Ref, name: &str) -> Option<&Value>;

    /// Like [`Resolver::tag`], with a slot where a resolver may remember where it found `name`
    /// last time (compiled filters keep one slot per path segment). The slot is only a hint:
    /// implementations must check it. The default ignores it.
    fn tag_hinted(&self, id: &Ref, name: &str, hint: &AtomicUsize) -> Option<&Value> {
        let _ = hint;
        self.tag(id, name)
    }
}

/// A resolver that knows no entities: `->` paths through refs never match.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn tag(&self, _id: &Ref, _name: &str) -> Option<&Value> {
        None
    }
}

impl<R: Resolver + ?Sized> Resolver for &R {
    fn tag(&self, id: &Ref, name: &str) -> Option<&Value> {
        (**self).tag(id, name)
    }

    fn tag_hinted(&self, id: &Ref, name: &str, hint: &AtomicUsize) -> Option<&Value> {
        (**self).tag_hinted(id, name, hint)
    }
}

impl Resolver for HashMap<String, Dict> {
    fn tag(&self, id: &Ref, name: &str) -> Option<&Value> {
        self.get(id.id()).and_then(|d| d.get(name))
    }
}

/// How two values order for a filter: only values of the same kind compare, numbers only with
/// equal units, refs by id. `None` when they do not compare.
pub(super) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let same_unit = match (x.shared_unit(), y.shared_unit()) {
                (None, None) => true,
                (Some(u), Some(v)) => std::sync::Arc::ptr_eq(u, v) || u == v,
                _ => false,
            };
            if same_unit {
                x.value().partial_cmp(&y.value())
            } else {
                None
            }
        }
        (Value::Str(x), Value::Str(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Ref(x), Value::Ref(y)) => Some(x.id().cmp(y.id())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Uri(x), Value::Uri(y)) => Some(x.cmp(y)),
        (Value::Symbol(x), Value::Symbol(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        // Instants: the same moment in two timezones is equal.
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.unix_nanos().cmp(&y.unix_nanos())),
        (Value::Coord(x), Value::Coord(y)) => (x == y).then_some(Ordering::Equal),
        (Value::XStr(x), Value::XStr(y)) => (x == y).then_some(Ordering::Equal),
        _ => None,
    }
}

/// Whether the resolved value `v` satisfies `v op operand`; a list matches when any element does.
pub(super) fn test(v: &Value, op: CmpOp, operand: &Value) -> bool {
    if let Value::List(items) = v {
        return items.iter().any(|i| test_one(i, op, operand));
    }
    test_one(v, op, operand)
}

/// Whether `compare(a, b)` is `Some(Equal)`, with string equality (lengths first) where
/// the kinds allow it.
#[inline]
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y))
        | (Value::Uri(x), Value::Uri(y))
        | (Value::Symbol(x), Value::Symbol(y)) => x == y,
        (Value::Ref(x), Value::Ref(y)) => x.id() == y.id(),
        _ => compare(a, b) == Some(Ordering::Equal),
    }
}

#[inline]
fn test_one(v: &Value, op: CmpOp, operand: &Value) -> bool {
    match op {
        CmpOp::Eq => return equal(v, operand),
        CmpOp::Ne => return !equal(v, operand),
        _ => {}
    }
    matches_ord(compare(v, operand), op)
}

/// Whether an order of a value to the operand (`None`: they do not compare) satisfies `op`.
#[inline]
pub(super) fn matches_ord(ord: Option<Ordering>, op: CmpOp) -> bool {
    match op {
        CmpOp::Eq => ord == Some(Ordering::Equal),
        CmpOp::Ne => ord != Some(Ordering::Equal),
        CmpOp::Lt => ord == Some(Ordering::Less),
        CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ord == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// One segment of a path after the first: a tag name and a lookup hint for the resolver.
#[derive(Debug)]
pub(super) struct Seg {
    pub(super) name: String,
    pub(super) hint: AtomicUsize,
}

impl Clone for Seg {
    fn clone(&self) -> Self {
        Seg {
            name: self.name.clone(),
            hint: AtomicUsize::new(usize::MAX),
        }
    }
}

impl Seg {
    pub(super) fn new(name: &str) -> Self {
        Seg {
            name: name.to_owned(),
            hint: AtomicUsize::new(usize::MAX),
        }
    }
}

/// A path segment name, with or without a hint.
pub(super) trait Segment {
    fn name(&self) -> &str;
    fn lookup<'r, R: Resolver + ?Sized>(&self, r: &'r R, id: &Ref) -> Option<&'r Value>;
}

impl Segment for String {
    fn name(&self) -> &str {
        self
    }
    fn lookup<'r, R: Resolver + ?Sized>(&self, r: &'r R, id: &Ref) -> Option<&'r Value> {
        r.tag(id, self)
    }
}

impl Segment for Seg {
    fn name(&self) -> &str {
        &self.name
    }
    #[inline]
    fn lookup<'r, R: Resolver + ?Sized>(&self, r: &'r R, id: &Ref) -> Option<&'r Value> {
        r.tag_hinted(id, &self.name, &self.hint)
    }
}

/// Follows `rest` (the path after its first name) from `v`, calling `f` on every value the
/// path reaches; returns true as soon as `f` does. A Ref is followed through `resolver`, a Dict
/// directly, a List through each of its refs and dicts (in order). Walks with an explicit stack,
/// never recursing, so the length of a path (at most [`super::MAX_PATH_LEN`] from the parser)
/// and the shape of the data cannot overflow the call stack.
pub(super) fn walk<'a, S: Segment, R: Resolver + ?Sized>(
    v: &'a Value,
    rest: &[S],
    resolver: &'a R,
    f: &mut dyn FnMut(&Value) -> bool,
) -> bool {
    // Until the first list there is one way to go: follow it without a stack.
    let mut v = v;
    let mut done = 0;
    loop {
        let Some(seg) = rest.get(done) else {
            return !v.is_null() && f(v);
        };
        let next = match v {
            Value::Ref(r) => seg.lookup(resolver, r),
            Value::Dict(d) => d.get(seg.name()),
            Value::List(_) => break,
            _ => None,
        };
        match next {
            Some(n) => {
                v = n;
                done += 1;
            }
            None => return false,
        }
    }
    // (value, how many names of `rest` are already followed)
    let mut stack: Vec<(&'a Value, usize)> = vec![(v, done)];
    while let Some((v, done)) = stack.pop() {
        let Some(seg) = rest.get(done) else {
            if !v.is_null() && f(v) {
                return true;
            }
            continue;
        };
        match v {
            Value::Ref(r) => {
                if let Some(next) = seg.lookup(resolver, r) {
                    stack.push((next, done + 1));
                }
            }
            Value::Dict(d) => {
                if let Some(next) = d.get(seg.name()) {
                    stack.push((next, done + 1));
                }
            }
            Value::List(items) => {
                // Reversed, so that the first item is tried first.
                stack.extend(
                    items
                        .iter()
                        .rev()
                        .filter(|item| matches!(item, Value::Ref(_) | Value::Dict(_)))
                        .map(|item| (item, done)),
                );
            }
            _ => {}
        }
    }
    false
}
