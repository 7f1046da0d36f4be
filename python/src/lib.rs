//! `semclust._semclust`: the compiled half of the `semclust` Python package, over
//! `semclust-core`. It takes and returns plain values (lists of str, bytes, JSON text);
//! `semclust/__init__.py` turns them into numpy arrays and Python objects and gives the
//! signatures people know from sentence-transformers. Every call that computes (loading a
//! model, embedding, indexing, searching, clustering) releases the GIL.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::{PyFileNotFoundError, PyLookupError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use semclust_core::cluster::{KChoice, ThemeOptions};
use semclust_core::collection::{Collection, FileBatch, SearchRequest, Target};
use semclust_core::corpus::{Format, ReadLimits};
use semclust_core::indexing::DocumentPassages;
use semclust_core::search::{HitRecord, Mode};
use semclust_core::store::{Filter, HnswOptions, StoreLocation};
use semclust_core::{
    DeviceChoice, Embedder, Error, InputKind, LongTextPolicy, ModelSpec, Precision,
};

/// The library's error as the Python exception a caller would catch: a value the caller chose
/// is a `ValueError`, a missing id a `LookupError`, a missing index `FileNotFoundError`.
fn py_err(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::InvalidInput { .. } | Error::InvalidArgument(_) | Error::UnknownModel { .. } => {
            PyValueError::new_err(message)
        }
        Error::NotFound { .. } => PyLookupError::new_err(message),
        Error::NoIndex { .. } => PyFileNotFoundError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

/// A failure on the way to Python: the library's error, or the JSON text of a result.
struct Fail(PyErr);

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail(py_err(e))
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        Fail(PyRuntimeError::new_err(format!("result to JSON: {e}")))
    }
}

impl From<Fail> for PyErr {
    fn from(f: Fail) -> Self {
        f.0
    }
}

const DEFAULT_MODEL: &str = "multilingual-e5-small";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a call has already been raised in Python as PanicException; the state
    // under the lock is whole (every write to it is one assignment), so go on with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A model by name (semclust's cache, the hub unless `hub` is false, a wheel) or a folder.
fn model_spec(name_or_dir: &str, hub: bool) -> ModelSpec {
    let mut spec = ModelSpec::named(name_or_dir);
    if Path::new(name_or_dir).is_dir() {
        spec.model_dir = Some(PathBuf::from(name_or_dir));
    }
    spec.hub = hub;
    spec
}

