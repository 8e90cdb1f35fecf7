//! Programs that compose the workspace crates: the tour, the `haystack` CLI, the servers and a
//! connector. Shared helpers for those programs live here.

/// The README's Rust snippets, compiled as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod cart;
pub mod cli;
pub mod connector;
pub mod haystack;
pub mod serve;
pub mod store;
pub mod tscache;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
