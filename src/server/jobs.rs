//! Themes as jobs: `POST /v1/themes` starts a run and answers 202 with its location at once;
//! `GET /v1/themes/jobs/{id}` says how far it got (each k tried, with its silhouette and
//! inertia) and, once done, returns the themes. A run is not bound to a request, so a client
//! that waits gets its answer however long the clustering takes (an automatic k on 100,000
//! passages takes minutes, past the request timeout that cancels `GET /v1/themes`).
//!
//! A job's id is derived from its parameters and the index generation: the same request while
//! the index is unchanged finds the same job instead of clustering again, and its result goes
//! to the themes cache that `GET /v1/themes` reads. Jobs are bounded: at most
//! [`MAX_RUNNING`] run at once (more are refused with 429), and past [`MAX_KEPT`] the oldest
//! finished ones are forgotten.

use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::api::{cached_themes, remember_themes, ThemesParams, ThemesSpec};
use super::error::{ApiError, ApiJson, ApiPath};
use super::AppState;
use crate::cluster::KScore;

type ApiResult<T> = Result<T, ApiError>;

/// Theme runs at once: each holds a snapshot of the vectors and up to all cores.
pub const MAX_RUNNING: usize = 2;
/// Jobs remembered (running or finished): a finished job holds its themes (shared with the
/// themes cache), so this bounds memory as the cache's 16 entries do.
pub const MAX_KEPT: usize = 16;

enum Outcome {
    Running,
    Done(Arc<Value>),
    Failed(Value),
}

struct Job {
    id: String,
    started: Instant,
    /// Every k tried so far, in order.
    tried: Vec<KScore>,
    outcome: Outcome,
    /// Seconds the run took, once it ended.
    seconds: Option<f64>,
}

/// The jobs of one server, oldest first.
#[derive(Default)]
pub struct Jobs(Mutex<VecDeque<Arc<Mutex<Job>>>>);

impl Jobs {
    fn find(&self, id: &str) -> Option<Arc<Mutex<Job>>> {
        let jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter()
            .find(|j| j.lock().unwrap_or_else(|p| p.into_inner()).id == id)
            .cloned()
    }

    /// Add `job` unless [`MAX_RUNNING`] are running; forget the oldest finished past
    /// [`MAX_KEPT`].
    fn add(&self, job: Job) -> ApiResult<Arc<Mutex<Job>>> {
        let mut jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let running = |j: &Arc<Mutex<Job>>| {
            matches!(
                j.lock().unwrap_or_else(|p| p.into_inner()).outcome,
                Outcome::Running
            )
        };
        if jobs.iter().filter(|j| running(j)).count() >= MAX_RUNNING {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                format!(
                    "{MAX_RUNNING} theme jobs are running: poll one of them, or start this one \
                     when one has finished"
                ),
            )
            .with_code("too_many_jobs"));
        }
        while jobs.len() >= MAX_KEPT {
            match jobs.iter().position(|j| !running(j)) {
                Some(i) => {
                    jobs.remove(i);
                }
                None => break,
            }
        }
        let job = Arc::new(Mutex::new(job));
        jobs.push_back(job.clone());
        Ok(job)
    }
}

fn location(id: &str) -> String {
    format!("/v1/themes/jobs/{id}")
}

/// A themes job started, or found already there.
#[derive(Serialize, ToSchema)]
#[schema(as = ThemesJobStarted)]
pub struct JobStarted<'a> {
    id: &'a str,
    /// `running` or `done`.
    status: &'a str,
    /// Where to GET the job.
    location: String,
}

/// A themes job: how far it got, and its themes once done.
#[derive(Serialize, ToSchema)]
#[schema(as = ThemesJob)]
pub struct JobStatus<'a> {
    id: &'a str,
    /// `running`, `done` or `failed`.
    status: &'static str,
    progress: JobProgress<'a>,
    /// How long the run has taken so far, or took.
    seconds: f64,
    /// Once done: the themes, as GET /v1/themes returns them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::api::ThemesAnswer>)]
    result: Option<&'a Value>,
    /// Once failed: the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::error::ErrorBody>)]
    error: Option<&'a Value>,
}

#[derive(Serialize, ToSchema)]
pub struct JobProgress<'a> {
    /// Each k tried so far (a number or range of k), in order.
    tried: &'a [KScore],
}

fn accepted(id: &str, status: &str) -> Response {
    let location = location(id);
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location.clone())],
        Json(JobStarted {
            id,
            status,
            location,
        }),
    )
        .into_response()
}

