//! The service layer: one index and everything the two front ends (the command line and the
//! HTTP server) do with it. A front end parses its input into the types here, calls one
//! operation and prints or serialises the answer; the workflows (which passage a related search
//! starts from and what it leaves out, when the lexical index is rebuilt, what indexing checks
//! before the model loads) are written once, here.
//!
//! A [`Collection`] owns an opened store, its fingerprint and the caches derived from it (the
//! lexical index; the HNSW graph lives inside the SQLite store). Caches are keyed by the store's
//! [`IndexState`] and rebuilt by the collection when the store has changed under them, whoever
//! changed it (another process, another request).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog;
use crate::cluster::{KScore, ThemeInput, ThemeOptions, Themes};
use crate::corpus::{self, ReadLimits};
use crate::embed::{Encode, InputKind, RuntimeInfo};
use crate::error::{Error, Result};
use crate::indexing::{self, DocumentPassages, IndexReport, Progress};
use crate::neutral::LanguageSubspace;
use crate::search::eval::{self, EvalCase, EvalSummary, QuestionSet};
use crate::search::{self, Hit, LexicalIndex, Mode};
use crate::store::{
    snapshot, AnyStore, Exclude, Filter, Fingerprint, HnswOptions, SearchMethod, StoreLocation,
    StoredPassage, VectorStoreWrite,
};

/// One state of one index: the instance drawn when the index was created (a database deleted
/// and made again is another instance) and the generation every write bumps. A cache derived
/// from the index is valid for one state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IndexState {
    pub instance: String,
    pub generation: u64,
}

/// Where a search starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A question, embedded with the model's query prefix; the only target lexical and hybrid
    /// search take.
    Query(String),
    /// A passage-like text: passages related to it (the passage prefix).
    Text(String),
    /// A stored passage: passages related to it, itself left out.
    Passage(String),
}

impl Target {
    /// The request field that holds this target.
    pub fn field(&self) -> &'static str {
        match self {
            Target::Query(_) => "query",
            Target::Text(_) => "text",
            Target::Passage(_) => "id",
        }
    }
}

/// A search or related-passages request, as both front ends take it.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub target: Target,
    pub k: usize,
    pub mode: Mode,
    pub method: SearchMethod,
    /// Leave out every passage of the target passage's article (related search by id only).
    pub other_articles: bool,
    /// Only passages whose document metadata passes.
    pub filter: Filter,
    /// Rank boilerplate (a text in five documents or more) like any passage instead of below
    /// the others; copies of one text are folded into one hit either way.
    pub boilerplate: bool,
    /// Only passages in other languages than the target passage's (related search by id
    /// only; see [`StoredPassage::language`]).
    pub other_languages: bool,
    /// Compare in the language-neutral view (see [`crate::neutral`]; the default). The
    /// collection must have been given the model's fit ([`Collection::set_language_subspace`]).
    pub neutral: bool,
    /// With `other_articles`: rank by the target passage's vector as stored, its article's
    /// title and headings included. `false` (the default): the passage less half its
    /// article's mean vector, so that other articles come by what the passage says more than
    /// by how alike their titles are (see [`crate::cluster::reduce_by_article`]).
    pub with_titles: bool,
}

impl SearchRequest {
    /// A request with the command line's defaults: hybrid search for a query, dense for
    /// related passages (the only mode they take), no filter, in the language-neutral view;
    /// set the public fields to change them.
    pub fn new(target: Target, k: usize) -> Self {
        let mode = match target {
            Target::Query(_) => Mode::default(),
            Target::Text(_) | Target::Passage(_) => Mode::Dense,
        };
        Self {
            target,
            k,
            mode,
            method: SearchMethod::default(),
            other_articles: false,
            filter: Filter::default(),
            boilerplate: false,
            other_languages: false,
            neutral: true,
            with_titles: false,
        }
    }

