//! Helpers shared by the integration tests.

pub mod libhaystack_data;
