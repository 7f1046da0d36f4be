//! `semclust docs list | show KEY | rm KEY… | stats`: what an index holds, document by document.

use anyhow::Result;
use clap::{Args, Subcommand};

use semclust::catalog::{self, DocumentInfo};
use semclust::collection::Collection;
use semclust::store::StoreLocation;

use super::{notify, IndexDir};

#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Every document: key, format, passages, languages, dates, path.
    List(DocsArgs),
    /// One document and its passages.
    Show {
        /// The document key (as `docs list` prints it).
        key: String,
        #[command(flatten)]
        args: DocsArgs,
    },
    /// Remove documents and their passages from the index.
    Rm {
        /// Document keys (as `docs list` prints them); an unknown key removes nothing.
        #[arg(required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        args: DocsArgs,
    },
    /// Counts per format and language, size on disk, model, last write.
    Stats(DocsArgs),
    /// Texts that recur across documents (boilerplate: copyright lines, licence headers,
    /// "reporting bugs" sections), the most widespread first.
    Recurring {
        /// Shown from this many documents on.
        #[arg(long, default_value_t = semclust::boilerplate::BOILERPLATE_DOCUMENTS, value_name = "N")]
        min_documents: usize,
        /// Texts shown (the count covers all).
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        args: DocsArgs,
    },
}

#[derive(Debug, Args)]
pub struct DocsArgs {
    #[command(flatten)]
    pub index: IndexDir,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: DocsCommand) -> Result<()> {
    match cmd {
        DocsCommand::List(a) => {
            let docs = Collection::open(&a.index.location()?)?.documents()?;
            if a.json {
                println!("{}", serde_json::to_string(&docs)?);
            } else {
                for d in &docs {
                    println!("{}", line(d));
                }
            }
        }
        DocsCommand::Show { key, args } => {
            let (doc, passages) = Collection::open(&args.index.location()?)?.document(&key)?;
            if args.json {
                let v = serde_json::json!({ "document": doc, "passages": passages });
                println!("{v}");
            } else {
                println!("{}", line(&doc));
                for p in &passages {
                    let at = match &p.section {
                        Some(s) => format!("{} › {s}", p.title),
                        None => p.title.clone(),
                    };
                    println!(
                        "  {}  [{at}]  {}",
                        p.id,
                        semclust::util::text::prefix_chars(&p.text.replace('\n', " "), 100)
                    );
                }
            }
        }
        DocsCommand::Rm { keys, args } => {
            let location = args.index.location()?;
            let report = Collection::open(&location)?.remove_documents(&keys)?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{location}: removed {} document{} and {} passages",
                    report.documents_removed,
                    if report.documents_removed == 1 {
                        ""
                    } else {
                        "s"
                    },
                    report.removed
                );
            }
        }
        DocsCommand::Recurring {
            min_documents,
            limit,
            args,
        } => {
            let location = args.index.location()?;
            let passages = Collection::open(&location)?.all_passages()?;
            let found = semclust::boilerplate::recurring(
                passages
                    .iter()
                    .map(|p| (p.document.as_str(), p.text.as_str())),
                min_documents,
            );
            let in_passages: usize = found.iter().map(|r| r.passages).sum();
            if args.json {
                let v = serde_json::json!({
                    "min_documents": min_documents,
                    "texts": found.len(),
                    "passages": in_passages,
                    "shown": &found[..found.len().min(limit)],
                });
                println!("{v}");
            } else {
                println!(
                    "{location}: {} texts recur in {min_documents} or more documents, {in_passages} passages of {} in all",
                    found.len(),
                    passages.len()
                );
                for r in found.iter().take(limit) {
                    println!(
                        "{:>5} documents  {}",
                        r.documents,
                        semclust::util::text::prefix_chars(&r.text.replace('\n', " "), 110)
                    );
                }
            }
        }
        DocsCommand::Stats(a) => {
            let location = a.index.location()?;
            let mut c = Collection::open(&location)?;
            let docs = c.documents()?;
            let stats = catalog::stats(&docs);
            let state = c.state()?;
            let (disk, written) = on_disk(&location);
            if a.json {
                let mut v = serde_json::to_value(&stats)?;
                v["index"] = location.to_string().into();
                v["model"] = serde_json::to_value(c.fingerprint())?;
                v["generation"] = state.generation.into();
                v["bytes_on_disk"] = serde_json::to_value(disk)?;
                v["last_written"] = serde_json::to_value(&written)?;
                println!("{v}");
            } else {
                println!(
                    "{location}: {} documents, {} passages, {} of text{}",
                    stats.documents,
                    stats.passages,
                    megabytes(stats.bytes as u64),
                    disk.map_or(String::new(), |b| format!(", {} on disk", megabytes(b)))
                );
                println!("model: {}", c.fingerprint());
                println!("documents per format: {}", counts(&stats.formats));
                println!("passages per language: {}", counts(&stats.languages));
                println!(
                    "last written: {} (generation {})",
                    written.as_deref().unwrap_or("not known for this store"),
                    state.generation
                );
            }
        }
    }
    Ok(())
}

/// `key  format  N passages  langs  dates  path`.
fn line(d: &DocumentInfo) -> String {
    let langs: Vec<&str> = d.languages.keys().map(String::as_str).collect();
    let dates = match &d.dates {
        Some((a, b)) if a == b => format!("  {a}"),
        Some((a, b)) => format!("  {a}..{b}"),
        None => String::new(),
    };
    format!(
        "{}  {}  {} passage{}  {}{dates}  {}",
        d.key,
        d.format,
        d.passages,
        if d.passages == 1 { "" } else { "s" },
        if langs.is_empty() {
            "-".to_string()
        } else {
            langs.join(",")
        },
        d.path
    )
}

fn counts(m: &std::collections::BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1.2 MB`, `47 KB`, `12 bytes`.
fn megabytes(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} bytes"),
        1_000..1_000_000 => format!("{:.0} KB", b as f64 / 1e3),
        _ => format!("{:.1} MB", b as f64 / 1e6),
    }
}

/// Bytes of an index folder and when a file of it was last modified (UTC); a PostgreSQL store
/// reports neither.
fn on_disk(location: &StoreLocation) -> (Option<u64>, Option<String>) {
    let StoreLocation::Dir(dir) = location else {
        return (None, None);
    };
    let mut bytes = 0;
    let mut newest = None;
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            notify(&format!("warning: cannot list {}", d.display()));
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                bytes += meta.len();
                if let Ok(m) = meta.modified() {
                    newest = newest.max(Some(m));
                }
            }
        }
    }
    (Some(bytes), newest.map(semclust::util::text::utc))
}