    /// Check what does not need the index: k, empty text, and the combinations that make no
    /// sense (a lexical related search, other articles of a free text).
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::invalid("k", "must be at least 1"));
        }
        let (Target::Query(s) | Target::Text(s) | Target::Passage(s)) = &self.target;
        if s.trim().is_empty() {
            return Err(Error::invalid(self.target.field(), "is empty"));
        }
        if self.other_articles && !matches!(self.target, Target::Passage(_)) {
            return Err(Error::invalid(
                "other_articles",
                "needs a stored passage's id: a query or a free text belongs to no article",
            ));
        }
        if self.other_languages && !matches!(self.target, Target::Passage(_)) {
            return Err(Error::invalid(
                "other_languages",
                "needs a stored passage's id: the language of a free text is not told",
            ));
        }
        if self.mode != Mode::Dense && !matches!(self.target, Target::Query(_)) {
            return Err(Error::invalid(
                "mode",
                "must be dense for related passages: lexical and hybrid search take a query",
            ));
        }
        Ok(())
    }

    /// The text the front end must embed before [`Collection::search`], and as what; `None`
    /// when the search needs no model (lexical, or related to a stored passage).
    pub fn to_embed(&self) -> Option<(&str, InputKind)> {
        match &self.target {
            Target::Query(q) if self.mode != Mode::Lexical => Some((q, InputKind::Query)),
            Target::Text(t) => Some((t, InputKind::Passage)),
            _ => None,
        }
    }
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// The stored passage a related search started from.
    pub source: Option<StoredPassage>,
    pub hits: Vec<Hit>,
}

/// Files read and split for indexing, before any model is loaded: bad or empty input fails
/// here, at once.
#[derive(Debug)]
pub struct FileBatch {
    /// The paths as given: stored documents under a folder among them that are no longer found
    /// there are removed.
    roots: Vec<PathBuf>,
    documents: Vec<DocumentPassages>,
    /// Files read, by format (`markdown`, `html`…).
    pub formats: std::collections::BTreeMap<&'static str, usize>,
    /// Files that could not be read, with their reasons: left out of the run.
    pub skipped: Vec<indexing::SkippedFile>,
    /// Files in the folders of formats semclust does not read, by extension.
    pub ignored: std::collections::BTreeMap<String, usize>,
}

