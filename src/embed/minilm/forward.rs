//! The BERT encoder forward pass, for sentence embeddings.
//!
//! Sequences are packed, not padded: the tokens of every sequence in a
//! batch are rows of one `[tokens × hidden]` matrix, so the dense layers
//! (≈ 90 % of the FLOPs) run as a few large GEMMs over real tokens only, and
//! attention runs per (sequence, head) on exactly that sequence's rows. No
//! mask is needed because no row is padding, and a batch of one long and
//! thirty-one short inputs costs what those inputs cost, not 32 × the long one.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::attention::{Head, attend};
use super::math::{Dst, SharedMut, add_layer_norm, bias_gelu, dense, matmul, prefetch, transposed};
use super::panels;
use super::weights::{Dense, Weights};

/// The activation buffers of a forward pass, kept between batches: fresh
/// allocations of this size come from `mmap`, and faulting in and zeroing
/// their pages was 4 % of a long-input embedding.
#[derive(Default)]
pub struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    up: Vec<f32>,
    times: StageTimes,
}

impl Scratch {
    /// The stage times summed since the last call.
    pub fn take_times(&mut self) -> StageTimes {
        std::mem::take(&mut self.times)
    }
}

/// Wall time per stage of the forward pass, summed over batches: where a
/// batch's time goes, measured in the run itself. Profiler sample shares
/// only approximate this (they include whatever else the process does),
/// and per-stage GFLOP/s needs the time, not a share.
#[derive(Debug, Default, Clone, Copy)]
pub struct StageTimes {
    /// Forward passes (batches) the times are summed over.
    pub batches: u32,
    /// Embedding lookup and its layer norm, and the final mean pooling.
    pub embed_pool: Duration,
    /// The QKV projection.
    pub qkv: Duration,
    /// Scaled dot-product attention per sequence and head, QKV bias included.
    pub attention: Duration,
    /// The attention output projection.
    pub out: Duration,
    /// The two feed-forward projections.
    pub ffn: Duration,
    /// Bias and GELU over the feed-forward activations.
    pub gelu: Duration,
    /// Both residual layer norms of every layer.
    pub layer_norm: Duration,
}

/// Charges the time since its last lap to a stage.
struct Clock(Instant);

impl Clock {
    fn lap(&mut self, stage: &mut Duration) {
        let now = Instant::now();
        *stage += now - self.0;
        self.0 = now;
    }
}

/// `len` floats of a reused buffer, starting on a cache line, grown if it
/// is shorter, without clearing what it holds: every element the caller
/// reads it has written first. Never shrunk, so alternating sizes do not
/// re-zero the tail each time it grows back.
///
/// The cache-line start matters because glibc puts a large allocation 16
/// bytes into its mapping. Every 64-byte vector of a pass then spans two
/// lines, and attention reads each head's 128-byte slice of a q, k or v row
/// as three lines instead of two, from L3, and writes its context rows the
/// same way. On 256-token inputs at batch 32, attention went from
/// 96.5–100.0 to 88.6–90.6 ms a batch (3 alternating runs).
pub(super) fn sized(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    let padded = len + LINE_FLOATS;
    if buf.len() < padded {
        // A fresh allocation instead of growing in place: the old contents
        // need not survive, and the new pages get their hint before the
        // zeroing faults them in.
        let mut fresh = Vec::with_capacity(padded);
        advise_huge_pages(fresh.as_mut_ptr(), padded);
        fresh.resize(padded, 0.0);
        *buf = fresh;
    }
    // An f32 is 4-aligned, so the next line is at most 15 floats on.
    const LINE: usize = LINE_FLOATS * std::mem::size_of::<f32>();
    let skip = (LINE - buf.as_ptr() as usize % LINE) % LINE / std::mem::size_of::<f32>();
    &mut buf[skip..skip + len]
}

/// Floats in a 64-byte cache line.
const LINE_FLOATS: usize = 16;

/// Asks Linux to back a large buffer with 2 MiB pages. With transparent
/// huge pages in `madvise` mode (a common default, and this machine's) a
/// process gets them only where it asks. The passes over the activations
/// stream through tens of MB, and with 4 KiB pages every 4 KiB is a TLB
/// miss, under virtualization a two-level page walk. On 256-token inputs
/// at batch 32: GELU 15.6 → 14.1 ms a batch, layer norm 11.9 → 11.2, the
/// whole batch 1.6 % faster (medians of 7 alternating runs).
/// Advice only: it never changes what the memory holds, and a kernel
/// without huge pages ignores it.
fn advise_huge_pages(ptr: *mut f32, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE_PAGE: usize = 2 << 20;
        const PAGE: usize = 4096;
        let bytes = len * std::mem::size_of::<f32>();
        if bytes < HUGE_PAGE {
            return;
        }
        // madvise takes whole pages: the ones inside the allocation.
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + bytes) / PAGE * PAGE;
        // SAFETY: [start, end) lies inside the allocation behind `ptr`, which
        // this process owns; the advice affects only how its pages are
        // backed. A failure (no transparent huge pages) is harmless.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

