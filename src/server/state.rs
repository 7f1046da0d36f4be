//! The state every handler shares: the model's batcher, the index (a reading and a writing
//! connection), the themes cache, metrics and configuration.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::StatusCode;

use super::{jobs, ApiError, Batcher, Metrics, ServerConfig};
use crate::collection::{Collection, IndexState};
use crate::embed::TokenEncoder;
use crate::error::Result;
use crate::store::Fingerprint;

pub(super) type ThemesKey = (String, u64, usize);

/// The turn of one themes key.
pub(super) type ThemesGate = tokio::sync::Mutex<()>;

/// Theme results of one state of the index, the oldest dropped past a bound.
#[derive(Default)]
pub(super) struct ThemesCache {
    pub(super) state: Option<IndexState>,
    /// In insertion order.
    pub(super) entries: std::collections::VecDeque<(ThemesKey, Arc<serde_json::Value>)>,
}

impl ThemesCache {
    /// Forget every result when the index is now in another state.
    pub(super) fn follow(&mut self, state: IndexState, metrics: &Metrics) {
        if self.state.as_ref() != Some(&state) {
            self.state = Some(state);
            self.entries.clear();
            metrics.themes_cached(0);
        }
    }

    pub(super) fn get(&self, key: &ThemesKey) -> Option<Arc<serde_json::Value>> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Keep `v`, dropping the oldest results past `bound` (none kept when it is 0).
    pub(super) fn insert(
        &mut self,
        key: ThemesKey,
        v: Arc<serde_json::Value>,
        bound: usize,
        metrics: &Metrics,
    ) {
        while self.entries.len() >= bound.max(1) {
            self.entries.pop_front();
        }
        if bound > 0 {
            self.entries.push_back((key, v));
        }
        metrics.themes_cached(self.entries.len());
    }
}

/// Shared by every request.
pub struct AppState {
    pub(super) batcher: Batcher,
    /// The model's language-neutral fit, given to every collection the server opens.
    pub(super) neutral: Option<Arc<crate::neutral::LanguageSubspace>>,
    pub(super) fingerprint: Fingerprint,
    pub(super) config: ServerConfig,
    pub(super) metrics: Arc<Metrics>,
    pub(super) started: Instant,
    /// The index for reading, opened on first use (`None` until there is one).
    pub(super) reader: Mutex<Option<Collection>>,
    /// One indexing request at a time.
    pub(super) writer: tokio::sync::Mutex<()>,
    /// Themes by (k, seed, restarts), valid for one state of the index.
    pub(super) themes: tokio::sync::Mutex<ThemesCache>,
    /// One turn per themes key being computed: a second request for the same themes waits for
    /// the first; requests for other themes run beside it.
    pub(super) themes_gates:
        Mutex<std::collections::HashMap<ThemesKey, std::sync::Weak<ThemesGate>>>,
    /// Themes runs started by `POST /v1/themes`.
    pub(super) jobs: jobs::Jobs,
    /// Passages in the index when `/health` or `/metrics` last counted them (-1: not yet):
    /// what they report while the index is busy, as they never wait for it.
    pub(super) passages: std::sync::atomic::AtomicI64,
}

