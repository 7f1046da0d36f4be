//! The store contract: the same cases, word for word, against the embedded SQLite store and
//! against PostgreSQL + pgvector on a server the harness starts (tests/common/pg.rs). Synthetic
//! vectors whose answers follow from their geometry, no model: what a front end may rely on from
//! any store, whichever backend holds the index.

mod common;

use std::path::PathBuf;

use semclust::corpus::Passage;
use semclust::store::{
    AnyStore, Changes, Exclude, Fingerprint, HnswOptions, Nearest, SearchMethod, StoreLocation,
    ANN_THRESHOLD,
};
use semclust::Error;

use common::pg::PgServer;

const DIM: usize = 8;

fn fingerprint() -> Fingerprint {
    Fingerprint {
        model: "contract-model".into(),
        revision: "r1".into(),
        precision: "f32".into(),
        dimension: DIM,
    }
}

/// Unit vector at angle `a` in the plane of the first two axes: the cosine of two such vectors
/// is the cosine of their angle, so the nearest neighbours of any angle are known in advance.
fn at(a: f32) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[0] = a.cos();
    v[1] = a.sin();
    v
}

/// Passage `i` of article `article` of `doc`, at angle i × 0.1 rad.
fn passage(doc: &str, article: u32, i: u32) -> (Passage, Vec<f32>) {
    let text = format!("passage {i} of {doc} article {article}");
    (
        Passage {
            id: format!("{doc}/{article}/{i}"),
            document: doc.into(),
            article: article.to_string(),
            paragraph: i,
            title: format!("{doc} article {article}"),
            section: (i % 2 == 1).then(|| format!("Section {i}")),
            meta: serde_json::json!({"lang": "fr", "n": i})
                .as_object()
                .cloned()
                .unwrap(),
            span: (u64::from(i) * 100, u64::from(i) * 100 + 40),
            hash: format!("hash-{doc}-{article}-{i}"),
            text,
        },
        at(i as f32 * 0.1),
    )
}

/// Ten passages: `a/1/0..5` and `a/2/5..10`, at angles 0.0 to 0.9.
fn ten() -> Changes {
    let mut upserts: Vec<_> = (0..5).map(|i| passage("a", 1, i)).collect();
    upserts.extend((5..10).map(|i| passage("a", 2, i)));
    Changes {
        documents: vec![("a".into(), "/corpus/a.md".into())],
        upserts,
        ..Default::default()
    }
}

fn nearest<'a>(
    vector: &'a [f32],
    k: usize,
    exclude: &'a Exclude,
    method: SearchMethod,
) -> Nearest<'a> {
    Nearest {
        vector,
        k,
        exclude,
        method,
    }
}

fn ids(store: &AnyStore, query: &[f32], k: usize, exclude: &Exclude) -> Vec<String> {
    let rows = store
        .nearest(&nearest(query, k, exclude, SearchMethod::Exact))
        .unwrap();
    let ps = store
        .passages_by_keys(&rows.iter().map(|r| r.key).collect::<Vec<_>>())
        .unwrap();
    ps.into_iter().map(|p| p.id).collect()
}

