//! A model stand-in and the real server in-process, for tests of the server's own rules:
//! `semclust::server::serve` on a loopback port, called over real HTTP, in front of a fake
//! model whose forward pass waits until the test opens a gate. No model weights: these run in
//! milliseconds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde_json::Value;

use semclust::collection::{Collection, FileBatch};
use semclust::corpus::ReadLimits;
use semclust::embed::{Embeddings, Encode, InputKind, RuntimeInfo, TokenEncoder, Tokenized};
use semclust::server::{self, AppState, BatchConfig, Limits, ServerConfig};
use semclust::store::StoreLocation;
use semclust::Precision;

pub const DIM: usize = 16;
/// How long a test waits for a state it expects (the server reaches it in milliseconds).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A model stand-in: words hashed into 16 buckets, normalised (so equal texts give equal
/// vectors and a reply can be checked to belong to its request). Its forward pass waits for
/// the gate, asking the server's `keep_going` meanwhile, as the real one does between passes.
pub struct GatedEncoder {
    pub info: RuntimeInfo,
    pub open: Mutex<bool>,
    pub changed: Condvar,
    /// Forward passes started, and the texts in each.
    pub passes: Mutex<Vec<usize>>,
    /// Forward passes the server called off (`keep_going` said no).
    pub gave_up: AtomicUsize,
}

impl GatedEncoder {
    pub fn new(open: bool) -> Arc<Self> {
        Arc::new(Self {
            info: RuntimeInfo {
                model: "gated-fake".into(),
                revision: "test".into(),
                dimension: DIM,
                device: "cpu".into(),
                precision: Precision::F32,
                weights: "none: words hashed into buckets".into(),
                threads: 1,
                cpu_features: Vec::new(),
                load_seconds: 0.0,
                device_note: None,
            },
            open: Mutex::new(open),
            changed: Condvar::new(),
            passes: Mutex::new(Vec::new()),
            gave_up: AtomicUsize::new(0),
        })
    }

    pub fn set_open(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.changed.notify_all();
    }

    pub fn passes(&self) -> Vec<usize> {
        self.passes.lock().unwrap().clone()
    }

