//! Quality-tier embedder speed: sentences/s on ~70-token and 256-token
//! inputs at batch 32 and 128, achieved GFLOP/s against the CPU's FMA peak,
//! and — when `CASS_BENCH_PYTHON` names a Python with sentence-transformers
//! — the reference implementation on the same inputs, back to back.
//!
//! `CASS_BENCH_PYTHON=/opt/pyref/bin/python cargo bench --bench minilm`
//! (needs ../shared/models; `CASS_BENCH_REPS` runs per point, default 3;
//! `CASS_BENCH_ONLY=long:32` measures just the points whose `file:batch`
//! contains that text, e.g. `short`, `long:128`). Under each point, the
//! forward pass's wall time per stage and batch, with the GFLOP/s of the
//! stages that are mostly FMAs; "rest" is the tokenizer and the gaps.
//!
//! With `CASS_EMBED_ISA=avx2` (cass's run-time switch) or built with
//! `--no-default-features` (no `avx512` feature), cass runs its AVX2+FMA
//! kernels even on an AVX-512 CPU, and the bench holds torch to
//! AVX2 as well (`ATEN_CPU_CAPABILITY`, `MKL_ENABLE_INSTRUCTIONS`,
//! `ONEDNN_MAX_CPU_ISA`), so the side-by-side is that of an AVX2 machine.
//! Each side's instruction set is printed.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cass::embed::minilm::{MiniLm, kernel_isa, limit_isa};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The machine's FMA throughput, measured: each thread runs independent
/// chains of FMAs (enough to cover the latency on two pipes) for about half
/// a second, 256 bits wide and, where the CPU has AVX-512F, 512 bits wide;
/// the best of three rounds is the peak (a neighbour's burst during a
/// single round once put it 30 % low, and every share above 100 %).
/// Nominal clock × width is no use: the CPU boosts well past the `cpu MHz`
/// that /proc/cpuinfo reports, and whether a 512-bit FMA does twice the
/// work of a 256-bit one depends on the core (Zen 4 splits it over two
/// 256-bit pipes; Intel server cores have two 512-bit FMA units). 512 bits
/// only where cass's kernels use AVX-512: the peak of the code that runs.
fn fma_peak(threads: usize) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return f64::NAN;
        }
        #[target_feature(enable = "avx2,fma")]
        fn chains256(iters: usize) -> f32 {
            let mut acc = [_mm256_set1_ps(0.0); 12];
            let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
            for _ in 0..iters {
                for v in acc.iter_mut() {
                    *v = _mm256_fmadd_ps(*v, a, b);
                }
            }
            let mut out = [0f32; 8];
            let sum = acc.iter().fold(_mm256_setzero_ps(), |s, v| _mm256_add_ps(s, *v));
            // SAFETY: `out` holds 8 floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
            out.iter().sum()
        }
        #[target_feature(enable = "avx512f")]
        fn chains512(iters: usize) -> f32 {
            let mut acc = [_mm512_set1_ps(0.0); 12];
            let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
            for _ in 0..iters {
                for v in acc.iter_mut() {
                    *v = _mm512_fmadd_ps(*v, a, b);
                }
            }
            let sum = acc.iter().fold(_mm512_setzero_ps(), |s, v| _mm512_add_ps(s, *v));
            _mm512_reduce_add_ps(sum)
        }
        let timed = |lanes: usize, run: fn(usize) -> f32| {
            let iters = 100_000_000 * 8 / lanes;
            let t = Instant::now();
            let handles: Vec<_> = (0..threads).map(|_| std::thread::spawn(move || run(iters))).collect();
            for h in handles {
                std::hint::black_box(h.join().unwrap());
            }
            (threads * iters * 12 * lanes * 2) as f64 / t.elapsed().as_secs_f64() / 1e9
        };
        let mut peak = 0f64;
        for _ in 0..3 {
            // SAFETY (both closures): the features were detected first.
            peak = peak.max(timed(8, |n| unsafe { chains256(n) }));
            if kernel_isa() == "AVX-512" {
                peak = peak.max(timed(16, |n| unsafe { chains512(n) }));
            }
        }
        peak
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = threads;
        f64::NAN
    }
}

