//! Retrieval quality of each search mode on the hand-written multilingual question set.
//!
//! `cargo run --release --example eval_questions [-- QUESTIONS.json [FILE_OR_FOLDER]]`
//! indexes the sample corpus (or the given path) into a temporary index with the default model
//! and prints a Markdown table (dense / lexical / hybrid) and the questions each mode missed.

use anyhow::{Context, Result};
use semclust::indexing;
use semclust::search::eval::{evaluate, QuestionSet};
use semclust::search::{LexicalIndex, Mode};
use semclust::store::{Fingerprint, SqliteStore, VectorStore, VectorStoreWrite};
use semclust::{DeviceChoice, Embedder, InputKind, ModelSpec};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let questions = args
        .next()
        .unwrap_or_else(|| "tests/fixtures/questions.json".into());
    let corpus = args
        .next()
        .unwrap_or_else(|| "tests/fixtures/lemonde-ia-2025.md".into());
    let set: QuestionSet = serde_json::from_str(
        &std::fs::read_to_string(&questions).with_context(|| format!("cannot read {questions}"))?,
    )
    .with_context(|| format!("{questions}: not a question set"))?;

    let embedder = Embedder::load_with(
        &ModelSpec::named(semclust::model::DEFAULT_MODEL),
        DeviceChoice::Cpu,
        None,
        &|m| eprintln!("{m}"),
    )?;
    let info = embedder.info().clone();
    let dir = tempfile::tempdir()?;
    let mut store = SqliteStore::open_or_create(
        dir.path(),
        &Fingerprint {
            model: info.model.clone(),
            revision: info.revision.clone(),
            precision: info.precision.to_string(),
            dimension: info.dimension,
        },
    )?;
    let roots = vec![std::path::PathBuf::from(&corpus)];
    let files = semclust::corpus::discover(&roots)?;
    let (docs, _) =
        indexing::read_documents(&files, &Default::default(), true, &mut |w| eprintln!("{w}"))?;
    indexing::apply_documents(&mut store, &embedder, &docs, &[], &mut |_| {})?;
    let lex =
        LexicalIndex::open_or_build(dir.path(), &store.instance()?, store.generation()?, || {
            store.passages()
        })?;

    let texts: Vec<&str> = set.questions.iter().map(|q| q.q.as_str()).collect();
    let e = embedder.embed(&texts, InputKind::Query)?;
    let vectors: Vec<Vec<f32>> = (0..e.rows()).map(|i| e.row(i).to_vec()).collect();

    println!(
        "{} questions ({}), {} passages, {} ({})\n",
        set.questions.len(),
        {
            let mut langs: Vec<&str> = set.questions.iter().map(|q| q.lang.as_str()).collect();
            langs.sort();
            langs.dedup();
            langs.join(", ")
        },
        store.len()?,
        info.model,
        info.precision
    );
    println!("| mode | article@1 | article@3 | passage@1 | passage@5 | MRR@10 |");
    println!("|---|---|---|---|---|---|");
    let mut misses = Vec::new();
    for mode in [Mode::Dense, Mode::Lexical, Mode::Hybrid] {
        let (s, cases) = evaluate(&store, Some(&lex), &set, &vectors, mode, None, None)?;
        println!(
            "| {:?} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} |",
            mode, s.article_at_1, s.article_at_3, s.passage_at_1, s.passage_at_5, s.mrr_at_10
        );
        for c in cases.iter().filter(|c| c.answer_rank.is_none_or(|r| r > 5)) {
            misses.push(format!(
                "{mode:?} [{}] {} → answer rank {:?}, top {:?}",
                c.lang, c.question, c.answer_rank, c.top
            ));
        }
    }
    println!("\nAnswer paragraph not in the top 5:");
    for m in misses {
        println!("- {m}");
    }
    Ok(())
}
