//! `CASS_EMBED_ISA=avx2`: the run-time switch that holds the quality
//! model's kernels to AVX2 on a CPU with AVX-512. In its own test binary,
//! because the kernels' level is chosen once per process.
#![cfg(target_arch = "x86_64")]

mod common;

use std::path::Path;

use cass::embed::Embedder;
use cass::embed::minilm::{IsaError, IsaLimit, MiniLm, kernel_isa, limit_isa};

/// What the kernels run under the AVX2 limit on this CPU.
fn avx2_or_less() -> &'static str {
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") { "AVX2+FMA" } else { "baseline" }
}

/// Whether this CPU and build would run AVX-512 kernels unheld.
fn native_is_avx512() -> bool {
    cfg!(feature = "avx512")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("avx512f")
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn held_to_avx2_the_model_runs_avx2_kernels_and_stays_faithful() {
    limit_isa(IsaLimit::Avx2).expect("nothing has embedded yet");
    assert_eq!(kernel_isa(), avx2_or_less());
    // The level is chosen: lifting the limit now would change nothing, and says so.
    match limit_isa(IsaLimit::Native) {
        Ok(()) => assert!(!native_is_avx512(), "lifting the limit after the choice must not pass silently"),
        Err(e) => {
            assert!(native_is_avx512());
            assert_eq!(e, IsaError::AlreadyChosen("AVX2+FMA"));
        }
    }
    assert_eq!(limit_isa(IsaLimit::Avx2), Ok(()), "asking again for the level that runs is fine");
    assert_eq!("AVX2".parse::<IsaLimit>(), Ok(IsaLimit::Avx2));
    assert!(matches!("avx512".parse::<IsaLimit>(), Err(IsaError::Unknown(_))));

    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models");
    if !models.join("all-MiniLM-L6-v2/model.safetensors").exists() {
        eprintln!("skipping the reference vectors: ../shared/models is not present");
        return;
    }
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("reference/minilm-384.json")).unwrap()).unwrap();
    let sentences: Vec<&str> = reference["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let model = MiniLm::load(&models.join("all-MiniLM-L6-v2"), "test", Some(2)).unwrap();
    let mut got = Vec::new();
    model.embed(&sentences, &mut got).unwrap();
    let mut worst = 1f64;
    for (i, want) in reference["vectors"].as_array().unwrap().iter().enumerate() {
        let want: Vec<f32> = want.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        worst = worst.min(cosine(&got[i * 384..(i + 1) * 384], &want));
    }
    eprintln!("{} kernels: worst cosine over {} reference sentences {worst:.7}", kernel_isa(), sentences.len());
    assert!(worst >= 0.9999, "worst cosine {worst}");
}

#[test]
fn cass_reports_the_kernels_the_switch_chose_and_refuses_an_unknown_value() {
    let sb = common::Sandbox::new();
    let kernels = |isa: Option<&str>| {
        let mut cmd = sb.cass();
        if let Some(isa) = isa {
            cmd.env("CASS_EMBED_ISA", isa);
        }
        let out = cmd.arg("capabilities").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let caps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let quality = caps["tiers"].as_array().unwrap().iter().find(|t| t["name"] == "quality").unwrap().clone();
        quality["kernels"].as_str().unwrap().to_string()
    };
    assert_eq!(kernels(Some("avx2")), avx2_or_less());
    let native = if native_is_avx512() { "AVX-512" } else { avx2_or_less() };
    assert_eq!(kernels(None), native);
    assert_eq!(kernels(Some("native")), native);

    let out = sb.cass().env("CASS_EMBED_ISA", "sse9").args(["status", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "config");
    assert!(err["error"]["message"].as_str().unwrap().contains("sse9"), "{err}");
}
