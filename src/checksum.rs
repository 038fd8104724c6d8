//! FNV-1a 64: the small, fast, non-cryptographic hash cass uses wherever it
//! needs to notice change or damage (file heads and tails, stored message
//! rows, the hash embedder's buckets). Not for anything an attacker chooses.

/// The FNV-1a 64 offset basis: the hash of nothing.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The FNV-1a 64 prime.
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a 64 over bytes.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_more(FNV_OFFSET, bytes)
}

/// Continues an FNV-1a 64 hash `h` over more bytes.
pub fn fnv1a64_more(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Continues each hash `hashes[i]` over its own `inputs[i]`, with the
/// values [`fnv1a64_more`] gives, four inputs at a time. One hash's
/// multiplies each wait for the one before; four independent ones overlap,
/// so long inputs hash several times as fast. The store checksums every
/// message text it writes this way, a batch at a time.
pub fn fnv1a64_more_each(hashes: &mut [u64], inputs: &[&[u8]]) {
    assert_eq!(hashes.len(), inputs.len(), "one input per hash");
    // Inputs of like length side by side: the shortest of each four sets
    // how far the four go together; the rest of each goes on alone.
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_unstable_by_key(|&i| inputs[i].len());
    for group in order.chunks(4) {
        let &[a, b, c, d] = group else {
            for &i in group {
                hashes[i] = fnv1a64_more(hashes[i], inputs[i]);
            }
            continue;
        };
        let n = inputs[a].len();
        let mut h = [hashes[a], hashes[b], hashes[c], hashes[d]];
        let lanes = inputs[a][..n].iter().zip(&inputs[b][..n]).zip(&inputs[c][..n]).zip(&inputs[d][..n]);
        for (((&x, &y), &z), &w) in lanes {
            h[0] = (h[0] ^ u64::from(x)).wrapping_mul(FNV_PRIME);
            h[1] = (h[1] ^ u64::from(y)).wrapping_mul(FNV_PRIME);
            h[2] = (h[2] ^ u64::from(z)).wrapping_mul(FNV_PRIME);
            h[3] = (h[3] ^ u64::from(w)).wrapping_mul(FNV_PRIME);
        }
        for (lane, &i) in group.iter().enumerate() {
            hashes[i] = fnv1a64_more(h[lane], &inputs[i][n..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_four_at_a_time_gives_what_one_at_a_time_gives() {
        // Lengths that tie, differ by one, and leave groups short of four.
        for count in [0, 1, 3, 4, 5, 8, 13] {
            let inputs: Vec<Vec<u8>> = (0..count)
                .map(|i: usize| (0..(i * 37) % 11 + i / 3).map(|k| (k * 31 + i * 7) as u8).collect())
                .collect();
            let inputs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
            let starts: Vec<u64> = (0..count as u64).map(|i| FNV_OFFSET ^ i.wrapping_mul(0x9e37_79b9)).collect();
            let mut each = starts.clone();
            fnv1a64_more_each(&mut each, &inputs);
            let one: Vec<u64> = starts.iter().zip(&inputs).map(|(&h, b)| fnv1a64_more(h, b)).collect();
            assert_eq!(each, one, "{count} inputs");
        }
    }
}
