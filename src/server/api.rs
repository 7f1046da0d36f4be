//! The handlers. Each validates its input into a one-line 4xx error, sends model work through
//! the batcher and index work to the blocking pool, and answers JSON.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::batcher::Submit;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::AppState;
use crate::cluster::{KChoice, Period, ThemeOptions, DEFAULT_SEED};
use crate::collection::{Collection, SearchRequest, Target};
use crate::corpus::{self, Format};
use crate::embed::{Embeddings, InputKind};
use crate::indexing::DocumentPassages;
use crate::search::{HitRecord, Mode};
use crate::store::{Filter, HnswOptions, SearchMethod, StoredPassage};

type ApiResult<T> = Result<T, ApiError>;

/// Run blocking work (the index, tokenising) off the async threads.
pub(super) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> ApiResult<R> + Send + 'static,
) -> ApiResult<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

/// How a message names input `i` of `n` sent in `field`: `query` for the one text of a search,
/// `input[3]` in a list.
fn input_name(field: &str, n: usize, i: usize) -> String {
    if n == 1 && field != "input" {
        field.to_string()
    } else {
        format!("{field}[{i}]")
    }
}

/// Tokenise, check the limits, queue for the model and wait for the vectors.
async fn embed(
    state: &Arc<AppState>,
    texts: Vec<String>,
    kind: InputKind,
    field: &'static str,
) -> ApiResult<Embeddings> {
    if state.batcher.is_full() {
        state.metrics.rejected_full();
        return Err(ApiError::overloaded());
    }
    let limits = state.config.limits;
    // Cheap bounds first: tokenising costs time and memory in proportion to the bytes, so
    // bytes are checked before any tokeniser runs.
    for (i, t) in texts.iter().enumerate() {
        if t.len() > limits.max_input_bytes {
            let at = input_name(field, texts.len(), i);
            return Err(ApiError::invalid(format!(
                "{at} has {} bytes, over the limit of {} per input (--max-input-bytes); split it",
                t.len(),
                limits.max_input_bytes
            ))
            .with_code("input_too_long"));
        }
    }
    let st = state.clone();
    let tokens = blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok(st.embedder().tokenize(&refs, kind)?)
    })
    .await?;
    let mut total = 0;
    for i in 0..tokens.len() {
        let n = tokens.content_len(i) + 2;
        if n > limits.max_input_tokens {
            let at = input_name(field, tokens.len(), i);
            return Err(ApiError::invalid(format!(
                "{at} has {n} tokens, over the limit of {} per input (--max-input-tokens)",
                limits.max_input_tokens
            ))
            .with_code("input_too_long"));
        }
        total += n;
    }
    if total > limits.max_request_tokens {
        return Err(ApiError::invalid(format!(
            "the request has {total} tokens, over the limit of {} per request (--max-request-tokens); split it",
            limits.max_request_tokens
        ))
        .with_code("request_too_long"));
    }
    let rx = match state.batcher.try_submit(tokens) {
        Ok(rx) => rx,
        Err(Submit::Full) => {
            state.metrics.rejected_full();
            return Err(ApiError::overloaded());
        }
        Err(Submit::Closed) => return Err(ApiError::shutting_down()),
    };
    match rx.await {
        Ok(r) => r.map_err(|e| ApiError::internal(e.to_string())),
        Err(_) => Err(ApiError::shutting_down()),
    }
}

// ---- /v1/embeddings -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    input: Value,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    encoding_format: Option<String>,
    /// semclust's extension: `query` or `passage` (default), which picks the model's prefix.
    #[serde(default)]
    input_type: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
    /// OpenAI's end-user tag; accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<String>,
}

