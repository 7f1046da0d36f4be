//! A model described by its own files: a sentence-transformers folder (`modules.json`,
//! `1_Pooling/config.json`, `sentence_bert_config.json`, `config_sentence_transformers.json`) or a
//! plain transformers folder (`config.json` alone). The facts semclust needs are read the way
//! sentence-transformers reads them and gathered into a [`Manifest`], so that the rest of the
//! program treats a curated model and a user's folder alike.
//!
//! What sentence-transformers does that semclust follows:
//! - modules run in the order of `modules.json`: Transformer, Pooling, then Normalize if listed;
//!   any other module (Dense, LayerNorm, a router) is refused in one line rather than skipped;
//! - pooling is the `pooling_mode` of the Pooling module's config (`mean`, `cls`, `lasttoken`),
//!   or the older `pooling_mode_*_tokens` booleans;
//! - the longest input is `max_seq_length` of `sentence_bert_config.json`, else the tokenizer's
//!   `model_max_length`, capped at the positions the model has;
//! - `do_lower_case` lower-cases every input;
//! - prompts come from `config_sentence_transformers.json`: `query` for queries, `passage` (or
//!   `document`, `doc`, `corpus`) for passages, `default_prompt_name` where a kind has none.
//!
//! semclust always L2-normalises the vectors it returns (it compares them by cosine); a model
//! without a Normalize module gives the same directions as in sentence-transformers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::manifest::{Architecture, HubSource, Manifest, Pooling, Prefixes};
use crate::error::{Error, Result};

/// The Transformer module's legacy config file names, in sentence-transformers' order.
const TRANSFORMER_CONFIGS: &[&str] = &[
    "sentence_bert_config.json",
    "sentence_roberta_config.json",
    "sentence_distilbert_config.json",
    "sentence_camembert_config.json",
    "sentence_albert_config.json",
    "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
];

/// Prompt names that mean "a passage to be found", most specific first.
const PASSAGE_PROMPTS: &[&str] = &["passage", "document", "doc", "corpus"];

/// One entry of `modules.json`.
#[derive(Deserialize)]
pub(super) struct Module {
    /// The module's folder, relative to the model's (empty for the transformer at the root).
    #[serde(default)]
    pub path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The modules `modules.json` in `dir` lists, in order.
pub(super) fn listed_modules(dir: &Path) -> Result<Vec<Module>> {
    let path = dir.join("modules.json");
    serde_json::from_value(read_json(&path)?)
        .map_err(|e| Error::bad_file(&path, format!("is not a list of modules ({e})")))
}

/// What a module's `type` says it is: the last part of its Python path
/// (`sentence_transformers.models.Pooling`, `sentence_transformers.base.modules.pooling.Pooling`).
fn module_kind(kind: &str) -> &str {
    kind.rsplit('.').next().unwrap_or(kind)
}

/// Whether `dir` is a sentence-transformers folder.
pub fn is_st_folder(dir: &Path) -> bool {
    dir.join("modules.json").is_file()
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::bad_file(path, format!("is not valid JSON ({e})")))
}

fn read_optional(path: &Path) -> Result<Option<Value>> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// The facts of the model in `dir`, under the name `id`, and the folder of its transformer
/// (config, tokenizer, weights). `revision` is the hub commit the files came from; for a local
/// folder it is a digest of the files that decide the vectors.
pub fn manifest(dir: &Path, id: &str, revision: Option<String>) -> Result<(Manifest, PathBuf)> {
    let (transformer_dir, pooling_config, normalized) = if is_st_folder(dir) {
        let (t, p, n) = modules(dir)?;
        (t, Some(p), n)
    } else {
        (dir.to_path_buf(), None, false)
    };
    let config_path = transformer_dir.join("config.json");
    if !config_path.is_file() {
        return Err(Error::bad_file(
            &transformer_dir,
            "has no config.json; a model folder needs the transformer's config.json, tokenizer.json and model.safetensors",
        ));
    }
    let config = read_json(&config_path)?;
    let architecture = Architecture::from_config(&config)
        .map_err(|message| Error::bad_file(&config_path, message))?;
    let int = |key: &str| config.get(key).and_then(Value::as_u64);
    let hidden = int("hidden_size")
        .ok_or_else(|| Error::bad_file(&config_path, "has no hidden_size"))?
        as usize;
    let positions = int("max_position_embeddings")
        .ok_or_else(|| Error::bad_file(&config_path, "has no max_position_embeddings"))?
        as usize;
    let pad = int("pad_token_id").unwrap_or(0) as usize;
    let usable = positions.saturating_sub(architecture.position_offset(pad));
    let pooling = match &pooling_config {
        Some(path) => read_pooling(path, hidden)?,
        // A plain transformers folder: sentence-transformers would add mean pooling.
        None => Pooling::Mean,
    };

    let mut max_tokens = None;
    let mut lower_case = false;
    for name in TRANSFORMER_CONFIGS {
        if let Some(v) = read_optional(&transformer_dir.join(name))? {
            max_tokens = v.get("max_seq_length").and_then(Value::as_u64);
            lower_case = v
                .get("do_lower_case")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            break;
        }
    }
    if max_tokens.is_none() {
        // Hugging Face writes 1e30 for "no limit": only a plausible length counts.
        max_tokens = read_optional(&transformer_dir.join("tokenizer_config.json"))?
            .and_then(|v| v.get("model_max_length").and_then(Value::as_f64))
            .filter(|n| (1.0..1e7).contains(n))
            .map(|n| n as u64);
    }
    let max_tokens = max_tokens.map_or(usable, |n| (n as usize).min(usable));
    if max_tokens < 3 {
        return Err(Error::bad_file(
            &config_path,
            format!(
                "leaves {max_tokens} positions for a text; this is not an encoder semclust can run"
            ),
        ));
    }

    let prefixes = prompts(dir)?;
    let revision = match revision {
        Some(r) => r,
        None => folder_digest(dir, &transformer_dir, pooling_config.as_deref()),
    };
    let manifest = Manifest {
        id: id.to_string(),
        description: format!(
            "{} from {}, {} pooling{}",
            architecture.label(),
            dir.display(),
            pooling.label(),
            if normalized { ", normalised" } else { "" }
        ),
        dimension: hidden,
        max_tokens,
        pooling,
        architecture,
        lower_case,
        prefixes,
        hub: HubSource {
            repo: id.to_string(),
            revision,
            files: Vec::new(),
        },
        config: toml::Table::new(),
        wheels: Vec::new(),
    };
    Ok((manifest, transformer_dir))
}

