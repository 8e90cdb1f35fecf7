//! Spec names of filters (`Ahu`, `ph::HotWaterPlant`) mapped to the defs they name.

use super::{Def, Namespace};

/// The standard libraries, which together make Xeto's `ph` library.
const PH_LIBS: [&str; 4] = ["lib:ph", "lib:phScience", "lib:phIoT", "lib:phIct"];

impl Namespace {
    /// The def a filter's spec term names: `Ahu` is `ahu`, `AirHandlingEquip` is
    /// `airHandlingEquip`, `HotWaterPlant` is `hot-water-plant` when no tag `hotWaterPlant` is
    /// defined. With a lib, the def must come from it: `ph` (and `ph.*`) means the standard
    /// libraries, any other `name` the lib `lib:name`. `None` when no def fits.
    pub fn spec_def(&self, lib: Option<&str>, name: &str) -> Option<&Def> {
        let mut chars = name.chars();
        let first = chars.next()?;
        if !first.is_ascii_uppercase() {
            return None;
        }
        let tag: String = first.to_ascii_lowercase().to_string() + chars.as_str();
        let mut conjunct = String::with_capacity(name.len() + 4);
        for (i, c) in name.char_indices() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    conjunct.push('-');
                }
                conjunct.push(c.to_ascii_lowercase());
            } else {
                conjunct.push(c);
            }
        }
        let in_lib = |d: &&Def| match lib {
            None => true,
            Some(l) if l == "ph" || l.starts_with("ph.") => {
                d.lib().is_some_and(|dl| PH_LIBS.contains(&dl))
            }
            Some(l) => d.lib().and_then(|dl| dl.strip_prefix("lib:")) == Some(l),
        };
        self.def(&tag)
            .filter(in_lib)
            .or_else(|| self.def(&conjunct).filter(in_lib))
    }
}