/// What holds torch to AVX2 when cass's kernels run AVX2: ATen's own
/// kernels, MKL's BLAS and oneDNN each dispatch on the CPU by themselves.
fn torch_isa_env() -> &'static [(&'static str, &'static str)] {
    if kernel_isa() == "AVX-512" {
        &[]
    } else {
        &[("ATEN_CPU_CAPABILITY", "avx2"), ("MKL_ENABLE_INSTRUCTIONS", "AVX2"), ("ONEDNN_MAX_CPU_ISA", "AVX2")]
    }
}

/// The instruction sets torch runs under that environment: ATen's own
/// kernels' (as torch reports them) and MKL's (from MKL's verbose banner,
/// printed at its first GEMM), or why they could not be asked.
fn torch_isa(py: &str) -> String {
    let script = "import torch; torch.ones(64, 64) @ torch.ones(64, 64); \
                  print('ATen', torch.backends.cpu.get_cpu_capability())";
    let out =
        Command::new(py).args(["-c", script]).envs(torch_isa_env().iter().copied()).env("MKL_VERBOSE", "1").output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let aten = text.lines().find_map(|l| l.strip_prefix("ATen ")).unwrap_or("?");
            let banner = text.lines().find(|l| l.starts_with("MKL_VERBOSE oneMKL")).unwrap_or("");
            let mkl = ["AVX-512", "AVX2"].into_iter().find(|isa| banner.contains(isa)).unwrap_or("?");
            format!("ATen {aten}, MKL {mkl}")
        }
        Ok(o) => format!("unknown ({})", String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => format!("unknown ({e})"),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models");
    if !models.join("all-MiniLM-L6-v2/model.safetensors").exists() {
        println!("../shared/models is not present: nothing to measure");
        return;
    }
    let only = std::env::var("CASS_BENCH_ONLY").ok();
    let reps: usize = std::env::var("CASS_BENCH_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    // cass's own switch, as `cass` reads it: `CASS_EMBED_ISA=avx2` runs the
    // AVX2 kernels of an AVX-512 build, as on a CPU without AVX-512.
    if let Ok(v) = std::env::var("CASS_EMBED_ISA") {
        limit_isa(v.parse().expect("CASS_EMBED_ISA")).expect("before the model loads");
    }
    let model = MiniLm::load(&models.join("all-MiniLM-L6-v2"), "bench", None).expect("load model");
    let cores = model.threads();
    let peak = fma_peak(cores);
    println!(
        "cass MiniLM: {cores} threads, {} kernels; measured FMA peak {peak:.0} GFLOP/s ({cores} threads of independent FMA chains, as wide as the kernels)",
        kernel_isa()
    );
    if let Ok(py) = std::env::var("CASS_BENCH_PYTHON") {
        let env: Vec<String> = torch_isa_env().iter().map(|(k, v)| format!("{k}={v}")).collect();
        let env = if env.is_empty() { "as the CPU has it".to_string() } else { env.join(" ") };
        println!("torch: {} (environment: {env})", torch_isa(&py));
    }
    let cfg = model.config().clone();
    let (h, f, layers) = (cfg.hidden_size as f64, cfg.intermediate_size as f64, cfg.num_hidden_layers as f64);
    for file in ["short.json", "long.json"] {
        let texts: Vec<String> =
            serde_json::from_slice(&std::fs::read(models.join("bench").join(file)).unwrap()).unwrap();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let seqs = model.tokenize(&refs).unwrap();
        let tokens: usize = seqs.iter().map(Vec::len).sum();
        // The FLOPs of the qkv, attention, output and feed-forward stages,
        // and of the whole pass.
        let stage_flops = seqs.iter().fold([0f64; 4], |acc, s| {
            let l = s.len() as f64;
            let add = [6.0 * l * h * h, 4.0 * l * l * h, 2.0 * l * h * h, 4.0 * l * h * f];
            std::array::from_fn(|i| acc[i] + layers * add[i])
        });
        let flops: f64 = stage_flops.iter().sum();
        for bs in [32usize, 128] {
            if only.as_deref().is_some_and(|o| !format!("{}:{bs}", file.trim_end_matches(".json")).contains(o)) {
                continue;
            }
            let mut times = Vec::new();
            let _ = model.tokenize(&refs[..bs]).map(|s| model.embed_tokens(&s)); // warm-up
            model.take_stage_times();
            for _ in 0..reps {
                let t = Instant::now();
                for chunk in refs.chunks(bs) {
                    let s = model.tokenize(chunk).unwrap();
                    std::hint::black_box(model.embed_tokens(&s));
                }
                times.push(t.elapsed().as_secs_f64());
            }
            let total: f64 = times.iter().sum();
            let dt = median(times);
            println!(
                "cass   {file:<10} batch {bs:>3}: {:>6.1} sentences/s ({} inputs, {:.0} tokens avg, median of {reps}), {:.0} GFLOP/s = {:.0}% of the measured FMA peak",
                refs.len() as f64 / dt,
                refs.len(),
                tokens as f64 / refs.len() as f64,
                flops / dt / 1e9,
                flops / dt / 1e9 / peak * 100.0
            );
            let st = model.take_stage_times();
            let per_batch = |d: std::time::Duration| d.as_secs_f64() * 1e3 / f64::from(st.batches);
            let rate = |d: std::time::Duration, fl: f64| fl * reps as f64 / d.as_secs_f64() / 1e9;
            let staged = [st.embed_pool, st.qkv, st.attention, st.out, st.ffn, st.gelu, st.layer_norm];
            let rest = total * 1e3 / f64::from(st.batches) - staged.iter().map(|&d| per_batch(d)).sum::<f64>();
            println!(
                "       per batch: qkv {:.1} ms ({:.0} GFLOP/s), attention {:.1} ms ({:.0}), out {:.1} ms ({:.0}), feed-forward {:.1} ms ({:.0}), gelu {:.1} ms, layer norm {:.1} ms, embeddings+pooling {:.1} ms, rest {:.1} ms",
                per_batch(st.qkv),
                rate(st.qkv, stage_flops[0]),
                per_batch(st.attention),
                rate(st.attention, stage_flops[1]),
                per_batch(st.out),
                rate(st.out, stage_flops[2]),
                per_batch(st.ffn),
                rate(st.ffn, stage_flops[3]),
                per_batch(st.gelu),
                per_batch(st.layer_norm),
                per_batch(st.embed_pool),
                rest
            );
            if let Ok(py) = std::env::var("CASS_BENCH_PYTHON") {
                let mut rates = Vec::new();
                for _ in 0..reps {
                    let out = Command::new(&py)
                        .arg(models.join("bench/reference_speed.py"))
                        .arg(models.join("all-MiniLM-L6-v2"))
                        .arg(models.join("bench").join(file))
                        .arg(bs.to_string())
                        .env("THREADS", cores.to_string())
                        .env("HF_HUB_OFFLINE", "1")
                        .envs(torch_isa_env().iter().copied())
                        .output()
                        .expect("run python");
                    let text = String::from_utf8_lossy(&out.stdout);
                    if let Some(rate) = text
                        .split(", ")
                        .find_map(|p| p.strip_suffix(" sentences/s"))
                        .and_then(|r| r.parse::<f64>().ok())
                    {
                        rates.push(rate);
                    } else {
                        eprintln!("python failed: {}", String::from_utf8_lossy(&out.stderr));
                        break;
                    }
                }
                if !rates.is_empty() {
                    let py_rate = median(rates);
                    println!(
                        "python {file:<10} batch {bs:>3}: {py_rate:>6.1} sentences/s (sentence-transformers, torch threads {cores}); cass/python = {:.2}×",
                        refs.len() as f64 / dt / py_rate
                    );
                }
            }
        }
    }
}