/// `POST /v1/themes`: start the themes of these parameters (the query parameters of `GET
/// /v1/themes`, as a JSON object), or find the job that already has them.
#[utoipa::path(post, path = "/v1/themes", request_body = ThemesParams,
    description = "Start the themes of these parameters as a job (the query parameters of GET, as one JSON object; `k` may be a number). Answers 202 at once with the job's location, which GET polls for progress and the result; the same parameters on the same index find the same job, and its result is what GET /v1/themes then returns from its cache.",
    responses((status = 202, body = JobStarted, description = "Started, or already there; `Location` is the job's address.",
        headers(("Location" = String, description = "The job's address.")))))]
pub async fn start(
    State(state): State<Arc<AppState>>,
    ApiJson(p): ApiJson<ThemesParams>,
) -> ApiResult<Response> {
    let spec = ThemesSpec::new(&state, p)?;
    let st = state.clone();
    let generation = super::api::blocking(move || st.read(|c| c.state()))
        .await?
        .generation;
    let id = {
        let mut h = DefaultHasher::new();
        (&spec.key, generation).hash(&mut h);
        format!("{:016x}", h.finish())
    };
    if let Some(job) = state.jobs.find(&id) {
        let status = match job.lock().unwrap_or_else(|p| p.into_inner()).outcome {
            Outcome::Running => "running",
            Outcome::Done(_) => "done",
            Outcome::Failed(_) => "failed",
        };
        if status != "failed" {
            return Ok(accepted(&id, status));
        }
    }
    let cached = cached_themes(&state, &spec.key).await?;
    let done = cached.is_some();
    let job = state.jobs.add(Job {
        id: id.clone(),
        started: Instant::now(),
        tried: Vec::new(),
        outcome: match cached {
            Some(v) => Outcome::Done(v),
            None => Outcome::Running,
        },
        seconds: done.then_some(0.0),
    })?;
    if done {
        return Ok(accepted(&id, "done"));
    }
    let st = state.clone();
    // Not bound to this request: the run goes on after the 202, to its end.
    tokio::task::spawn_blocking(move || {
        let lock = || job.lock().unwrap_or_else(|p| p.into_inner());
        // The same turn as `GET /v1/themes` takes for these parameters: a request computing
        // them now finishes first, and its result is taken from the cache instead of running
        // twice.
        let gate = st.themes_gate(&spec.key);
        let _turn = gate.blocking_lock();
        let cached = st.read(|c| c.state()).map(|current| {
            let mut cache = st.themes.blocking_lock();
            cache.follow(current, &st.metrics);
            cache.get(&spec.key)
        });
        let result = match cached {
            Ok(Some(v)) => Ok(v),
            _ => spec
                .run(&st, &|| false, |s: &KScore| lock().tried.push(*s))
                .map(|(index_state, v)| {
                    let v = Arc::new(v);
                    let mut cache = st.themes.blocking_lock();
                    remember_themes(&st, &mut cache, spec.key, index_state, v.clone());
                    v
                }),
        };
        let outcome = match result {
            Ok(v) => Outcome::Done(v),
            Err(e) => Outcome::Failed(e.body()),
        };
        let mut j = lock();
        j.seconds = Some(j.started.elapsed().as_secs_f64());
        j.outcome = outcome;
    });
    Ok(accepted(&id, "running"))
}

/// `GET /v1/themes/jobs/{id}`: how far the job got, and its themes once done.
#[utoipa::path(get, path = "/v1/themes/jobs/{id}", params(("id" = String, Path)),
    description = "A themes job: each k tried so far (with its silhouette and inertia), and once done the themes, as GET /v1/themes returns them.",
    responses((status = 200, body = JobStatus, description = "The job.")))]
pub async fn status(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let Some(job) = state.jobs.find(&id) else {
        return Err(ApiError::not_found(format!(
            "no theme job {id}: jobs are kept until {MAX_KEPT} newer ones have finished, and \
             not across restarts; POST /v1/themes again"
        )));
    };
    let j = job.lock().unwrap_or_else(|p| p.into_inner());
    let (status, result, error) = match &j.outcome {
        Outcome::Running => ("running", None, None),
        Outcome::Done(r) => ("done", Some(&**r), None),
        Outcome::Failed(e) => ("failed", None, Some(e)),
    };
    let answer = JobStatus {
        id: &j.id,
        status,
        progress: JobProgress { tried: &j.tried },
        seconds: j
            .seconds
            .unwrap_or_else(|| j.started.elapsed().as_secs_f64()),
        result,
        error,
    };
    Ok(Json(super::api::to_json(answer)?))
}