/// Read `modules.json`: the Transformer's folder, the Pooling module's config file, and whether
/// a Normalize follows.
fn modules(dir: &Path) -> Result<(PathBuf, PathBuf, bool)> {
    let path = dir.join("modules.json");
    let list = listed_modules(dir)?;
    let kinds: Vec<&str> = list.iter().map(|m| module_kind(&m.kind)).collect();
    let (transformer, pooling, normalize) = match kinds.as_slice() {
        ["Transformer", "Pooling"] => (&list[0], &list[1], false),
        ["Transformer", "Pooling", "Normalize"] => (&list[0], &list[1], true),
        _ => {
            let odd = list
                .iter()
                .find(|m| {
                    !matches!(
                        module_kind(&m.kind),
                        "Transformer" | "Pooling" | "Normalize"
                    )
                })
                .map(|m| format!("module {} is not supported", m.kind))
                .unwrap_or_else(|| {
                    format!("modules {} are not in a supported order", kinds.join(", "))
                });
            return Err(Error::bad_file(
                &path,
                format!("{odd}; semclust runs Transformer, Pooling and optionally Normalize"),
            ));
        }
    };
    let pooling = dir.join(&pooling.path).join("config.json");
    Ok((dir.join(&transformer.path), pooling, normalize))
}

/// The pooling mode of a Pooling module's config, which must pool `hidden`-d token vectors.
fn read_pooling(path: &Path, hidden: usize) -> Result<Pooling> {
    let v = read_json(path)?;
    let width = v
        .get("embedding_dimension")
        .or_else(|| v.get("word_embedding_dimension"))
        .and_then(Value::as_u64);
    if let Some(w) = width.filter(|&w| w as usize != hidden) {
        return Err(Error::bad_file(
            path,
            format!("pools {w}-d token vectors but the transformer's hidden_size is {hidden}"),
        ));
    }
    let modes: Vec<String> = match v.get("pooling_mode") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        _ => {
            // Before sentence-transformers 6: one boolean per mode.
            const LEGACY: &[(&str, &str)] = &[
                ("pooling_mode_cls_token", "cls"),
                ("pooling_mode_lasttoken", "lasttoken"),
                ("pooling_mode_max_tokens", "max"),
                ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
                ("pooling_mode_mean_tokens", "mean"),
                ("pooling_mode_weightedmean_tokens", "weightedmean"),
            ];
            LEGACY
                .iter()
                .filter(|(k, _)| v.get(*k).and_then(Value::as_bool) == Some(true))
                .map(|(_, m)| m.to_string())
                .collect()
        }
    };
    if v.get("include_prompt").and_then(Value::as_bool) == Some(false) {
        return Err(Error::bad_file(
            path,
            "include_prompt false (prompt tokens left out of pooling) is not supported",
        ));
    }
    match modes.as_slice() {
        [m] => Pooling::from_st(m).ok_or_else(|| {
            Error::bad_file(
                path,
                format!(
                    "pooling mode '{m}' is not supported; semclust pools by mean, cls or lasttoken"
                ),
            )
        }),
        [] => Err(Error::bad_file(path, "names no pooling mode")),
        _ => Err(Error::bad_file(
            path,
            format!(
                "pools by {} at once (concatenated); semclust runs one mode",
                modes.join(" + ")
            ),
        )),
    }
}

