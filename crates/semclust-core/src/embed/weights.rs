//! Where the BERT weights come from, hidden behind one loader so the model code reads the same for
//! every precision: f32/f16 safetensors, or Q4_0 GGUF. Any precision works from any file: float
//! weights are quantised to Q4_0 with candle when `q4` is asked for, and Q4_0 weights are
//! dequantised for `f32`/`f16`.

use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use candle_transformers::quantized_var_builder::VarBuilder as QVarBuilder;

use super::Precision;
use crate::error::{Error, Result};

enum Source {
    Float(candle_nn::VarBuilder<'static>),
    Gguf(QVarBuilder),
}

pub(crate) struct Weights {
    source: Source,
    precision: Precision,
    device: Device,
    prefix: String,
    file: std::path::PathBuf,
}

impl Weights {
    pub fn from_safetensors(path: &Path, precision: Precision, device: &Device) -> Result<Self> {
        check_safetensors(path)?;
        // Weights are loaded in f32 on the CPU and converted per tensor, so that quantising and
        // dtype changes happen once, at load time.
        // SAFETY: the file is memory-mapped read-only; semclust never writes to a model file in place.
        let vb = unsafe {
            candle_nn::VarBuilder::from_mmaped_safetensors(&[path], DType::F32, &Device::Cpu)
        }
        .map_err(|e| {
            Error::bad_file(
                path,
                format!(
                    "not a readable safetensors file ({})",
                    crate::error::brief(&e)
                ),
            )
        })?;
        // A bare encoder's tensors, or those of a task model around it (`BertForMaskedLM`,
        // `XLMRobertaForMaskedLM`) under its own prefix.
        let prefix = ["", "bert.", "roberta.", "model."]
            .into_iter()
            .find(|p| vb.contains_tensor(&format!("{p}embeddings.word_embeddings.weight")))
            .unwrap_or("");
        Ok(Self {
            source: Source::Float(vb),
            precision,
            device: device.clone(),
            prefix: prefix.to_string(),
            file: path.to_path_buf(),
        })
    }

    pub fn from_gguf(path: &Path, precision: Precision, device: &Device) -> Result<Self> {
        let target = if precision == Precision::Q4 {
            device.clone()
        } else {
            Device::Cpu
        };
        let vb = QVarBuilder::from_gguf(path, &target).map_err(|e| {
            Error::bad_file(
                path,
                format!(
                    "not a readable GGUF file ({}); delete it and run `semclust models pull` again",
                    crate::error::brief(&e)
                ),
            )
        })?;
        Ok(Self {
            source: Source::Gguf(vb),
            precision,
            device: device.clone(),
            prefix: String::new(),
            file: path.to_path_buf(),
        })
    }

    pub fn pp(&self, name: &str) -> Self {
        Self {
            source: match &self.source {
                Source::Float(vb) => Source::Float(vb.clone()),
                Source::Gguf(vb) => Source::Gguf(vb.clone()),
            },
            precision: self.precision,
            device: self.device.clone(),
            prefix: format!("{}{name}.", self.prefix),
            file: self.file.clone(),
        }
    }

    pub fn is_q4(&self) -> bool {
        self.precision == Precision::Q4
    }

    /// The dtype activations are computed in.
    pub fn dtype(&self) -> DType {
        match self.precision {
            Precision::F16 => DType::F16,
            Precision::F32 | Precision::Q4 => DType::F32,
        }
    }

    fn missing(&self, name: &str, e: impl std::fmt::Display) -> Error {
        Error::bad_file(
            &self.file,
            format!(
                "tensor {}{name} is missing or has the wrong shape ({}); the file is truncated or not this model",
                self.prefix,
                crate::error::brief(&e)
            ),
        )
    }

    fn float_cpu(&self, shape: &[usize], name: &str) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        match &self.source {
            Source::Float(vb) => vb.get(shape, &full).map_err(|e| self.missing(name, e)),
            Source::Gguf(vb) => {
                let q = vb.get(shape, &full).map_err(|e| self.missing(name, e))?;
                Ok(q.dequantize(&Device::Cpu)?)
            }
        }
    }

