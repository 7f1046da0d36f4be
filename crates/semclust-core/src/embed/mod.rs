//! The embedding engine: text in, L2-normalised `f32` vectors out.
//!
//! Texts are tokenised with the model's own `tokenizer.json` (with the manifest's query/passage
//! prefix), sorted by length so a batch wastes little padding, run through the BERT encoder, mean
//! pooled over the real tokens and normalised. A text longer than the model's maximum is, by
//! default, split into overlapping windows whose pooled vectors are averaged weighted by their
//! token counts before normalisation; `LongTextPolicy::Truncate` cuts it at the maximum instead,
//! as sentence-transformers does.

mod batch;
mod bert;
pub(crate) mod device;
pub(crate) mod ops;
mod tokenize;
mod weights;

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

pub use device::DeviceChoice;

use crate::error::{Error, Result};
use crate::model::{self, Manifest, ModelFiles, ModelSpec};

/// Which of the model's prefixes an input gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Query,
    Passage,
}

/// The precision the model computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// GGML Q4_0 weight matrices and word embeddings, f32 activations (the CPU default).
    Q4,
    F32,
    /// Half-precision weights and activations (the GPU default).
    F16,
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "q4" | "q4_0" | "q4-0" => Ok(Self::Q4),
            "f32" | "fp32" | "float32" => Ok(Self::F32),
            "f16" | "fp16" | "float16" | "half" => Ok(Self::F16),
            other => Err(Error::InvalidArgument(format!(
                "unknown precision '{other}'; use q4, f32 or f16"
            ))),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Q4 => "q4",
            Self::F32 => "f32",
            Self::F16 => "f16",
        })
    }
}

/// What to do with a text longer than the model's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongTextPolicy {
    /// Overlapping windows, averaged weighted by token count.
    #[default]
    Window,
    /// Cut at the maximum (sentence-transformers' behaviour).
    Truncate,
}

/// Facts about a loaded embedder, for every report that shows timings or results.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    pub model: String,
    pub revision: String,
    pub dimension: usize,
    pub device: String,
    pub precision: Precision,
    /// Where the weights came from and how they are computed, in words.
    pub weights: String,
    pub threads: usize,
    pub cpu_features: Vec<&'static str>,
    pub load_seconds: f64,
    /// Why a GPU was not used, when `auto` fell back to the CPU.
    pub device_note: Option<String>,
}

impl fmt::Display for RuntimeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} ({}), {} threads, CPU features [{}]; weights: {}",
            self.model,
            self.device,
            self.precision,
            self.threads,
            self.cpu_features.join(" "),
            self.weights
        )
    }
}

/// Row-major embeddings: `rows()` vectors of `dim()` values each, L2-normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    data: Vec<f32>,
    dim: usize,
    /// Tokens fed to the model per input (all windows together, special tokens included).
    tokens: Vec<usize>,
}

impl Embeddings {
    /// Rows of `dim` values laid end to end, with each row's token count (for results put
    /// together from several calls).
    pub fn from_parts(data: Vec<f32>, dim: usize, tokens: Vec<usize>) -> Self {
        debug_assert_eq!(data.len(), dim * tokens.len());
        Self { data, dim, tokens }
    }
    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn rows(&self) -> usize {
        self.tokens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
    pub fn token_counts(&self) -> &[usize] {
        &self.tokens
    }
    /// Cut into consecutive parts of `counts[i]` rows each (e.g. one per caller of a shared
    /// batch). The counts must add up to `rows()`.
    pub fn split_rows(self, counts: &[usize]) -> Vec<Embeddings> {
        debug_assert_eq!(counts.iter().sum::<usize>(), self.rows());
        let mut out = Vec::with_capacity(counts.len());
        let mut row = 0;
        for &n in counts {
            out.push(Embeddings {
                data: self.data[row * self.dim..(row + n) * self.dim].to_vec(),
                dim: self.dim,
                tokens: self.tokens[row..row + n].to_vec(),
            });
            row += n;
        }
        out
    }

    /// A `(rows, dim)` ndarray view of the same memory.
    pub fn view(&self) -> ndarray::ArrayView2<'_, f32> {
        ndarray::ArrayView2::from_shape((self.rows(), self.dim), &self.data)
            .expect("data length is rows * dim by construction")
    }
}

/// Token ids of texts (prefix included, special tokens and windowing not yet applied), from
/// [`Embedder::tokenize`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokenized(Vec<Vec<u32>>);

