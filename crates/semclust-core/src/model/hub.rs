//! The Hugging Face hub source, through the `hf-hub` crate: files at the manifest's pinned
//! revision, in the hub's own cache (`HF_HOME`). With `HF_HUB_OFFLINE=1` only that cache is
//! looked at. Without a network the first request fails at once and the caller falls through to
//! the next source.

use std::path::PathBuf;

use hf_hub::{api::sync::ApiBuilder, Cache, Repo, RepoType};

use super::manifest::Manifest;

pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

/// Fetch (or find in the hub cache) the model's files; `Err` carries a one-line reason.
pub fn fetch(manifest: &Manifest) -> Result<Vec<PathBuf>, String> {
    let repo = Repo::with_revision(
        manifest.hub.repo.clone(),
        RepoType::Model,
        manifest.hub.revision.clone(),
    );
    if offline() {
        let cache = Cache::from_env().repo(repo);
        return manifest
            .hub
            .files
            .iter()
            .map(|f| {
                cache
                    .get(f)
                    .ok_or_else(|| format!("HF_HUB_OFFLINE is set and {f} is not in the hub cache"))
            })
            .collect();
    }
    let api = ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| e.to_string())?;
    let api = api.repo(repo);
    manifest
        .hub
        .files
        .iter()
        .map(|f| api.get(f).map_err(|e| format!("{f}: {e}")))
        .collect()
}

/// Whether `name` reads as a hub repository: `ORG/NAME`, one slash, no spaces.
pub fn is_repo_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// The files of a sentence-transformers model that semclust reads; optional ones may be absent.
const REPO_FILES: &[(&str, bool)] = &[
    ("modules.json", false),
    ("config.json", true),
    ("tokenizer.json", true),
    ("tokenizer_config.json", false),
    ("sentence_bert_config.json", false),
    ("config_sentence_transformers.json", false),
    ("model.safetensors", true),
];

/// Fetch (or find in the hub cache) a model that has no manifest, at the repository's newest
/// commit: the folder its files are in (the hub cache's snapshot) and that commit.
pub fn fetch_repo(name: &str) -> Result<(PathBuf, String), String> {
    // The hub cache's copy (the commit `main` pointed at when it was fetched).
    let cached = || {
        let cache = Cache::from_env().repo(Repo::model(name.to_string()));
        let dir = cache.get("config.json")?.parent().map(PathBuf::from)?;
        let revision = dir.file_name()?.to_string_lossy().into_owned();
        Some((dir, revision))
    };
    if offline() {
        return cached()
            .ok_or_else(|| format!("HF_HUB_OFFLINE is set and {name} is not in the hub cache"));
    }
    let api = ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| e.to_string())?;
    let info = match api.model(name.to_string()).info() {
        Ok(info) => info,
        // Offline with the model fetched before: an index made with it still opens.
        Err(e) => return cached().ok_or_else(|| format!("{name}: {e}")),
    };
    let listed: std::collections::HashSet<&str> =
        info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
    // Every file from the same commit, so that they land in one snapshot folder.
    let repo = api.repo(Repo::with_revision(
        name.to_string(),
        RepoType::Model,
        info.sha.clone(),
    ));
    let mut wanted: Vec<String> = Vec::new();
    for (file, required) in REPO_FILES {
        if listed.contains(file) {
            wanted.push(file.to_string());
        } else if *required {
            return Err(format!(
                "{name} has no {file} (semclust reads one model.safetensors and tokenizer.json)"
            ));
        }
    }
    let mut dir = None;
    for file in &wanted {
        let path = repo.get(file).map_err(|e| format!("{file}: {e}"))?;
        dir.get_or_insert_with(|| path.parent().map(PathBuf::from).unwrap_or_default());
    }
    let dir = dir.unwrap_or_default();
    // The pooling module's config sits in the folder modules.json names (an unreadable
    // modules.json is reported when the folder is read).
    for m in super::st::listed_modules(&dir).unwrap_or_default() {
        let file = format!("{}/config.json", m.path);
        if !m.path.is_empty() && listed.contains(file.as_str()) {
            repo.get(&file).map_err(|e| format!("{file}: {e}"))?;
        }
    }
    Ok((dir, info.sha))
}
