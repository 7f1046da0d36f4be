//! The PostgreSQL + pgvector store beside the embedded SQLite store on the same 100,000 passages:
//! insert rate, HNSW build time, queries/s and recall@10 against exact search, size on disk.
//!
//! `cargo bench --bench pg_scale -- [--n 100000] [--queries 1000] [--exact-queries 100] [--ef 40,128]`
//!
//! Both stores go through semclust's own store API (what `semclust index` and `search` do):
//! `apply`/`bulk_load` with COPY for PostgreSQL, one transaction for SQLite; searches through
//! `nearest` one query at a time on one client. The PostgreSQL server is a real PostgreSQL 16 with
//! pgvector 0.6.2 started by the test harness (tests/common/pg.rs) on this machine, fsync off.
//! Vectors are synthetic unit vectors around 2,000 centres (benches/common/synth.rs), texts ~500
//! characters, 1,000 passages per document.
//!
//! Measured alike for both stores: exact search runs the same `--exact-queries` queries on
//! each (PostgreSQL's exact scan is slow, so not all of `--queries`); size on disk is what
//! holds the data and its indexes once the write-ahead log is folded in, WAL excluded: for
//! SQLite the database file after a `wal_checkpoint(TRUNCATE)` plus the graph and lexical
//! files beside it, for PostgreSQL `pg_total_relation_size` (heap, TOAST, indexes, free-space
//! and visibility maps) of every table in semclust's schema after a `CHECKPOINT`.

use std::time::Instant;

use semclust::corpus::Passage;
use semclust::store::{
    flat, Changes, Exclude, Fingerprint, HnswOptions, Nearest, PgStore, PgTarget, SearchMethod,
    SqliteStore, VectorStore, VectorStoreWrite,
};

#[path = "common/synth.rs"]
mod synth;
use synth::{arg, centres, draw, Rng, DIM};

#[path = "../tests/common/pg.rs"]
mod pg;

const K: usize = 10;

fn changes(data: &[f32]) -> Changes {
    let n = data.len() / DIM;
    let filler = "Les centres de données consomment une part croissante de l'électricité, et les opérateurs cherchent des sites proches des réseaux et de l'eau pour refroidir leurs serveurs. ";
    let mut c = Changes::default();
    for d in 0..n.div_ceil(1000) {
        c.documents
            .push((format!("bench-{d}"), format!("/bench/bench-{d}.md")));
    }
    for (i, v) in data.chunks(DIM).enumerate() {
        let (d, p) = (i / 1000, i % 1000 + 1);
        let text = format!("{i}: {}", filler.repeat(3));
        c.upserts.push((
            Passage {
                id: format!("bench-{d}/1/{p}"),
                document: format!("bench-{d}"),
                article: "1".into(),
                paragraph: p as u32,
                title: format!("Document {d}"),
                section: None,
                meta: Default::default(),
                span: (0, text.chars().count() as u64),
                hash: semclust::corpus::hash(&text),
                text,
            },
            v.to_vec(),
        ));
    }
    c
}

