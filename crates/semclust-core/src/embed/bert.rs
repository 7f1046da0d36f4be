//! BERT encoder (post-LayerNorm, erf GELU, absolute positions) over `QMatMul` layers, so one
//! implementation runs f32, f16 and Q4_0 weights. It follows Hugging Face's `BertModel`
//! (transformers/models/bert/modeling_bert.py); candle has no quantized BERT to reuse.
//! XLM-RoBERTa (and RoBERTa, CamemBERT) is the same stack with positions counted from
//! `pad_token_id + 1` (transformers/models/xlm_roberta/modeling_xlm_roberta.py,
//! `create_position_ids_from_input_ids`; padding sits at the end of each row here, so a real
//! token's position is `pad + 1 + index`).

use candle_core::quantized::QMatMul;
use candle_core::{DType, Module, Tensor, D};
use candle_nn::LayerNorm;
use serde::Deserialize;

use super::weights::{Embedding, Weights};
use crate::error::{Error, Result};
use crate::kernels::gemm_f32::{self, PackedF32};
use crate::kernels::gemm_q4::PackedQ4;
use crate::model::{Architecture, Pooling};

/// The fields of Hugging Face's `config.json` that the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

impl BertConfig {
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let cfg: Self = serde_json::from_str(&text)
            .map_err(|e| Error::bad_file(path, format!("not a BERT config.json ({e})")))?;
        if cfg.hidden_act != "gelu" {
            return Err(Error::bad_file(
                path,
                format!(
                    "hidden_act '{}' is not supported (only erf 'gelu')",
                    cfg.hidden_act
                ),
            ));
        }
        if let Some(p) = cfg.position_embedding_type.as_deref() {
            if p != "absolute" {
                return Err(Error::bad_file(
                    path,
                    format!("position_embedding_type '{p}' is not supported (only 'absolute')"),
                ));
            }
        }
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            return Err(Error::bad_file(
                path,
                "hidden_size is not a multiple of num_attention_heads",
            ));
        }
        Ok(cfg)
    }
}

enum Linear {
    /// candle's matmul: f32/f16 weights, or Q4_0 off the x86 CPU path.
    Candle { weight: QMatMul, bias: Tensor },
    /// Q4_0 on an x86 CPU: our blocked int8 kernel, bias fused.
    Packed(PackedLinear),
}

impl Linear {
    fn load(w: &Weights, in_dim: usize, out_dim: usize) -> Result<Self> {
        // A one-part stack is the layer itself on semclust's kernels, where they apply.
        if let Some(l) = Self::load_stacked(std::slice::from_ref(w), in_dim, out_dim)? {
            return Ok(l);
        }
        Ok(Self::Candle {
            weight: w.matmul(out_dim, in_dim, "weight")?,
            bias: w.tensor(&[out_dim], "bias")?,
        })
    }

    /// Several `[out_dim, in_dim]` matrices stacked into one `[parts * out_dim, in_dim]` linear
    /// (query, key and value): one matmul instead of three, and, for `q4`, one quantisation of
    /// the input instead of three. `None` where stacking is not available (quantised weights off
    /// the x86 CPU path); callers then load the parts one by one.
    fn load_stacked(ws: &[Weights], in_dim: usize, out_dim: usize) -> Result<Option<Self>> {
        let biases = ws
            .iter()
            .map(|w| w.tensor(&[out_dim], "bias"))
            .collect::<Result<Vec<_>>>()?;
        let bias = Tensor::cat(&biases, 0)?;
        let n = out_dim * ws.len();
        let first = &ws[0];
        if first.packed_q4_enabled() {
            let mut raw = Vec::new();
            for w in ws {
                match w.q4_blocks(out_dim, in_dim, "weight")? {
                    Some(r) => raw.extend_from_slice(&r),
                    None => return Ok(None),
                }
            }
            let b: Vec<f32> = bias.to_dtype(DType::F32)?.to_vec1()?;
            return Ok(
                PackedQ4::from_q4_0(&raw, n, in_dim, b).map(|p| Self::Packed(PackedLinear::q4(p)))
            );
        }
        if first.is_q4() {
            return Ok(None);
        }
        let mats = ws
            .iter()
            .map(|w| w.tensor(&[out_dim, in_dim], "weight"))
            .collect::<Result<Vec<_>>>()?;
        let weight = Tensor::cat(&mats, 0)?;
        if let Some(p) = PackedLinear::f32(&weight, &bias)? {
            return Ok(Some(Self::Packed(p)));
        }
        Ok(Some(Self::Candle {
            weight: QMatMul::Tensor(weight),
            bias,
        }))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::Candle { weight, bias } => weight.forward(x)?.broadcast_add(bias)?,
            Self::Packed(p) => x.contiguous()?.apply_op1_no_bwd(p)?,
        })
    }
}