impl Tokenized {
    /// Texts given as content token ids (special tokens excluded), one list per text.
    pub fn from_ids(ids: Vec<Vec<u32>>) -> Self {
        Self(ids)
    }
    /// The content token ids of text `i`.
    pub fn ids(&self, i: usize) -> &[u32] {
        &self.0[i]
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Tokens of text `i` without special tokens.
    pub fn content_len(&self, i: usize) -> usize {
        self.0[i].len()
    }
    /// Append another set of texts (their rows follow this set's rows).
    pub fn extend(&mut self, other: Tokenized) {
        self.0.extend(other.0);
    }
    /// The texts in order, cut into runs of at most `max_tokens` tokens each (special tokens
    /// counted as `specials` per text); a text longer than that alone is a run of its own.
    pub fn into_runs(self, max_tokens: usize, specials: usize) -> Vec<Tokenized> {
        let mut runs: Vec<Tokenized> = Vec::new();
        let mut cur: Vec<Vec<u32>> = Vec::new();
        let mut cost = 0;
        for ids in self.0 {
            let c = ids.len() + specials;
            if !cur.is_empty() && cost + c > max_tokens {
                runs.push(Tokenized(std::mem::take(&mut cur)));
                cost = 0;
            }
            cost += c;
            cur.push(ids);
        }
        if !cur.is_empty() {
            runs.push(Tokenized(cur));
        }
        runs
    }
}

/// Anything that turns texts into embeddings: the model itself, or a queue in front of it that
/// batches several callers' texts into shared forward passes.
pub trait Encode {
    fn encode(&self, texts: &[&str], kind: InputKind) -> Result<Embeddings>;
    /// Tokens the model reads for each text, special tokens included: an indexing run counts
    /// its progress and time left in tokens, because passages differ in cost a hundredfold.
    fn token_counts(&self, texts: &[&str], kind: InputKind) -> Result<Vec<usize>>;
}

impl Encode for Embedder {
    fn encode(&self, texts: &[&str], kind: InputKind) -> Result<Embeddings> {
        self.embed(texts, kind)
    }
    fn token_counts(&self, texts: &[&str], kind: InputKind) -> Result<Vec<usize>> {
        let specials = self.bos.len() + self.eos.len();
        Ok(self
            .content_ids(texts, kind)?
            .iter()
            .map(|ids| ids.len() + specials)
            .collect())
    }
}

/// A model as the server drives it: texts are tokenised first (so that a request's work is
/// counted and bounded before it queues), then several requests' tokens go through the model
/// together. [`Embedder`] is the real one; tests put a small fake here whose forward pass
/// waits for the test to let it go, so that "a request is in flight" is a state the test
/// sets rather than a race it hopes to win.
pub trait TokenEncoder: Send + Sync {
    /// The model's name, revision, precision and dimension, as the index fingerprint and
    /// `/health` show them.
    fn info(&self) -> &RuntimeInfo;
    /// The hub repository of the model (`intfloat/multilingual-e5-small`): clients may name
    /// the model that way too.
    fn repo(&self) -> &str;
    /// Content token ids of each text, with the prefix of `kind`.
    fn tokenize(&self, texts: &[&str], kind: InputKind) -> Result<Tokenized>;
    /// Embed tokenised texts, asking `keep_going` between forward passes and giving up
    /// (`None`) when it says no.
    fn embed_tokens_while(
        &self,
        tokenized: &Tokenized,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<Option<Embeddings>>;
}

impl TokenEncoder for Embedder {
    fn info(&self) -> &RuntimeInfo {
        Embedder::info(self)
    }
    fn repo(&self) -> &str {
        &self.manifest.hub.repo
    }
    fn tokenize(&self, texts: &[&str], kind: InputKind) -> Result<Tokenized> {
        Embedder::tokenize(self, texts, kind)
    }
    fn embed_tokens_while(
        &self,
        tokenized: &Tokenized,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<Option<Embeddings>> {
        Embedder::embed_tokens_while(self, tokenized, keep_going)
    }
}

/// A loaded model ready to embed text.
pub struct Embedder {
    model: bert::Bert,
    tokenizer: tokenize::TextTokenizer,
    manifest: Manifest,
    device: Device,
    info: RuntimeInfo,
    batch_size: usize,
    long_text: LongTextPolicy,
    /// Special tokens (e.g. `<s>`, `</s>`) added around every window.
    bos: Vec<u32>,
    eos: Vec<u32>,
}

impl Embedder {
    /// Load a model: find its files (see [`crate::model`]), open the device and read the weights.
    /// `precision` defaults to `q4` on the CPU and `f16` on a GPU.
    pub fn load(
        spec: &ModelSpec,
        device: DeviceChoice,
        precision: Option<Precision>,
    ) -> Result<Self> {
        Self::load_with(spec, device, precision, &|_| {})
    }