/// A sentence-embedding model run by candle.
#[pyclass(frozen, module = "semclust._semclust")]
struct Model {
    embedder: Arc<Mutex<Embedder>>,
    spec: ModelSpec,
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (name_or_dir, precision=None, device="cpu", long_text="window", hub=true))]
    fn new(
        py: Python<'_>,
        name_or_dir: &str,
        precision: Option<&str>,
        device: &str,
        long_text: &str,
        hub: bool,
    ) -> PyResult<Self> {
        let policy = match long_text {
            "window" => LongTextPolicy::Window,
            "truncate" => LongTextPolicy::Truncate,
            other => {
                return Err(PyValueError::new_err(format!(
                    "long_text: {other:?} is not \"window\" (overlapping windows, averaged) or \"truncate\" (sentence-transformers' behaviour)"
                )))
            }
        };
        let precision = precision
            .map(|p| p.parse::<Precision>())
            .transpose()
            .map_err(py_err)?;
        let device: DeviceChoice = device.parse().map_err(py_err)?;
        let spec = model_spec(name_or_dir, hub);
        let embedder = py
            .detach(|| Embedder::load(&spec, device, precision))
            .map_err(py_err)?
            .with_long_text(policy);
        Ok(Self {
            embedder: Arc::new(Mutex::new(embedder)),
            spec,
        })
    }

    /// Embed `texts` (queries with the model's query prefix when `query`): the rows as native
    /// f32 bytes, L2-normalised, with their count and dimension.
    #[pyo3(signature = (texts, query=false, batch_size=None))]
    fn encode_raw<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        query: bool,
        batch_size: Option<usize>,
    ) -> PyResult<(Bound<'py, PyByteArray>, usize, usize)> {
        let kind = if query {
            InputKind::Query
        } else {
            InputKind::Passage
        };
        let vectors = py.detach(|| {
            let mut e = lock(&self.embedder);
            if let Some(b) = batch_size {
                e.set_batch_size(b)?;
            }
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            e.embed(&refs, kind)
        });
        let vectors = vectors.map_err(py_err)?;
        let (rows, dim) = (vectors.rows(), vectors.dim());
        let data = vectors.as_slice();
        let bytes = PyByteArray::new_with(py, data.len() * 4, |buf| {
            for (out, v) in buf.chunks_exact_mut(4).zip(data) {
                out.copy_from_slice(&v.to_ne_bytes());
            }
            Ok(())
        })?;
        Ok((bytes, rows, dim))
    }

    #[getter]
    fn dimension(&self) -> usize {
        lock(&self.embedder).dimension()
    }

    #[getter]
    fn max_tokens(&self) -> usize {
        lock(&self.embedder).max_tokens()
    }

    /// What runs: model, precision, device, as the command line's `semclust embed` reports it.
    #[getter]
    fn info(&self) -> String {
        lock(&self.embedder).info().to_string()
    }

    #[getter]
    fn name(&self) -> String {
        lock(&self.embedder).info().model.clone()
    }

    fn __repr__(&self) -> String {
        format!("semclust.Model({})", self.info())
    }
}

/// An index (a folder, or a PostgreSQL schema given by its URL) of passages and their vectors.
#[pyclass(frozen, module = "semclust._semclust")]
struct Index {
    location: StoreLocation,
    collection: Mutex<Option<Collection>>,
    /// The model given, or the index's own once loaded.
    embedder: Mutex<Option<Arc<Mutex<Embedder>>>>,
    /// The model given, or how to load the index's own: where its files are looked for.
    spec: ModelSpec,
    /// A model was named (else the index's own is loaded, or the default for a new index).
    spec_given: bool,
    device: DeviceChoice,
}

impl Index {
    /// The open collection, opened if it exists; `None` when nothing is indexed yet.
    fn open(&self) -> Result<MutexGuard<'_, Option<Collection>>, Error> {
        let mut c = lock(&self.collection);
        if c.is_none() {
            *c = Collection::open_existing(&self.location)?;
        }
        Ok(c)
    }

    /// The model given, else the index's own (at the index's precision), else the default;
    /// checked against `collection`'s, when there is one.
    fn embedder(&self, collection: Option<&Collection>) -> Result<Arc<Mutex<Embedder>>, Error> {
        let mut slot = lock(&self.embedder);
        let e = match &*slot {
            Some(e) => e.clone(),
            None => {
                let e = Arc::new(Mutex::new(self.load(collection)?));
                *slot = Some(e.clone());
                e
            }
        };
        if let Some(c) = collection {
            c.check_model(lock(&e).info())?;
        }
        Ok(e)
    }

    /// Load the model [`Index::embedder`] hands out.
    fn load(&self, collection: Option<&Collection>) -> Result<Embedder, Error> {
        let (spec, precision) = match collection {
            Some(c) => {
                let fp = c.fingerprint();
                // The index's model, found where the one given would be (hub or not).
                let mut spec = self.spec.clone();
                if !self.spec_given {
                    spec.name = fp.model.clone();
                }
                (spec, Some(fp.precision.parse()?))
            }
            None => (self.spec.clone(), None),
        };
        Embedder::load(&spec, self.device, precision)
    }

    fn cache(&self) -> PathBuf {
        self.spec.cache_root()
    }

    fn sync(
        &self,
        add: impl FnOnce(&mut Collection, &Embedder) -> Result<String, Error>,
    ) -> Result<String, Error> {
        let mut guard = self.open()?;
        let arc = self.embedder(guard.as_ref())?;
        let embedder = lock(&arc);
        if guard.is_none() {
            let hnsw = HnswOptions::default();
            *guard = Some(Collection::create_or_open(
                &self.location,
                embedder.info(),
                &hnsw,
            )?);
        }
        add(guard.as_mut().expect("opened above"), &embedder)
    }

    fn search_json(&self, request: SearchRequest) -> Result<String, Fail> {
        request.validate()?;
        let mut guard = self.open()?;
        let Some(collection) = guard.as_mut() else {
            return Err(Error::NoIndex {
                location: (&self.location).into(),
            }
            .into());
        };
        let needs_model = request.to_embed().is_some() || request.neutral;
        let mut vector = None;
        if needs_model {
            let arc = self.embedder(Some(collection))?;
            let embedder = lock(&arc);
            if request.neutral {
                collection.make_language_neutral(&*embedder, &self.cache())?;
            }
            if let Some((text, kind)) = request.to_embed() {
                vector = Some(embedder.embed(&[text], kind)?.row(0).to_vec());
            }
        }
        let found = collection.search(&request, vector)?;
        let hits: Vec<HitRecord<'_>> = found.hits.iter().map(HitRecord::from).collect();
        Ok(serde_json::to_string(&hits)?)
    }
}