/// A linear layer on one of semclust's own CPU kernels.
enum PackedKernel {
    Q4(PackedQ4),
    F32(PackedF32),
}

impl PackedKernel {
    fn k(&self) -> usize {
        match self {
            Self::Q4(p) => p.k,
            Self::F32(p) => p.k,
        }
    }
    fn n(&self) -> usize {
        match self {
            Self::Q4(p) => p.n,
            Self::F32(p) => p.n,
        }
    }
    fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        match self {
            Self::Q4(p) => p.forward(x, m),
            Self::F32(p) => p.forward(x, m),
        }
    }
}

struct PackedLinear(std::sync::Arc<PackedKernel>);

impl PackedLinear {
    fn q4(p: PackedQ4) -> Self {
        Self(std::sync::Arc::new(PackedKernel::Q4(p)))
    }

    /// The f32 kernel for a dense `[n, k]` weight, where it applies (f32 on an AVX-512 CPU).
    fn f32(weight: &Tensor, bias: &Tensor) -> Result<Option<Self>> {
        if weight.dtype() != DType::F32
            || !weight.device().is_cpu()
            || !gemm_f32::available()
            || std::env::var("SEMCLUST_F32_KERNEL").is_ok_and(|v| v == "candle")
        {
            return Ok(None);
        }
        let (n, k) = weight.dims2()?;
        let w: Vec<f32> = weight.flatten_all()?.to_vec1()?;
        let b: Vec<f32> = bias.to_vec1()?;
        Ok(PackedF32::new(&w, n, k, b).map(|p| Self(std::sync::Arc::new(PackedKernel::F32(p)))))
    }
}

impl candle_core::CustomOp1 for PackedLinear {
    fn name(&self) -> &'static str {
        "semclust-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let x = super::ops::contiguous_f32(storage, layout, self.name())?;
        let dims = layout.shape().dims();
        let k = *dims.last().unwrap_or(&0);
        if k != self.0.k() {
            candle_core::bail!(
                "semclust-linear: input width {k}, weights take {}",
                self.0.k()
            )
        }
        let m = x.len() / k.max(1);
        let out = self.0.forward(x, m);
        let mut out_dims = dims.to_vec();
        if let Some(last) = out_dims.last_mut() {
            *last = self.0.n();
        }
        Ok((candle_core::CpuStorage::F32(out), out_dims.into()))
    }
}

/// The LayerNorm after a residual connection: `LayerNorm(a + b)`, fused into one pass where
/// semclust's op runs (f32 on the CPU).
struct ResidualNorm {
    norm: LayerNorm,
    fused: Option<super::ops::AddLayerNorm>,
}

impl ResidualNorm {
    fn load(w: &Weights, size: usize, eps: f64) -> Result<Self> {
        let norm = layer_norm(w, size, eps)?;
        let (g, b) = (norm.weight(), norm.bias());
        let fused = match b {
            Some(b) if g.device().is_cpu() && g.dtype() == DType::F32 => Some(
                super::ops::AddLayerNorm::new(g.to_vec1()?, b.to_vec1()?, eps as f32),
            ),
            _ => None,
        };
        Ok(Self { norm, fused })
    }

    fn forward(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if let Some(f) = &self.fused {
            if let Some(t) = f.forward(a, b)? {
                return Ok(t);
            }
        }
        Ok(self.norm.forward(&(a + b)?)?)
    }
}

fn layer_norm(w: &Weights, size: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        w.tensor(&[size], "weight")?,
        w.tensor(&[size], "bias")?,
        eps,
    ))
}

// https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/bert/modeling_bert.py#L168
struct Embeddings {
    word: Embedding,
    position: Tensor,
    /// Position id of the first token (0 for BERT, `pad + 1` for XLM-RoBERTa).
    position_offset: usize,
    token_type0: Tensor,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(w: &Weights, c: &BertConfig, position_offset: usize) -> Result<Self> {
        let h = c.hidden_size;
        let token_type = w.tensor(&[c.type_vocab_size, h], "token_type_embeddings.weight")?;
        Ok(Self {
            word: w.embedding(c.vocab_size, h, "word_embeddings.weight")?,
            position: w.tensor(
                &[c.max_position_embeddings, h],
                "position_embeddings.weight",
            )?,
            position_offset,
            // Every input is one segment: token type 0 for all tokens.
            token_type0: token_type.get(0)?,
            norm: layer_norm(&w.pp("LayerNorm"), h, c.layer_norm_eps)?,
        })
    }

