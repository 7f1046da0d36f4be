//! The server's own queueing, timeout and shutdown rules, in-process and deterministic: the real
//! router and accept loop (`semclust::server::serve` on a loopback port, called over real HTTP)
//! in front of a fake model whose forward pass waits until the test opens a gate. "A request is
//! in the model", "a request is queued behind it" and "the server was told to stop while a
//! request was in flight" are states the test sets and checks, not races it hopes to win with
//! sleeps. No model weights: these run in milliseconds. What the real model does behind the
//! same code is tested end to end in tests/serve.rs.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use serde_json::{json, Value};

use semclust::server::{BatchConfig, Limits};

use common::fake::{vector_of, GatedEncoder, InProcess, PATIENCE};

/// A fresh index folder, a fake model with its gate shut, and the server in front of them.
fn gated(limits: Limits, batch: BatchConfig) -> (tempfile::TempDir, Arc<GatedEncoder>, InProcess) {
    let dir = tempfile::tempdir().unwrap();
    let model = GatedEncoder::new(false);
    let server = InProcess::start(model.clone(), dir.path(), limits, batch);
    (dir, model, server)
}

/// POST /v1/embeddings of one text on a thread of its own: (status, retry-after, vectors).
fn embed_later(
    server: &InProcess,
    text: &str,
) -> std::thread::JoinHandle<(u16, Option<String>, Vec<Vec<f32>>)> {
    let (client, url, text) = (
        server.client.clone(),
        format!("{}/v1/embeddings", server.base),
        text.to_string(),
    );
    std::thread::spawn(move || {
        answer(
            client
                .post(url)
                .json(&json!({"input": text}))
                .send()
                .unwrap(),
        )
    })
}