    /// As [`Embedder::load`], reporting each step (model fetching, conversion) through `notify`.
    pub fn load_with(
        spec: &ModelSpec,
        device: DeviceChoice,
        precision: Option<Precision>,
        notify: model::Notify,
    ) -> Result<Self> {
        let started = Instant::now();
        let files = model::resolve(spec, notify)?;
        if !files.manifest.is_curated() {
            // Read from the model's own files: say what was read, so a surprise shows at once.
            notify(&files.manifest.settings());
        }
        let (device, device_note) = device::open(device)?;
        if let Some(note) = &device_note {
            notify(&format!("warning: {note}"));
        }
        let precision = precision.unwrap_or(if device.is_cpu() {
            Precision::Q4
        } else {
            Precision::F16
        });
        Self::from_files(&files, device, precision, device_note, started)
    }

    fn from_files(
        files: &ModelFiles,
        device: Device,
        precision: Precision,
        device_note: Option<String>,
        started: Instant,
    ) -> Result<Self> {
        let config = bert::BertConfig::load(&files.config)?;
        let manifest = files.manifest.clone();
        if config.hidden_size != manifest.dimension {
            return Err(Error::bad_file(
                &files.config,
                format!(
                    "hidden_size {} differs from the {}-d of models/{}.toml",
                    config.hidden_size, manifest.dimension, manifest.id
                ),
            ));
        }
        let (weights, described) = match (precision, &files.gguf, &files.safetensors) {
            (Precision::Q4, Some(g), _) => (
                weights::Weights::from_gguf(g, precision, &device)?,
                "Q4_0 weights as stored".to_string(),
            ),
            (Precision::Q4, None, Some(s)) => (
                weights::Weights::from_safetensors(s, precision, &device)?,
                "Q4_0 weights quantised by candle from the f32 checkpoint".to_string(),
            ),
            (_, _, Some(s)) => {
                (
                    weights::Weights::from_safetensors(s, precision, &device)?,
                    if files.float_from_q4 {
                        format!("{precision} compute on weights dequantised from Q4_0 (model.safetensors)")
                    } else {
                        format!("{precision} compute on the float checkpoint")
                    },
                )
            }
            (_, Some(g), None) => (
                weights::Weights::from_gguf(g, precision, &device)?,
                format!("{precision} compute on weights dequantised from Q4_0 at load"),
            ),
            (_, None, None) => {
                return Err(Error::bad_file(&files.dir, "holds no model weights"));
            }
        };
        let model = bert::Bert::load(&weights, &config, manifest.architecture, manifest.pooling)?;
        let (tokenizer, bos, eos) = tokenize::TextTokenizer::load(&files.tokenizer)?;
        let info = RuntimeInfo {
            model: manifest.id.clone(),
            revision: manifest.hub.revision.clone(),
            dimension: manifest.dimension,
            device: device::describe(&device),
            precision,
            weights: format!("{described}; from {}", files.origin),
            threads: candle_core::utils::get_num_threads(),
            cpu_features: device::cpu_features(),
            load_seconds: started.elapsed().as_secs_f64(),
            device_note,
        };
        Ok(Self {
            model,
            tokenizer,
            manifest,
            device,
            info,
            batch_size: 32,
            long_text: LongTextPolicy::Window,
            bos,
            eos,
        })
    }

    pub fn with_batch_size(mut self, batch_size: usize) -> Result<Self> {
        self.set_batch_size(batch_size)?;
        Ok(self)
    }

    /// Inputs per forward pass (after sorting by length).
    pub fn set_batch_size(&mut self, batch_size: usize) -> Result<()> {
        if batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        self.batch_size = batch_size;
        Ok(())
    }

    pub fn with_long_text(mut self, policy: LongTextPolicy) -> Self {
        self.long_text = policy;
        self
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn dimension(&self) -> usize {
        self.manifest.dimension
    }

    /// Maximum tokens per window, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.manifest.max_tokens.min(self.model.max_positions())
    }