impl AppState {
    /// Start the model thread and check the index (if there is one) was built with this model.
    /// `embedder` is the loaded [`crate::embed::Embedder`], or a test's stand-in.
    pub fn new(embedder: Arc<dyn TokenEncoder>, config: ServerConfig) -> Result<Arc<Self>> {
        let fingerprint = Fingerprint::from(embedder.info());
        let reader = Collection::open_existing(&config.store)?;
        if let Some(c) = &reader {
            c.check_model(embedder.info())?;
        }
        let metrics = Arc::new(Metrics::default());
        let batcher = Batcher::start(embedder, config.batch, metrics.clone());
        // The model's language-neutral fit (made once per model and machine, then read from
        // the cache). A model it cannot be fitted for is served without: said in the log.
        let fit = match config.neutral {
            true => crate::neutral::LanguageSubspace::cached_or_fit(
                &fingerprint,
                &batcher,
                &crate::model::cache_root(),
            )
            .map(Some),
            false => Ok(None),
        };
        let neutral = match fit {
            Ok(fit) => fit.map(Arc::new),
            Err(e) => {
                crate::util::log(&format!(
                    "no language-neutral view for {}: {e}; similarity is the model's own",
                    fingerprint.model
                ));
                None
            }
        };
        let mut reader = reader;
        if let (Some(c), Some(fit)) = (reader.as_mut(), &neutral) {
            c.set_language_subspace(fit.clone())?;
        }
        Ok(Arc::new(Self {
            neutral,
            batcher,
            fingerprint,
            config,
            metrics,
            started: Instant::now(),
            reader: Mutex::new(reader),
            writer: tokio::sync::Mutex::new(()),
            themes: tokio::sync::Mutex::new(ThemesCache::default()),
            themes_gates: Mutex::new(std::collections::HashMap::new()),
            jobs: jobs::Jobs::default(),
            passages: std::sync::atomic::AtomicI64::new(-1),
        }))
    }

    pub fn embedder(&self) -> &dyn TokenEncoder {
        self.batcher.embedder()
    }

    /// The turn of the themes `key`: shared by the requests that want it now, dropped with the
    /// last of them (the map keeps only weak handles, pruned as it grows).
    pub(super) fn themes_gate(&self, key: &ThemesKey) -> Arc<ThemesGate> {
        let mut gates = self.themes_gates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = gates.get(key).and_then(std::sync::Weak::upgrade) {
            return g;
        }
        gates.retain(|_, g| g.strong_count() > 0);
        let g = Arc::new(ThemesGate::default());
        gates.insert(key.clone(), Arc::downgrade(&g));
        g
    }

    /// Run `f` on the index (each [`Collection`] operation reads one consistent snapshot).
    pub(super) fn read<R>(
        &self,
        f: impl FnOnce(&mut Collection) -> Result<R>,
    ) -> std::result::Result<R, ApiError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        self.open_reader(&mut guard)?;
        let Some(collection) = guard.as_mut() else {
            return Err(self.no_index());
        };
        let result = f(collection);
        if let Err(crate::Error::Postgres { .. }) = &result {
            // The connection may be gone (server restart, failover): the next request connects
            // again instead of failing for ever.
            *guard = None;
        }
        Ok(result?)
    }

    /// Open the index into `reader` on first use; it stays `None` while there is no index. An
    /// index deleted or made again since it was opened is opened again: answering from the
    /// deleted file would serve what is gone, and miss what `POST /v1/index` writes to the new
    /// one.
    pub(super) fn open_reader(&self, reader: &mut Option<Collection>) -> Result<()> {
        if reader.as_ref().is_some_and(Collection::replaced) {
            crate::util::log(&format!(
                "the index {} was deleted or made again: opening it again",
                self.config.store
            ));
            *reader = None;
        }
        if reader.is_none() {
            *reader = Collection::open_existing(&self.config.store)?;
            if let (Some(c), Some(fit)) = (reader.as_mut(), &self.neutral) {
                c.set_language_subspace(fit.clone())?;
            }
        }
        Ok(())
    }

    pub(super) fn no_index(&self) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "index_empty",
            format!(
                "the index {} holds no passage yet: POST documents to /v1/index, or run `semclust index PATH {}`",
                self.config.store,
                self.config.store.flag()
            ),
        )
        .with_code("index_empty")
    }

    /// Passages in the index, for `/health` and `/metrics` (None before the first indexing).
    /// Counted when the index is free, else the last count: a long search or a lexical-index
    /// build never holds up a health check.
    pub(super) fn index_len(&self) -> Option<usize> {
        use std::sync::atomic::Ordering;
        if let Ok(mut guard) = self.reader.try_lock() {
            let _ = self.open_reader(&mut guard);
            if let Some(collection) = guard.as_mut() {
                if let Ok(n) = collection.len() {
                    self.passages.store(n as i64, Ordering::Relaxed);
                }
            }
        }
        usize::try_from(self.passages.load(Ordering::Relaxed)).ok()
    }
}