#[pymethods]
impl Index {
    #[new]
    #[pyo3(signature = (path_or_url, model=None, model_name=None, device="cpu", hub=true))]
    fn new(
        path_or_url: &str,
        model: Option<&Bound<'_, Model>>,
        model_name: Option<&str>,
        device: &str,
        hub: bool,
    ) -> PyResult<Self> {
        let location = if semclust_core::store::is_postgres_url(path_or_url) {
            StoreLocation::new(Path::new("."), Some(path_or_url))
        } else {
            StoreLocation::new(Path::new(path_or_url), None)
        }
        .map_err(py_err)?;
        let (embedder, spec) = match model {
            Some(m) => (Some(m.get().embedder.clone()), m.get().spec.clone()),
            None => (None, model_spec(model_name.unwrap_or(DEFAULT_MODEL), hub)),
        };
        let spec_given = model.is_some() || model_name.is_some();
        Ok(Self {
            location,
            collection: Mutex::new(None),
            embedder: Mutex::new(embedder),
            spec,
            spec_given,
            device: device.parse().map_err(py_err)?,
        })
    }

    /// Index files and folders (read as `semclust index` reads them; unreadable files are
    /// skipped and listed): JSON of what changed, and the files skipped.
    fn add_paths(&self, py: Python<'_>, paths: Vec<PathBuf>) -> PyResult<String> {
        py.detach(|| {
            let mut warnings = Vec::new();
            let limits = ReadLimits::default();
            let batch =
                FileBatch::read(&paths, &limits, &self.location, &mut |w| warnings.push(w))?;
            self.sync(|c, e| {
                let report = c.sync_files(e, &batch, &mut |_| {})?;
                let skipped: Vec<String> =
                    batch.skipped.iter().map(|s| s.message.clone()).collect();
                let out =
                    serde_json::json!({"report": report, "skipped": skipped, "warnings": warnings});
                Ok(out.to_string())
            })
        })
        .map_err(py_err)
    }

    /// Index texts as documents named `names` (sending a name again replaces its document).
    #[pyo3(signature = (names, texts, format="text"))]
    fn add_texts(
        &self,
        py: Python<'_>,
        names: Vec<String>,
        texts: Vec<String>,
        format: &str,
    ) -> PyResult<String> {
        if names.len() != texts.len() {
            return Err(PyValueError::new_err(format!(
                "names: {} names for {} texts",
                names.len(),
                texts.len()
            )));
        }
        let format = Format::from_name(format).ok_or_else(|| {
            PyValueError::new_err(format!(
                "format: {format:?} is not a text format semclust reads (markdown, html, text, jsonl, rst)"
            ))
        })?;
        py.detach(|| {
            let limits = ReadLimits::default();
            let docs = names
                .iter()
                .zip(&texts)
                .map(|(n, t)| DocumentPassages::from_text(n, t, format, &limits))
                .collect::<Result<Vec<_>, Error>>()?;
            self.sync(|c, e| {
                let report = c.apply_documents(e, &docs, &[], &mut |_| {})?;
                Ok(serde_json::json!({"report": report}).to_string())
            })
        })
        .map_err(py_err)
    }

