//! `semclust eval QUESTIONS.json`: retrieval quality of each search mode on a question set,
//! against an index of the collection the set was made for.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use semclust::collection::Collection;
use semclust::search::eval::{EvalSummary, QuestionSet};
use semclust::search::Mode;
use semclust::{DeviceChoice, InputKind};

use super::{give_language_subspace, index_model, notify, IndexDir, SourceArgs};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The question set: {"questions": [{"lang", "q", "answers": [passage ids]} or {"lang", "q",
    /// "document", "section"}]} (docs/cli.md, "Evaluating retrieval").
    #[arg(value_name = "QUESTIONS.json")]
    pub questions: PathBuf,
    /// Modes to measure, comma-separated.
    #[arg(
        long,
        value_parser = super::choice::<Mode>(),
        value_delimiter = ',',
        default_value = "dense,lexical,hybrid"
    )]
    pub modes: Vec<Mode>,
    /// One JSON object per mode (its figures, per language under `by_lang`) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Measure with the model's own vectors instead of the language-neutral view.
    #[arg(long)]
    pub no_neutral: bool,
    /// auto, cpu, cuda[:N] or metal[:N] (for embedding the questions).
    #[arg(long, env = "SEMCLUST_DEVICE", default_value = "auto")]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub index: IndexDir,
    /// No progress messages.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let path = args.questions.display().to_string();
    let text =
        std::fs::read_to_string(&args.questions).with_context(|| format!("cannot read {path}"))?;
    let set: QuestionSet = serde_json::from_str(&text).with_context(|| {
        format!("{path}: not a question set ({{\"questions\": [{{\"lang\", \"q\", \"answers\" or \"document\"}}]}})")
    })?;
    let mut collection = Collection::open_for_search(&args.index.location()?)?;
    let model = index_model(&collection, &args.source, args.device, args.quiet)?;
    if !args.no_neutral {
        give_language_subspace(
            &mut collection,
            &args.source,
            args.device,
            args.quiet,
            Some(&model),
        )?;
    }
    if !args.quiet {
        notify(&format!("embedding {} questions", set.questions.len()));
    }
    let texts: Vec<&str> = set.questions.iter().map(|q| q.q.as_str()).collect();
    let e = model.embed(&texts, InputKind::Query)?;
    let vectors: Vec<Vec<f32>> = (0..e.rows()).map(|i| e.row(i).to_vec()).collect();
    let results = collection.evaluate(&set, &vectors, &args.modes)?;
    if args.json {
        for (s, _) in &results {
            println!("{}", serde_json::to_string(s)?);
        }
        return Ok(());
    }
    println!(
        "{} questions, {} ({})\n",
        set.questions.len(),
        collection.fingerprint().model,
        collection.fingerprint().precision
    );
    println!("| mode | questions | language | hit@1 | hit@10 | MRR@10 |");
    println!("|---|---|---|---|---|---|");
    let row = |s: &EvalSummary, lang: &str| {
        println!(
            "| {:?} | {} | {lang} | {:.3} | {:.3} | {:.3} |",
            s.mode, s.questions, s.passage_at_1, s.passage_at_10, s.mrr_at_10
        );
    };
    for (s, _) in &results {
        row(s, "all");
        for (lang, l) in &s.by_lang {
            row(l, lang);
        }
    }
    Ok(())
}
