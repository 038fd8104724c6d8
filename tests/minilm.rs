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

/// Deterministic pseudo-random weights.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.4
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

const VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "rust", "search", "engine", "fast", "##er", "the", "a",
    "cargo", "test", "fails", ",", ".", "!", "why", "does", "my", "index", "crash",
];

/// Writes a tiny random BERT (hidden 32, 4 heads, 2 layers) with a real
/// WordPiece tokenizer.json, and returns its tensors for the reference.
fn tiny_bert(dir: &Path) -> std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let (h, f, layers, maxpos) = (32usize, 64usize, 2usize, 64usize);
    let vocab: serde_json::Map<String, serde_json::Value> =
        VOCAB.iter().enumerate().map(|(i, t)| (t.to_string(), serde_json::json!(i))).collect();
    let special = |t: &str, id: usize| serde_json::json!({"id": id, "content": t, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true});
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special("[PAD]", 0), special("[UNK]", 1), special("[CLS]", 2), special("[SEP]", 3)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let config = serde_json::json!({"vocab_size": VOCAB.len(), "hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": 4,
        "intermediate_size": f, "max_position_embeddings": maxpos, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut rng = Lcg(7);
    let mut t: std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)> = Default::default();
    let mut put = |name: String, shape: Vec<usize>, rng: &mut Lcg| {
        let n = shape.iter().product();
        let mut v = rng.vec(n);
        if name.ends_with("LayerNorm.weight") {
            v.iter_mut().for_each(|x| *x += 1.0);
        }
        t.insert(name, (shape, v));
    };
    put("embeddings.word_embeddings.weight".into(), vec![VOCAB.len(), h], &mut rng);
    put("embeddings.position_embeddings.weight".into(), vec![maxpos, h], &mut rng);
    put("embeddings.token_type_embeddings.weight".into(), vec![2, h], &mut rng);
    put("embeddings.LayerNorm.weight".into(), vec![h], &mut rng);
    put("embeddings.LayerNorm.bias".into(), vec![h], &mut rng);
    for l in 0..layers {
        let p = format!("encoder.layer.{l}");
        for m in ["query", "key", "value"] {
            put(format!("{p}.attention.self.{m}.weight"), vec![h, h], &mut rng);
            put(format!("{p}.attention.self.{m}.bias"), vec![h], &mut rng);
        }
        put(format!("{p}.attention.output.dense.weight"), vec![h, h], &mut rng);
        put(format!("{p}.attention.output.dense.bias"), vec![h], &mut rng);
        put(format!("{p}.attention.output.LayerNorm.weight"), vec![h], &mut rng);
        put(format!("{p}.attention.output.LayerNorm.bias"), vec![h], &mut rng);
        put(format!("{p}.intermediate.dense.weight"), vec![f, h], &mut rng);
        put(format!("{p}.intermediate.dense.bias"), vec![f], &mut rng);
        put(format!("{p}.output.dense.weight"), vec![h, f], &mut rng);
        put(format!("{p}.output.dense.bias"), vec![h], &mut rng);
        put(format!("{p}.output.LayerNorm.weight"), vec![h], &mut rng);
        put(format!("{p}.output.LayerNorm.bias"), vec![h], &mut rng);
    }
    // safetensors: u64 header length, JSON header, little-endian f32 data.
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, (shape, v)) in &t {
        let start = data.len();
        data.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut hjson = serde_json::Value::Object(header).to_string().into_bytes();
    while !hjson.len().is_multiple_of(8) {
        hjson.push(b' ');
    }
    let mut file = (hjson.len() as u64).to_le_bytes().to_vec();
    file.extend(hjson);
    file.extend(data);
    std::fs::write(dir.join("model.safetensors"), file).unwrap();
    t
}