    fn forward(&self, ids: &Tensor, dtype: DType) -> Result<Tensor> {
        let (_b, len) = ids.dims2()?;
        let words = self.word.forward(ids)?.to_dtype(dtype)?;
        let pos = self.position.narrow(0, self.position_offset, len)?;
        let x = words
            .broadcast_add(&pos)?
            .broadcast_add(&self.token_type0)?;
        Ok(self.norm.forward(&x)?)
    }
}

// https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/bert/modeling_bert.py#L229
enum Qkv {
    /// One `[3h, h]` linear whose output rows are `[q | k | v]`.
    Stacked(Linear),
    Separate([Linear; 3]),
}

struct Attention {
    qkv: Qkv,
    output: Linear,
    norm: ResidualNorm,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(w: &Weights, c: &BertConfig) -> Result<Self> {
        let h = c.hidden_size;
        let sw = w.pp("self");
        let ow = w.pp("output");
        let parts = [sw.pp("query"), sw.pp("key"), sw.pp("value")];
        let qkv = match Linear::load_stacked(&parts, h, h)? {
            Some(l) => Qkv::Stacked(l),
            None => Qkv::Separate([
                Linear::load(&parts[0], h, h)?,
                Linear::load(&parts[1], h, h)?,
                Linear::load(&parts[2], h, h)?,
            ]),
        };
        Ok(Self {
            qkv,
            output: Linear::load(&ow.pp("dense"), h, h)?,
            norm: ResidualNorm::load(&ow.pp("LayerNorm"), h, c.layer_norm_eps)?,
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
        })
    }

    fn qkv(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match &self.qkv {
            Qkv::Stacked(lin) => lin.forward(x)?,
            Qkv::Separate([q, k, v]) => {
                Tensor::cat(&[q.forward(x)?, k.forward(x)?, v.forward(x)?], 2)?
            }
        })
    }

    fn split_heads(&self, x: Tensor) -> Result<Tensor> {
        let (b, l, _) = x.dims3()?;
        Ok(x.reshape((b, l, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()?)
    }

    /// `mask` is additive, shape (batch, 1, 1, len): 0 for real tokens, a large negative for
    /// padding; `lens` holds the same information as lengths, for the fused CPU path.
    fn forward(&self, x: &Tensor, rows: Rows<'_>) -> Result<Tensor> {
        let (mask, lens) = match rows {
            Rows::Packed { lens } => {
                let qkv = self.qkv(x)?;
                let ctx = super::ops::attention_packed(&qkv, lens, self.heads)?;
                let out = self.output.forward(&ctx)?;
                return self.norm.forward(&out, x);
            }
            Rows::Padded { mask, lens } => (mask, lens),
        };
        let (b, l, h) = x.dims3()?;
        let qkv = self.qkv(x)?;
        if let Some(ctx) = super::ops::attention(&qkv, lens, self.heads)? {
            let out = self.output.forward(&ctx)?;
            return self.norm.forward(&out, x);
        }
        let q = self.split_heads(qkv.narrow(2, 0, h)?)?;
        let k = self.split_heads(qkv.narrow(2, h, h)?)?;
        let v = self.split_heads(qkv.narrow(2, 2 * h, h)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, l, h))?;
        let out = self.output.forward(&ctx)?;
        self.norm.forward(&out, x)
    }
}

/// How a batch's token rows are laid out between layers.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// `(batch, len, hidden)`, each sequence padded to `len`; `mask` is the additive attention
    /// mask, `lens` the real lengths.
    Padded { mask: &'a Tensor, lens: &'a [usize] },
    /// `(1, sum(lens), hidden)`: only real tokens, sequences back to back. Every layer but
    /// attention works token by token, so padding would only cost time (12% more rows on the
    /// sample corpus in length-sorted batches of 16).
    Packed { lens: &'a [usize] },
}

// https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/bert/modeling_bert.py#L520
struct Layer {
    attention: Attention,
    intermediate: Linear,
    output: Linear,
    norm: ResidualNorm,
}

impl Layer {
    fn load(w: &Weights, c: &BertConfig) -> Result<Self> {
        let (h, f) = (c.hidden_size, c.intermediate_size);
        Ok(Self {
            attention: Attention::load(&w.pp("attention"), c)?,
            intermediate: Linear::load(&w.pp("intermediate").pp("dense"), h, f)?,
            output: Linear::load(&w.pp("output").pp("dense"), f, h)?,
            norm: ResidualNorm::load(&w.pp("output").pp("LayerNorm"), h, c.layer_norm_eps)?,
        })
    }

    fn forward(&self, x: &Tensor, rows: Rows<'_>) -> Result<Tensor> {
        let a = self.attention.forward(x, rows)?;
        let i = super::ops::gelu_erf(&self.intermediate.forward(&a)?)?;
        let o = self.output.forward(&i)?;
        self.norm.forward(&o, &a)
    }
}

pub(crate) struct Bert {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    dtype: DType,
    pooling: Pooling,
    pub config: BertConfig,
}