/// Every case, in order, on one fresh store at `location`.
fn contract(location: &StoreLocation) {
    let fp = fingerprint();
    assert!(
        location.open_existing().unwrap().is_none(),
        "{location}: not empty at start"
    );
    let mut store = location
        .open_or_create(&fp, &HnswOptions::default())
        .unwrap();
    assert_eq!(store.fingerprint(), &fp);
    assert!(store.is_empty().unwrap());
    let g0 = store.generation().unwrap();

    // Writes land whole, and every read gives back what was written.
    store.apply(ten()).unwrap();
    assert_eq!(store.len().unwrap(), 10);
    assert!(
        store.generation().unwrap() > g0,
        "{location}: generation not bumped"
    );
    let (want, want_v) = passage("a", 2, 7);
    let got = store.passage("a/2/7").unwrap().expect("stored passage");
    assert_eq!(
        (
            &got.id,
            &got.document,
            &got.article_key,
            got.paragraph,
            &got.title,
            got.span,
            &got.hash,
            &got.text
        ),
        (
            &want.id,
            &want.document,
            &want.article,
            want.paragraph,
            &want.title,
            want.span,
            &want.hash,
            &want.text
        ),
    );
    assert_eq!(got.path, "/corpus/a.md");
    assert_eq!(
        store.vector("a/2/7").unwrap().unwrap(),
        want_v,
        "{location}: f32 round trip"
    );
    assert_eq!(store.vector_for_hash(&want.hash).unwrap().unwrap(), want_v);
    assert!(store.passage("a/9/9").unwrap().is_none());
    assert!(store.vector("a/9/9").unwrap().is_none());
    // An article's vectors: those of its passages and no other's (related in other articles
    // takes half their mean from the passage's vector).
    let mut article = store.article_vectors("a", "2").unwrap();
    article.sort_by(|x, y| x[1].total_cmp(&y[1]));
    let want: Vec<Vec<f32>> = (5..10).map(|i| passage("a", 2, i).1).collect();
    assert_eq!(article, want, "{location}: article_vectors");
    assert!(store.article_vectors("a", "9").unwrap().is_empty());
    assert!(store.article_vectors("b", "1").unwrap().is_empty());
    let all: Vec<String> = store
        .passages()
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "{location}: passages() not in id order");
    assert_eq!(all.len(), 10);
    // row_ids and vectors describe the same rows.
    let (rows, vectors) = (store.row_ids().unwrap(), store.vectors().unwrap());
    assert_eq!(vectors.len(), rows.len() * DIM);
    for (r, id) in rows.iter().enumerate() {
        assert_eq!(
            &vectors[r * DIM..(r + 1) * DIM],
            store.vector(id).unwrap().unwrap()
        );
    }
    assert_eq!(
        store.documents().unwrap().get("a").map(String::as_str),
        Some("/corpus/a.md")
    );
    let state = store.document_state("a").unwrap();
    assert_eq!(state.len(), 10);
    assert_eq!(state["a/1/3"].hash, "hash-a-1-3");

    // Nearest by angle: 0.52 rad lies 0.02 from passage 5, then 6 (0.08), 4 (0.12), 7, 3.
    let q = at(0.52);
    assert_eq!(
        ids(&store, &q, 5, &Exclude::default()),
        ["a/2/5", "a/2/6", "a/1/4", "a/2/7", "a/1/3"]
    );
    let best = store
        .nearest(&nearest(&q, 1, &Exclude::NONE, SearchMethod::Exact))
        .unwrap();
    assert!(
        (best[0].score - 0.02f32.cos()).abs() < 1e-5,
        "{location}: score {}",
        best[0].score
    );
    // The graph finds the same on ten points.
    let ann = store
        .nearest(&nearest(&q, 3, &Exclude::NONE, SearchMethod::Approximate))
        .unwrap();
    let ann_ids: Vec<String> = store
        .passages_by_keys(&ann.iter().map(|r| r.key).collect::<Vec<_>>())
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ann_ids, ["a/2/5", "a/2/6", "a/1/4"], "{location}: HNSW");
    // k past the size gives everything once.
    assert_eq!(ids(&store, &q, 50, &Exclude::default()).len(), 10);
    // Exclusions: the passage itself, then its whole article.
    let ex = Exclude {
        passage: Some("a/2/5".into()),
        article: None,
        ..Exclude::default()
    };
    assert_eq!(ids(&store, &q, 2, &ex), ["a/2/6", "a/1/4"]);
    let ex = Exclude {
        passage: Some("a/2/5".into()),
        article: Some(("a".into(), "2".into())),
        ..Exclude::default()
    };
    assert_eq!(ids(&store, &q, 3, &ex), ["a/1/4", "a/1/3", "a/1/2"]);
    // A metadata filter's matches: nothing outside them, in the same order as without it.
    let ex = Exclude {
        outside: Some(std::sync::Arc::new(
            ["a/1/2", "a/2/6", "a/1/3"]
                .map(String::from)
                .into_iter()
                .collect(),
        )),
        ..Exclude::default()
    };
    assert_eq!(ids(&store, &q, 2, &ex), ["a/2/6", "a/1/3"], "{location}");
    assert_eq!(
        ids(&store, &q, 10, &ex),
        ["a/2/6", "a/1/3", "a/1/2"],
        "{location}"
    );

    // A vector of the wrong length is refused and nothing of that change is kept.
    let before = store.generation().unwrap();
    let (mut bad, _) = passage("b", 1, 0);
    bad.document = "b".into();
    let err = store
        .apply(Changes {
            documents: vec![("b".into(), "/corpus/b.md".into())],
            upserts: vec![(bad, vec![1.0; DIM + 1])],
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::DimensionMismatch { expected: DIM, got, .. } if got == DIM + 1),
        "{location}: {err}"
    );
    assert_eq!(
        store.len().unwrap(),
        10,
        "{location}: a refused change left rows"
    );
    assert!(!store.documents().unwrap().contains_key("b"));
    assert_eq!(store.generation().unwrap(), before);
    let err = store
        .nearest(&nearest(&[1.0; 3], 1, &Exclude::NONE, SearchMethod::Exact))
        .unwrap_err();
    assert!(
        matches!(err, Error::DimensionMismatch { got: 3, .. }),
        "{location}: {err}"
    );

    // Metadata touched in place keeps the vector; deletions remove rows and documents.
    let stored = store.passage("a/1/3").unwrap().unwrap();
    assert_eq!(stored.section.as_deref(), Some("Section 3"));
    assert_eq!(stored.meta["lang"], "fr");
    assert_eq!(stored.meta["n"], 3);
    let (mut moved, v) = passage("a", 1, 2);
    moved.title = "renamed".into();
    moved.span = (7, 9);
    moved.section = Some("Moved › Here".into());
    moved.meta.insert("date".into(), "2025-02-10".into());
    store
        .apply(Changes {
            touched: vec![moved],
            deleted_passages: vec!["a/1/0".into()],
            ..Default::default()
        })
        .unwrap();
    let p = store.passage("a/1/2").unwrap().unwrap();
    assert_eq!((p.title.as_str(), p.span), ("renamed", (7, 9)));
    assert_eq!(p.section.as_deref(), Some("Moved › Here"));
    assert_eq!(p.meta["date"], "2025-02-10");
    let state = store.document_state("a").unwrap();
    assert_eq!(state["a/1/2"].meta["date"], "2025-02-10");
    assert_eq!(state["a/1/3"].section.as_deref(), Some("Section 3"));
    assert_eq!(store.vector("a/1/2").unwrap().unwrap(), v);
    assert!(store.passage("a/1/0").unwrap().is_none());
    assert_eq!(store.len().unwrap(), 9);
    assert_eq!(ids(&store, &at(0.0), 1, &Exclude::default()), ["a/1/1"]);
    store
        .apply(Changes {
            deleted_documents: vec!["a".into()],
            ..Default::default()
        })
        .unwrap();
    assert!(store.is_empty().unwrap());
    assert!(store.documents().unwrap().is_empty());
    drop(store);

    // Reopened, the store is the same index; another model's vectors are refused.
    let again = location.open().unwrap();
    assert_eq!(again.fingerprint(), &fp);
    let other = Fingerprint {
        dimension: DIM * 2,
        ..fingerprint()
    };
    let err = location
        .open_or_create(&other, &HnswOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::ModelMismatch { .. }),
        "{location}: {err}"
    );
}

