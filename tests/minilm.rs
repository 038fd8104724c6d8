//! The quality embedder: bit-for-bit faithful to sentence-transformers on
//! the reference sentences (where ../shared/models is present), and the
//! loading and forward code exercised on a tiny random BERT anywhere.

mod common;

use std::path::{Path, PathBuf};

use cass::embed::Embedder;
use cass::embed::minilm::MiniLm;

fn shared_model() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models");
    if p.join("all-MiniLM-L6-v2/model.safetensors").exists() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/models is not present");
        None
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn matches_sentence_transformers_on_the_reference_sentences() {
    let Some(models) = shared_model() else { return };
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("reference/minilm-384.json")).unwrap()).unwrap();
    let sentences: Vec<&str> = reference["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let want: Vec<Vec<f32>> = reference["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect();
    let model = MiniLm::load(&models.join("all-MiniLM-L6-v2"), "test", Some(2)).unwrap();
    assert_eq!((model.id(), model.dims()), ("minilm-384", 384));
    // All at once (packed) and one by one must agree with the reference.
    let mut batch = Vec::new();
    model.embed(&sentences, &mut batch).unwrap();
    let mut worst = 1.0f64;
    for (i, s) in sentences.iter().enumerate() {
        let got = &batch[i * 384..(i + 1) * 384];
        let c = cosine(got, &want[i]);
        worst = worst.min(c);
        assert!(c >= 0.999, "sentence {i} {s:?}: cosine {c}");
        let mut single = Vec::new();
        model.embed(&[s], &mut single).unwrap();
        assert!(cosine(&single, got) > 0.99999, "batching changed sentence {i}");
    }
    eprintln!("worst cosine over {} reference sentences: {worst:.7}", sentences.len());
}
