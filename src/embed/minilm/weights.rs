//! BERT weights from `model.safetensors` and `config.json`.
//!
//! The file is memory-mapped and each tensor copied once into the layout
//! the forward pass wants (Q, K and V fused into one matrix; projections
//! repacked into panels where the AVX2 panel kernel runs them), so
//! inference never re-reads the file.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::super::EmbedError;
use super::panels::{self, Panels};

/// The `config.json` fields the forward pass depends on.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BertConfig {
    /// Tokens in the vocabulary: rows of the word embedding table.
    pub vocab_size: usize,
    /// Width of every hidden vector (384 for MiniLM).
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; must divide `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer's inner activations.
    pub intermediate_size: usize,
    /// Longest sequence the position table covers.
    pub max_position_embeddings: usize,
    /// Rows of the token-type table (2 when absent); only type 0 is used.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// Epsilon of every layer norm (1e-12 when absent).
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
    /// Activation of the feed-forward layer; only `gelu` is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f32 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

/// A projection's weight, `[out × in]`, in the layout its product reads.
pub enum Dense {
    /// The HF layout, row-major, for the `gemm` crate.
    Rows(Vec<f32>),
    /// Repacked for the AVX2 panel kernel, where the forward pass uses it.
    Panels(Panels),
}

impl Dense {
    /// `w` (`[out × in]`, row-major) in the layout this CPU and build read.
    fn new(w: Vec<f32>, out: usize, inp: usize) -> Dense {
        if panels::runs(out) { Dense::Panels(Panels::pack(&w, out, inp)) } else { Dense::Rows(w) }
    }
}

/// One encoder layer. Vectors are as the model file has them; projection
/// weights are [`Dense`], `[out × in]`.
pub struct Layer {
    /// Q, K and V stacked: `[3·hidden × hidden]`.
    pub qkv_w: Dense,
    /// Q, K and V biases stacked: `[3·hidden]`.
    pub qkv_b: Vec<f32>,
    /// Attention output projection: `[hidden × hidden]`.
    pub out_w: Dense,
    /// Attention output bias: `[hidden]`.
    pub out_b: Vec<f32>,
    /// Gain of the layer norm after attention.
    pub ln1_g: Vec<f32>,
    /// Bias of the layer norm after attention.
    pub ln1_b: Vec<f32>,
    /// Feed-forward up projection: `[intermediate × hidden]`.
    pub up_w: Dense,
    /// Feed-forward up bias: `[intermediate]`.
    pub up_b: Vec<f32>,
    /// Feed-forward down projection: `[hidden × intermediate]`.
    pub down_w: Dense,
    /// Feed-forward down bias: `[hidden]`.
    pub down_b: Vec<f32>,
    /// Gain of the layer norm after the feed-forward block.
    pub ln2_g: Vec<f32>,
    /// Bias of the layer norm after the feed-forward block.
    pub ln2_b: Vec<f32>,
}

/// A BERT model's weights in memory, in the layout the forward pass reads.
pub struct Weights {
    /// The model's shape.
    pub config: BertConfig,
    /// Word embeddings: `[vocab × hidden]`.
    pub word: Vec<f32>,
    /// Position embeddings: `[max positions × hidden]`.
    pub position: Vec<f32>,
    /// The token-type-0 embedding row (every input is a single segment): `[hidden]`.
    pub token_type0: Vec<f32>,
    /// Gain of the embedding layer norm.
    pub emb_ln_g: Vec<f32>,
    /// Bias of the embedding layer norm.
    pub emb_ln_b: Vec<f32>,
    /// The encoder layers, first to last.
    pub layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

fn model_err(path: &Path, message: impl Into<String>) -> EmbedError {
    EmbedError::Model { model: path.display().to_string(), message: message.into() }
}

impl Weights {
    /// Reads `config.json` and `model.safetensors` from `dir`, checking every tensor's dtype and shape.
    pub fn load(dir: &Path) -> Result<Weights, EmbedError> {
        let cfg_path = dir.join("config.json");
        let cfg_bytes = std::fs::read(&cfg_path)
            .map_err(|e| EmbedError::Missing { path: cfg_path.display().to_string(), message: e.to_string() })?;
        let config: BertConfig =
            serde_json::from_slice(&cfg_bytes).map_err(|e| model_err(&cfg_path, format!("bad config: {e}")))?;
        if config.hidden_act != "gelu" {
            return Err(model_err(&cfg_path, format!("unsupported activation {}", config.hidden_act)));
        }
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(model_err(&cfg_path, "hidden size is not a multiple of the head count"));
        }
        let path = dir.join("model.safetensors");
        let file = std::fs::File::open(&path)
            .map_err(|e| EmbedError::Missing { path: path.display().to_string(), message: e.to_string() })?;
        // SAFETY: model files are installed once and never modified in place
        // (install renames complete, verified files into the folder).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| model_err(&path, e.to_string()))?;
        if map.len() < 8 {
            return Err(model_err(&path, "not a safetensors file"));
        }
        let n = u64::from_le_bytes(map[..8].try_into().expect("8 bytes")) as usize;
        if 8 + n > map.len() {
            return Err(model_err(&path, "truncated safetensors header"));
        }
        let mut header: HashMap<String, serde_json::Value> =
            serde_json::from_slice(&map[8..8 + n]).map_err(|e| model_err(&path, format!("bad header: {e}")))?;
        header.remove("__metadata__");
        let data = &map[8 + n..];
        let tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>, EmbedError> {
            let info = header
                .get(name)
                .or_else(|| header.get(&format!("bert.{name}")))
                .ok_or_else(|| model_err(&path, format!("missing tensor {name}")))?;
            let info: TensorInfo =
                serde_json::from_value(info.clone()).map_err(|e| model_err(&path, format!("{name}: {e}")))?;
            if info.dtype != "F32" || info.shape != shape {
                return Err(model_err(
                    &path,
                    format!("{name}: {} {:?}, expected F32 {shape:?}", info.dtype, info.shape),
                ));
            }
            let [a, b] = info.data_offsets;
            if b > data.len() || b - a != shape.iter().product::<usize>() * 4 {
                return Err(model_err(&path, format!("{name}: bad data offsets")));
            }
            Ok(data[a..b].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
        };
        let h = config.hidden_size;
        let f = config.intermediate_size;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let mut qkv_w = tensor(&format!("{p}.attention.self.query.weight"), &[h, h])?;
            qkv_w.extend(tensor(&format!("{p}.attention.self.key.weight"), &[h, h])?);
            qkv_w.extend(tensor(&format!("{p}.attention.self.value.weight"), &[h, h])?);
            let mut qkv_b = tensor(&format!("{p}.attention.self.query.bias"), &[h])?;
            qkv_b.extend(tensor(&format!("{p}.attention.self.key.bias"), &[h])?);
            qkv_b.extend(tensor(&format!("{p}.attention.self.value.bias"), &[h])?);
            layers.push(Layer {
                qkv_w: Dense::new(qkv_w, 3 * h, h),
                qkv_b,
                out_w: Dense::new(tensor(&format!("{p}.attention.output.dense.weight"), &[h, h])?, h, h),
                out_b: tensor(&format!("{p}.attention.output.dense.bias"), &[h])?,
                ln1_g: tensor(&format!("{p}.attention.output.LayerNorm.weight"), &[h])?,
                ln1_b: tensor(&format!("{p}.attention.output.LayerNorm.bias"), &[h])?,
                up_w: Dense::new(tensor(&format!("{p}.intermediate.dense.weight"), &[f, h])?, f, h),
                up_b: tensor(&format!("{p}.intermediate.dense.bias"), &[f])?,
                down_w: Dense::new(tensor(&format!("{p}.output.dense.weight"), &[h, f])?, h, f),
                down_b: tensor(&format!("{p}.output.dense.bias"), &[h])?,
                ln2_g: tensor(&format!("{p}.output.LayerNorm.weight"), &[h])?,
                ln2_b: tensor(&format!("{p}.output.LayerNorm.bias"), &[h])?,
            });
        }
        let token_types = tensor("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, h])?;
        Ok(Weights {
            word: tensor("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            position: tensor("embeddings.position_embeddings.weight", &[config.max_position_embeddings, h])?,
            token_type0: token_types[..h].to_vec(),
            emb_ln_g: tensor("embeddings.LayerNorm.weight", &[h])?,
            emb_ln_b: tensor("embeddings.LayerNorm.bias", &[h])?,
            layers,
            config,
        })
    }
}