fn answer(r: Response) -> (u16, Option<String>, Vec<Vec<f32>>) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().unwrap();
    let vectors = body["data"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|e| {
                    e["embedding"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap() as f32)
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    if status != 200 {
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    (status, retry, vectors)
}

fn assert_vector(got: &[Vec<f32>], text: &str) {
    assert_eq!(got.len(), 1, "{text}");
    let want = vector_of(text);
    assert!(
        got[0].iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
        "the reply to {text:?} holds another text's vector"
    );
}

/// Catches: a full queue that holds requests in memory (or answers 500) instead of refusing at
/// once with 429 and Retry-After; refusals not counted; a queue that stays refused after the
/// burst; replies of one batched forward pass handed to the wrong requests.
#[test]
fn a_full_queue_answers_429_with_retry_after_and_recovers() {
    let (_dir, model, server) = gated(
        Limits::default(),
        BatchConfig {
            queue_capacity: 1,
            ..BatchConfig::default()
        },
    );
    // One request in the model, one in the queue (its only place), a third refused.
    let first = embed_later(&server, "le modèle calcule");
    model.wait_for("the first request in the model", |m| m.passes().len() == 1);
    let second = embed_later(&server, "la file attend");
    server.wait_metric("semclust_queue_depth", 1.0);
    let (status, retry, _) = answer(server.post("/v1/embeddings", json!({"input": "trop tard"})));
    assert_eq!(status, 429);
    assert!(
        retry
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some(),
        "429 without a Retry-After in seconds: {retry:?}"
    );
    assert_eq!(server.metric("semclust_queue_rejected_total"), 1.0);
    assert!(!first.is_finished() && !second.is_finished());

    model.set_open(true);
    let (s1, _, v1) = first.join().unwrap();
    let (s2, _, v2) = second.join().unwrap();
    assert_eq!((s1, s2), (200, 200));
    assert_vector(&v1, "le modèle calcule");
    assert_vector(&v2, "la file attend");
    // Once the burst is over, requests go through again.
    let (s3, _, v3) = answer(server.post("/v1/embeddings", json!({"input": "trop tard"})));
    assert_eq!(s3, 200);
    assert_vector(&v3, "trop tard");
    assert_eq!(server.metric("semclust_queue_rejected_total"), 1.0);
}

/// Catches: requests that queue while the model is busy each getting a forward pass of their
/// own (no dynamic batching), or the rows of a shared pass split among the requests wrongly.
#[test]
fn requests_queued_behind_a_busy_model_share_one_forward_pass() {
    let (_dir, model, server) = gated(Limits::default(), BatchConfig::default());
    let first = embed_later(&server, "premier arrivé");
    model.wait_for("the first request in the model", |m| m.passes().len() == 1);
    let texts = [
        "les centres de données",
        "la régulation européenne",
        "un modèle ouvert",
        "la consommation d'électricité",
    ];
    let waiting: Vec<_> = texts.iter().map(|t| embed_later(&server, t)).collect();
    server.wait_metric("semclust_queue_depth", texts.len() as f64);
    model.set_open(true);
    assert_vector(&first.join().unwrap().2, "premier arrivé");
    for (t, w) in texts.iter().zip(waiting) {
        let (status, _, v) = w.join().unwrap();
        assert_eq!(status, 200);
        assert_vector(&v, t);
    }
    assert_eq!(model.passes(), vec![1, texts.len()]);
}

/// Catches: a request past `--timeout` left hanging or answered with something else than 504
/// `timeout`; the model going on with work nobody will read; a server that stays stuck after.
#[test]
fn a_request_past_the_timeout_gets_504_and_its_work_is_called_off() {
    let (_dir, model, server) = gated(
        Limits {
            timeout: Duration::from_millis(200),
            ..Limits::default()
        },
        BatchConfig::default(),
    );
    let started = Instant::now();
    let r = server.post("/v1/embeddings", json!({"input": "une longue analyse"}));
    assert_eq!(r.status().as_u16(), 504);
    assert!(started.elapsed() >= Duration::from_millis(200));
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--timeout"),
        "{body}"
    );
    // The model thread notices the caller is gone and stops, with the gate still shut.
    model.wait_for("the abandoned pass called off", |m| {
        m.gave_up.load(Ordering::SeqCst) == 1
    });
    server.wait_metric("semclust_cancelled_total", 1.0);
    model.set_open(true);
    let (status, _, v) = answer(server.post("/v1/embeddings", json!({"input": "encore"})));
    assert_eq!(status, 200);
    assert_vector(&v, "encore");
}

/// Catches: a shutdown that drops requests in flight (an embedding, an indexing run halfway
/// through its passages) or keeps taking new connections, or that never returns once they are
/// done; an index left with part of a document.
#[test]
fn shutdown_stops_new_connections_and_finishes_requests_in_flight() {
    let (dir, model, mut server) = gated(Limits::default(), BatchConfig::default());
    let embedding = embed_later(&server, "en vol");
    model.wait_for("the embedding in the model", |m| m.passes().len() == 1);
    // The sample corpus, 98 passages, sent for indexing: it queues behind the embedding.
    let text = std::fs::read_to_string(common::sample_corpus()).unwrap();
    let indexing = {
        let (client, url) = (server.client.clone(), format!("{}/v1/index", server.base));
        std::thread::spawn(move || {
            let r = client
                .post(url)
                .json(&json!({"documents": [{"name": "lemonde", "text": text}]}))
                .send()
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().unwrap())
        })
    };
    server.wait_metric("semclust_queue_depth", 1.0);
    assert_eq!(server.metric("semclust_http_requests_in_flight"), 3.0);

    server.stop.take().unwrap().send(()).unwrap();
    // No new connection once the listener is closed.
    let started = Instant::now();
    while std::net::TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_ok() {
        assert!(
            started.elapsed() < PATIENCE,
            "still accepting after shutdown"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(!embedding.is_finished() && !indexing.is_finished());
    // While the gate is shut the requests cannot finish, so serve must not return: 300 ms
    // without it returning is a pass, whatever the machine's speed.
    assert!(
        server
            .done
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "serve returned with requests in flight"
    );

    model.set_open(true);
    let (status, _, v) = embedding.join().unwrap();
    assert_eq!(status, 200);
    assert_vector(&v, "en vol");
    let (status, report) = indexing.join().unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["added"], 98, "{report}");
    server
        .done
        .recv_timeout(PATIENCE)
        .expect("serve did not return after its requests finished");
    let conn = rusqlite::Connection::open(dir.path().join("index.sqlite")).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM passages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 98);
}