/// An empty folder of this test's own.
fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn sqlite_store_keeps_the_contract() {
    contract(&StoreLocation::Dir(tmp("contract-sqlite")));
}

#[test]
fn postgres_store_keeps_the_contract() {
    let server = PgServer::start();
    let url = server.create_db("contract");
    contract(&StoreLocation::new(&tmp("contract-pg"), Some(&url)).unwrap());
}

/// Above [`ANN_THRESHOLD`] passages, `prepare_nearest` (called at the end of every indexing run
/// that changed something) writes the HNSW graph beside the database, and the next process's
/// first search reads it instead of building its own. Catches the first question after
/// indexing a documents folder of 90,000 passages waiting 6 s for the graph.
#[test]
fn a_large_sqlite_index_has_its_graph_before_the_first_search() {
    let dir = tmp("prepare-sqlite");
    let location = StoreLocation::Dir(dir.clone());
    let graphs = || -> Vec<(String, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().starts_with("hnsw-"))
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, e.metadata().unwrap().modified().unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let n = ANN_THRESHOLD as u32 + 1;
    let step = std::f32::consts::TAU / n as f32;
    {
        let mut store = location
            .open_or_create(&fingerprint(), &HnswOptions::default())
            .unwrap();
        let upserts = (0..n)
            .map(|i| {
                let (p, _) = passage("big", i / 100, i);
                (p, at(i as f32 * step))
            })
            .collect();
        store
            .apply(Changes {
                documents: vec![("big".into(), "/corpus/big.md".into())],
                upserts,
                ..Default::default()
            })
            .unwrap();
        assert!(
            graphs().is_empty(),
            "a graph before any search or preparation"
        );
        store.begin_read().unwrap();
        store.prepare_nearest().unwrap();
        store.end_read().unwrap();
    }
    let before = graphs();
    assert_eq!(before.len(), 2, "the graph and its quantiser: {before:?}");

    let mut store = location.open_existing().unwrap().expect("the index");
    store.begin_read().unwrap();
    let query = at(1234.0 * step);
    let rows = store
        .nearest(&nearest(&query, 1, &Exclude::default(), SearchMethod::Auto))
        .unwrap();
    store.end_read().unwrap();
    let got = store.passages_by_keys(&[rows[0].key]).unwrap();
    // 20,001 points on one circle, quantised to 8 bits per coordinate by the graph: a
    // neighbour within a few hundredths of a radian is the graph's answer, not a bug.
    assert!(rows[0].score > 0.999, "{} at {}", got[0].id, rows[0].score);
    assert_eq!(graphs(), before, "the first search built its own graph");
}

