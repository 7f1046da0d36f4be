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