/// Embeds token-id sequences: mean-pooled over each sequence's tokens and
/// L2-normalized. Returns `seqs.len() × hidden` floats.
pub fn embed(w: &Weights, seqs: &[Vec<u32>], threads: usize, scratch: &mut Scratch) -> Vec<f32> {
    let mut clock = Clock(Instant::now());
    let cfg = &w.config;
    let h = cfg.hidden_size;
    let f = cfg.intermediate_size;
    let heads = cfg.num_attention_heads;
    let dh = h / heads;
    let eps = cfg.layer_norm_eps;
    let starts: Vec<usize> = seqs
        .iter()
        .scan(0usize, |acc, s| {
            let start = *acc;
            *acc += s.len();
            Some(start)
        })
        .collect();
    let total: usize = seqs.iter().map(Vec::len).sum();
    let mut out = vec![0f32; seqs.len() * h];
    if total == 0 {
        return out;
    }
    // Embeddings: word + position + token type 0, then layer norm.
    let tokens: Vec<(u32, usize)> =
        seqs.iter().flat_map(|s| s.iter().enumerate().map(|(pos, &id)| (id, pos))).collect();
    let Scratch { x, qkv, ctx, up, times } = scratch;
    times.batches += 1;
    let x = sized(x, total * h);
    x.par_chunks_mut(h).zip(tokens.par_iter()).for_each(|(row, &(id, pos))| {
        let id = (id as usize).min(cfg.vocab_size - 1);
        let pos = pos.min(cfg.max_position_embeddings - 1);
        let word = &w.word[id * h..(id + 1) * h];
        let p = &w.position[pos * h..(pos + 1) * h];
        for j in 0..h {
            row[j] = word[j] + p[j] + w.token_type0[j];
        }
        add_layer_norm(row, None, &w.emb_ln_g, &w.emb_ln_b, eps);
    });
    clock.lap(&mut times.embed_pool);

    let qkv = sized(qkv, total * 3 * h);
    let ctx = sized(ctx, total * h);
    let up = sized(up, total * f);
    let tasks: Vec<(usize, usize)> = (0..seqs.len()).flat_map(|s| (0..heads).map(move |hd| (s, hd))).collect();

    for layer in &w.layers {
        // The QKV bias is added inside attention, where q, k and v are
        // read anyway, not in a pass of its own over this matrix.
        linear(x, h, &layer.qkv_w, qkv, 3 * h, Dst::Overwrite, threads);
        clock.lap(&mut times.qkv);

        let qkv_ptr = qkv.as_ptr() as usize;
        let ctx_ptr = SharedMut(ctx.as_mut_ptr());
        tasks.par_iter().for_each(|&(s, hd)| {
            let head = Head {
                q: (qkv_ptr as *const f32).wrapping_add(starts[s] * 3 * h + hd * dh),
                bias: &layer.qkv_b[hd * dh..],
                stride: 3 * h,
                hidden: h,
                len: seqs[s].len(),
                dh,
            };
            // SAFETY: the head addresses `len` rows of this sequence and `dh`
            // columns of this head inside `qkv`; the output block (this
            // sequence's rows, this head's columns of `ctx`) is written by
            // this task alone.
            unsafe { attend(&head, ctx_ptr.get().add(starts[s] * h + hd * dh), h) };
        });

        clock.lap(&mut times.attention);
        // The residual connections are summed by the GEMMs into `x`.
        linear(ctx, h, &layer.out_w, x, h, Dst::Accumulate, threads);
        clock.lap(&mut times.out);
        bias_layer_norm(x, &layer.out_b, &layer.ln1_g, &layer.ln1_b, eps);
        clock.lap(&mut times.layer_norm);

        linear(x, h, &layer.up_w, up, f, Dst::Overwrite, threads);
        clock.lap(&mut times.ffn);
        up.par_chunks_mut(f).for_each(|row| bias_gelu(row, &layer.up_b));
        clock.lap(&mut times.gelu);

        linear(up, f, &layer.down_w, x, h, Dst::Accumulate, threads);
        clock.lap(&mut times.ffn);
        bias_layer_norm(x, &layer.down_b, &layer.ln2_g, &layer.ln2_b, eps);
        clock.lap(&mut times.layer_norm);
    }

    // Mean pooling over each sequence's tokens, then L2 normalization.
    out.par_chunks_mut(h).enumerate().for_each(|(s, o)| {
        let len = seqs[s].len();
        if len == 0 {
            return;
        }
        for row in x[starts[s] * h..(starts[s] + len) * h].chunks_exact(h) {
            for (a, b) in o.iter_mut().zip(row) {
                *a += b;
            }
        }
        for a in o.iter_mut() {
            *a /= len as f32;
        }
        crate::embed::l2_normalize(o);
    });
    clock.lap(&mut times.embed_pool);
    out
}

