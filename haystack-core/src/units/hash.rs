//! The hash of the unit lookup table, shared by `build.rs` (which lays out the table) and
//! [`super::unit`] (which probes it), so both always agree.

/// FNV-1a over the bytes of `id`, starting from the offset basis mixed with `seed`.
pub(crate) fn fnv1a(seed: u64, id: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
