//! Search (`POST /v1/search`) and a passage with its related passages (`GET /v1/passages/{id}`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::super::AppState;
use crate::collection::{SearchRequest, Target};
use crate::search::{HitRecord, Mode};
use crate::store::{Filter, SearchMethod, StoredPassage};

use super::{blocking, embed, to_json, ApiResult};

/// Exactly one of `query`, `text` and `id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SearchRequest)]
pub struct SearchBody {
    /// A question, in any language the model knows (the model's query prefix).
    #[serde(default)]
    query: Option<String>,
    /// Find passages related to this text (the passage prefix).
    #[serde(default)]
    text: Option<String>,
    /// Find passages related to this stored passage (itself excluded).
    #[serde(default)]
    id: Option<String>,
    /// How many results (default 10, at most the server's `--max-k`).
    #[serde(default)]
    #[schema(minimum = 1)]
    k: Option<usize>,
    /// Default: hybrid with `query`; dense with `text` or `id`, which have no query words
    /// (lexical and hybrid need `query`).
    #[serde(default)]
    mode: Option<Mode>,
    /// With `id`: only passages of other articles.
    #[serde(default)]
    other_articles: bool,
    /// With `id`: only passages in other languages than that passage's.
    #[serde(default)]
    other_languages: bool,
    #[serde(default)]
    method: SearchMethod,
    /// Only passages whose document metadata has these values (all of them; a list field must
    /// hold the value).
    #[serde(default, rename = "where")]
    wheres: std::collections::BTreeMap<String, String>,
    /// Only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD).
    #[serde(default)]
    since: Option<String>,
    /// Only documents dated on or before (a month or a year includes all of it).
    #[serde(default)]
    until: Option<String>,
    /// Rank boilerplate (a text found in 5 documents or more) like any passage instead of
    /// after the others.
    #[serde(default)]
    boilerplate: bool,
    /// `false`: the dense part compares the model's own vectors instead of the language-neutral
    /// view.
    #[serde(default = "yes")]
    #[schema(default = true)]
    neutral: bool,
    /// With `id` and `other_articles`: rank by the passage's vector as stored, its article's
    /// title and headings included, instead of the passage less half its article's mean
    /// vector.
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

/// Search results, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitList<'a> {
    /// `list`.
    object: &'static str,
    model: &'a str,
    mode: Mode,
    /// The passage results are related to (`related` and search by `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<PassageRecord<'a>>,
    data: Vec<HitRecord<'a>>,
}

/// A stored passage as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Passage)]
pub struct PassageRecord<'a> {
    id: &'a str,
    /// The article's title.
    article: &'a str,
    /// The article's key within its document (number, or the JSONL record's id).
    article_key: &'a str,
    /// 1-based, in the article.
    #[schema(minimum = 1)]
    paragraph: u32,
    document: &'a str,
    /// The file it was read from, or `api:NAME` for a document sent to /v1/index.
    path: &'a str,
    /// Byte offsets of the passage in its file.
    span: [u64; 2],
    hash: &'a str,
    text: &'a str,
    /// The headings above the passage under its article's title, `Section › Subsection`.
    section: Option<&'a str>,
    /// The article's metadata: front matter keys, a JSONL record's other fields, a clipped
    /// page's url.
    #[schema(value_type = Object)]
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
        to_json(&list)
    })
    .await
    .map(Json)
}

/// Passages that answer a query, or related to a text or a stored passage.
#[utoipa::path(post, path = "/v1/search", request_body = SearchBody,
    responses((status = 200, body = HitList, description = "Best first.")))]
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct RelatedParams {
    /// How many results (default 10).
    #[param(minimum = 1)]
    k: Option<usize>,
    /// Only passages of other articles.
    other_articles: bool,
    /// Only passages in other languages than this one's (detected on its text, else its
    /// article's `lang`).
    other_languages: bool,
    /// `false`: compare the model's own vectors instead of the language-neutral view
    /// (docs/cli.md, Mixed languages).
    #[param(default = true)]
    neutral: bool,
    /// With `other_articles`: rank by the passage's vector as stored, its article's title and
    /// headings included, instead of the passage less half its article's mean vector.
    with_titles: bool,
    #[param(inline)]
    method: SearchMethod,
    /// Only passages whose document metadata has these values: KEY=VALUE conditions,
    /// comma-separated (all must hold; a list field must hold the value).
    #[serde(rename = "where")]
    wheres: Option<String>,
    /// Only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD).
    since: Option<String>,
    /// Only documents dated on or before (a month or a year includes all of it).
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
    match rest.strip_suffix("/related") {
        Some(id) => Ok(related(state, id.to_string(), params)
            .await?
            .into_response()),
        None => Ok(one_passage(state, rest).await?.into_response()),
    }
}

/// One stored passage. The id holds slashes; send them as they are or percent-encoded.
#[utoipa::path(get, path = "/v1/passages/{id}",
    params(("id" = String, Path, example = "lemonde-ia-2025/3/12")),
    responses((status = 200, body = PassageRecord, description = "The passage.")))]
pub(in crate::server) async fn one_passage(
    state: Arc<AppState>,
    id: String,
) -> ApiResult<Json<Value>> {
    let v = blocking(move || {
        let p = state.read(|c| c.passage(&id))?;
        to_json(PassageRecord::from(&p))
    })
    .await?;
    Ok(Json(v))
}

/// Passages nearest to a stored passage (itself excluded).
#[utoipa::path(get, path = "/v1/passages/{id}/related",
    params(("id" = String, Path), RelatedParams),
    responses((status = 200, body = HitList, description = "Best first.")))]
pub(in crate::server) async fn related(
    state: Arc<AppState>,
    id: String,
    params: RelatedParams,
) -> ApiResult<Json<Value>> {
    let request = SearchRequest {
        target: Target::Passage(id),
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
    run_search(state, request).await
}
