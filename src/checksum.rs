//! FNV-1a 64: the small, fast, non-cryptographic hash cass uses wherever it
//! needs to notice change or damage (file heads and tails, stored message
//! rows, the hash embedder's buckets). Not for anything an attacker chooses.

/// The FNV-1a 64 offset basis: the hash of nothing.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a 64 over bytes.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_more(FNV_OFFSET, bytes)
}

/// Continues an FNV-1a 64 hash `h` over more bytes.
pub fn fnv1a64_more(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