    /// Passages for a query: JSON hits as `semclust search --json` prints them.
    #[pyo3(signature = (query, k=10, mode="hybrid", neutral=true))]
    fn search(
        &self,
        py: Python<'_>,
        query: String,
        k: usize,
        mode: &str,
        neutral: bool,
    ) -> PyResult<String> {
        let mut request = SearchRequest::new(Target::Query(query), k);
        request.mode = mode.parse::<Mode>().map_err(py_err)?;
        request.neutral = neutral;
        Ok(py.detach(|| self.search_json(request))?)
    }

    /// Passages related to a stored passage (`id`) or to a text.
    #[pyo3(signature = (id=None, text=None, k=10, other_articles=false, other_languages=false, neutral=true))]
    #[allow(clippy::too_many_arguments)]
    fn related(
        &self,
        py: Python<'_>,
        id: Option<String>,
        text: Option<String>,
        k: usize,
        other_articles: bool,
        other_languages: bool,
        neutral: bool,
    ) -> PyResult<String> {
        let target = match (id, text) {
            (Some(id), None) => Target::Passage(id),
            (None, Some(text)) => Target::Text(text),
            _ => return Err(PyValueError::new_err("related: give either id or text")),
        };
        let mut request = SearchRequest::new(target, k);
        request.other_articles = other_articles;
        request.other_languages = other_languages;
        request.neutral = neutral;
        Ok(py.detach(|| self.search_json(request))?)
    }

    /// Themes: JSON as `semclust themes --json` prints it. `k`: "auto", a number, or "A..B".
    #[pyo3(signature = (k="auto", seed=None, restarts=None, labels=true, neutral=true))]
    fn themes(
        &self,
        py: Python<'_>,
        k: &str,
        seed: Option<u64>,
        restarts: Option<usize>,
        labels: bool,
        neutral: bool,
    ) -> PyResult<String> {
        let mut opts = ThemeOptions {
            k: k.parse::<KChoice>().map_err(py_err)?,
            neutral,
            ..ThemeOptions::default()
        };
        if let Some(s) = seed {
            opts.seed = s;
        }
        if let Some(r) = restarts {
            opts.n_runs = r;
        }
        py.detach(|| {
            let mut guard = self.open()?;
            let Some(collection) = guard.as_mut() else {
                return Err(Error::NoIndex {
                    location: (&self.location).into(),
                }
                .into());
            };
            let arc = if labels || neutral {
                Some(self.embedder(Some(collection))?)
            } else {
                None
            };
            let embedder = arc.as_ref().map(|a| lock(a));
            if let (Some(e), true) = (embedder.as_deref(), neutral) {
                collection.make_language_neutral(e, &self.cache())?;
            }
            let labeller = embedder
                .as_deref()
                .filter(|_| labels)
                .map(|e| e as &dyn semclust_core::Encode);
            let themes = collection.themes(&opts, &Filter::default(), labeller, |_| {})?;
            Ok::<_, Fail>(serde_json::to_string(&themes)?)
        })
        .map_err(PyErr::from)
    }

    /// Passages stored (0 when nothing is indexed yet).
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| match self.open()?.as_mut() {
            Some(c) => c.len(),
            None => Ok(0),
        })
        .map_err(py_err)
    }

    fn __repr__(&self) -> String {
        format!("semclust.Index({})", self.location)
    }
}

#[pymodule]
fn _semclust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<Index>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