/// queries/s and recall@10 of `store.nearest` against `truth` (passage ids).
fn measure(
    store: &dyn VectorStore,
    queries: &[f32],
    truth: &[Vec<String>],
    method: SearchMethod,
    limit: usize,
) -> anyhow::Result<(f64, f64)> {
    let t = Instant::now();
    let mut found = 0usize;
    let mut n = 0usize;
    for (qi, q) in queries.chunks(DIM).enumerate().take(limit) {
        let rows = store.nearest(&Nearest {
            vector: q,
            k: K,
            exclude: &Exclude::NONE,
            method,
        })?;
        let ps = store.passages_by_keys(&rows.iter().map(|r| r.key).collect::<Vec<_>>())?;
        found += ps.iter().filter(|p| truth[qi].contains(&p.id)).count();
        n += 1;
    }
    Ok((
        n as f64 / t.elapsed().as_secs_f64(),
        found as f64 / (n * K) as f64,
    ))
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        dir_size(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let n: usize = arg("--n").map_or(Ok(100_000), |s| s.parse())?;
    let nq: usize = arg("--queries").map_or(Ok(1000), |s| s.parse())?;
    let exact_n: usize = arg("--exact-queries")
        .map_or(Ok(100), |s| s.parse::<usize>())?
        .min(nq);
    let efs: Vec<usize> = arg("--ef")
        .unwrap_or_else(|| "40,128".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let mut rng = Rng(0x5EED_0000 + n as u64);
    let c = centres(&mut rng, 2000);
    let data = draw(&mut rng, &c, n, 0.9);
    let queries = draw(&mut rng, &c, nq, 0.9);
    let fp = Fingerprint {
        model: "multilingual-e5-small".into(),
        revision: "bench".into(),
        precision: "q4".into(),
        dimension: DIM,
    };

    // Ground truth: exact top-10 by our flat scan, as passage ids.
    let truth: Vec<Vec<String>> = queries
        .chunks(DIM)
        .map(|q| {
            flat::top_k(&data, DIM, q, K, &|_| false)
                .iter()
                .map(|r| {
                    let i = r.row as usize;
                    format!("bench-{}/1/{}", i / 1000, i % 1000 + 1)
                })
                .collect()
        })
        .collect();
    println!("# pg_scale: {n} passages × {DIM}, {nq} queries, k {K}, one client");

    // The embedded store.
    let tmp = tempfile::tempdir()?;
    let mut lite = SqliteStore::open_or_create(tmp.path(), &fp)?;
    let t = Instant::now();
    lite.apply(changes(&data))?;
    let insert = t.elapsed().as_secs_f64();
    let t = Instant::now();
    // The first graph search builds (or loads) the graph.
    let first_graph_search = Nearest {
        vector: &queries[..DIM],
        k: K,
        exclude: &Exclude::NONE,
        method: SearchMethod::Approximate,
    };
    lite.nearest(&first_graph_search)?;
    let build = t.elapsed().as_secs_f64();
    // Fold the WAL into the database first, as PostgreSQL's size below leaves its WAL out.
    let before_checkpoint = dir_size(tmp.path());
    rusqlite::Connection::open(tmp.path().join("index.sqlite"))?.query_row(
        "PRAGMA wal_checkpoint(TRUNCATE)",
        [],
        |_| Ok(()),
    )?;
    let size = dir_size(tmp.path());
    let (exact_qps, exact_recall) = measure(&lite, &queries, &truth, SearchMethod::Exact, exact_n)?;
    println!(
        "{}",
        serde_json::json!({"store": "sqlite", "n": n, "insert_s": insert, "insert_per_s": n as f64 / insert,
            "hnsw_build_s": build, "disk_bytes_per_passage": size as f64 / n as f64,
            "disk_bytes_per_passage_before_checkpoint": before_checkpoint as f64 / n as f64,
            "exact_qps": exact_qps, "exact_queries": exact_n, "exact_recall": exact_recall})
    );
    for &ef in &efs {
        let mut p = lite.ann_params();
        p.ef_search = ef;
        lite.set_ann_params(p);
        lite.nearest(&first_graph_search)?;
        let (qps, recall) = measure(&lite, &queries, &truth, SearchMethod::Approximate, nq)?;
        println!(
            "{}",
            serde_json::json!({"store": "sqlite", "n": n, "m": p.m, "ef_construction": p.ef_construction,
                "ef_search": ef, "hnsw_qps": qps, "recall_at_10": recall})
        );
    }
    drop(lite);

    // PostgreSQL.
    let server = pg::PgServer::start();
    let url = server.create_db("bench");
    let target = PgTarget::parse(&url)?;
    let mut store = PgStore::open_or_create(&target, &fp, &HnswOptions::default())?;
    let t = Instant::now();
    let timing = store.bulk_load(changes(&data))?;
    let total = t.elapsed().as_secs_f64();
    let mut admin = server.client("bench");
    admin.batch_execute("CHECKPOINT")?;
    let bytes: i64 = admin
        .query_one(
            "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'semclust' AND c.relkind IN ('r', 'm')",
            &[],
        )?
        .get(0);
    let (exact_qps, exact_recall) =
        measure(&store, &queries, &truth, SearchMethod::Exact, exact_n)?;
    let p = store.ann_params();
    println!(
        "{}",
        serde_json::json!({"store": "postgres", "n": n, "insert_s": timing.insert_secs,
            "insert_per_s": n as f64 / timing.insert_secs, "hnsw_build_s": timing.index_secs,
            "load_total_s": total, "disk_bytes_per_passage": bytes as f64 / n as f64,
            "exact_qps": exact_qps, "exact_queries": exact_n, "exact_recall": exact_recall,
            "m": p.m, "ef_construction": p.ef_construction})
    );
    for &ef in &efs {
        store.set_ef_search(ef);
        let (qps, recall) = measure(&store, &queries, &truth, SearchMethod::Approximate, nq)?;
        println!(
            "{}",
            serde_json::json!({"store": "postgres", "n": n, "m": p.m, "ef_construction": p.ef_construction,
                "ef_search": ef, "hnsw_qps": qps, "recall_at_10": recall})
        );
    }
    // The language-neutral view's rescoring reads the vectors of 100 candidates per dense
    // query (search::rescore_depth): one statement, against the trait's default of reading
    // each row (passage, then vector), as semclust did before.
    let mut batched = Vec::new();
    let mut per_row = Vec::new();
    for q in queries.chunks(DIM).take(50) {
        let rows = store.nearest(&Nearest {
            vector: q,
            k: semclust::search::rescore_depth(K),
            exclude: &Exclude::NONE,
            method: SearchMethod::Approximate,
        })?;
        let keys: Vec<_> = rows.iter().map(|r| r.key).collect();
        let t = Instant::now();
        let one = store.vectors_by_keys(&keys)?;
        batched.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut each = Vec::with_capacity(keys.len());
        for k in &keys {
            let p = store.passages_by_keys(&[*k])?;
            each.push(store.vector(&p[0].id)?.unwrap_or_default());
        }
        per_row.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(one == each, "vectors_by_keys differs from reading each row");
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] * 1e3
    };
    println!(
        "{}",
        serde_json::json!({"store": "postgres", "n": n, "rescored_rows": semclust::search::rescore_depth(K),
            "vectors_by_keys_ms_p50": median(&mut batched), "per_row_reads_ms_p50": median(&mut per_row)})
    );
    Ok(())
}
