//! The Haystack examples' shared parts: file formats, the versioned database with its import,
//! `hisRead` ranges, the HTTP API and the sample site.

pub mod auth;
pub mod cache;
pub mod chunks;
pub mod client;
pub mod dataset;
pub mod db;
pub mod defs_ops;
pub mod formats;
pub mod his;
pub mod import;
pub mod load;
pub mod range;
pub mod request;
pub mod s3source;
pub mod sample;
pub mod server;
pub mod watches;
pub mod writes;
