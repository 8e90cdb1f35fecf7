//! Zinc scalar literals: the one reader and writer of scalars, used by filters, `Display` and `haystack-zinc`.
