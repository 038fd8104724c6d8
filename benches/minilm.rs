//! Quality-tier embedder speed: sentences/s on ~70-token and 256-token
//! inputs at batch 32 and 128, achieved GFLOP/s against the CPU's FMA peak,
//! and — when `CASS_BENCH_PYTHON` names a Python with sentence-transformers
//! — the reference implementation on the same inputs, back to back.
//!
//! `CASS_BENCH_PYTHON=/opt/pyref/bin/python cargo bench --bench minilm`
//! (needs ../shared/models; `CASS_BENCH_REPS` runs per point, default 3).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cass::embed::minilm::MiniLm;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
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
    let reps: usize = std::env::var("CASS_BENCH_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let model = MiniLm::load(&models.join("all-MiniLM-L6-v2"), "bench", None).expect("load model");
    let cores = model.threads();
    let mhz: f64 = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("cpu MHz")).and_then(|l| l.split(':').nth(1)?.trim().parse().ok())
        })
        .unwrap_or(f64::NAN);
    // 2 FMA pipes × 8 f32 lanes × 2 FLOP per cycle per core (AVX2/Zen 4 widths).
    let peak = cores as f64 * 32.0 * mhz / 1000.0;
    println!("cass MiniLM: {cores} threads, {mhz:.0} MHz, FMA peak ≈ {peak:.0} GFLOP/s");
    let cfg = model.config().clone();
    let (h, f, layers) = (cfg.hidden_size as f64, cfg.intermediate_size as f64, cfg.num_hidden_layers as f64);
    for file in ["short.json", "long.json"] {
        let texts: Vec<String> =
            serde_json::from_slice(&std::fs::read(models.join("bench").join(file)).unwrap()).unwrap();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let seqs = model.tokenize(&refs).unwrap();
        let tokens: usize = seqs.iter().map(Vec::len).sum();
        let flops: f64 = seqs
            .iter()
            .map(|s| {
                let l = s.len() as f64;
                layers * (2.0 * l * (4.0 * h * h + 2.0 * h * f) + 4.0 * l * l * h)
            })
            .sum();
        for bs in [32usize, 128] {
            let mut times = Vec::new();
            let _ = model.tokenize(&refs[..bs]).map(|s| model.embed_tokens(&s)); // warm-up
            for _ in 0..reps {
                let t = Instant::now();
                for chunk in refs.chunks(bs) {
                    let s = model.tokenize(chunk).unwrap();
                    std::hint::black_box(model.embed_tokens(&s));
                }
                times.push(t.elapsed().as_secs_f64());
            }
            let dt = median(times);
            println!(
                "cass   {file:<10} batch {bs:>3}: {:>6.1} sentences/s ({} inputs, {:.0} tokens avg, median of {reps}), {:.0} GFLOP/s = {:.0}% of peak",
                refs.len() as f64 / dt,
                refs.len(),
                tokens as f64 / refs.len() as f64,
                flops / dt / 1e9,
                flops / dt / 1e9 / peak * 100.0
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