fn inputs(v: Value, max: usize) -> ApiResult<Vec<String>> {
    let texts = match v {
        Value::String(s) => vec![s],
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ApiError::invalid(
                    "`input` is an empty array; send at least one text",
                ));
            }
            if items.len() > max {
                return Err(ApiError::invalid(format!(
                    "`input` has {} texts, over the limit of {max} per request (--max-inputs); split it",
                    items.len()
                ))
                .with_code("too_many_inputs"));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, it)| match it {
                    Value::String(s) => Ok(s),
                    Value::Number(_) | Value::Array(_) => Err(ApiError::invalid(format!(
                        "input[{i}] is a token array; semclust tokenises itself: send the text"
                    ))),
                    _ => Err(ApiError::invalid(format!("input[{i}] must be a string"))),
                })
                .collect::<ApiResult<_>>()?
        }
        _ => {
            return Err(ApiError::invalid(
                "`input` must be a string or an array of strings",
            ))
        }
    };
    for (i, t) in texts.iter().enumerate() {
        if t.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "input[{i}] is empty; every input needs some text"
            )));
        }
    }
    Ok(texts)
}

fn input_kind(v: Option<&str>, field: &str) -> ApiResult<InputKind> {
    match v {
        None | Some("passage") | Some("document") => Ok(InputKind::Passage),
        Some("query") => Ok(InputKind::Query),
        Some(other) => Err(ApiError::invalid(format!(
            "{field} '{other}' is not known; use query or passage"
        ))),
    }
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> ApiResult<Json<Value>> {
    let served = &state.fingerprint.model;
    let repo = state.embedder().repo();
    // `MODEL:query` / `MODEL:passage` pick the prefix for clients that send only `model` and
    // `input`; an alias stands for the served model.
    let mut by_name: Option<InputKind> = None;
    if let Some(m) = &req.model {
        let (name, kind) = match m.rsplit_once(':') {
            Some((n, "query")) => (n, Some(InputKind::Query)),
            Some((n, "passage")) => (n, Some(InputKind::Passage)),
            _ => (m.as_str(), None),
        };
        let known =
            name == served || name == repo || state.config.model_aliases.iter().any(|a| a == name);
        if !known {
            let names = served_names(&state);
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!(
                    "model '{m}' is not served here; this server runs '{served}' (accepted names: {}, each also with :query or :passage; or leave `model` out)",
                    names.join(", ")
                ),
            )
            .with_code("model_not_found"));
        }
        by_name = kind;
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "encoding_format '{other}' is not known; use float or base64"
            )))
        }
    };
    let dim = state.fingerprint.dimension;
    if let Some(d) = req.dimensions {
        if d != dim {
            return Err(ApiError::invalid(format!(
                "dimensions {d}: {served} gives {dim}-d vectors and cannot shorten them; leave `dimensions` out"
            )));
        }
    }
    let kind = match (by_name, req.input_type.as_deref()) {
        (Some(k), None) => k,
        (Some(k), Some(_)) => {
            let given = input_kind(req.input_type.as_deref(), "input_type")?;
            if given != k {
                return Err(ApiError::invalid(
                    "`model` ends in :query or :passage and `input_type` says the other; send one of them",
                ));
            }
            k
        }
        (None, t) => input_kind(t, "input_type")?,
    };
    let texts = inputs(req.input, state.config.limits.max_inputs)?;
    let e = embed(&state, texts, kind, "input").await?;
    let tokens: usize = e.token_counts().iter().sum();
    let data: Vec<Value> = (0..e.rows())
        .map(|i| {
            let row = e.row(i);
            let embedding = if base64 {
                let bytes: Vec<u8> = row.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(row)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": served,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// The names `/v1/embeddings` answers to: the served model's, then its `--model-alias`es.
fn served_names(state: &AppState) -> Vec<String> {
    std::iter::once(state.fingerprint.model.clone())
        .chain(state.config.model_aliases.iter().cloned())
        .collect()
}

pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    // The served model, then its aliases, each plain and with the prefix it picks.
    let data: Vec<Value> = served_names(&state)
        .iter()
        .flat_map(|n| [n.clone(), format!("{n}:query"), format!("{n}:passage")])
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "semclust"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

// ---- search and related ---------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// A question (the model's query prefix).
    #[serde(default)]
    query: Option<String>,
    /// A passage-like text to find related passages for (the passage prefix).
    #[serde(default)]
    text: Option<String>,
    /// A stored passage to find related passages for (itself excluded).
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    k: Option<usize>,
    /// Default: hybrid for a `query`; dense for `text` and `id`, which have no query words.
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    other_articles: bool,
    /// Only passages in other languages than the `id` passage's.
    #[serde(default)]
    other_languages: bool,
    #[serde(default)]
    method: SearchMethod,
    /// Only passages whose document metadata has these values (all of them).
    #[serde(default, rename = "where")]
    wheres: std::collections::BTreeMap<String, String>,
    /// Only documents dated on or after / on or before (YYYY, YYYY-MM or YYYY-MM-DD).
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    /// Rank boilerplate like any passage (see `SearchRequest::boilerplate`).
    #[serde(default)]
    boilerplate: bool,
    /// `false`: compare with the model's own vectors instead of the language-neutral view.
    #[serde(default = "yes")]
    neutral: bool,
    /// With `other_articles`: the passage's vector as stored, its article's title included.
    #[serde(default)]
    with_titles: bool,
}

fn yes() -> bool {
    true
}

/// A filter from an API request: `where` as KEY=VALUE pairs.
fn filter_of(
    wheres: impl IntoIterator<Item = String>,
    since: Option<&str>,
    until: Option<&str>,
) -> crate::Result<Filter> {
    let wheres: Vec<String> = wheres.into_iter().collect();
    Filter::new(&wheres, since, until)
}

#[derive(Debug, Serialize)]
struct HitList<'a> {
    object: &'static str,
    model: &'a str,
    mode: Mode,
    /// The passage results are related to (`related` and search by `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<PassageRecord<'a>>,
    data: Vec<HitRecord<'a>>,
}

/// A stored passage as the API shows it.
#[derive(Debug, Serialize)]
pub struct PassageRecord<'a> {
    id: &'a str,
    /// The article's title.
    article: &'a str,
    /// The article's key within its document (number, or the JSONL record's id).
    article_key: &'a str,
    paragraph: u32,
    document: &'a str,
    path: &'a str,
    span: [u64; 2],
    hash: &'a str,
    text: &'a str,
    section: Option<&'a str>,
    meta: &'a crate::corpus::Meta,
}

