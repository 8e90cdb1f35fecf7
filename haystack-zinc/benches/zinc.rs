//! Zinc decode and encode throughput, side by side with libhaystack.

fn main() {}
