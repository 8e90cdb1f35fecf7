//! Filters evaluated in a namespace: spec terms and def-aware marker terms (Filters chapter:
//! "some filter constructs require the use of defs").

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::eval::{Resolver, test, walk};
use super::{Filter, Node, Spec};
use crate::defs::{DefKind, Namespace};
use crate::error::{Error, Result};
use crate::value::Value;
use crate::{Dict, Grid, Row};

/// A [`Filter`] bound to a [`Namespace`] (made by [`Filter::in_namespace`]):
/// - a spec term (`Ahu`, `ph::Ahu`) matches a dict that implements the def it names;
/// - a lone tag name that is a marker def (`equip`, `water`) matches a dict that implements it,
///   so `equip` matches `{ahu}` and `liquid` matches `{chilled water}`; `not equip` is the
///   opposite;
/// - everything else (value tags, `->` paths, comparisons, `^symbol` values) as in a plain
///   filter.
///
/// "Implements" is reflection (Reflection chapter): the dict has a tag whose def fits the term,
/// or all the parts (as markers) of a conjunct that fits it. Each term's tags and conjuncts are
/// worked out once, when the filter is bound, so matching a dict or a grid row only looks up
/// its tags.
#[derive(Debug, Clone)]
pub struct NamespaceFilter<'ns> {
    ns: &'ns Namespace,
    node: Node,
    /// The spec terms and what implements the defs they name.
    specs: HashMap<Spec, Implied>,
    /// The lone tag names of the filter that are marker defs, and what implements them.
    markers: HashMap<String, Implied>,
}

/// What implements a def: any of these tags, or all the parts of one of these conjuncts.
#[derive(Debug, Clone, Default)]
struct Implied {
    tags: HashSet<Arc<str>>,
    conjuncts: Vec<Vec<Arc<str>>>,
}

impl Implied {
    fn of(ns: &Namespace, symbol: &str) -> Implied {
        let mut out = Implied::default();
        for d in ns.defs().filter(|d| ns.fits(d.symbol(), symbol)) {
            match d.kind() {
                DefKind::Tag => {
                    out.tags.insert(Arc::from(d.symbol()));
                }
                DefKind::Conjunct => out.conjuncts.push(d.parts().map(Arc::from).collect()),
                DefKind::Key => {}
            }
        }
        out
    }

    fn by<T: Tags + ?Sized>(&self, src: &T) -> bool {
        src.any_tag(&mut |name, v| !v.is_null() && self.tags.contains(name))
            || self.conjuncts.iter().any(|parts| {
                parts
                    .iter()
                    .all(|p| src.tag(p).is_some_and(Value::is_marker))
            })
    }
}

/// The tags of what a filter is evaluated on: a dict or a grid row.
trait Tags {
    fn tag(&self, name: &str) -> Option<&Value>;
    fn any_tag(&self, f: &mut dyn FnMut(&str, &Value) -> bool) -> bool;
}

impl Tags for Dict {
    fn tag(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
    fn any_tag(&self, f: &mut dyn FnMut(&str, &Value) -> bool) -> bool {
        self.iter().any(|(k, v)| f(k, v))
    }
}

impl Tags for Row<'_> {
    fn tag(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
    fn any_tag(&self, f: &mut dyn FnMut(&str, &Value) -> bool) -> bool {
        self.iter().any(|(k, v)| f(k, v))
    }
}

impl Filter {
    /// This filter bound to `ns`, for def-aware matching. Errors when a spec term names no def
    /// of the namespace.
    pub fn in_namespace<'ns>(&self, ns: &'ns Namespace) -> Result<NamespaceFilter<'ns>> {
        let mut specs = HashMap::new();
        let mut markers = HashMap::new();
        let mut stack = vec![&self.node];
        while let Some(n) = stack.pop() {
            match n {
                Node::Spec(spec) => {
                    let def = ns.spec_def(spec.lib(), spec.name()).ok_or_else(|| {
                        Error::Invalid(format!("spec {spec} names no def of the namespace"))
                    })?;
                    specs.insert(spec.clone(), Implied::of(ns, def.symbol()));
                }
                Node::Has(p) | Node::Missing(p)
                    if p.names().len() == 1 && ns.fits(p.first(), "marker") =>
                {
                    markers.insert(p.first().to_owned(), Implied::of(ns, p.first()));
                }
                Node::And(parts) | Node::Or(parts) => stack.extend(parts),
                _ => {}
            }
        }
        Ok(NamespaceFilter {
            ns,
            node: self.node.clone(),
            specs,
            markers,
        })
    }
}

struct Ctx<'a, 'ns, T: ?Sized, R: ?Sized> {
    f: &'a NamespaceFilter<'ns>,
    src: &'a T,
    resolver: &'a R,
}

impl<T: Tags + ?Sized, R: Resolver + ?Sized> Ctx<'_, '_, T, R> {
    fn has(&self, p: &super::Path) -> bool {
        if p.names().len() == 1
            && let Some(implied) = self.f.markers.get(p.first())
        {
            return implied.by(self.src);
        }
        self.src
            .tag(p.first())
            .filter(|v| !v.is_null())
            .is_some_and(|v| {
                walk(
                    v,
                    p.names().get(1..).unwrap_or_default(),
                    self.resolver,
                    &mut |_| true,
                )
            })
    }

    fn eval(&self, n: &Node) -> bool {
        match n {
            Node::Has(p) => self.has(p),
            Node::Missing(p) => !self.has(p),
            Node::Cmp(p, op, operand) => match self.src.tag(p.first()) {
                None | Some(Value::Null) => false,
                Some(v) => walk(
                    v,
                    p.names().get(1..).unwrap_or_default(),
                    self.resolver,
                    &mut |x| test(x, *op, operand),
                ),
            },
            Node::And(parts) => parts.iter().all(|p| self.eval(p)),
            Node::Or(parts) => parts.iter().any(|p| self.eval(p)),
            Node::Spec(spec) => self.f.specs.get(spec).is_some_and(|i| i.by(self.src)),
        }
    }
}

impl<'ns> NamespaceFilter<'ns> {
    fn run<T: Tags + ?Sized, R: Resolver + ?Sized>(&self, src: &T, resolver: &R) -> bool {
        Ctx {
            f: self,
            src,
            resolver,
        }
        .eval(&self.node)
    }
    /// The namespace it evaluates in.
    pub fn namespace(&self) -> &'ns Namespace {
        self.ns
    }

    /// Whether `dict` matches; `->` paths follow nested dicts only.
    pub fn matches(&self, dict: &Dict) -> bool {
        self.run(dict, &super::NoResolver)
    }

    /// Whether `dict` matches, following refs in `->` paths through `resolver`.
    pub fn matches_with<R: Resolver + ?Sized>(&self, dict: &Dict, resolver: &R) -> bool {
        self.run(dict, resolver)
    }

    /// Whether a grid row matches.
    pub fn matches_row<R: Resolver + ?Sized>(&self, row: &Row<'_>, resolver: &R) -> bool {
        self.run(row, resolver)
    }

    /// The positions of the rows of `grid` that match, in order.
    pub fn select<'a, R: Resolver + ?Sized>(
        &'a self,
        grid: &'a Grid,
        resolver: &'a R,
    ) -> impl Iterator<Item = usize> + 'a {
        grid.rows()
            .filter(move |row| self.matches_row(row, resolver))
            .map(|row| row.index())
    }
}
