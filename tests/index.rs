//! `semclust index`, `search` and `related` on the sample corpus with the real model: retrieval
//! quality on a hand-written multilingual question set, the `--json` format, incremental
//! re-indexing, a writer killed mid-run, and bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use semclust::search::eval::{evaluate, QuestionSet};
use semclust::search::Mode;
use semclust::store::{Exclude, Nearest, RowKey, SearchMethod, SqliteStore, VectorStore};
use semclust::{InputKind, Precision};

use common::{error_line, ok, semclust};

fn summary(o: &Output) -> serde_json::Value {
    serde_json::from_str(ok(o).trim()).unwrap()
}

/// One index of the sample corpus, built once by the binary and only read by the tests using it.
fn shared_index() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("index-shared");
        let _ = std::fs::remove_dir_all(&dir);
        let s = common::index_sample(&["--index", dir.to_str().unwrap()]);
        assert_eq!(s["passages"], 98);
        assert_eq!(s["added"], 98);
        dir
    })
}

fn jsonl(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const TRICHE: &str = "Intelligence artificielle : comment ChatGPT métamorphose la triche scolaire";

#[test]
fn multilingual_questions_find_their_article_and_paragraph() {
    let dir = shared_index();
    let store = SqliteStore::open(dir).unwrap();
    let set: QuestionSet =
        serde_json::from_slice(&std::fs::read(common::fixture("questions.json")).unwrap()).unwrap();
    assert!(set.questions.len() >= 30);
    let e = common::embedder("multilingual-e5-small", Precision::Q4);
    let texts: Vec<&str> = set.questions.iter().map(|q| q.q.as_str()).collect();
    let v = e.embed(&texts, InputKind::Query).unwrap();
    let vectors: Vec<Vec<f32>> = (0..v.rows()).map(|i| v.row(i).to_vec()).collect();
    let (s, cases) = evaluate(&store, None, &set, &vectors, Mode::Dense, None, None).unwrap();
    for c in &cases {
        assert!(
            c.article_rank.is_some_and(|r| r <= 3),
            "[{}] {}: article not in the top 3: {:?}",
            c.lang,
            c.question,
            c.top
        );
    }
    // Bars on the answer paragraph itself (with five articles, an article in the top 3 is
    // easy). 2026-12-02, 31 questions: first for 25, in the top 3 for 29, in the top 5 for
    // 30, as sentence-transformers with the same model. The bars allow two more misses each:
    // a wrong prefix, pooling or normalisation loses far more.
    assert!(s.passage_at_1 >= 23.0 / 31.0, "{s:?}");
    assert!(s.passage_at_3 >= 27.0 / 31.0, "{s:?}");
    assert!(s.passage_at_5 >= 0.9, "{s:?}");
}

/// `semclust eval` on the same set: one JSON summary per mode, dense as good as the library
/// call above, per-language figures; a set made for another collection is refused in one line.
#[test]
fn eval_command_measures_each_mode_and_refuses_a_set_of_another_collection() {
    let dir = shared_index();
    let questions = common::fixture("questions.json");
    let out = ok(&semclust(&[
        "eval",
        questions.to_str().unwrap(),
        "--index",
        dir.to_str().unwrap(),
        "--json",
        "-q",
    ]));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let modes: Vec<&str> = lines.iter().map(|l| l["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["dense", "lexical", "hybrid"]);
    let dense = &lines[0];
    assert_eq!(dense["questions"], 31);
    assert!(
        dense["passage_at_1"].as_f64().unwrap() >= 23.0 / 31.0,
        "{dense}"
    );
    let langs = dense["by_lang"].as_object().unwrap();
    for l in ["de", "en", "es", "fr", "it"] {
        assert!(langs.contains_key(l), "{langs:?}");
    }
    let per_lang: u64 = langs
        .values()
        .map(|v| v["questions"].as_u64().unwrap())
        .sum();
    assert_eq!(per_lang, 31);

    let other = common::fixture("eval/debref-sections.json");
    let o = semclust(&[
        "eval",
        other.to_str().unwrap(),
        "--index",
        dir.to_str().unwrap(),
        "-q",
    ]);
    let line = error_line(&o);
    assert!(
        line.contains("2024 of 2024 questions have no answer in this index"),
        "{line}"
    );
}

/// Passages are embedded with their title and headings in front; an index made by an earlier
/// semclust (its stored hashes those of the text alone) is embedded again on the next `index`,
/// which says so, and then left alone.
#[test]
fn an_index_of_text_alone_vectors_is_embedded_again_with_context_once() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("index-context");
    let _ = std::fs::remove_dir_all(&dir);
    let page = common::fixture("real/debian-reference/pr01.de.html");
    let index = |json: bool| {
        let mut args = vec![
            "index",
            page.to_str().unwrap(),
            "--index",
            dir.to_str().unwrap(),
            "-q",
        ];
        if json {
            args.push("--json");
        }
        ok(&semclust(&args))
    };
    let first: serde_json::Value = serde_json::from_str(index(true).trim()).unwrap();
    let n = first["passages"].as_u64().unwrap();
    assert!(n > 20, "{first}");
    assert_eq!(first["context_added"], 0);
    // What an earlier semclust stored: sha256 of each passage's text, computed here.
    let db = rusqlite::Connection::open(dir.join("index.sqlite")).unwrap();
    let texts: Vec<(String, String)> = db
        .prepare("SELECT id, text FROM passages")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (id, text) in &texts {
        use sha2::Digest;
        let h: String = sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        db.execute("UPDATE passages SET hash = ?1 WHERE id = ?2", [&h, id])
            .unwrap();
    }
    drop(db);
    let text = index(false);
    assert!(
        text.contains(&format!(
            "{n} passages were embedded again with their title and headings"
        )),
        "{text}"
    );
    let third: serde_json::Value = serde_json::from_str(index(true).trim()).unwrap();
    assert_eq!(
        (third["kept"].as_u64(), third["embedded"].as_u64()),
        (Some(n), Some(0))
    );
}

#[test]
fn search_json_carries_the_documented_fields() {
    let dir = shared_index();
    let out = ok(&semclust(&[
        "search",
        "Wie schummeln Schüler mit ChatGPT bei den Hausaufgaben?",
        "--index",
        dir.to_str().unwrap(),
        "-k",
        "3",
        "--json",
        "-q",
    ]));
    let hits = jsonl(&out);
    assert_eq!(hits.len(), 3);
    let store = SqliteStore::open(dir).unwrap();
    for (i, h) in hits.iter().enumerate() {
        assert_eq!(h["rank"], i + 1);
        assert_eq!(h["article"], TRICHE, "{h}");
        assert_eq!(h["document"], "lemonde-ia-2025");
        // The article's URL line is its metadata; the heading path is there, null or not.
        let url = h["meta"]["url"].as_str().unwrap();
        assert!(url.contains("la-triche-scolaire"), "{url}");
        assert!(h.get("section").is_some(), "{h}");
        let id = h["id"].as_str().unwrap();
        let p = store.passage(id).unwrap().unwrap();
        assert_eq!(h["text"], p.text.as_str());
        // The default ranks by the hybrid score; the cosine is there beside it.
        assert!(h["dense_score"].as_f64().unwrap() > 0.5, "{h}");
        assert!(h["score"].as_f64().unwrap() > 0.0, "{h}");
        // The span points at the paragraph in the file.
        let file = std::fs::read_to_string(h["path"].as_str().unwrap()).unwrap();
        let (a, b) = (
            h["span"][0].as_u64().unwrap(),
            h["span"][1].as_u64().unwrap(),
        );
        let src: String = file
            .chars()
            .skip(a as usize)
            .take((b - a) as usize)
            .collect();
        let first_word = p.text.split_whitespace().nth(1).unwrap();
        assert!(src.contains(first_word), "{src} / {first_word}");
    }
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn lexical_hybrid_and_ann_modes_answer() {
    let dir = shared_index();
    let d = dir.to_str().unwrap();
    for extra in [
        &["--mode", "lexical"][..],
        &["--mode", "hybrid"],
        &["--method", "ann"],
    ] {
        let mut args = vec![
            "search",
            "triche au lycée avec ChatGPT",
            "--index",
            d,
            "--json",
            "-q",
        ];
        args.extend_from_slice(extra);
        let hits = jsonl(&ok(&semclust(&args)));
        assert_eq!(hits.len(), 10, "{extra:?}");
        assert_eq!(hits[0]["article"], TRICHE, "{extra:?}");
    }
    // The human format shows rank, score, id and title.
    let out = ok(&semclust(&[
        "search",
        "Mazzucato",
        "--index",
        d,
        "-k",
        "1",
        "-q",
    ]));
    assert!(out.starts_with(" 1. "), "{out}");
    assert!(out.contains("lemonde-ia-2025/5/"), "{out}");
}

#[test]
fn lead_paragraphs_have_same_article_neighbours() {
    let store = SqliteStore::open(shared_index()).unwrap();
    for article in 1..=5 {
        let id = format!("lemonde-ia-2025/{article}/1");
        let v = store.vector(&id).unwrap().unwrap();
        let ex = Exclude {
            passage: Some(id.clone()),
            article: None,
            ..Exclude::default()
        };
        let rows = store
            .nearest(&Nearest {
                vector: &v,
                k: 3,
                exclude: &ex,
                method: SearchMethod::Exact,
            })
            .unwrap();
        let keys: Vec<RowKey> = rows.iter().map(|r| r.key).collect();
        let ps = store.passages_by_keys(&keys).unwrap();
        assert!(ps.iter().all(|p| p.id != id), "itself excluded");
        assert!(
            ps.iter().any(|p| p.article_key == article.to_string()),
            "{id}: no same-article neighbour in {:?}",
            ps.iter().map(|p| &p.id).collect::<Vec<_>>()
        );
    }
}

#[test]
fn related_other_articles_excludes_the_own_article() {
    let d = shared_index().to_str().unwrap();
    let id = "lemonde-ia-2025/3/3";
    let all = jsonl(&ok(&semclust(&[
        "related", id, "--index", d, "-k", "20", "--json", "-q",
    ])));
    assert_eq!(all.len(), 20);
    assert!(all.iter().all(|h| h["id"] != id));
    assert_eq!(all[0]["article"], TRICHE, "nearest is from its own article");
    let other = jsonl(&ok(&semclust(&[
        "related",
        id,
        "--other-articles",
        "--index",
        d,
        "-k",
        "20",
        "--json",
        "-q",
    ])));
    assert_eq!(other.len(), 20);
    assert!(other.iter().all(|h| h["article"] != TRICHE), "{other:?}");
    // Free text: the nearest passages of a text about cheating at school.
    let t = jsonl(&ok(&semclust(&[
        "related",
        "--text",
        "Les élèves utilisent l'IA pour faire leurs devoirs à la maison.",
        "--index",
        d,
        "-k",
        "3",
        "--json",
        "-q",
    ])));
    assert_eq!(t[0]["article"], TRICHE);
}

/// Real web pages (Debian Reference's preface in German and Spanish, DocBook HTML): indexed
/// without their navigation, searched in a third language, hits under their section.
#[test]
fn saved_web_pages_are_indexed_by_section() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("pages");
    std::fs::create_dir(&docs).unwrap();
    for f in ["pr01.de.html", "pr01.es.html"] {
        std::fs::copy(
            common::fixture(&format!("real/debian-reference/{f}")),
            docs.join(f),
        )
        .unwrap();
    }
    let index = tmp.path().join("index");
    let s = summary(&semclust(&[
        "index",
        docs.to_str().unwrap(),
        "--index",
        index.to_str().unwrap(),
        "--json",
        "-q",
    ]));
    assert!(s["passages"].as_u64().unwrap() >= 80, "{s}");
    let out = ok(&semclust(&[
        "search",
        "¿Qué es Debian? Un proyecto de voluntarios que hacen un sistema operativo libre",
        "--index",
        index.to_str().unwrap(),
        "-k",
        "3",
        "--json",
        "-q",
    ]));
    let hits = jsonl(&out);
    assert_eq!(hits[0]["document"], "pr01.es", "{}", hits[0]);
    assert_eq!(hits[0]["article"], "Prefacio");
    assert_eq!(hits[0]["section"], "2. ¿Qué es Debian?", "{}", hits[0]);
    let all = ok(&semclust(&[
        "search",
        "Weiter zum nächsten Kapitel",
        "--index",
        index.to_str().unwrap(),
        "-k",
        "200",
        "--json",
        "-q",
    ]));
    for h in jsonl(&all) {
        let t = h["text"].as_str().unwrap();
        assert!(!t.contains("Kapitel 1. GNU/Linux-Lehrstunde"), "{t}");
    }
    // The pages' <html lang> is metadata to filter on: the Spanish question, German pages
    // only, in every mode; the same filter on themes; a date bound no page has matches nothing.
    let ix = index.to_str().unwrap();
    let question =
        "¿Qué es Debian? Un proyecto de voluntarios que hacen un sistema operativo libre";
    let mut first_de = String::new();
    for mode in ["dense", "lexical", "hybrid"] {
        let out = ok(&semclust(&[
            "search", question, "--index", ix, "-k", "5", "--mode", mode, "--where", "lang=de",
            "--json", "-q",
        ]));
        let hits = jsonl(&out);
        assert!(!hits.is_empty(), "{mode}");
        for h in &hits {
            assert_eq!(h["document"], "pr01.de", "{mode}: {h}");
            assert_eq!(h["meta"]["lang"], "de");
        }
        if mode == "dense" {
            first_de = hits[0]["id"].as_str().unwrap().to_string();
        }
    }
    let out = ok(&semclust(&[
        "related", &first_de, "--index", ix, "-k", "4", "--where", "lang=es", "--json", "-q",
    ]));
    for h in jsonl(&out) {
        assert_eq!(h["document"], "pr01.es", "{h}");
    }
    let out = ok(&semclust(&[
        "themes", "--index", ix, "-k", "3", "--where", "lang=es", "--json", "-q",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let passages = v["passages"].as_array().unwrap();
    assert!(passages.iter().all(|p| p["document"] == "pr01.es"));
    assert!(passages.len() * 2 < s["passages"].as_u64().unwrap() as usize + 10);
    let e = error_line(&semclust(&[
        "themes", "--index", ix, "--since", "2020-01", "-q",
    ]));
    assert!(e.contains("matches no passage"), "{e}");
    let e = error_line(&semclust(&[
        "search",
        "x",
        "--index",
        ix,
        "--since",
        "yesterday",
    ]));
    assert!(e.contains("--since 'yesterday'"), "{e}");
}

fn copy_corpus(dir: &Path) -> PathBuf {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(common::sample_corpus(), docs.join("lemonde-ia-2025.md")).unwrap();
    docs
}

#[test]
fn reindexing_is_incremental() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = copy_corpus(tmp.path());
    let ix = tmp.path().join("ix");
    let run = || {
        summary(&semclust(&[
            "index",
            docs.to_str().unwrap(),
            "--index",
            ix.to_str().unwrap(),
            "--json",
            "-q",
        ]))
    };
    let s = run();
    assert_eq!(
        (s["added"].as_u64(), s["embedded"].as_u64()),
        (Some(98), Some(98))
    );

    let s = run();
    assert_eq!(s["kept"], 98);
    assert_eq!(s["embedded"], 0);
    assert_eq!(
        (
            s["added"].as_u64(),
            s["updated"].as_u64(),
            s["removed"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );

    // One paragraph edited, one new note file.
    let md = docs.join("lemonde-ia-2025.md");
    let text = std::fs::read_to_string(&md).unwrap();
    let edited = text.replacen(
        "Brookfield a, lui, promis 20 milliards",
        "Brookfield a, lui, promis 25 milliards",
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&md, edited).unwrap();
    std::fs::write(
        docs.join("notes.txt"),
        "Les syndicats demandent d'être consultés avant tout déploiement d'outils d'IA.\n\nUn second paragraphe sur les robots humanoïdes.\n",
    )
    .unwrap();
    let s = run();
    assert_eq!(s["updated"], 1, "{s}");
    assert_eq!(s["added"], 2, "{s}");
    assert_eq!(s["kept"], 97, "{s}");
    assert_eq!(s["embedded"], 3, "{s}");
    assert_eq!(s["passages"], 100, "{s}");
    let store = SqliteStore::open(&ix).unwrap();
    let p = store.passage("lemonde-ia-2025/1/6").unwrap().unwrap();
    assert!(p.text.contains("25 milliards"));
    assert_eq!(store.passage("notes/1/2").unwrap().unwrap().title, "notes");
    drop(store);

    // The edit undone, the note deleted.
    std::fs::write(&md, &text).unwrap();
    std::fs::remove_file(docs.join("notes.txt")).unwrap();
    let s = run();
    assert_eq!(s["updated"], 1, "{s}");
    assert_eq!(s["removed"], 2, "{s}");
    assert_eq!(s["embedded"], 1, "{s}");
    assert_eq!(s["passages"], 98, "{s}");

    // A paragraph inserted before the last one of article 5: the last one moves to a new id and
    // keeps its vector (found by content); only the new text is embedded.
    let last = "**Mariana Mazzucato**, italo-américaine";
    assert!(text.contains(last));
    let inserted = text.replacen(
        last,
        &format!("Un paragraphe inséré pour ce test, qui parle de souveraineté.\n\n{last}"),
        1,
    );
    std::fs::write(&md, inserted).unwrap();
    let s = run();
    assert_eq!(
        (s["updated"].as_u64(), s["added"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(s["embedded"], 1, "{s}");
    let store = SqliteStore::open(&ix).unwrap();
    assert!(store
        .passage("lemonde-ia-2025/5/15")
        .unwrap()
        .unwrap()
        .text
        .starts_with("Mariana Mazzucato, italo"));
    drop(store);

    // The lexical part follows the store: the removed note is not found any more.
    let hits = jsonl(&ok(&semclust(&[
        "search",
        "robots humanoïdes",
        "--mode",
        "lexical",
        "--index",
        ix.to_str().unwrap(),
        "--json",
        "-q",
    ])));
    assert!(hits.iter().all(|h| h["document"] != "notes"));
}

#[test]
fn a_killed_indexer_leaves_a_readable_index_and_a_rerun_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    // 200 distinct paragraphs in 20 JSONL records.
    let paras = &common::parity_texts().passages;
    let mut lines = String::new();
    for a in 0..20 {
        let text: Vec<String> = (0..10)
            .map(|p| format!("{} (note {a}.{p})", paras[(a * 10 + p) % paras.len()]))
            .collect();
        lines.push_str(
            &serde_json::json!({"id": format!("a{a}"), "title": format!("Record {a}"), "text": text.join("\n\n")})
                .to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(docs.join("big.jsonl"), lines).unwrap();
    let ix = tmp.path().join("ix");
    common::files("multilingual-e5-small");
    let mut child = common::semclust_command()
        .args([
            "index",
            docs.to_str().unwrap(),
            "--index",
            ix.to_str().unwrap(),
            "-q",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some passages are committed and before it is done.
    let started = std::time::Instant::now();
    let mut seen = 0;
    while started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if let Ok(s) = SqliteStore::open(&ix) {
            seen = s.len().unwrap_or(0);
            if seen > 0 {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen > 0 && seen < 200, "{seen} passages when killed");
    let store = SqliteStore::open(&ix).unwrap();
    let n = store.len().unwrap();
    assert!(n > 0 && n < 200, "{n}");
    // Readable: every stored passage has its vector, and search answers.
    let v = store.vector("big/a0/1").unwrap().unwrap();
    let hits = store
        .nearest(&Nearest {
            vector: &v,
            k: 5,
            exclude: &Exclude::NONE,
            method: SearchMethod::Exact,
        })
        .unwrap();
    assert_eq!(hits.len(), 5.min(n));
    drop(store);
    let s = summary(&semclust(&[
        "index",
        docs.to_str().unwrap(),
        "--index",
        ix.to_str().unwrap(),
        "--json",
        "-q",
    ]));
    assert_eq!(s["passages"], 200, "{s}");
    assert_eq!(s["kept"].as_u64().unwrap() as usize, n, "{s}");
    assert_eq!(s["embedded"].as_u64().unwrap() as usize, 200 - n, "{s}");
}

#[test]
fn bad_input_is_a_one_line_error_and_keeps_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    let e = error_line(&semclust(&[
        "search",
        "x",
        "--index",
        missing.to_str().unwrap(),
    ]));
    assert!(
        e.contains("no index at") && e.contains("semclust index"),
        "{e}"
    );

    let docs = copy_corpus(tmp.path());
    let ix = tmp.path().join("ix");
    let ixs = ix.to_str().unwrap();
    ok(&semclust(&[
        "index",
        docs.to_str().unwrap(),
        "--index",
        ixs,
        "-q",
    ]));

    let e = error_line(&semclust(&["related", "nope/1/1", "--index", ixs]));
    assert!(e.contains("no passage 'nope/1/1'"), "{e}");
    let e = error_line(&semclust(&["search", "x", "-k", "0", "--index", ixs]));
    assert!(e.contains("-k"), "{e}");
    let e = error_line(&semclust(&["search", "  ", "--index", ixs]));
    assert!(e.contains("empty"), "{e}");

    // A broken JSONL record: with --strict the run stops before anything is written; without,
    // the file is skipped with a warning naming its line, and the rest is indexed.
    std::fs::write(
        docs.join("broken.jsonl"),
        "{\"text\": \"fine\"}\n{\"title\": \"no text\"}\n",
    )
    .unwrap();
    let e = error_line(&semclust(&[
        "index",
        docs.to_str().unwrap(),
        "--index",
        ixs,
        "--strict",
    ]));
    assert!(
        e.contains("broken.jsonl") && e.contains("line 2") && e.contains("\"text\""),
        "{e}"
    );
    let o = semclust(&["index", docs.to_str().unwrap(), "--index", ixs, "-q"]);
    let out = ok(&o);
    let warned = String::from_utf8_lossy(&o.stderr);
    assert!(
        warned.contains("warning: skipped")
            && warned.contains("broken.jsonl")
            && warned.contains("line 2"),
        "{warned}"
    );
    assert!(
        out.contains("skipped 1 file that could not be read (1 bad content"),
        "{out}"
    );
    std::fs::remove_file(docs.join("broken.jsonl")).unwrap();
    assert_eq!(SqliteStore::open(&ix).unwrap().len().unwrap(), 98);

    // Another precision (or model) than the index's is refused.
    let e = error_line(&semclust(&[
        "index",
        docs.to_str().unwrap(),
        "--index",
        ixs,
        "--precision",
        "f32",
    ]));
    assert!(
        e.contains("was built with multilingual-e5-small (q4"),
        "{e}"
    );
    assert_eq!(SqliteStore::open(&ix).unwrap().len().unwrap(), 98);

    let e = error_line(&semclust(&[
        "index",
        tmp.path().join("absent.md").to_str().unwrap(),
        "--index",
        ixs,
    ]));
    assert!(e.contains("absent.md"), "{e}");
    let e = error_line(&semclust(&["index", "Cargo.toml", "--index", ixs]));
    assert!(e.contains("unknown file type"), "{e}");

    // A damaged database file is named, not a panic.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("index.sqlite"), vec![b'x'; 4096]).unwrap();
    let e = error_line(&semclust(&[
        "search",
        "x",
        "--index",
        bad.to_str().unwrap(),
    ]));
    assert!(e.contains("index.sqlite"), "{e}");
}

/// The HNSW graph is a cache beside the database: written with its quantiser, an older graph
/// format replaced, and a damaged quantiser answered by a rebuild, not an error.
#[test]
fn graph_cache_is_written_replaced_and_rebuilt_when_damaged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    // Another test may be writing the graph cache of the shared index; it is not copied.
    common::pg::copy_tree(shared_index(), &dir, &|p: &Path| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("hnsw-"))
    });
    let d = dir.to_str().unwrap();
    let graphs = || {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("hnsw-"))
            .collect();
        v.sort();
        v
    };
    assert!(graphs().is_empty());
    std::fs::write(dir.join("hnsw-bf16-1.usearch"), b"an older graph format").unwrap();
    let search = || {
        jsonl(&ok(&semclust(&[
            "search",
            "triche au lycée avec ChatGPT",
            "--index",
            d,
            "--method",
            "ann",
            "--json",
            "-q",
        ])))
    };
    let first = search();
    assert_eq!(first[0]["article"], TRICHE);
    let files = graphs();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].starts_with("hnsw-i8-") && files[0].ends_with(".usearch"),
        "{files:?}"
    );
    assert_eq!(files[1], format!("{}.quant", files[0]));
    let quant = dir.join(&files[1]);
    assert_eq!(std::fs::metadata(&quant).unwrap().len(), 16);

    std::fs::write(&quant, b"garbage").unwrap();
    let again = search();
    let ids = |h: &[serde_json::Value]| h.iter().map(|x| x["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
    assert_eq!(std::fs::metadata(&quant).unwrap().len(), 16);
    assert_eq!(graphs(), files);
}
