//! Reflection (a dict to the defs it implements), implementation (a def to the tags a dict
//! needs) and protos (a parent's children templates), by the Reflection and Protos chapters.

use super::{Def, Namespace, symbols};
use crate::{Dict, Value};

/// The defs a dict implements: the defs of its tags, the conjuncts all of whose parts it has
/// as markers, and every supertype of those (Reflection chapter).
#[derive(Debug, Clone)]
pub struct Reflection<'a> {
    ns: &'a Namespace,
    /// One bit per def of the namespace.
    bits: Vec<u64>,
    /// The defs found from the tags and conjuncts (before inheritance), in dict order.
    direct: Vec<u32>,
}

impl<'a> Reflection<'a> {
    fn contains_id(&self, id: u32) -> bool {
        self.bits
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Whether the dict implements `symbol` (directly or through inheritance).
    pub fn fits(&self, symbol: &str) -> bool {
        self.ns.id(symbol).is_some_and(|id| self.contains_id(id))
    }

    /// Every def implemented, in namespace order.
    pub fn defs(&self) -> impl Iterator<Item = &'a Def> + '_ {
        let ns = self.ns;
        self.bits.iter().enumerate().flat_map(move |(w, &word)| {
            let mut word = word;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                Some(w * 64 + bit)
            })
            .filter_map(move |i| ns.defs.get(i))
        })
    }

    /// The number of defs implemented.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the dict implements no def.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The defs of the dict's own tags and of the conjuncts it implements, before inheritance.
    pub fn direct(&self) -> impl Iterator<Item = &'a Def> + '_ {
        let ns = self.ns;
        self.direct.iter().filter_map(move |&i| ns.at(i))
    }

    /// The most specific entity types implemented (defs under `entity` that are not a
    /// supertype of another one implemented), e.g. `[ahu]` for `{ahu equip}`.
    pub fn entity_types(&self) -> Vec<&'a Def> {
        let Some(entity) = self.ns.id("entity") else {
            return Vec::new();
        };
        let candidates: Vec<(u32, &Def)> = self
            .defs()
            .filter(|d| d.sorted.binary_search(&entity).is_ok())
            .filter_map(|d| self.ns.id(d.symbol()).map(|i| (i, d)))
            .collect();
        candidates
            .iter()
            .filter(|(i, _)| {
                !candidates
                    .iter()
                    .any(|(j, other)| j != i && other.sorted.binary_search(i).is_ok())
            })
            .map(|(_, d)| *d)
            .collect()
    }
}

impl Namespace {
    /// Reflects a dict: which defs it implements. Null-valued tags count as missing; a
    /// conjunct is implemented when the dict has each of its parts as a Marker.
    pub fn reflect(&self, dict: &Dict) -> Reflection<'_> {
        let mut r = Reflection {
            ns: self,
            bits: vec![0; self.defs.len().div_ceil(64)],
            direct: Vec::new(),
        };
        for (tag, value) in dict.iter() {
            if value.is_null() {
                continue;
            }
            if let Some(id) = self.id(tag) {
                self.mark(&mut r, id);
            }
            if value.is_marker()
                && let Some(conjuncts) = self.conjuncts_by_first.get(tag)
            {
                for &c in conjuncts {
                    let Some(def) = self.at(c) else { continue };
                    if def
                        .parts()
                        .all(|p| dict.get(p).is_some_and(Value::is_marker))
                    {
                        self.mark(&mut r, c);
                    }
                }
            }
        }
        r
    }

    fn mark(&self, r: &mut Reflection<'_>, id: u32) {
        let Some(def) = self.at(id) else { return };
        if r.direct.contains(&id) {
            return;
        }
        r.direct.push(id);
        for &x in &def.inheritance {
            if let Some(w) = r.bits.get_mut(x as usize / 64) {
                *w |= 1 << (x % 64);
            }
        }
    }

    /// The tag defs a dict needs to implement `symbol`: the tag itself or each conjunct part,
    /// then the tags of every supertype marked `mandatory` (so `rtu` gives `rtu`, `ahu`,
    /// `equip`); nothing for a feature key or an undefined symbol.
    pub fn implementation(&self, symbol: &str) -> Vec<&Def> {
        let Some(def) = self.def(symbol) else {
            return Vec::new();
        };
        let mut out: Vec<&Def> = Vec::new();
        let supers = self.many(&def.inheritance).skip(1);
        for d in std::iter::once(def).chain(supers.filter(|s| s.has_marker("mandatory"))) {
            for p in d.parts() {
                if let Some(pd) = self.def(p)
                    && !out.iter().any(|o| o.symbol() == pd.symbol())
                {
                    out.push(pd);
                }
            }
        }
        out
    }

    /// The children protos of a parent dict (Protos chapter): the effective `children` of
    /// each of its most specific entity types (children accumulate down the subtype tree), with
    /// the tags by which the parent implements each of the type's `childrenFlatten` defs added
    /// to every child (`hot water pipe equip` gives `hot water temp sensor point`, ...);
    /// without duplicates, in order.
    pub fn protos(&self, parent: &Dict) -> Vec<Dict> {
        let r = self.reflect(parent);
        let mut out: Vec<Dict> = Vec::new();
        for def in r.entity_types() {
            let Some(Value::List(children)) = def.get("children") else {
                continue;
            };
            let mut flatten = Dict::new();
            for flat in symbols(def.get("childrenFlatten")) {
                for d in r.direct() {
                    if !self.fits(d.symbol(), flat) {
                        continue;
                    }
                    for (part, shared) in d.parts().zip(d.parts.iter()) {
                        let value = parent.get(part).cloned().unwrap_or(Value::Marker);
                        flatten.insert_valid(shared.clone(), value);
                    }
                }
            }
            for child in children.iter().filter_map(Value::as_dict) {
                let mut proto = child.clone();
                for (tag, value) in flatten.iter_shared() {
                    if !proto.contains_key(tag) {
                        proto.insert_valid(tag.clone(), value.clone());
                    }
                }
                if !out.contains(&proto) {
                    out.push(proto);
                }
            }
        }
        out
    }
}