impl Bert {
    pub fn load(
        w: &Weights,
        config: &BertConfig,
        architecture: Architecture,
        pooling: Pooling,
    ) -> Result<Self> {
        let offset = architecture.position_offset(config.pad_token_id as usize);
        let embeddings = Embeddings::load(&w.pp("embeddings"), config, offset)?;
        let enc = w.pp("encoder");
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(&enc.pp(&format!("layer.{i}")), config))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings,
            layers,
            dtype: w.dtype(),
            pooling,
            config: config.clone(),
        })
    }

    /// Tokens a window may hold: the positions after the first one's offset.
    pub fn max_positions(&self) -> usize {
        self.config
            .max_position_embeddings
            .saturating_sub(self.embeddings.position_offset)
    }

    /// Pooled (not yet normalised) sentence vectors, f32, shape (batch, hidden).
    /// `ids` and `mask` are (batch, len) u32; mask is 1 for real tokens and 0 for padding.
    pub fn pooled(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let maskf = mask.to_dtype(DType::F32)?;
        let lens: Vec<usize> = maskf
            .sum(1)?
            .to_vec1::<f32>()?
            .iter()
            .map(|&n| n as usize)
            .collect();
        let mut x = self.embeddings.forward(ids, self.dtype)?;
        let (b, l) = ids.dims2()?;
        let hidden = self.config.hidden_size;
        if super::ops::fused_attention_available(
            ids.device(),
            self.dtype,
            hidden,
            self.config.num_attention_heads,
        ) {
            // Real tokens lead each row (batches are padded at the end).
            let keep: Vec<u32> = lens
                .iter()
                .enumerate()
                .flat_map(|(s, &n)| (0..n.min(l)).map(move |j| (s * l + j) as u32))
                .collect();
            let keep = Tensor::new(keep, ids.device())?;
            x = x
                .reshape((b * l, hidden))?
                .index_select(&keep, 0)?
                .unsqueeze(0)?;
            let lens: Vec<usize> = lens.iter().map(|&n| n.min(l)).collect();
            for layer in &self.layers {
                x = layer.forward(&x, Rows::Packed { lens: &lens })?;
            }
            let rows: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let mut pooled = vec![0f32; b * hidden];
            let mut at = 0;
            for (s, &n) in lens.iter().enumerate() {
                let out = &mut pooled[s * hidden..(s + 1) * hidden];
                let seq = &rows[at * hidden..(at + n) * hidden];
                match self.pooling {
                    Pooling::Mean => {
                        for r in seq.chunks_exact(hidden) {
                            for (o, &v) in out.iter_mut().zip(r) {
                                *o += v;
                            }
                        }
                        let inv = 1.0 / n.max(1) as f32;
                        out.iter_mut().for_each(|o| *o *= inv);
                    }
                    Pooling::Cls if n > 0 => out.copy_from_slice(&seq[..hidden]),
                    Pooling::LastToken if n > 0 => out.copy_from_slice(&seq[(n - 1) * hidden..]),
                    Pooling::Cls | Pooling::LastToken => {}
                }
                at += n;
            }
            return Ok(Tensor::from_vec(pooled, (b, hidden), ids.device())?);
        }
        // The additive attention mask is needed only on the padded path.
        let additive = ((maskf.ones_like()? - &maskf)? * -1e9f64)?
            .to_dtype(self.dtype)?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let additive = if self.dtype == DType::F16 {
            // -1e9 is -inf in f16; exp(-inf) = 0 is what we want, but keep it finite for safety.
            additive.clamp(-6.0e4f64, 0f64)?
        } else {
            additive
        };
        let rows = Rows::Padded {
            mask: &additive,
            lens: &lens,
        };
        for layer in &self.layers {
            x = layer.forward(&x, rows)?;
        }
        let x = x.to_dtype(DType::F32)?;
        match self.pooling {
            Pooling::Mean => {
                let m = maskf.unsqueeze(D::Minus1)?;
                let sum = x.broadcast_mul(&m)?.sum(1)?;
                let count = maskf.sum_keepdim(1)?;
                Ok(sum.broadcast_div(&count)?)
            }
            Pooling::Cls => Ok(x.narrow(1, 0, 1)?.squeeze(1)?.contiguous()?),
            Pooling::LastToken => {
                // Rows are padded at the end: a row's last real token is at its length - 1.
                let at: Vec<u32> = lens
                    .iter()
                    .enumerate()
                    .map(|(s, &n)| (s * l + n.clamp(1, l) - 1) as u32)
                    .collect();
                let at = Tensor::new(at, ids.device())?;
                Ok(x.reshape((b * l, hidden))?.index_select(&at, 0)?)
            }
        }
    }
}
