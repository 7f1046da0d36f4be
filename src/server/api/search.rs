//! Search (`POST /v1/search`) and a passage with its related passages (`GET /v1/passages/{id}`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::super::AppState;
use crate::collection::{SearchRequest, Target};
use crate::search::{HitRecord, Mode};
use crate::store::{Filter, SearchMethod, StoredPassage};

use super::{blocking, embed, ApiResult};

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
pub(super) fn filter_of(
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
pub(super) fn where_list(w: &Option<String>) -> Vec<String> {
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