/// `out[rows × out_dim] = input[rows × in_dim] · weightᵀ` (or `+=`), with
/// `weight` `[out_dim × in_dim]`: a safe, size-checked product on the
/// `gemm` crate or the panel kernel, as the weight's layout says.
fn linear(input: &[f32], in_dim: usize, weight: &Dense, out: &mut [f32], out_dim: usize, dst: Dst, threads: usize) {
    let rows = input.len() / in_dim;
    assert_eq!(input.len(), rows * in_dim);
    assert_eq!(out.len(), rows * out_dim);
    match weight {
        Dense::Rows(weight) => {
            assert_eq!(weight.len(), out_dim * in_dim);
            // SAFETY: the three slices were just checked to hold exactly the
            // elements the views address, and `out` is borrowed mutably.
            unsafe {
                matmul(
                    rows,
                    in_dim,
                    out_dim,
                    dense(input.as_ptr(), in_dim),
                    transposed(weight.as_ptr(), in_dim),
                    out.as_mut_ptr(),
                    out_dim,
                    dst,
                    threads,
                )
            };
        }
        Dense::Panels(weight) => {
            assert_eq!((weight.out(), weight.inp()), (out_dim, in_dim));
            // SAFETY: as above; panels exist only where the CPU has AVX2 and FMA.
            unsafe { panels::matmul(rows, input.as_ptr(), in_dim, weight, out.as_mut_ptr(), out_dim, dst, threads) };
        }
    }
}

/// Rows ahead that the layer-norm pass prefetches (3 rows of 384 floats:
/// 4.5 KiB ahead).
const LN_AHEAD: usize = 3;

/// `x = layer_norm(x + bias)`, row by row: the step that closes both the
/// attention and the feed-forward block, once the GEMM has added the
/// block's output to the residual `x`.
fn bias_layer_norm(x: &mut [f32], bias: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let h = gamma.len();
    x.par_chunks_mut(h).for_each(|xr| {
        prefetch(xr.as_ptr().wrapping_add(LN_AHEAD * h), h);
        add_layer_norm(xr, Some(bias), gamma, beta, eps);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `AnonHugePages` of the mapping in `/proc/self/smaps` that holds `addr`, in kB.
    #[cfg(target_os = "linux")]
    fn huge_kb_at(addr: usize) -> Option<u64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = first.split_once('-')
                && let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&addr);
            } else if inside && let Some(kb) = line.strip_prefix("AnonHugePages:") {
                return kb.trim().trim_end_matches("kB").trim().parse().ok();
            }
        }
        None
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn large_buffers_are_backed_by_huge_pages_where_the_kernel_asks_for_advice() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
        if !mode.contains("[madvise]") {
            return; // "always" gives them unasked, "never" not at all: nothing to tell apart
        }
        // 64 MB: above glibc's largest mmap threshold, so a mapping of its own.
        let mut buf = Vec::new();
        let len = 16 << 20;
        let addr = sized(&mut buf, len).as_ptr() as usize + len * 2;
        let kb = huge_kb_at(addr).expect("the buffer's mapping is in smaps");
        assert!(kb >= 2048, "a 64 MB activation buffer has {kb} kB in huge pages");
    }

    #[test]
    fn sized_grows_and_never_shrinks() {
        let mut buf = Vec::new();
        sized(&mut buf, 10).fill(1.0);
        assert_eq!(sized(&mut buf, 4).len(), 4);
        assert_eq!(buf.len(), 10 + LINE_FLOATS);
        assert_eq!(sized(&mut buf, 1000).len(), 1000);
    }

    #[test]
    fn sized_starts_on_a_cache_line_whatever_the_allocator_returns() {
        // Small and large requests (the large ones come from mmap, where
        // glibc's header puts the data 16 bytes into the mapping).
        for len in [1, 17, 1000, 300_000, 5 << 20] {
            let mut buf = Vec::new();
            let s = sized(&mut buf, len);
            assert_eq!(s.len(), len);
            assert_eq!(s.as_ptr() as usize % 64, 0, "{len} floats start at {:p}", s.as_ptr());
        }
    }
}
