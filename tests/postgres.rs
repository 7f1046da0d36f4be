//! The PostgreSQL + pgvector store against a real server the harness starts (tests/common/pg.rs):
//! the same answers as the embedded store, recall of pgvector's HNSW index against exact search,
//! migrations that run once, concurrent writers, a connection dropped mid-run, and bad input.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use semclust::store::{
    Exclude, Fingerprint, HnswOptions, Nearest, PgStore, PgTarget, SearchMethod, StoreLocation,
    VectorStore,
};
use semclust::{InputKind, Precision};

use common::pg::PgServer;
use common::{error_line, ok, semclust, OutputLimited};

fn summary(o: &Output) -> serde_json::Value {
    serde_json::from_str(ok(o).trim()).unwrap()
}

fn jsonl(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `semclust index PATH --store URL --json -q` started in the background, output captured. The
/// caller fetches the model first, so that indexers meant to race start together.
fn spawn_indexer(path: &Path, url: &str) -> std::process::Child {
    common::semclust_command()
        .arg("index")
        .arg(path)
        .args(["--store", url, "--json", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The binary with extra environment (PG* variables), nothing inherited that names a store.
fn semclust_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    common::files("multilingual-e5-small");
    let mut c = common::semclust_command();
    c.args(args);
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
        "PGPASSFILE",
    ] {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output_limited()
}

fn corpus_copy(dir: &Path, copies: usize) -> PathBuf {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let text = std::fs::read_to_string(common::sample_corpus()).unwrap();
    for i in 0..copies {
        let name = if i == 0 {
            "lemonde-ia-2025.md".to_string()
        } else {
            format!("copy-{i}.md")
        };
        // Copies differ at the end of every paragraph (the long lines; headings, author and URL
        // lines stay as they are) so that each passage has to be embedded.
        let t: String = text
            .lines()
            .map(|l| {
                if i > 0 && l.chars().count() > 200 {
                    format!("{l} ({i})\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(docs.join(name), t).unwrap();
    }
    docs
}

/// Passages semclust finds in these files (what a complete index holds).
fn passages_in(paths: &[PathBuf]) -> i64 {
    semclust::corpus::discover(paths)
        .unwrap()
        .iter()
        .map(|f| {
            semclust::corpus::read(f, &Default::default())
                .unwrap()
                .len() as i64
        })
        .sum()
}

fn count(server: &PgServer, db: &str, sql: &str) -> i64 {
    server.client(db).query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn postgres_answers_like_the_embedded_store() {
    let server = PgServer::start();
    let url = server.create_db("same");
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix");
    let pg = common::index_sample(&["--store", &url]);
    assert_eq!(pg["passages"], 98, "{pg}");
    assert_eq!(pg["added"], 98);
    assert!(!pg["index"].as_str().unwrap().contains(common::pg::PASSWORD));
    let lite = common::index_sample(&["--index", ix.to_str().unwrap()]);
    assert_eq!(lite["passages"], 98);

    // Same passages, same vectors (float4 in pgvector is the f32 we wrote).
    let pgs = StoreLocation::new(&ix, Some(&url)).unwrap().open().unwrap();
    let sql = StoreLocation::new(&ix, None).unwrap().open().unwrap();
    let (a, b) = (pgs.passages().unwrap(), sql.passages().unwrap());
    assert_eq!(a.len(), 98);
    for (p, q) in a.iter().zip(&b) {
        assert_eq!(
            (&p.id, &p.text, &p.title, p.span, &p.hash),
            (&q.id, &q.text, &q.title, q.span, &q.hash)
        );
        assert_eq!(pgs.vector(&p.id).unwrap(), sql.vector(&q.id).unwrap());
    }

    // pgvector's exact ordering equals ours; its HNSW index reaches recall@10 >= 0.95 against it,
    // over every passage as a query and the multilingual question set.
    let e = common::embedder("multilingual-e5-small", Precision::Q4);
    let set: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::fixture("questions.json")).unwrap()).unwrap();
    let questions: Vec<&str> = set["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["q"].as_str().unwrap())
        .collect();
    let qv = e.embed(&questions, InputKind::Query).unwrap();
    let mut queries: Vec<Vec<f32>> = (0..qv.rows()).map(|i| qv.row(i).to_vec()).collect();
    queries.extend(a.iter().map(|p| pgs.vector(&p.id).unwrap().unwrap()));
    let ids = |store: &dyn VectorStore, q: &[f32], m: SearchMethod| -> Vec<(String, f32)> {
        let rows = store
            .nearest(&Nearest {
                vector: q,
                k: 10,
                exclude: &Exclude::NONE,
                method: m,
            })
            .unwrap();
        let ps = store
            .passages_by_keys(&rows.iter().map(|r| r.key).collect::<Vec<_>>())
            .unwrap();
        ps.into_iter()
            .zip(rows)
            .map(|(p, r)| (p.id, r.score))
            .collect()
    };
    let (mut found, mut total) = (0usize, 0usize);
    for q in &queries {
        let exact = ids(&*sql, q, SearchMethod::Exact);
        let pg_exact = ids(&*pgs, q, SearchMethod::Exact);
        for ((i, s), (j, t)) in exact.iter().zip(&pg_exact) {
            assert!((s - t).abs() < 1e-5, "scores {s} vs {t}");
            if i != j {
                // Only a tie may swap two ids.
                assert!((s - t).abs() < 1e-6);
            }
        }
        let want: HashSet<&String> = exact.iter().map(|(i, _)| i).collect();
        let ann = ids(&*pgs, q, SearchMethod::Approximate);
        assert_eq!(ann.len(), 10);
        found += ann.iter().filter(|(i, _)| want.contains(i)).count();
        total += 10;
    }
    let recall = found as f64 / total as f64;
    eprintln!(
        "pgvector HNSW recall@10 on the sample corpus: {recall:.4} over {} queries",
        queries.len()
    );
    assert!(recall >= 0.95, "recall@10 {recall}");

    // The CLI gives the same answers from either store, in every mode.
    for (q, mode) in [
        ("How much did Emmanuel Macron say would be invested in artificial intelligence in France?", "dense"),
        ("Wie nutzen Schüler ChatGPT zum Schummeln?", "hybrid"),
        ("triche scolaire ChatGPT", "lexical"),
    ] {
        let x = jsonl(&ok(&semclust(&["search", q, "--store", &url, "--json", "--mode", mode, "-k", "5"])));
        let y = jsonl(&ok(&semclust(&["search", q, "--index", ix.to_str().unwrap(), "--json", "--mode", mode, "-k", "5"])));
        let idl = |v: &[serde_json::Value]| v.iter().map(|h| h["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(idl(&x), idl(&y), "{mode}: {q}");
        assert_eq!(x[0]["text"], y[0]["text"]);
    }
    let rel = jsonl(&ok(&semclust(&[
        "related",
        "lemonde-ia-2025/3/2",
        "--other-articles",
        "--store",
        &url,
        "--json",
        "-k",
        "10",
    ])));
    assert_eq!(rel.len(), 10);
    for h in &rel {
        assert!(
            !h["id"].as_str().unwrap().starts_with("lemonde-ia-2025/3/"),
            "{h}"
        );
    }
    // Exclusions and the graph: a forced HNSW search that must skip a whole article still
    // returns k passages, none of them from it.
    let v = pgs.vector("lemonde-ia-2025/3/2").unwrap().unwrap();
    let ex = Exclude {
        passage: Some("lemonde-ia-2025/3/2".into()),
        article: Some(("lemonde-ia-2025".into(), "3".into())),
        ..Exclude::default()
    };
    let rows = pgs
        .nearest(&Nearest {
            vector: &v,
            k: 60,
            exclude: &ex,
            method: SearchMethod::Approximate,
        })
        .unwrap();
    let ps = pgs
        .passages_by_keys(&rows.iter().map(|r| r.key).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(ps.len(), 60);
    assert!(ps.iter().all(|p| p.article_key != "3"));

    // Themes and the report read the same vectors in the same order: the same themes.
    let t1: serde_json::Value = serde_json::from_str(&ok(&semclust(&[
        "themes", "--k", "5", "--json", "--store", &url,
    ])))
    .unwrap();
    let t2: serde_json::Value = serde_json::from_str(&ok(&semclust(&[
        "themes",
        "--k",
        "5",
        "--json",
        "--index",
        ix.to_str().unwrap(),
    ])))
    .unwrap();
    assert_eq!(t1["passages"], t2["passages"]);
    assert_eq!(t1["themes"], t2["themes"]);
    let out = tmp.path().join("report");
    ok(&semclust(&[
        "report",
        "--store",
        &url,
        "--k",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "html,json",
    ]));
    let html = std::fs::read_to_string(out.join("themes.html")).unwrap();
    assert!(html.contains(&format!("127.0.0.1:{}/same", server.port)));
    assert!(!html.contains(common::pg::PASSWORD));
}

#[test]
fn migrations_run_once_reindexing_is_incremental_and_hnsw_is_settable() {
    let server = PgServer::start();
    let url = server.create_db("incr");
    let tmp = tempfile::tempdir().unwrap();
    let docs = corpus_copy(tmp.path(), 1);
    let d = docs.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["index", d, "--store", &url, "--json", "-q"];
        args.extend_from_slice(extra);
        summary(&semclust(&args))
    };
    let s = run(&[]);
    assert_eq!(
        (s["added"].as_u64(), s["passages"].as_u64()),
        (Some(98), Some(98))
    );
    let s = run(&[]);
    assert_eq!(
        (s["embedded"].as_u64(), s["kept"].as_u64()),
        (Some(0), Some(98)),
        "{s}"
    );
    assert_eq!(
        count(&server, "incr", "SELECT count(*) FROM semclust.migrations"),
        2,
        "each of the two migrations once"
    );
    assert_eq!(
        count(
            &server,
            "incr",
            "SELECT max(version)::bigint FROM semclust.migrations"
        ),
        2
    );
    let fp: String = server
        .client("incr")
        .query_one(
            "SELECT value FROM semclust.meta WHERE key = 'fingerprint'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        fp.contains("multilingual-e5-small") && fp.contains("384"),
        "{fp}"
    );
    let typ: String = server
        .client("incr")
        .query_one("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'semclust.passages'::regclass AND attname = 'embedding'", &[])
        .unwrap()
        .get(0);
    assert_eq!(typ, "vector(384)");
    let indexdef = |server: &PgServer| -> String {
        server
            .client("incr")
            .query_one("SELECT indexdef FROM pg_indexes WHERE schemaname = 'semclust' AND indexname = 'passages_embedding_hnsw'", &[])
            .unwrap()
            .get(0)
    };
    let def = indexdef(&server);
    assert!(
        def.contains("hnsw") && def.contains("vector_ip_ops") && def.contains("m='16'"),
        "{def}"
    );

    // Edit one paragraph, delete another: one update, one removal, the rest kept.
    let f = docs.join("lemonde-ia-2025.md");
    let text = std::fs::read_to_string(&f).unwrap();
    let store = StoreLocation::new(tmp.path(), Some(&url))
        .unwrap()
        .open()
        .unwrap();
    let p = store.passage("lemonde-ia-2025/2/3").unwrap().unwrap();
    let first = p
        .text
        .split_whitespace()
        .take(6)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains(&first), "{first}");
    std::fs::write(&f, text.replacen(&first, &format!("{first} (modifié)"), 1)).unwrap();
    let s = run(&[]);
    assert_eq!(
        (s["updated"].as_u64(), s["embedded"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    let g0 = count(
        &server,
        "incr",
        "SELECT value::bigint FROM semclust.meta WHERE key = 'generation'",
    );
    assert!(g0 >= 2);

    // New HNSW parameters rebuild the index with them.
    let s = run(&["--hnsw-m", "8", "--hnsw-ef-construction", "40"]);
    assert_eq!(s["embedded"].as_u64(), Some(0));
    let def = indexdef(&server);
    assert!(
        def.contains("m='8'") && def.contains("ef_construction='40'"),
        "{def}"
    );
    let line = error_line(&semclust(&["index", d, "--store", &url, "--hnsw-m", "500"]));
    assert!(line.contains("--hnsw-m 500"), "{line}");

    // Removing the file removes its passages.
    std::fs::remove_file(&f).unwrap();
    std::fs::write(docs.join("note.md"), "## Une note\n\nUn paragraphe sur les bibliothèques de quartier et leurs lecteurs du samedi.\n\n[https://example.org/note]\n").unwrap();
    let s = run(&[]);
    assert_eq!(
        (s["removed"].as_u64(), s["passages"].as_u64()),
        (Some(98), Some(1)),
        "{s}"
    );
    assert_eq!(
        count(&server, "incr", "SELECT count(*) FROM semclust.documents"),
        1
    );
    assert_eq!(
        count(&server, "incr", "SELECT count(*) FROM semclust.migrations"),
        2,
        "each of the two migrations once"
    );
}

#[test]
fn concurrent_indexers_neither_corrupt_nor_duplicate() {
    let server = PgServer::start();
    let url = server.create_db("conc");
    let tmp = tempfile::tempdir().unwrap();
    let docs = corpus_copy(tmp.path(), 2);
    common::files("multilingual-e5-small");
    // Three writers on a database with no schema yet (the migrations race too): two index the
    // same file, one another file.
    let a = docs.join("lemonde-ia-2025.md");
    let b = docs.join("copy-1.md");
    let children = vec![
        spawn_indexer(&a, &url),
        spawn_indexer(&a, &url),
        spawn_indexer(&b, &url),
    ];
    for c in children {
        let o = common::wait_limited(c);
        let s = summary(&o);
        assert_eq!(s["files"], 1, "{s}");
    }
    let want = passages_in(&[a.clone(), b.clone()]);
    assert_eq!(
        count(&server, "conc", "SELECT count(*) FROM semclust.passages"),
        want
    );
    assert_eq!(
        count(
            &server,
            "conc",
            "SELECT count(DISTINCT id) FROM semclust.passages"
        ),
        want
    );
    assert_eq!(
        count(&server, "conc", "SELECT count(*) FROM semclust.documents"),
        2
    );
    assert_eq!(
        count(&server, "conc", "SELECT count(*) FROM semclust.migrations"),
        2,
        "each of the two migrations once"
    );
    assert_eq!(
        count(&server, "conc", "SELECT count(*) FROM semclust.passages p LEFT JOIN semclust.documents d ON d.key = p.document WHERE d.key IS NULL"),
        0
    );
    // Everything is there: a later run embeds nothing.
    let s = summary(&semclust(&[
        "index",
        docs.to_str().unwrap(),
        "--store",
        &url,
        "--json",
        "-q",
    ]));
    assert_eq!(
        (s["embedded"].as_i64(), s["kept"].as_i64()),
        (Some(0), Some(want)),
        "{s}"
    );
}

#[test]
fn a_dropped_connection_is_one_clear_error_and_a_rerun_completes() {
    let server = PgServer::start();
    let url = server.create_db("drop");
    let tmp = tempfile::tempdir().unwrap();
    let docs = corpus_copy(tmp.path(), 5);
    common::files("multilingual-e5-small");
    let child = spawn_indexer(&docs, &url);
    // Once the first batches are committed, end semclust's session from the server side (what a
    // failover or an administrator does).
    let t0 = Instant::now();
    let mut c = server.client("drop");
    loop {
        let n: i64 = c
            .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'semclust' AND tablename = 'passages'", &[])
            .unwrap()
            .get(0);
        if n == 1 && count(&server, "drop", "SELECT count(*) FROM semclust.passages") >= 64 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no batch committed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed: i64 = c
        .query_one("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'semclust') t", &[])
        .unwrap()
        .get(0);
    assert!(killed >= 1);
    let o = common::wait_limited(child);
    let line = error_line(&o);
    eprintln!("{line}");
    assert!(
        line.contains("127.0.0.1") && line.contains("run the command again"),
        "{line}"
    );
    assert!(!line.contains(common::pg::PASSWORD));
    let stored = count(&server, "drop", "SELECT count(*) FROM semclust.passages");
    let want = passages_in(std::slice::from_ref(&docs));
    assert!(stored > 0 && stored < want, "{stored} of {want}");

    let s = summary(&semclust(&[
        "index",
        docs.to_str().unwrap(),
        "--store",
        &url,
        "--json",
        "-q",
    ]));
    let total = s["passages"].as_i64().unwrap();
    assert_eq!(total, want, "{s}");
    assert_eq!(s["kept"].as_i64(), Some(stored), "{s}");
    // Short paragraphs repeat across the copies: their vectors are reused, not embedded again.
    assert_eq!(s["added"].as_i64(), Some(total - stored), "{s}");
    assert_eq!(
        count(
            &server,
            "drop",
            "SELECT count(DISTINCT id) FROM semclust.passages"
        ),
        total
    );
}

#[test]
fn bad_store_input_is_a_one_line_error_and_keeps_the_index() {
    let server = PgServer::start();
    let url = server.create_db("bad");
    common::index_sample(&["--store", &url]);
    let corpus = common::sample_corpus();
    let c = corpus.to_str().unwrap();
    let port = server.port;
    let q = "data centers";

    let wrong = format!("postgres://postgres:nope@127.0.0.1:{port}/bad?sslmode=disable");
    let line = error_line(&semclust(&["search", q, "--store", &wrong]));
    assert!(
        line.contains("password authentication failed for user \"postgres\""),
        "{line}"
    );
    assert!(!line.contains("nope"), "{line}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let line = error_line(&semclust(&[
        "search",
        q,
        "--store",
        &format!("postgres://postgres@127.0.0.1:{closed}/x"),
    ]));
    assert!(
        line.contains(&format!("cannot reach 127.0.0.1:{closed}")),
        "{line}"
    );

    let line = error_line(&semclust(&[
        "search",
        q,
        "--store",
        &server.store("nosuchdb"),
    ]));
    assert!(
        line.contains("database \"nosuchdb\" does not exist"),
        "{line}"
    );

    let tls = format!(
        "postgres://postgres:{}@127.0.0.1:{port}/bad?sslmode=require",
        common::pg::PASSWORD
    );
    let line = error_line(&semclust(&["search", q, "--store", &tls]));
    assert!(line.contains("TLS"), "{line}");

    let line = error_line(&semclust(&["search", q, "--store", "mysql://me@host/db"]));
    assert!(line.contains("postgres://"), "{line}");

    // An empty database (no index yet).
    let empty = server.create_db("empty");
    let line = error_line(&semclust(&["search", q, "--store", &empty]));
    assert!(
        line.contains("holds no semclust index") && line.contains("semclust index PATH --store"),
        "{line}"
    );

    // A schema made for another model, and one whose vectors have another dimension.
    let other = |schema: &str, model: &str, dim: usize| {
        let t = PgTarget::parse(&format!("{url}&schema={schema}")).unwrap();
        let fp = Fingerprint {
            model: model.into(),
            revision: "0".repeat(40),
            precision: "f32".into(),
            dimension: dim,
        };
        PgStore::open_or_create(&t, &fp, &HnswOptions::default()).unwrap();
        format!("{url}&schema={schema}")
    };
    let minilm = other("minilm", "all-minilm-l6-v2", 384);
    let line = error_line(&semclust(&["index", c, "--store", &minilm]));
    assert!(
        line.contains("all-minilm-l6-v2") && line.contains("--model all-minilm-l6-v2"),
        "{line}"
    );
    let wide = other("wide", "some-768-model", 768);
    let line = error_line(&semclust(&["index", c, "--store", &wide]));
    assert!(line.contains("768-d") && line.contains("384-d"), "{line}");

    // A server without pgvector, and a user who may not create the extension.
    let bare = PgServer::start_without_vector();
    let line = error_line(&semclust(&[
        "index",
        c,
        "--store",
        &bare.create_db("plain"),
    ]));
    assert!(line.contains("no pgvector extension"), "{line}");
    server
        .client("postgres")
        .batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw'")
        .unwrap();
    server
        .client("postgres")
        .batch_execute("CREATE DATABASE alicedb OWNER alice")
        .unwrap();
    let alice = format!("postgres://alice:alice-pw@127.0.0.1:{port}/alicedb?sslmode=disable");
    let line = error_line(&semclust(&["index", c, "--store", &alice]));
    assert!(
        line.contains("CREATE EXTENSION vector") && line.contains("alice"),
        "{line}"
    );

    // None of it touched the index.
    assert_eq!(
        count(&server, "bad", "SELECT count(*) FROM semclust.passages"),
        98
    );
    let hits = jsonl(&ok(&semclust(&[
        "search", q, "--store", &url, "--json", "-k", "3",
    ])));
    assert_eq!(hits.len(), 3);
}

#[test]
fn pg_environment_and_pgpass_complete_the_url() {
    let server = PgServer::start();
    server.create_db("envdb");
    let port = server.port.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let q = "data centers";
    // No index yet: "holds no semclust index" proves the connection and the login succeeded.
    let connected = |o: &Output| error_line(o).contains("holds no semclust index");

    // Everything from the environment.
    let env = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
        ("PGPASSWORD", common::pg::PASSWORD),
        ("PGDATABASE", "envdb"),
        ("PGSSLMODE", "disable"),
    ];
    assert!(connected(&semclust_env(
        &["search", q, "--store", "postgres://"],
        &env
    )));
    // SEMCLUST_STORE instead of --store.
    let mut with_store = env.to_vec();
    with_store.push(("SEMCLUST_STORE", "postgres://"));
    assert!(connected(&semclust_env(&["search", q], &with_store)));

    // The password from a .pgpass file (only when others cannot read it, as libpq).
    let pgpass = tmp.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "# test\nother:1:*:*:x\n127.0.0.1:{port}:*:postgres:{}\n",
            common::pg::PASSWORD
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/envdb?sslmode=disable");
    let p = pgpass.to_str().unwrap();
    assert!(connected(&semclust_env(
        &["search", q, "--store", &url],
        &[("PGPASSFILE", p)]
    )));
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = error_line(&semclust_env(
        &["search", q, "--store", &url],
        &[("PGPASSFILE", p)],
    ));
    assert!(line.contains("password"), "{line}");
}

#[test]
fn tls_when_the_url_asks_for_it() {
    let server = PgServer::start();
    let url = server.create_db("tlsdb");
    common::index_sample(&["--store", &url]);
    let front = common::pg::TlsFront::start(server.port);
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, &front.ca_pem).unwrap();
    let base = |host: &str, q: &str| {
        format!(
            "postgres://postgres:{}@{host}:{}/tlsdb?{q}",
            common::pg::PASSWORD,
            front.port
        )
    };
    let search = |store: &str| {
        semclust(&[
            "search",
            "data centers",
            "--store",
            store,
            "--json",
            "-k",
            "3",
        ])
    };

    // Encrypted without checking the certificate (libpq's require), and fully verified against
    // the CA, by IP address and by name.
    for store in [
        base("127.0.0.1", "sslmode=require"),
        base(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        ),
        base(
            "localhost",
            &format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
        ),
    ] {
        assert_eq!(jsonl(&ok(&search(&store))).len(), 3, "{store}");
    }
    // PGSSLMODE / PGSSLROOTCERT do the same.
    let o = semclust_env(
        &[
            "search",
            "data centers",
            "--store",
            &base("127.0.0.1", ""),
            "--json",
            "-k",
            "3",
        ],
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", ca.to_str().unwrap()),
        ],
    );
    assert_eq!(jsonl(&ok(&o)).len(), 3);

    // Not trusted: the public roots do not know the test CA; a missing root file is named.
    let line = error_line(&search(&base("127.0.0.1", "sslmode=verify-full")));
    eprintln!("{line}");
    assert!(
        line.contains("TLS") && line.contains("sslrootcert"),
        "{line}"
    );
    let line = error_line(&search(&base(
        "127.0.0.1",
        "sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
    )));
    eprintln!("{line}");
    assert!(line.contains("/nonexistent/root.crt"), "{line}");
    // TLS refused outright when the URL says disable but the port only speaks TLS.
    let line = error_line(&search(&base("127.0.0.1", "sslmode=disable")));
    eprintln!("{line}");
    assert!(line.contains(&front.port.to_string()), "{line}");
}

/// First runs started together on databases with nothing in them: they race on CREATE EXTENSION,
/// the migrations, and on the lexical index in the cache, which each newer generation replaces.
/// Every one of them must succeed, and each database must end with the one passage.
#[test]
fn first_runs_started_together_all_succeed() {
    let server = PgServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("one.md");
    std::fs::write(
        &f,
        "## Un titre\n\nUn paragraphe assez long pour être un passage : les modèles de langue \
         entrent dans les rédactions, et les éditeurs négocient avec leurs fabricants.\n\n\
         [https://example.org/un-titre]\n",
    )
    .unwrap();
    common::files("multilingual-e5-small");
    for i in 0..6 {
        let db = format!("first{i}");
        let url = server.create_db(&db);
        let children: Vec<_> = (0..4).map(|_| spawn_indexer(&f, &url)).collect();
        for c in children {
            let o = common::wait_limited(c);
            assert_eq!(summary(&o)["passages"], 1, "database {db}");
        }
        assert_eq!(
            count(&server, &db, "SELECT count(*) FROM semclust.passages"),
            1
        );
    }
}