/// An index written by semclust before metadata (schema migration 1 only, as that version made
/// it) opens for searching with its passages intact, and gains the metadata columns once.
#[test]
fn a_version_1_postgres_index_is_migrated_in_place() {
    let server = PgServer::start();
    let url = server.create_db("v1");
    let fp = serde_json::to_string(&fingerprint()).unwrap();
    let mut c = server.client("v1");
    c.batch_execute(&format!(
        "CREATE EXTENSION vector;
         CREATE SCHEMA semclust;
         CREATE TABLE semclust.migrations(version integer PRIMARY KEY, description text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE semclust.meta(key text PRIMARY KEY, value text NOT NULL);
         CREATE TABLE semclust.documents(key text PRIMARY KEY, path text NOT NULL);
         CREATE TABLE semclust.passages(
             rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             id text NOT NULL UNIQUE,
             document text NOT NULL REFERENCES semclust.documents(key) ON DELETE CASCADE,
             article text NOT NULL, paragraph integer NOT NULL, title text NOT NULL,
             span_start bigint NOT NULL, span_end bigint NOT NULL, hash text NOT NULL,
             text text NOT NULL, embedding vector({DIM}) NOT NULL);
         INSERT INTO semclust.migrations(version, description) VALUES (1, 'v1');
         INSERT INTO semclust.meta VALUES ('generation', '0'), ('instance', 'i'),
             ('fingerprint', '{fp}');
         INSERT INTO semclust.documents VALUES ('d', '/x/d.md');
         INSERT INTO semclust.passages(id, document, article, paragraph, title, span_start,
             span_end, hash, text, embedding)
             VALUES ('d/1/1', 'd', '1', 1, 'T', 0, 4, 'h', 'text', '[1,0,0,0,0,0,0,0]');"
    ))
    .unwrap();
    let location = StoreLocation::new(&tmp("v1-pg"), Some(&url)).unwrap();
    let store = location.open().unwrap();
    let p = store.passage("d/1/1").unwrap().unwrap();
    assert_eq!(
        (p.text.as_str(), p.section, p.meta.len()),
        ("text", None, 0)
    );
    assert_eq!(ids(&store, &at(0.0), 1, &Exclude::default()), ["d/1/1"]);
    drop(store);
    location.open().unwrap();
    let applied: i64 = c
        .query_one("SELECT count(*) FROM semclust.migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, 2);
}
