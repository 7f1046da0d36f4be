//! The configuration file: the options people repeat on every command (index, store, model,
//! precision, device, model cache, API key), read from `semclust.toml` in the working folder,
//! else `semclust/semclust.toml` in the user's configuration folder (`~/.config` on Linux), or
//! from the file `SEMCLUST_CONFIG` names.
//!
//! Each key fills the environment variable of its flag when that variable is not set, so the
//! order of precedence is clap's own: a flag, then the environment, then the file, then the
//! default. An unknown key or a value of the wrong type is an error naming the file and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The keys a configuration file may hold, each with the environment variable it fills.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    index: Option<PathBuf>,
    store: Option<String>,
    model: Option<String>,
    precision: Option<String>,
    device: Option<String>,
    cache: Option<PathBuf>,
    key: Option<String>,
}

/// Where the configuration is read from, if anywhere.
fn location() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SEMCLUST_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let here = Path::new("semclust.toml");
    if here.is_file() {
        return Some(here.to_path_buf());
    }
    let user = dirs::config_dir()?.join("semclust").join("semclust.toml");
    user.is_file().then_some(user)
}

/// Read the configuration file, if there is one, into the environment of this process (before
/// any thread starts: the caller is `main`, first thing). Returns the file read.
pub fn apply() -> anyhow::Result<Option<PathBuf>> {
    let Some(path) = location() else {
        return Ok(None);
    };
    // A configuration is a few lines; a larger file is not one.
    const MAX: u64 = 64 * 1024;
    let meta = std::fs::metadata(&path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the configuration: {e}", path.display()))?;
    if meta.len() > MAX {
        anyhow::bail!(
            "{}: a configuration file of {} bytes; semclust reads at most 64 KiB",
            path.display(),
            meta.len()
        );
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the configuration: {e}", path.display()))?;
    let config: Config = toml::from_str(&text).map_err(|e| {
        let what = e.message().lines().next().unwrap_or("").to_string();
        let line = e
            .span()
            .map(|s| {
                let n = text[..s.start].matches('\n').count();
                let shown: String = text
                    .lines()
                    .nth(n)
                    .unwrap_or("")
                    .trim()
                    .chars()
                    .take(80)
                    .collect();
                format!(" (line {}: {shown})", n + 1)
            })
            .unwrap_or_default();
        anyhow::anyhow!("{}{line}: {what}", path.display())
    })?;
    let fill = |var: &str, value: Option<String>| {
        if let Some(v) = value {
            if std::env::var_os(var).is_none() {
                // Single-threaded here (main's first step), which set_var requires.
                std::env::set_var(var, v);
            }
        }
    };
    let path_str = |p: Option<PathBuf>| p.map(|p| p.to_string_lossy().into_owned());
    fill("SEMCLUST_INDEX", path_str(config.index));
    fill("SEMCLUST_STORE", config.store);
    fill("SEMCLUST_MODEL", config.model);
    fill("SEMCLUST_PRECISION", config.precision);
    fill("SEMCLUST_DEVICE", config.device);
    fill("SEMCLUST_CACHE", path_str(config.cache));
    fill("SEMCLUST_API_KEY", config.key);
    Ok(Some(path))
}