impl FileBatch {
    /// One document read from `input` (`semclust index -`) under `name`. It is stored as a
    /// document sent over the HTTP API is (see [`DocumentPassages::from_text`]): a later run
    /// over files never removes it as gone from disk, and sending the name again replaces it.
    /// `format`: as given, else JSONL when the first line that is not blank is a JSON object,
    /// else plain text. Input over `limits.max_file_bytes` is refused, not read whole.
    pub fn from_reader(
        input: &mut dyn std::io::Read,
        name: &str,
        format: Option<corpus::Format>,
        limits: &ReadLimits,
    ) -> Result<Self> {
        use std::io::Read;
        let mut bytes = Vec::new();
        input
            .take(limits.max_file_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read standard input", e))?;
        if bytes.len() as u64 > limits.max_file_bytes {
            return Err(Error::invalid(
                "standard input",
                format!(
                    "holds more than the limit of {} bytes per document (--max-file-bytes); raise the limit or index it as files",
                    limits.max_file_bytes
                ),
            ));
        }
        let format = format.unwrap_or_else(|| {
            let first = bytes
                .split(|&b| b == b'\n')
                .map(|l| l.trim_ascii())
                .find(|l| !l.is_empty());
            match first {
                Some(l) if l.starts_with(b"{") => corpus::Format::Jsonl,
                _ => corpus::Format::Text,
            }
        });
        let (text, _) = corpus::charset::decode(&bytes, format)
            .map_err(|(_, why)| Error::invalid("standard input", why))?;
        drop(bytes);
        let doc = DocumentPassages::from_text(name, &text, format, limits)?;
        let mut formats = std::collections::BTreeMap::new();
        formats.insert(format.name(), 1);
        Ok(Self {
            roots: Vec::new(),
            documents: vec![doc],
            formats,
            skipped: Vec::new(),
            ignored: Default::default(),
        })
    }

    /// The documents read, with their passages.
    pub fn documents(&self) -> &[DocumentPassages] {
        &self.documents
    }

    /// Find the files under `paths`, read and split them. Skipped and empty files are told to
    /// `warn`. Finding no file is an error; so is finding no passage in files `location` has
    /// not indexed before (emptying an indexed file is how its passages are removed).
    pub fn read(
        paths: &[PathBuf],
        limits: &ReadLimits,
        location: &StoreLocation,
        warn: &mut dyn FnMut(String),
    ) -> Result<Self> {
        Self::read_with(paths, limits, location, false, warn)
    }

    /// [`FileBatch::read`]; with `strict`, the first file that cannot be read stops the run
    /// (else it is skipped and listed in [`FileBatch::skipped`]).
    pub fn read_with(
        paths: &[PathBuf],
        limits: &ReadLimits,
        location: &StoreLocation,
        strict: bool,
        warn: &mut dyn FnMut(String),
    ) -> Result<Self> {
        let all = corpus::Selection::default();
        Self::read_selected(paths, limits, &all, location, strict, warn)
    }

    /// [`FileBatch::read_with`], reading the files of the folders that `selection` picks. With
    /// `--include` or `--exclude` globs, a stored document whose file still exists but was not
    /// picked this time is kept (a run over `--include '*.md'` must not remove the HTML pages
    /// indexed before); `semclust docs rm` removes documents by key.
    pub fn read_selected(
        paths: &[PathBuf],
        limits: &ReadLimits,
        selection: &corpus::Selection,
        location: &StoreLocation,
        strict: bool,
        warn: &mut dyn FnMut(String),
    ) -> Result<Self> {
        let corpus::Discovery { files, ignored } =
            corpus::discover_selected(paths, selection, warn)?;
        let narrowed = !selection.include.is_empty() || !selection.exclude.is_empty();
        let named = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if files.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no {} file under {named}",
                corpus::Format::extensions().replace(" and ", " or ")
            )));
        }
        let (documents, skipped) = indexing::read_documents(&files, limits, strict, warn)?;
        let mut formats = std::collections::BTreeMap::new();
        let read: std::collections::HashSet<&str> =
            documents.iter().map(|d| d.key.as_str()).collect();
        for f in files.iter().filter(|f| read.contains(f.key.as_str())) {
            *formats.entry(f.format.name()).or_insert(0) += 1;
        }
        if documents.is_empty() {
            let first = skipped.first().map_or(String::new(), |s| s.message.clone());
            return Err(Error::InvalidArgument(format!(
                "no file under {named} could be read ({} skipped); the first: {first}",
                skipped.len()
            )));
        }
        if documents.iter().all(|d| d.passages.is_empty()) {
            let stored = match Collection::open_existing(location)? {
                Some(c) => c.store.documents()?,
                None => HashMap::new(),
            };
            if !documents.iter().any(|d| stored.contains_key(&d.key)) {
                return Err(Error::InvalidArgument(format!(
                    "no paragraph to index in {named} ({} file{}): every file is empty or holds only headings, front matter or blank lines",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" }
                )));
            }
        }
        Ok(Self {
            roots: if narrowed { Vec::new() } else { paths.to_vec() },
            documents,
            formats,
            skipped,
            ignored,
        })
    }
}

/// The encoder of a change that embeds nothing (removing documents): asked, it fails.
struct NoModel;

impl Encode for NoModel {
    fn encode(&self, _: &[&str], _: InputKind) -> Result<crate::embed::Embeddings> {
        Err(Error::internal("removing documents embedded a passage"))
    }
    fn token_counts(&self, texts: &[&str], _: InputKind) -> Result<Vec<usize>> {
        Ok(vec![0; texts.len()])
    }
}

/// Bounds of the HNSW graph's search list, on both stores.
const EF_SEARCH: std::ops::RangeInclusive<usize> = 1..=1000;

/// One opened index and its caches.
pub struct Collection {
    location: StoreLocation,
    store: AnyStore,
    /// The lexical index and the state it was built for.
    lexical: Option<(IndexState, LexicalIndex)>,
    /// The model's language-neutral fit, given by the front end (it is the model's, not the
    /// index's: see [`LanguageSubspace::cached_or_fit`]).
    neutral: Option<std::sync::Arc<LanguageSubspace>>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Collection({})", self.location)
    }
}

impl Collection {
    fn new(location: &StoreLocation, store: AnyStore) -> Self {
        Self {
            location: location.clone(),
            store,
            lexical: None,
            neutral: None,
        }
    }

    /// Give the collection its model's language-neutral fit, which searches with
    /// `neutral: true` and themes use. A fit of another dimension is refused.
    pub fn set_language_subspace(&mut self, fit: std::sync::Arc<LanguageSubspace>) -> Result<()> {
        if fit.dim() != self.fingerprint().dimension {
            return Err(Error::DimensionMismatch {
                what: "the language-neutral fit".into(),
                expected: self.fingerprint().dimension,
                got: fit.dim(),
            });
        }
        self.neutral = Some(fit);
        Ok(())
    }