    /// Wait until `f` holds, or fail the test.
    pub fn wait_for(&self, what: &str, f: impl Fn(&Self) -> bool) {
        let started = Instant::now();
        while !f(self) {
            assert!(started.elapsed() < PATIENCE, "never happened: {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

pub fn word_id(w: &str) -> u32 {
    // FNV-1a: any stable hash does.
    let mut h: u32 = 0x811c_9dc5;
    for b in w.to_lowercase().bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    4 + h % 100_000
}

/// The fake's vector of token ids: counts per bucket, normalised.
pub fn bucket_vector(ids: impl Iterator<Item = u32>) -> Vec<f32> {
    let mut v = [0f32; DIM];
    for id in ids {
        v[id as usize % DIM] += 1.0;
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

/// The vector the fake gives `text`.
pub fn vector_of(text: &str) -> Vec<f32> {
    bucket_vector(text.split_whitespace().map(word_id))
}

impl TokenEncoder for GatedEncoder {
    fn info(&self) -> &RuntimeInfo {
        &self.info
    }
    fn repo(&self) -> &str {
        "test/gated-fake"
    }
    fn tokenize(&self, texts: &[&str], _kind: InputKind) -> semclust::Result<Tokenized> {
        Ok(Tokenized::from_ids(
            texts
                .iter()
                .map(|t| t.split_whitespace().map(word_id).collect())
                .collect(),
        ))
    }
    fn embed_tokens_while(
        &self,
        tokenized: &Tokenized,
        keep_going: &dyn Fn() -> bool,
    ) -> semclust::Result<Option<Embeddings>> {
        self.passes.lock().unwrap().push(tokenized.len());
        let mut open = self.open.lock().unwrap();
        while !*open {
            if !keep_going() {
                self.gave_up.fetch_add(1, Ordering::SeqCst);
                return Ok(None);
            }
            open = self
                .changed
                .wait_timeout(open, Duration::from_millis(2))
                .unwrap()
                .0;
        }
        drop(open);
        let mut data = Vec::with_capacity(tokenized.len() * DIM);
        let mut tokens = Vec::new();
        for i in 0..tokenized.len() {
            data.extend(bucket_vector(tokenized.ids(i).iter().copied()));
            tokens.push(tokenized.ids(i).len() + 2);
        }
        Ok(Some(Embeddings::from_parts(data, DIM, tokens)))
    }
}

/// The fake used directly, as `semclust index` uses the model (no queue; the gate must be open).
impl Encode for GatedEncoder {
    fn encode(&self, texts: &[&str], kind: InputKind) -> semclust::Result<Embeddings> {
        let tokens = self.tokenize(texts, kind)?;
        Ok(self
            .embed_tokens_while(&tokens, &|| true)?
            .expect("the fake gives up only when asked to"))
    }
    fn token_counts(&self, texts: &[&str], kind: InputKind) -> semclust::Result<Vec<usize>> {
        let t = self.tokenize(texts, kind)?;
        Ok((0..t.len()).map(|i| t.content_len(i) + 2).collect())
    }
}

/// `paths` indexed into `location` as `semclust index` does (files that cannot be read
/// skipped), by the fake model: what it read.
pub fn index_files(location: &StoreLocation, paths: &[PathBuf]) -> FileBatch {
    let model = GatedEncoder::new(true);
    let batch =
        FileBatch::read_with(paths, &ReadLimits::default(), location, false, &mut |_| {}).unwrap();
    let mut c = Collection::create_or_open(location, model.info(), &Default::default()).unwrap();
    c.sync_files(&*model, &batch, &mut |_| {}).unwrap();
    batch
}

/// `semclust::server::serve` on a loopback port, on a runtime of its own, stopped when the
/// test sends on `stop` (or drops the server).
pub struct InProcess {
    pub base: String,
    pub addr: SocketAddr,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub done: std::sync::mpsc::Receiver<()>,
    pub client: Client,
    pub model: Arc<GatedEncoder>,
    pub runtime: Option<tokio::runtime::Runtime>,
}

impl InProcess {
    pub fn start(
        model: Arc<GatedEncoder>,
        index: &Path,
        limits: Limits,
        batch: BatchConfig,
    ) -> Self {
        Self::start_keyed(model, index, limits, batch, None)
    }

    /// [`InProcess::start`], requiring `api_key` when one is given.
    pub fn start_keyed(
        model: Arc<GatedEncoder>,
        index: &Path,
        limits: Limits,
        batch: BatchConfig,
        api_key: Option<&str>,
    ) -> Self {
        let config = ServerConfig {
            model_aliases: Vec::new(),
            store: StoreLocation::new(index, None).unwrap(),
            api_key: api_key.map(str::to_string),
            limits,
            batch,
            // The stand-in model has no languages to tell apart, and a fit would run it (and
            // wait on a shut gate) before the test's first request.
            neutral: false,
        };
        let state = AppState::new(model.clone(), config).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (finished, done) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let _ = server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await;
            let _ = finished.send(());
        });
        Self {
            base: format!("http://{addr}"),
            addr,
            stop: Some(stop),
            done,
            client: Client::builder().timeout(PATIENCE).build().unwrap(),
            model,
            runtime: Some(runtime),
        }
    }

    pub fn post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .unwrap()
    }

    /// A gauge or counter from `/metrics`.
    pub fn metric(&self, series: &str) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} not in /metrics:\n{text}"))
    }

    pub fn wait_metric(&self, series: &str, want: f64) {
        let started = Instant::now();
        while self.metric(series) != want {
            assert!(
                started.elapsed() < PATIENCE,
                "{series} never reached {want}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A test that fails with the gate shut must fail, not hang: the gate opens, so that work
/// waiting on the model (an indexing run on the blocking pool) can end, and the runtime gets a
/// bounded time to stop.
impl Drop for InProcess {
    fn drop(&mut self) {
        self.model.set_open(true);
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(r) = self.runtime.take() {
            r.shutdown_timeout(Duration::from_secs(5));
        }
    }
}
