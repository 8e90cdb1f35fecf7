//! Haystack JSON: v4 ("Hayson") and v3, both directions, and serde support for values.