    /// Give the collection its model's language-neutral fit from `cache` (the model cache,
    /// [`crate::ModelSpec::cache_root`]) when it was fitted there before; whether it has one
    /// now. A caller that has no model loaded yet tries this first and loads the model only
    /// when it says `false`, for [`Collection::make_language_neutral`].
    pub fn language_neutral_from_cache(&mut self, cache: &Path) -> Result<bool> {
        if self.neutral.is_some() {
            return Ok(true);
        }
        match LanguageSubspace::cached(self.fingerprint(), cache) {
            Some(fit) => self
                .set_language_subspace(std::sync::Arc::new(fit))
                .map(|()| true),
            None => Ok(false),
        }
    }

    /// Give the collection its model's language-neutral fit, unless it has one: from `cache`
    /// when it was fitted there before, else fitted now with `encoder` (the index's model, on
    /// the parallel text semclust ships; seconds, once per model and machine) and cached.
    pub fn make_language_neutral(&mut self, encoder: &dyn Encode, cache: &Path) -> Result<()> {
        if self.neutral.is_some() {
            return Ok(());
        }
        let fit = LanguageSubspace::cached_or_fit(self.fingerprint(), encoder, cache)?;
        self.set_language_subspace(std::sync::Arc::new(fit))
    }

    /// The index at `location`, if one was ever created there.
    pub fn open_existing(location: &StoreLocation) -> Result<Option<Self>> {
        Ok(location
            .open_existing()?
            .map(|store| Self::new(location, store)))
    }

    /// The index at `location`, which must exist.
    pub fn open(location: &StoreLocation) -> Result<Self> {
        Self::open_existing(location)?.ok_or_else(|| Error::NoIndex {
            location: location.into(),
        })
    }

    /// The index at `location` for searching: it must hold passages.
    pub fn open_for_search(location: &StoreLocation) -> Result<Self> {
        let c = Self::open(location)?;
        if c.store.is_empty()? {
            return Err(Error::EmptyIndex {
                location: location.into(),
            });
        }
        Ok(c)
    }