    fn quantized(&self, shape: &[usize], name: &str) -> Result<Arc<QTensor>> {
        let full = format!("{}{name}", self.prefix);
        match &self.source {
            Source::Gguf(vb) => vb.get(shape, &full).map_err(|e| self.missing(name, e)),
            Source::Float(vb) => {
                let t = vb.get(shape, &full).map_err(|e| self.missing(name, e))?;
                Ok(Arc::new(QTensor::quantize_onto(
                    &t,
                    GgmlDType::Q4_0,
                    &self.device,
                )?))
            }
        }
    }

    /// A dense tensor (bias, LayerNorm, position table) in the compute dtype on the device.
    pub fn tensor(&self, shape: &[usize], name: &str) -> Result<Tensor> {
        Ok(self
            .float_cpu(shape, name)?
            .to_dtype(self.dtype())?
            .to_device(&self.device)?)
    }

    /// A weight matrix `[out, in]` used as `x · Wᵀ`.
    pub fn matmul(&self, out_dim: usize, in_dim: usize, name: &str) -> Result<QMatMul> {
        match self.precision {
            Precision::Q4 => Ok(QMatMul::from_arc(
                self.quantized(&[out_dim, in_dim], name)?,
            )?),
            _ => Ok(QMatMul::Tensor(self.tensor(&[out_dim, in_dim], name)?)),
        }
    }

    /// Whether `q4` matrices go through semclust's x86 int8 kernel here.
    pub fn packed_q4_enabled(&self) -> bool {
        self.precision == Precision::Q4
            && self.device.is_cpu()
            && crate::kernels::gemm_q4::available()
            && !std::env::var("SEMCLUST_Q4_KERNEL").is_ok_and(|v| v == "candle")
    }

    /// Raw Q4_0 blocks of a `[out, in]` matrix (as stored, or quantised by candle).
    pub fn q4_blocks(&self, out_dim: usize, in_dim: usize, name: &str) -> Result<Option<Vec<u8>>> {
        let q = self.quantized(&[out_dim, in_dim], name)?;
        if q.dtype() != GgmlDType::Q4_0 {
            return Ok(None);
        }
        Ok(Some(q.data()?.into_owned()))
    }

    /// The word-embedding table: kept in Q4_0 for `q4` (only the rows of the ids in a batch are
    /// expanded), dense otherwise.
    pub fn embedding(&self, vocab: usize, hidden: usize, name: &str) -> Result<Embedding> {
        match self.precision {
            Precision::Q4 => Ok(Embedding::Quantized(
                self.quantized(&[vocab, hidden], name)?,
            )),
            _ => Ok(Embedding::Dense(self.tensor(&[vocab, hidden], name)?)),
        }
    }
}

/// Reject a truncated safetensors file before mapping it, with a message naming it.
fn check_safetensors(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let len = f
        .metadata()
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?
        .len();
    let mut n = [0u8; 8];
    let bad = |m: String| {
        Error::bad_file(
            path,
            format!("{m}; the file is truncated or not safetensors: fetch it again"),
        )
    };
    f.read_exact(&mut n)
        .map_err(|_| bad("shorter than a safetensors header".into()))?;
    let header_len = u64::from_le_bytes(n);
    if header_len > 100_000_000 || 8 + header_len > len {
        return Err(bad(format!(
            "header of {header_len} bytes in a {len}-byte file"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    f.read_exact(&mut header)
        .map_err(|_| bad("truncated header".into()))?;
    let v: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("unreadable header ({})", crate::error::brief(&e))))?;
    let end = v
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    if 8 + header_len + end > len {
        return Err(bad(format!(
            "tensor data ends at byte {} but the file has {len}",
            8 + header_len + end
        )));
    }
    Ok(())
}

pub(crate) enum Embedding {
    Dense(Tensor),
    Quantized(Arc<QTensor>),
}

impl Embedding {
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::Dense(t) => candle_nn::Embedding::new(t.clone(), t.dim(1)?).forward(ids)?,
            Self::Quantized(q) => q.embedding(ids)?,
        })
    }
}
