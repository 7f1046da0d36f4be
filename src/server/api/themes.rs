//! Themes (`GET /v1/themes`; the asynchronous `POST` is jobs.rs), and the cache of the last runs.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::super::error::{ApiError, ApiQuery};
use super::super::AppState;
use crate::cluster::{KChoice, Period, ThemeOptions, DEFAULT_SEED};
use crate::store::Filter;

use super::search::{filter_of, where_list};
use super::{blocking, ApiResult};

/// The parameters of a themes run: `GET /v1/themes`'s query, or `POST /v1/themes`'s body.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[schema(as = ThemesJobRequest)]
pub struct ThemesParams {
    /// A number of themes, MIN..MAX (each tried, one chosen), or auto (2 to about √n, at most
    /// 30): the best silhouette when it reaches 0.25, else the elbow of the inertia curve. A
    /// JSON body may give a number. Default auto.
    #[serde(default, deserialize_with = "text_or_number")]
    #[schema(value_type = Option<TextOrNumber>)]
    #[param(value_type = Option<String>)]
    k: Option<String>,
    /// The k-means seed (default 42).
    seed: Option<u64>,
    /// k-means restarts (default 10).
    #[param(minimum = 1, maximum = 100)]
    #[schema(minimum = 1, maximum = 100)]
    restarts: Option<usize>,
    /// `false`: cluster the model's own vectors instead of the language-neutral view.
    neutral: Option<bool>,
    /// In a collection of several languages, the labels' language (ISO 639-1); default the
    /// most frequent.
    label_lang: Option<String>,
    /// `true`: cluster the vectors as stored, each passage with its article's title and
    /// headings (themes then follow the articles); default: each passage less what sets its
    /// article apart from the articles most like it.
    with_titles: Option<bool>,
    /// Only passages whose document metadata has these values: KEY=VALUE conditions,
    /// comma-separated (all must hold; a list field must hold the value).
    #[serde(rename = "where")]
    wheres: Option<String>,
    /// Only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD).
    since: Option<String>,
    /// Only documents dated on or before (a month or a year includes all of it).
    until: Option<String>,
    /// Periods of over_time, the themes' passages counted per period of their documents'
    /// dates: auto (months up to 3 years, quarters up to 10, years beyond), month, quarter or
    /// year.
    period: Option<String>,
}

/// The themes, as `semclust themes --json` prints them, with the index generation they were
/// computed on.
#[derive(Serialize, ToSchema)]
#[schema(as = ThemesResult)]
pub struct ThemesAnswer<'a> {
    #[serde(flatten)]
    themes: &'a crate::cluster::Themes,
    /// The index generation the themes were computed on.
    generation: u64,
}

/// A string, or a number written as one (`"k": 5` as well as `"k": "5"`).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum TextOrNumber {
    Text(String),
    Number(u64),
}

fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<TextOrNumber>::deserialize(d)?.map(|v| match v {
        TextOrNumber::Text(s) => s,
        TextOrNumber::Number(n) => n.to_string(),
    }))
}

/// A validated themes request: the cache key and what the run needs.
pub(in crate::server) struct ThemesSpec {
    pub key: super::super::ThemesKey,
    opts: ThemeOptions,
    filter: Filter,
}

impl ThemesSpec {
    /// Check `p` against the server's limits.
    pub(in crate::server) fn new(state: &AppState, p: ThemesParams) -> ApiResult<Self> {
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
    pub(in crate::server) fn run(
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
        let v = super::to_json(ThemesAnswer {
            themes: &t,
            generation: index_state.generation,
        })?;
        drop(input);
        crate::util::alloc::release_free_memory();
        Ok((index_state, v))
    }
}

/// The cached themes of `key` for the index as it is now, if any.
pub(in crate::server) async fn cached_themes(
    state: &Arc<AppState>,
    key: &super::super::ThemesKey,
) -> ApiResult<Option<Arc<Value>>> {
    let st = state.clone();
    let current = blocking(move || st.read(|c| c.state())).await?;
    let mut cache = state.themes.lock().await;
    cache.follow(current, &state.metrics);
    Ok(cache.get(key))
}

/// Keep `v`, computed from the index in `index_state`, as the themes of `key`.
pub(in crate::server) fn remember_themes(
    state: &AppState,
    cache: &mut super::super::ThemesCache,
    key: super::super::ThemesKey,
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

/// Themes across articles (k-means), computed on demand and cached until the index changes.
#[utoipa::path(get, path = "/v1/themes", params(ThemesParams),
    responses((status = 200, body = ThemesAnswer, description = "The themes, as `semclust themes --json` prints them, with the index generation.")))]
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