/// The query and passage prompts of `config_sentence_transformers.json` (none if absent).
fn prompts(dir: &Path) -> Result<Prefixes> {
    let path = dir.join("config_sentence_transformers.json");
    let Some(v) = read_optional(&path)? else {
        return Ok(Prefixes {
            query: String::new(),
            passage: String::new(),
        });
    };
    let table: BTreeMap<String, String> = match v.get("prompts") {
        Some(p) => serde_json::from_value(p.clone())
            .map_err(|e| Error::bad_file(&path, format!("prompts: {e}")))?,
        None => BTreeMap::new(),
    };
    let default = match v.get("default_prompt_name").and_then(Value::as_str) {
        Some(name) => Some(table.get(name).cloned().ok_or_else(|| {
            Error::bad_file(
                &path,
                format!("default_prompt_name '{name}' is not one of its prompts"),
            )
        })?),
        None => None,
    };
    let pick = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| table.get(*n).cloned())
            .or_else(|| default.clone())
            .unwrap_or_default()
    };
    Ok(Prefixes {
        query: pick(&["query"]),
        passage: pick(PASSAGE_PROMPTS),
    })
}

/// A digest of what decides a local folder's vectors: its configuration files and the size of
/// its weights (hashing gigabytes of weights at every load would cost more than it tells).
fn folder_digest(dir: &Path, transformer_dir: &Path, pooling_config: Option<&Path>) -> String {
    let mut h = Sha256::new();
    let mut files = vec![
        dir.join("modules.json"),
        dir.join("config_sentence_transformers.json"),
        transformer_dir.join("config.json"),
        transformer_dir.join("tokenizer.json"),
        transformer_dir.join("tokenizer_config.json"),
    ];
    files.extend(pooling_config.map(Path::to_path_buf));
    files.extend(TRANSFORMER_CONFIGS.iter().map(|n| transformer_dir.join(n)));
    for f in files {
        if let Ok(bytes) = std::fs::read(&f) {
            h.update(f.file_name().unwrap_or_default().as_encoded_bytes());
            h.update(&bytes);
        }
    }
    for w in ["model.safetensors", super::GGUF_FILE] {
        if let Ok(meta) = std::fs::metadata(transformer_dir.join(w)) {
            h.update(w.as_bytes());
            h.update(meta.len().to_le_bytes());
        }
    }
    format!("local-{}", &crate::util::fs::hex(&h.finalize())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder with `files` (path, JSON text) written into it.
    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        d
    }

    const MODULES: &str = r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
        {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#;
    const XLMR: &str = r#"{"model_type":"xlm-roberta","hidden_size":8,"max_position_embeddings":514,"pad_token_id":1}"#;

    #[test]
    fn length_falls_back_to_the_tokenizer_and_is_capped_by_positions() {
        // Hugging Face's "no limit" (1e30) is no limit: the positions decide (514 - 2).
        let d = folder(&[
            ("modules.json", MODULES),
            ("1_Pooling/config.json", r#"{"pooling_mode":"cls"}"#),
            ("config.json", XLMR),
            (
                "tokenizer_config.json",
                r#"{"model_max_length":1000000000000000019884624838656}"#,
            ),
        ]);
        let (m, _) = manifest(d.path(), "x", None).unwrap();
        assert_eq!((m.max_tokens, m.pooling), (512, Pooling::Cls));
        assert_eq!(m.architecture, Architecture::XlmRoberta);
        // sentence_bert_config.json wins over the tokenizer, and lower-cases.
        let d = folder(&[
            ("modules.json", MODULES),
            (
                "1_Pooling/config.json",
                r#"{"pooling_mode_lasttoken":true}"#,
            ),
            ("config.json", XLMR),
            ("tokenizer_config.json", r#"{"model_max_length":512}"#),
            (
                "sentence_bert_config.json",
                r#"{"max_seq_length":128,"do_lower_case":true}"#,
            ),
        ]);
        let (m, _) = manifest(d.path(), "x", None).unwrap();
        assert_eq!(
            (m.max_tokens, m.pooling, m.lower_case),
            (128, Pooling::LastToken, true)
        );
    }

    #[test]
    fn prompts_by_name_with_the_default_for_a_kind_without_one() {
        let d = folder(&[
            ("modules.json", MODULES),
            ("1_Pooling/config.json", r#"{"pooling_mode":"mean"}"#),
            ("config.json", XLMR),
            (
                "config_sentence_transformers.json",
                r#"{"prompts":{"query":"Represent this question: ","classification":"c: "},"default_prompt_name":"classification"}"#,
            ),
        ]);
        let (m, _) = manifest(d.path(), "x", None).unwrap();
        assert_eq!(m.prefixes.query, "Represent this question: ");
        assert_eq!(m.prefixes.passage, "c: ");
    }

    #[test]
    fn the_digest_follows_the_settings() {
        let files = [
            ("modules.json", MODULES),
            ("1_Pooling/config.json", r#"{"pooling_mode":"mean"}"#),
            ("config.json", XLMR),
        ];
        let a = folder(&files);
        let b = folder(&files);
        let ra = manifest(a.path(), "x", None).unwrap().0.hub.revision;
        assert_eq!(ra, manifest(b.path(), "x", None).unwrap().0.hub.revision);
        std::fs::write(
            b.path().join("1_Pooling/config.json"),
            r#"{"pooling_mode":"cls"}"#,
        )
        .unwrap();
        assert_ne!(ra, manifest(b.path(), "x", None).unwrap().0.hub.revision);
    }
}
