//! The Python package (`python/`): pip builds it from this tree (maturin, through its
//! pyproject.toml, reusing this build's target folder) into a virtual environment under the
//! test's temporary folder, then its pytest suite runs: vectors against sentence-transformers'
//! and transformers' references, and the package against this build's `semclust` binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::OutputLimited;

fn run(what: &str, cmd: &mut Command) -> String {
    let o = cmd.output_limited();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{what} failed:\n{out}");
    out
}

/// A virtual environment with pytest and numpy, made once per target folder.
fn venv() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-venv");
    let python = dir.join("bin/python");
    if !python.is_file() {
        run(
            "python3 -m venv",
            Command::new("python3").args(["-m", "venv"]).arg(&dir),
        );
    }
    let pip = |args: &[&str]| {
        let mut c = Command::new(&python);
        c.args([
            "-m",
            "pip",
            "--disable-pip-version-check",
            "install",
            "--quiet",
        ]);
        c.args(args);
        c
    };
    run(
        "pip install pytest numpy",
        &mut pip(&["pytest==8.4.2", "numpy"]),
    );
    python
}

#[test]
fn python_package_builds_installs_and_passes_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = venv();
    // Built from this tree each time (maturin compiles only what changed).
    run(
        "pip install ./python",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "--disable-pip-version-check",
                "install",
                "--quiet",
            ])
            .args(["--force-reinstall", "--no-deps"])
            .arg(root.join("python")),
    );
    let out = run(
        "pytest python/tests",
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(root.join("python/tests"))
            .env("SEMCLUST_BIN", env!("CARGO_BIN_EXE_semclust"))
            .env("SEMCLUST_CACHE", common::cache_dir())
            .current_dir(root),
    );
    eprintln!("{out}");
    assert!(out.contains(" passed"), "{out}");
}