    fn prefixed(&self, text: &str, kind: InputKind) -> String {
        let p = match kind {
            InputKind::Query => &self.manifest.prefixes.query,
            InputKind::Passage => &self.manifest.prefixes.passage,
        };
        if self.manifest.lower_case {
            // sentence-transformers lower-cases the whole input, prompt included.
            format!("{p}{text}").to_lowercase()
        } else {
            format!("{p}{text}")
        }
    }

    /// Token ids the model sees for `text` (prefix and special tokens included, not windowed).
    pub fn token_ids(&self, text: &str, kind: InputKind) -> Result<Vec<u32>> {
        let content = self.content_ids(&[text], kind)?;
        let mut ids = self.bos.clone();
        ids.extend(&content[0]);
        ids.extend(&self.eos);
        Ok(ids)
    }

    /// Token ids of each text without special tokens.
    fn content_ids(&self, texts: &[&str], kind: InputKind) -> Result<Vec<Vec<u32>>> {
        let inputs: Vec<String> = texts.iter().map(|t| self.prefixed(t, kind)).collect();
        self.tokenizer.content_ids(&inputs)
    }

    /// Embed `texts`; row `i` of the result is the vector of `texts[i]`.
    pub fn embed(&self, texts: &[&str], kind: InputKind) -> Result<Embeddings> {
        if texts.is_empty() {
            return self.embed_tokens(&Tokenized(Vec::new()));
        }
        self.embed_tokens(&self.tokenize(texts, kind)?)
    }

    /// Tokenise `texts` (with the prefix of `kind`) without running the model: a server counts
    /// and limits tokens before it queues work, and batches several requests' tokens together.
    pub fn tokenize(&self, texts: &[&str], kind: InputKind) -> Result<Tokenized> {
        Ok(Tokenized(self.content_ids(texts, kind)?))
    }

    /// Embed tokenised texts; row `i` is the vector of text `i`.
    pub fn embed_tokens(&self, tokenized: &Tokenized) -> Result<Embeddings> {
        match self.embed_tokens_while(tokenized, &|| true)? {
            Some(e) => Ok(e),
            None => Err(Error::Cancelled),
        }
    }

    /// [`Embedder::embed_tokens`], asking `keep_going` before each forward pass and giving up
    /// (`None`) when it says no: a server stops spending the model on a request whose client
    /// has gone (timed out, disconnected).
    pub fn embed_tokens_while(
        &self,
        tokenized: &Tokenized,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<Option<Embeddings>> {
        let dim = self.dimension();
        let content = &tokenized.0;
        if content.is_empty() {
            return Ok(Some(Embeddings {
                data: Vec::new(),
                dim,
                tokens: Vec::new(),
            }));
        }
        let windows = batch::windows(
            content,
            &self.bos,
            &self.eos,
            self.max_tokens(),
            self.long_text,
        );
        let mut sums = vec![0f64; content.len() * dim];
        let mut weights = vec![0f64; content.len()];
        let mut tokens = vec![0usize; content.len()];
        for b in batch::batches(&windows, self.batch_size) {
            if !keep_going() {
                return Ok(None);
            }
            let (ids, mask) = batch::pad(&windows, &b, self.model.config.pad_token_id);
            let len = ids.len() / b.len();
            let ids = candle_core::Tensor::from_vec(ids, (b.len(), len), &self.device)?;
            let mask = candle_core::Tensor::from_vec(mask, (b.len(), len), &self.device)?;
            let pooled: Vec<Vec<f32>> = self.model.pooled(&ids, &mask)?.to_vec2()?;
            for (row, &wi) in pooled.iter().zip(&b) {
                let w = &windows[wi];
                let weight = w.ids.len() as f64;
                let dst = &mut sums[w.text * dim..(w.text + 1) * dim];
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d += weight * v as f64;
                }
                weights[w.text] += weight;
                tokens[w.text] += w.ids.len();
            }
        }
        let mut data = vec![0f32; content.len() * dim];
        for (i, out) in data.chunks_mut(dim).enumerate() {
            let s = &sums[i * dim..(i + 1) * dim];
            let mean: Vec<f64> = s.iter().map(|v| v / weights[i]).collect();
            let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            for (o, m) in out.iter_mut().zip(&mean) {
                *o = (m / norm) as f32;
            }
        }
        Ok(Some(Embeddings { data, dim, tokens }))
    }
}

impl From<&RuntimeInfo> for crate::fingerprint::Fingerprint {
    fn from(info: &RuntimeInfo) -> Self {
        Self {
            model: info.model.clone(),
            revision: info.revision.clone(),
            precision: info.precision.to_string(),
            dimension: info.dimension,
        }
    }
}