/// A straightforward f64 BERT encoder for one sequence (no packing, no
/// strides), the yardstick for the optimized forward pass.
fn reference_embed(t: &std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>, ids: &[u32]) -> Vec<f64> {
    let (h, heads, layers) = (32usize, 4usize, 2usize);
    let dh = h / heads;
    let w = |n: &str| -> Vec<f64> { t[n].1.iter().map(|&x| f64::from(x)).collect() };
    let ln = |x: &mut [f64], g: &[f64], b: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        for i in 0..x.len() {
            x[i] = (x[i] - mean) / (var + 1e-12).sqrt() * g[i] + b[i];
        }
    };
    let linear = |x: &[f64], wt: &[f64], b: &[f64], out_dim: usize| -> Vec<f64> {
        let in_dim = x.len();
        (0..out_dim).map(|o| b[o] + (0..in_dim).map(|i| x[i] * wt[o * in_dim + i]).sum::<f64>()).collect()
    };
    let erf = |x: f64| {
        // Abramowitz–Stegun 7.1.26 is too coarse; use the series/continued fraction split.
        let mut sum = 0.0;
        let mut term = x;
        let mut k = 0.0;
        while term.abs() > 1e-17 && k < 200.0 {
            sum += term / (2.0 * k + 1.0);
            k += 1.0;
            term *= -x * x / k;
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    };
    let (we, pe, te) = (
        w("embeddings.word_embeddings.weight"),
        w("embeddings.position_embeddings.weight"),
        w("embeddings.token_type_embeddings.weight"),
    );
    let mut x: Vec<Vec<f64>> = ids
        .iter()
        .enumerate()
        .map(|(p, &id)| {
            let id = id as usize;
            let mut r: Vec<f64> = (0..h).map(|j| we[id * h + j] + pe[p * h + j] + te[j]).collect();
            ln(&mut r, &w("embeddings.LayerNorm.weight"), &w("embeddings.LayerNorm.bias"));
            r
        })
        .collect();
    for l in 0..layers {
        let p = format!("encoder.layer.{l}");
        let proj = |m: &str, x: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            x.iter()
                .map(|r| {
                    linear(
                        r,
                        &w(&format!("{p}.attention.self.{m}.weight")),
                        &w(&format!("{p}.attention.self.{m}.bias")),
                        h,
                    )
                })
                .collect()
        };
        let (q, k, v) = (proj("query", &x), proj("key", &x), proj("value", &x));
        let n = x.len();
        let mut ctx = vec![vec![0.0; h]; n];
        for hd in 0..heads {
            for i in 0..n {
                let scores: Vec<f64> = (0..n)
                    .map(|j| (0..dh).map(|d| q[i][hd * dh + d] * k[j][hd * dh + d]).sum::<f64>() / (dh as f64).sqrt())
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for d in 0..dh {
                    ctx[i][hd * dh + d] = (0..n).map(|j| e[j] / z * v[j][hd * dh + d]).sum();
                }
            }
        }
        for i in 0..n {
            let a = linear(
                &ctx[i],
                &w(&format!("{p}.attention.output.dense.weight")),
                &w(&format!("{p}.attention.output.dense.bias")),
                h,
            );
            let mut r: Vec<f64> = (0..h).map(|j| x[i][j] + a[j]).collect();
            ln(
                &mut r,
                &w(&format!("{p}.attention.output.LayerNorm.weight")),
                &w(&format!("{p}.attention.output.LayerNorm.bias")),
            );
            let up: Vec<f64> = linear(
                &r,
                &w(&format!("{p}.intermediate.dense.weight")),
                &w(&format!("{p}.intermediate.dense.bias")),
                64,
            )
            .into_iter()
            .map(|z| 0.5 * z * (1.0 + erf(z / std::f64::consts::SQRT_2)))
            .collect();
            let down = linear(&up, &w(&format!("{p}.output.dense.weight")), &w(&format!("{p}.output.dense.bias")), h);
            let mut o: Vec<f64> = (0..h).map(|j| r[j] + down[j]).collect();
            ln(&mut o, &w(&format!("{p}.output.LayerNorm.weight")), &w(&format!("{p}.output.LayerNorm.bias")));
            x[i] = o;
        }
    }
    let mut pooled: Vec<f64> = (0..h).map(|j| x.iter().map(|r| r[j]).sum::<f64>() / x.len() as f64).collect();
    let norm = pooled.iter().map(|v| v * v).sum::<f64>().sqrt();
    pooled.iter_mut().for_each(|v| *v /= norm);
    pooled
}

#[test]
fn a_tiny_random_bert_loads_and_matches_a_plain_reference() {
    let dir = tempfile::tempdir().unwrap();
    let tensors = tiny_bert(dir.path());
    let model = MiniLm::load(dir.path(), "tiny", Some(2)).unwrap();
    assert_eq!((model.dims(), model.id()), (32, "bert-32"));
    let texts =
        ["Hello, world!", "why does my index crash", "the faster search engine", "cargo test fails.", "zzz unknown"];
    let seqs = model.tokenize(&texts).unwrap();
    assert_eq!(seqs[0], [2, 4, 16, 5, 18, 3], "[CLS] hello , world ! [SEP]");
    assert!(seqs[2].contains(&10), "WordPiece splits faster into fast ##er: {:?}", seqs[2]);
    assert!(seqs[4].contains(&1), "unknown words map to [UNK]");
    let mut got = Vec::new();
    model.embed(&texts, &mut got).unwrap();
    for (i, ids) in seqs.iter().enumerate() {
        let want = reference_embed(&tensors, ids);
        for (j, w) in want.iter().enumerate() {
            let g = f64::from(got[i * 32 + j]);
            assert!((g - w).abs() < 2e-5, "text {i} dim {j}: {g} vs {w}");
        }
    }
    // A missing weight file is a clear error, not a panic.
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = MiniLm::load(dir.path(), "tiny", Some(1)).err().expect("must fail");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn stage_times_cover_every_batch_and_start_over_when_taken() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert(dir.path());
    let model = MiniLm::load(dir.path(), "tiny", Some(2)).unwrap();
    let seqs = model.tokenize(&["Hello, world!", "why does my index crash"]).unwrap();
    model.embed_tokens(&seqs);
    model.embed_tokens(&seqs);
    model.embed_tokens(&[]);
    let t = model.take_stage_times();
    assert_eq!(t.batches, 2, "an empty batch runs no stage");
    let stages = [
        ("qkv", t.qkv),
        ("attention", t.attention),
        ("out", t.out),
        ("ffn", t.ffn),
        ("gelu", t.gelu),
        ("layer norm", t.layer_norm),
        ("embeddings and pooling", t.embed_pool),
    ];
    for (name, d) in stages {
        assert!(d > std::time::Duration::ZERO, "{name} was not timed");
    }
    let t = model.take_stage_times();
    assert_eq!((t.batches, t.ffn), (0, std::time::Duration::ZERO));
}