    /// The index at `location` for writing vectors of the model `info` describes, created when
    /// absent; an index of another model is an error. `hnsw` is checked against pgvector's
    /// bounds (it applies to PostgreSQL only).
    pub fn create_or_open(
        location: &StoreLocation,
        info: &RuntimeInfo,
        hnsw: &HnswOptions,
    ) -> Result<Self> {
        if let Some(m) = hnsw.m.filter(|m| !(2..=100).contains(m)) {
            return Err(Error::invalid(
                "hnsw_m",
                format!("{m}: pgvector takes 2 to 100"),
            ));
        }
        if let Some(e) = hnsw.ef_construction.filter(|e| !(4..=1000).contains(e)) {
            return Err(Error::invalid(
                "hnsw_ef_construction",
                format!("{e}: pgvector takes 4 to 1000"),
            ));
        }
        let store = location.open_or_create(&Fingerprint::from(info), hnsw)?;
        Ok(Self::new(location, store))
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// What produced the index's vectors.
    pub fn fingerprint(&self) -> &Fingerprint {
        self.store.fingerprint()
    }

    /// Passages in the index.
    pub fn len(&mut self) -> Result<usize> {
        snapshot(&mut self.store, |s| s.len())
    }

    pub fn is_empty(&mut self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Whether the index at this collection's location is no longer the one it opened (see
    /// [`crate::store::VectorStore::replaced`]).
    pub fn replaced(&self) -> bool {
        self.store.replaced()
    }

    /// The index's current state.
    pub fn state(&self) -> Result<IndexState> {
        state_of(&*self.store)
    }

    /// A model whose vectors can be compared with the index's: same model, revision, precision
    /// and dimension.
    pub fn check_model(&self, info: &RuntimeInfo) -> Result<()> {
        let loaded = Fingerprint::from(info);
        if &loaded != self.fingerprint() {
            return Err(Error::ModelMismatch {
                location: self.location.to_string(),
                built_with: Box::new(self.fingerprint().clone()),
                loaded: Box::new(loaded),
            });
        }
        Ok(())
    }

    /// Candidate list size of HNSW searches (both stores).
    pub fn set_ef_search(&mut self, ef: usize) -> Result<()> {
        if !EF_SEARCH.contains(&ef) {
            return Err(Error::invalid(
                "ef_search",
                format!("{ef}: use {} to {}", EF_SEARCH.start(), EF_SEARCH.end()),
            ));
        }
        self.store.set_ef_search(ef);
        Ok(())
    }

    /// Bring the index up to date with `batch`: new and edited passages embedded by `encoder`,
    /// vanished ones removed (see [`indexing::removed_documents`]). The lexical index is built before
    /// returning, so that the first lexical search does not wait for it.
    pub fn sync_files(
        &mut self,
        encoder: &dyn Encode,
        batch: &FileBatch,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<IndexReport> {
        let plan = self.plan_files(batch)?;
        self.apply_plan(encoder, plan, progress, &|| false)
    }

    /// What [`Collection::sync_files`] would change, writing nothing.
    pub fn plan_files(&self, batch: &FileBatch) -> Result<indexing::Plan> {
        let mut gone = indexing::removed_documents(&*self.store, &batch.roots, &batch.documents)?;
        // A file that could not be read this time is not gone: its stored passages stay.
        gone.retain(|k| !batch.skipped.iter().any(|s| s.key == *k));
        indexing::plan_documents(&*self.store, &batch.documents, &gone)
    }

    /// Carry out `plan` (see [`indexing::apply_plan`]: `stop` can end it between chunks); the
    /// lexical index is rebuilt before returning, unless the run was stopped.
    pub fn apply_plan(
        &mut self,
        encoder: &dyn Encode,
        plan: indexing::Plan,
        progress: &mut dyn FnMut(Progress),
        stop: &dyn Fn() -> bool,
    ) -> Result<IndexReport> {
        let report = indexing::apply_plan(&mut *self.store, encoder, plan, progress, stop)?;
        if !report.interrupted {
            self.refresh_lexical()?;
            self.refresh_nearest(&report)?;
        }
        Ok(report)
    }

    /// Replace the passages of `documents` and remove the documents `delete` (see
    /// [`indexing::apply_documents`]); the lexical index is rebuilt before returning.
    pub fn apply_documents(
        &mut self,
        encoder: &dyn Encode,
        documents: &[DocumentPassages],
        delete: &[String],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<IndexReport> {
        let report =
            indexing::apply_documents(&mut *self.store, encoder, documents, delete, progress)?;
        self.refresh_lexical()?;
        self.refresh_nearest(&report)?;
        Ok(report)
    }

    /// After a run that changed the index, the dense search's data too (the HNSW graph of a
    /// large SQLite index: about 6 s at 90,000 passages on 2 cores, which the first question
    /// waited for). A run that changed nothing leaves it to the first search, as before.
    fn refresh_nearest(&mut self, report: &IndexReport) -> Result<()> {
        if report.added + report.updated + report.removed == 0 {
            return Ok(());
        }
        snapshot(&mut self.store, |s| s.prepare_nearest())
    }

    fn refresh_lexical(&mut self) -> Result<()> {
        let Self { store, lexical, .. } = self;
        snapshot(store, |s| lexical_for(s, lexical).map(|_| ()))
    }

    /// Every stored document, by key (see [`crate::catalog`]).
    pub fn documents(&mut self) -> Result<Vec<catalog::DocumentInfo>> {
        snapshot(&mut self.store, |s| {
            Ok(catalog::documents(&s.documents()?, &s.passages()?))
        })
    }

    /// Every stored passage (text and metadata, no vectors).
    pub fn all_passages(&mut self) -> Result<Vec<StoredPassage>> {
        snapshot(&mut self.store, |s| s.passages())
    }

    /// One stored document and its passages, in reading order.
    pub fn document(&mut self, key: &str) -> Result<(catalog::DocumentInfo, Vec<StoredPassage>)> {
        snapshot(&mut self.store, |s| {
            let docs = s.documents()?;
            let Some(path) = docs.get(key) else {
                return Err(Error::NotFound {
                    kind: "document",
                    id: key.to_string(),
                });
            };
            let mut passages: Vec<StoredPassage> = s
                .passages()?
                .into_iter()
                .filter(|p| p.document == key)
                .collect();
            passages.sort_by(|a, b| a.span.cmp(&b.span).then(a.id.cmp(&b.id)));
            let one = HashMap::from([(key.to_string(), path.clone())]);
            let info = catalog::documents(&one, &passages).remove(0);
            Ok((info, passages))
        })
    }

    /// Remove the documents `keys` and their passages. A key the index does not hold is an
    /// error naming it, and then nothing is removed.
    pub fn remove_documents(&mut self, keys: &[String]) -> Result<IndexReport> {
        let stored = self.store.documents()?;
        if let Some(k) = keys.iter().find(|k| !stored.contains_key(k.as_str())) {
            return Err(Error::NotFound {
                kind: "document",
                id: k.clone(),
            });
        }
        let plan = indexing::plan_documents(&*self.store, &[], keys)?;
        self.apply_plan(&NoModel, plan, &mut |_| {}, &|| false)
    }

    /// One stored passage.
    pub fn passage(&mut self, id: &str) -> Result<StoredPassage> {
        snapshot(&mut self.store, |s| s.passage(id))?.ok_or_else(|| not_found(id))
    }

    /// Run a search. `vector` is the embedding of [`SearchRequest::to_embed`] when it asks for
    /// one (the front end embeds: the server through its batcher, outside the index's lock).
    /// Everything is read on one snapshot of the index.
    pub fn search(
        &mut self,
        request: &SearchRequest,
        vector: Option<Vec<f32>>,
    ) -> Result<SearchResults> {
        request.validate()?;
        if request.to_embed().is_some() && vector.is_none() {
            return Err(Error::internal(format!(
                "a {:?} search needs the embedding of its {}",
                request.mode,
                request.target.field()
            )));
        }
        // A front end that could not fit its model (said in its log) compares raw vectors.
        let neutral = self.neutral.clone().filter(|_| request.neutral);
        let Self { store, lexical, .. } = self;
        snapshot(store, |s| {
            let mut exclude = Exclude::default();
            let mut source = None;
            let mut vector = vector;
            let mut language = None;
            if !request.filter.is_empty() {
                exclude.outside = Some(std::sync::Arc::new(matching_ids(s, &request.filter)?));
            }
            if let Target::Passage(id) = &request.target {
                let p = s.passage(id)?.ok_or_else(|| not_found(id))?;
                vector = s.vector(id)?;
                exclude.passage = Some(p.id.clone());
                if request.other_articles {
                    exclude.article = Some((p.document.clone(), p.article_key.clone()));
                    if !request.with_titles {
                        let article = s.article_vectors(&p.document, &p.article_key)?;
                        if let Some(v) = vector.as_mut() {
                            crate::cluster::reduce_by_article(v, &article);
                        }
                    }
                }
                if request.other_languages {
                    language = Some(p.language().ok_or_else(|| {
                        Error::invalid(
                            "other_languages",
                            format!(
                                "cannot tell the language of {} (too short, and its article declares none)",
                                p.id
                            ),
                        )
                    })?);
                }
                source = Some(p);
            }
            // The lexical index's folder also says which texts recur, and which language most
            // of the index is in.
            let derived = lexical_for(s, lexical)?;
            // A question's language is whatlang's best guess, however unsure (a few words
            // rarely make a sure one).
            let own = match &request.target {
                Target::Query(t) | Target::Text(t) => crate::language::guess(t).map(str::to_string),
                Target::Passage(_) => source.as_ref().and_then(StoredPassage::language),
            };
            let neutral =
                search::view_for(neutral.as_deref(), derived.main_language(), own.as_deref());
            let lex = match request.mode {
                Mode::Dense => None,
                Mode::Lexical | Mode::Hybrid => Some(derived),
            };
            let text = match &request.target {
                Target::Query(q) => Some(q.as_str()),
                _ => None,
            };
            // Copies of one text are folded and boilerplate goes below: read deeper than k
            // until k hits rank on their own merit or the index has no more.
            let total = s.len()?;
            let mut read = request.k.saturating_mul(2).saturating_add(10);
            let hits = loop {
                let found = search::search(
                    s,
                    lex,
                    &search::Query {
                        vector: vector.as_deref(),
                        text,
                        k: read,
                        mode: request.mode,
                        exclude: exclude.clone(),
                        method: request.method,
                        depth: search::fusion_depth(request.k),
                        neutral,
                    },
                )?;
                let exhausted = found.len() < read || read >= total;
                let mut found = found;
                // Other languages: the hits in the passage's own are dropped, and the loop
                // reads deeper until k are left (a passage whose language cannot be told stays).
                if let Some(l) = &language {
                    found.retain(|h| h.passage.language().as_ref() != Some(l));
                }
                let (hits, ranked) = search::fold_recurring(
                    found,
                    derived.recurrence(),
                    request.k,
                    request.boilerplate,
                );
                if ranked >= request.k || exhausted {
                    break hits;
                }
                read = read.saturating_mul(4);
            };
            Ok(SearchResults { source, hits })
        })
    }

    /// The passages and vectors a theme run needs, read on one snapshot, with the state they
    /// were read in: clustering then runs without the index (see [`ThemeInput::themes`]).
    pub fn theme_input(&mut self) -> Result<(IndexState, ThemeInput)> {
        let location = crate::error::IndexName::from(&self.location);
        snapshot(&mut self.store, |s| {
            if s.is_empty()? {
                return Err(Error::EmptyIndex { location });
            }
            Ok((state_of(s)?, ThemeInput::load(s)?))
        })
    }

    /// Themes of the passages that pass `filter`. `labeller` (the index's model) ranks the key terms
    /// for the labels; `progress` hears about each k tried by `--k auto`.
    pub fn themes(
        &mut self,
        opts: &ThemeOptions,
        filter: &Filter,
        labeller: Option<&dyn Encode>,
        progress: impl FnMut(&KScore),
    ) -> Result<Themes> {
        let (_, mut input) = self.theme_input()?;
        input.retain(filter)?;
        input.prepare(opts, self.neutral.clone())?;
        input.themes(opts, labeller, progress, &|| false)
    }

    /// Retrieval quality of each of `modes` on a question set; `vectors[i]` is question i
    /// embedded as a query. Fails when a question has no answer in the index.
    pub fn evaluate(
        &mut self,
        set: &QuestionSet,
        vectors: &[Vec<f32>],
        modes: &[Mode],
    ) -> Result<Vec<(EvalSummary, Vec<EvalCase>)>> {
        if vectors.len() != set.questions.len() {
            return Err(Error::internal(format!(
                "{} question vectors for {} questions",
                vectors.len(),
                set.questions.len()
            )));
        }
        let neutral = self.neutral.clone();
        let Self { store, lexical, .. } = self;
        snapshot(store, |s| {
            set.check(s)?;
            let main = match neutral {
                Some(_) => lexical_for(s, lexical)?.main_language().map(str::to_string),
                None => None,
            };
            let mut out = Vec::with_capacity(modes.len());
            for &mode in modes {
                let lex = match mode {
                    Mode::Dense => None,
                    Mode::Lexical | Mode::Hybrid => Some(lexical_for(s, lexical)?),
                };
                out.push(eval::evaluate(
                    s,
                    lex,
                    set,
                    vectors,
                    mode,
                    neutral.as_deref(),
                    main.as_deref(),
                )?);
            }
            Ok(out)
        })
    }
}

/// Ids of the passages whose metadata passes `filter`.
fn matching_ids(store: &dyn VectorStoreWrite, filter: &Filter) -> Result<HashSet<String>> {
    Ok(store
        .passages()?
        .into_iter()
        .filter(|p| filter.matches(&p.meta))
        .map(|p| p.id)
        .collect())
}

fn state_of(store: &dyn VectorStoreWrite) -> Result<IndexState> {
    Ok(IndexState {
        instance: store.instance()?,
        generation: store.generation()?,
    })
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "passage",
        id: id.to_string(),
    }
}

/// The lexical index of `store`'s current state: the one in `cache` when it is of that state,
/// else opened (or built) from the store's cache folder.
fn lexical_for<'a>(
    store: &dyn VectorStoreWrite,
    cache: &'a mut Option<(IndexState, LexicalIndex)>,
) -> Result<&'a LexicalIndex> {
    let state = state_of(store)?;
    let fresh = matches!(cache, Some((s, _)) if *s == state);
    if !fresh {
        let ix = LexicalIndex::open_or_build(
            &store.cache_dir()?,
            &state.instance,
            state.generation,
            || store.passages(),
        )?;
        *cache = Some((state, ix));
    }
    match cache {
        Some((_, ix)) => Ok(ix),
        None => Err(Error::internal("the lexical index was not kept")),
    }
}