impl<'a> From<&'a StoredPassage> for PassageRecord<'a> {
    fn from(p: &'a StoredPassage) -> Self {
        Self {
            id: &p.id,
            article: &p.title,
            article_key: &p.article_key,
            paragraph: p.paragraph,
            document: &p.document,
            path: &p.path,
            span: [p.span.0, p.span.1],
            hash: &p.hash,
            text: &p.text,
            section: p.section.as_deref(),
            meta: &p.meta,
        }
    }
}

/// k within the server's bound (`--max-k`); 10 when absent.
fn check_k(k: Option<usize>, max: usize) -> ApiResult<usize> {
    match k.unwrap_or(10) {
        k if k > max => Err(ApiError::invalid(format!(
            "k {k} is over the server's limit of {max} (--max-k)"
        ))
        .with_code("k_out_of_range")),
        k => Ok(k),
    }
}

/// Embed what the request needs through the batcher, then search on the blocking pool.
async fn run_search(state: Arc<AppState>, request: SearchRequest) -> ApiResult<Json<Value>> {
    request.validate()?;
    let vector = match request.to_embed() {
        Some((text, kind)) => {
            let field = request.target.field();
            let e = embed(&state, vec![text.to_string()], kind, field).await?;
            Some(e.into_vec())
        }
        None => None,
    };
    let st = state.clone();
    blocking(move || {
        let found = st.read(|c| c.search(&request, vector))?;
        let list = HitList {
            object: "list",
            model: &st.fingerprint.model,
            mode: request.mode,
            source: found.source.as_ref().map(PassageRecord::from),
            data: found.hits.iter().map(HitRecord::from).collect(),
        };
        serde_json::to_value(&list).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map(Json)
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<SearchBody>,
) -> ApiResult<Json<Value>> {
    let k = check_k(req.k, state.config.limits.max_k)?;
    let target = match (req.query, req.text, req.id) {
        (Some(q), None, None) => Target::Query(q),
        (None, Some(t), None) => Target::Text(t),
        (None, None, Some(id)) => Target::Passage(id),
        (None, None, None) => return Err(ApiError::invalid(
            "give `query` (a question), `text` (find passages like it) or `id` (a stored passage)",
        )),
        _ => {
            return Err(ApiError::invalid(
                "give only one of `query`, `text` and `id`",
            ))
        }
    };
    let mode = req.mode.unwrap_or(match target {
        Target::Query(_) => Mode::default(),
        Target::Text(_) | Target::Passage(_) => Mode::Dense,
    });
    let request = SearchRequest {
        target,
        k,
        mode,
        method: req.method,
        other_articles: req.other_articles,
        other_languages: req.other_languages,
        filter: filter_of(
            req.wheres.iter().map(|(k, v)| format!("{k}={v}")),
            req.since.as_deref(),
            req.until.as_deref(),
        )?,
        boilerplate: req.boilerplate,
        neutral: req.neutral,
        with_titles: req.with_titles,
    };
    run_search(state, request).await
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RelatedParams {
    k: Option<usize>,
    other_articles: bool,
    /// Only passages in other languages than this one's.
    other_languages: bool,
    /// `false`: the model's own vectors instead of the language-neutral view.
    neutral: bool,
    /// With `other_articles`: the passage's vector as stored, its article's title included.
    with_titles: bool,
    method: SearchMethod,
    /// KEY=VALUE conditions, comma-separated.
    #[serde(rename = "where")]
    wheres: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

impl Default for RelatedParams {
    fn default() -> Self {
        Self {
            k: None,
            other_articles: false,
            other_languages: false,
            neutral: true,
            with_titles: false,
            method: SearchMethod::default(),
            wheres: None,
            since: None,
            until: None,
        }
    }
}

/// `where=lang=de,tags=soil` as its conditions.
fn where_list(w: &Option<String>) -> Vec<String> {
    w.as_deref()
        .map(|w| {
            w.split(',')
                .map(str::to_string)
                .filter(|c| !c.trim().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /v1/passages/{id}` and `GET /v1/passages/{id}/related`: ids hold slashes
/// (`lemonde-ia-2025/3/12`), so the route takes the rest of the path, raw or percent-encoded.
pub async fn passage(
    State(state): State<Arc<AppState>>,
    ApiPath(rest): ApiPath<String>,
    ApiQuery(params): ApiQuery<RelatedParams>,
) -> ApiResult<Response> {
    if let Some(id) = rest.strip_suffix("/related") {
        let request = SearchRequest {
            target: Target::Passage(id.to_string()),
            k: check_k(params.k, state.config.limits.max_k)?,
            mode: Mode::Dense,
            method: params.method,
            other_articles: params.other_articles,
            other_languages: params.other_languages,
            filter: filter_of(
                where_list(&params.wheres),
                params.since.as_deref(),
                params.until.as_deref(),
            )?,
            boilerplate: false,
            neutral: params.neutral,
            with_titles: params.with_titles,
        };
        return Ok(run_search(state, request).await?.into_response());
    }
    let st = state.clone();
    let v = blocking(move || {
        let p = st.read(|c| c.passage(&rest))?;
        serde_json::to_value(PassageRecord::from(&p)).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    Ok(Json(v).into_response())
}

// ---- documents ------------------------------------------------------------------------------

/// `GET /v1/documents`: every stored document (`semclust docs list --json`) and the index's
/// figures (`docs stats`).
pub async fn documents(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let v = blocking(move || {
        let docs = state.read(|c| c.documents())?;
        let stats = crate::catalog::stats(&docs);
        Ok(json!({"object": "list", "data": docs, "stats": stats}))
    })
    .await?;
    Ok(Json(v))
}

/// `GET /v1/documents/{key}`: one document and its passages in reading order (`docs show`);
/// keys hold slashes (`nodejs/api/addons.md`), so the route takes the rest of the path.
pub async fn document(
    State(state): State<Arc<AppState>>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let v = blocking(move || {
        let (info, passages) = state.read(|c| c.document(&key))?;
        let passages: Vec<PassageRecord<'_>> = passages.iter().map(PassageRecord::from).collect();
        Ok(json!({"document": info, "passages": passages}))
    })
    .await?;
    Ok(Json(v))
}

// ---- themes ---------------------------------------------------------------------------------

/// The parameters of a themes run: `GET /v1/themes`'s query, or `POST /v1/themes`'s body.
#[derive(Debug, Deserialize)]
pub struct ThemesParams {
    /// A number of themes, MIN..MAX or auto (a JSON body may give a number).
    #[serde(default, deserialize_with = "text_or_number")]
    k: Option<String>,
    seed: Option<u64>,
    restarts: Option<usize>,
    /// `false`: cluster the model's own vectors instead of the language-neutral view.
    neutral: Option<bool>,
    /// The labels' language in a collection of several (ISO 639-1).
    label_lang: Option<String>,
    /// `true`: cluster the vectors as stored, with their article's title and headings.
    with_titles: Option<bool>,
    /// KEY=VALUE conditions, comma-separated.
    #[serde(rename = "where")]
    wheres: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// Periods of the themes-over-time table: auto, month, quarter or year.
    period: Option<String>,
}

/// A string, or a number written as one (`"k": 5` as well as `"k": "5"`).
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(u64),
    }
    Ok(Option::<TextOrNumber>::deserialize(d)?.map(|v| match v {
        TextOrNumber::Text(s) => s,
        TextOrNumber::Number(n) => n.to_string(),
    }))
}

/// A validated themes request: the cache key and what the run needs.
pub(super) struct ThemesSpec {
    pub key: super::ThemesKey,
    opts: ThemeOptions,
    filter: Filter,
}

impl ThemesSpec {
    /// Check `p` against the server's limits.
    pub(super) fn new(state: &AppState, p: ThemesParams) -> ApiResult<Self> {
        let k_text = p.k.unwrap_or_else(|| "auto".into());
        let k: KChoice = k_text.parse()?;
        let period = Period::parse(p.period.as_deref().unwrap_or("auto"))?;
        if let Some(n) = k.max() {
            if n > state.config.limits.max_k {
                return Err(ApiError::invalid(format!(
                    "k {n} is over the server's limit of {} (--max-k)",
                    state.config.limits.max_k
                ))
                .with_code("k_out_of_range"));
            }
        }
        let seed = p.seed.unwrap_or(DEFAULT_SEED);
        let restarts = p.restarts.unwrap_or(10);
        if !(1..=100).contains(&restarts) {
            return Err(ApiError::invalid("restarts must be between 1 and 100"));
        }
        let filter = filter_of(
            where_list(&p.wheres),
            p.since.as_deref(),
            p.until.as_deref(),
        )?;
        let neutral = p.neutral.unwrap_or(true) && state.neutral.is_some();
        let label_lang = p.label_lang.clone().filter(|l| !l.trim().is_empty());
        let with_titles = p.with_titles.unwrap_or(false);
        if let Some(l) = &label_lang {
            if l.len() > 8 || !l.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(ApiError::invalid(
                    "label_lang must be a language code such as de or es",
                ));
            }
        }
        let key = (
            format!(
                "{}|{:?}|{period:?}|{neutral}|{with_titles}|{:?}",
                k_text.to_ascii_lowercase(),
                filter,
                p.label_lang
            ),
            seed,
            restarts,
        );
        let opts = ThemeOptions {
            k,
            seed,
            n_runs: restarts,
            period,
            label_lang,
            neutral,
            with_titles,
            ..ThemeOptions::default()
        };
        Ok(Self { key, opts, filter })
    }

    /// Run the themes on a snapshot of the index (on the blocking pool): the document with the
    /// generation it was computed from. `progress` hears each k tried.
    pub(super) fn run(
        &self,
        state: &AppState,
        cancelled: &dyn Fn() -> bool,
        progress: impl FnMut(&crate::cluster::KScore),
    ) -> ApiResult<(crate::collection::IndexState, Value)> {
        // The passages and vectors are read on a snapshot, and the index released before
        // k-means runs: searches, indexing and /health go on meanwhile.
        let (index_state, mut input) = state.read(|c| c.theme_input())?;
        input.retain(&self.filter)?;
        input.prepare(&self.opts, state.neutral.clone())?;
        let t = match input.themes(&self.opts, Some(&state.batcher), progress, cancelled) {
            Err(crate::Error::Cancelled) => {
                state.metrics.cancelled();
                return Err(crate::Error::Cancelled.into());
            }
            r => r?,
        };
        let mut v = serde_json::to_value(&t).map_err(|e| ApiError::internal(e.to_string()))?;
        v["generation"] = index_state.generation.into();
        drop(input);
        crate::util::alloc::release_free_memory();
        Ok((index_state, v))
    }
}

/// The cached themes of `key` for the index as it is now, if any.
pub(super) async fn cached_themes(
    state: &Arc<AppState>,
    key: &super::ThemesKey,
) -> ApiResult<Option<Arc<Value>>> {
    let st = state.clone();
    let current = blocking(move || st.read(|c| c.state())).await?;
    let mut cache = state.themes.lock().await;
    cache.follow(current, &state.metrics);
    Ok(cache.get(key))
}

/// Keep `v`, computed from the index in `index_state`, as the themes of `key`.
pub(super) fn remember_themes(
    state: &AppState,
    cache: &mut super::ThemesCache,
    key: super::ThemesKey,
    index_state: crate::collection::IndexState,
    v: Arc<Value>,
) {
    // The index may have changed since the run began: the result belongs to what was read.
    cache.follow(index_state, &state.metrics);
    cache.insert(
        key,
        v,
        state.config.limits.themes_cache_entries,
        &state.metrics,
    );
}

pub async fn themes(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<ThemesParams>,
) -> ApiResult<Json<Value>> {
    let spec = ThemesSpec::new(&state, p)?;
    // Computed once per state of the index and parameters: concurrent requests for the same
    // themes wait for the first one instead of clustering again. Requests for other themes do
    // not wait: the cache is locked only to look up and to store, never while k-means runs (one
    // `k=90&restarts=100` used to hold every other themes request until it timed out).
    let gate = state.themes_gate(&spec.key);
    let _turn = gate.lock().await;
    if let Some(v) = cached_themes(&state, &spec.key).await? {
        return Ok(Json((*v).clone()));
    }
    // Set when this request's future is dropped (its timeout, or its client gone): the
    // clustering stops at its next restart instead of running on for nobody. A run that needs
    // longer than the timeout is a job: POST /v1/themes.
    let cancel = CancelOnDrop::default();
    let flag = cancel.0.clone();
    let st = state.clone();
    let (spec, index_state, v) = blocking(move || {
        let cancelled = || flag.load(std::sync::atomic::Ordering::Relaxed);
        let (index_state, v) = spec.run(&st, &cancelled, |_| {})?;
        Ok((spec, index_state, v))
    })
    .await?;
    drop(cancel);
    let v = Arc::new(v);
    let mut cache = state.themes.lock().await;
    remember_themes(&state, &mut cache, spec.key, index_state, v.clone());
    Ok(Json((*v).clone()))
}

/// A flag set when dropped, for work on the blocking pool that must stop when the request
/// that started it goes away.
#[derive(Default)]
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

// ---- indexing -------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRequest {
    #[serde(default)]
    documents: Vec<DocumentIn>,
    /// Documents to remove, by name.
    #[serde(default)]
    delete: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// The document's key: passage ids are `NAME/ARTICLE/PARAGRAPH`.
    name: String,
    text: String,
    /// One of `corpus::FORMATS` (markdown by default).
    #[serde(default)]
    format: Format,
}

pub async fn index(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<IndexRequest>,
) -> ApiResult<Json<Value>> {
    if req.documents.is_empty() && req.delete.is_empty() {
        return Err(ApiError::invalid(
            "send `documents` ([{name, text, format?}]) to add or replace, or `delete` ([name]) to remove",
        ));
    }
    let limits = corpus::ReadLimits {
        max_file_bytes: state.config.limits.max_body_bytes as u64,
        max_passage_bytes: state.config.limits.max_input_bytes,
    };
    // Parsing a page is CPU work: on the blocking pool, not on the threads that answer
    // /health and every other request.
    let documents = req.documents;
    let (docs, seen) = blocking(move || {
        let mut seen = std::collections::HashSet::new();
        let mut docs = Vec::with_capacity(documents.len());
        for (i, d) in documents.into_iter().enumerate() {
            let doc =
                DocumentPassages::from_text(&d.name, &d.text, d.format, &limits).map_err(|e| {
                    // A field of the document (`documents[0].name is empty`), or what its text
                    // holds.
                    let sep = if matches!(e, crate::Error::InvalidInput { .. }) {
                        "."
                    } else {
                        ": "
                    };
                    ApiError::invalid(format!("documents[{i}]{sep}{e}"))
                })?;
            if !seen.insert(doc.key.clone()) {
                return Err(ApiError::invalid(format!(
                    "documents[{i}].name '{}' appears twice in the request",
                    doc.key
                )));
            }
            docs.push(doc);
        }
        Ok((docs, seen))
    })
    .await?;
    let delete: Vec<String> = req.delete.iter().map(|d| corpus::document_key(d)).collect();
    if let Some(d) = delete.iter().find(|d| seen.contains(*d)) {
        return Err(ApiError::invalid(format!(
            "'{d}' is both in `documents` and in `delete`"
        )));
    }

    let _writing = state.writer.lock().await;
    let st = state.clone();
    let v = blocking(move || {
        let started = Instant::now();
        let mut collection = Collection::create_or_open(
            &st.config.store,
            st.embedder().info(),
            &HnswOptions::default(),
        )?;
        let report = collection.apply_documents(&st.batcher, &docs, &delete, &mut |_| {})?;
        let generation = collection.state()?.generation;
        st.metrics.passages_indexed(report.added + report.updated);
        let mut v = serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))?;
        v["documents"] = v["files"].take();
        if let Some(o) = v.as_object_mut() {
            o.remove("files");
            // Only a signal to `semclust index` interrupts a run; a request runs to its end.
            o.remove("interrupted");
            o.remove("not_embedded");
        }
        v["passages"] = collection.len()?.into();
        v["generation"] = generation.into();
        v["seconds"] = started.elapsed().as_secs_f64().into();
        drop(collection);
        crate::util::alloc::release_free_memory();
        Ok(v)
    })
    .await?;
    Ok(Json(v))
}

// ---- service routes -------------------------------------------------------------------------

pub async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let info = state.embedder().info();
    let st = state.clone();
    let passages = tokio::task::spawn_blocking(move || st.index_len())
        .await
        .ok()
        .flatten();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "model": info.model,
        "revision": info.revision,
        "precision": info.precision,
        "device": info.device,
        "dimension": info.dimension,
        "index": {
            "dir": state.config.store.to_string(),
            "backend": match state.config.store {
                crate::store::StoreLocation::Dir(_) => "sqlite",
                crate::store::StoreLocation::Postgres(_) => "postgres",
            },
            "passages": passages,
        },
        "queue_depth": state.batcher.queue_depth(),
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
    }))
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let st = state.clone();
    let passages = tokio::task::spawn_blocking(move || st.index_len())
        .await
        .ok()
        .flatten();
    let body = state.metrics.render(state.batcher.queue_depth(), passages);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

pub async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the routes are listed at /openapi.json")
        .with_code("unknown_route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "this route does not take that method; see /openapi.json",
    )
    .with_code("method_not_allowed")
}
