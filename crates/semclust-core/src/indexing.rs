//! Bring a store up to date with files: read and split every file first (a bad file stops the
//! run before anything is written), then embed only what is new or changed, committing every few
//! dozen passages so that an interrupted run keeps its work and the next run finishes it, and
//! finally remove what disappeared.
//!
//! A passage whose text is already stored (under any id: moved, or restored) reuses its vector
//! instead of being embedded again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::corpus::{self, Format, Passage, ReadLimits, SourceFile};
use crate::embed::{Encode, InputKind};
use crate::error::{Error, Result};
use crate::store::{Changes, PassageState, VectorStoreWrite};

/// Passages embedded and committed together.
const CHUNK: usize = 64;

/// What an indexing run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IndexReport {
    pub files: usize,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub kept: usize,
    /// Passages run through the model (the rest of added/updated reused a stored vector).
    pub embedded: usize,
    pub documents_removed: usize,
    /// Of the updated passages, those whose text is unchanged but whose stored vector was made
    /// from the text alone, by a semclust that did not embed passages with their title and
    /// headings in front (before 2026-12-03): embedded again, once.
    pub context_added: usize,
    /// The run was stopped (Ctrl-C) after committing the chunk in flight.
    pub interrupted: bool,
    /// Passages an interrupted run left to embed: the same run again embeds them.
    pub not_embedded: usize,
}

/// Progress of an indexing run, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// `total` passages, of `tokens` tokens in all, need the model.
    Embedding { total: usize, tokens: usize },
    /// `done` of them, of `tokens` tokens, are embedded and stored.
    Embedded { done: usize, tokens: usize },
}

/// A document and its passages, read from a file or received over the API.
#[derive(Debug, Clone)]
pub struct DocumentPassages {
    pub key: String,
    /// Where it came from: an absolute file path, or [`API_PATH_PREFIX`] + key.
    pub path: String,
    pub passages: Vec<Passage>,
}

impl DocumentPassages {
    /// A document received as text (over the HTTP API, or on standard input) under `name`: its key is made from the
    /// name as a file's is, its stored path is [`API_PATH_PREFIX`] + key. A text that gives no
    /// passage is an error: sending it would only remove the document's passages.
    pub fn from_text(name: &str, text: &str, format: Format, limits: &ReadLimits) -> Result<Self> {
        let name = name.trim();
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(Error::invalid(
                "name",
                format!(
                    "holds a control character (U+{:04X}); name documents with printable characters",
                    u32::from(c)
                ),
            ));
        }
        let key = corpus::document_key(name);
        if key.is_empty() {
            return Err(Error::invalid("name", "is empty"));
        }
        let file = SourceFile {
            path: PathBuf::from(&key),
            key: key.clone(),
            format,
        };
        let passages = corpus::split(text, &file, limits)?;
        if passages.is_empty() {
            return Err(Error::invalid(
                "text",
                format!("of '{key}' holds no paragraph to index"),
            ));
        }
        Ok(Self {
            // The name as sent: two names cleaned to one key ("a b", "a-b") are told apart.
            path: format!("{API_PATH_PREFIX}{name}"),
            key,
            passages,
        })
    }
}

/// Documents sent to the HTTP API have no file: their stored path is this and the name they were
/// sent under, and a run of `semclust index` over files never removes them as "gone from disk".
pub const API_PATH_PREFIX: &str = "api:";

/// A file left out of a run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedFile {
    pub path: String,
    /// Its document key: a document indexed before keeps its passages while its file cannot
    /// be read.
    pub key: String,
    pub problem: crate::error::FileProblem,
    /// The error's one line, naming the file.
    pub message: String,
}

/// Read and split `files`, before anything is written. A file that cannot be read (unreadable,
/// binary, an unknown charset, over a limit, bad content) is left out, named to `warn` with its
/// reason and returned among the skipped, and the run goes on; with `strict` the first one
/// stops the run instead. A file that gives no passage is kept (a document emptied since the
/// last run loses its passages) and reported to `warn`.
pub fn read_documents(
    files: &[SourceFile],
    limits: &ReadLimits,
    strict: bool,
    warn: &mut dyn FnMut(String),
) -> Result<(Vec<DocumentPassages>, Vec<SkippedFile>)> {
    let mut docs = Vec::with_capacity(files.len());
    let mut skipped = Vec::new();
    for f in files {
        let path = std::path::absolute(&f.path).unwrap_or_else(|_| f.path.clone());
        let passages = match corpus::read(f, limits) {
            Ok(p) => p,
            Err(e) => match e.file_problem_kind() {
                Some(problem) if !strict => {
                    let message = e.to_string();
                    warn(format!("skipped {message}"));
                    skipped.push(SkippedFile {
                        path: f.path.display().to_string(),
                        key: f.key.clone(),
                        problem,
                        message,
                    });
                    continue;
                }
                _ => return Err(e),
            },
        };
        if passages.is_empty() {
            warn(format!(
                "{}: no paragraph to index (the file is empty, or holds only headings, front matter or blank lines)",
                f.path.display()
            ));
        }
        docs.push(DocumentPassages {
            key: f.key.clone(),
            path: path.to_string_lossy().into_owned(),
            passages,
        });
    }
    Ok((docs, skipped))
}

/// The stored documents that indexing `read` (files found under `roots`) removes: those gone
/// from disk, or that lie under one of `roots` but were not found there now.
///
/// A document key already held by another file that still exists is an error naming both
/// files: a run over `b/notes.txt` must not silently replace the passages of `a/notes.txt`. A
/// key whose stored file is gone from disk was moved, and is updated in place.
pub fn removed_documents(
    store: &dyn VectorStoreWrite,
    roots: &[PathBuf],
    read: &[DocumentPassages],
) -> Result<Vec<String>> {
    let stored_docs = store.documents()?;
    for r in read {
        let Some(stored) = stored_docs.get(&r.key) else {
            continue;
        };
        if *stored == r.path {
            continue;
        }
        let held_by = if let Some(api) = stored.strip_prefix(API_PATH_PREFIX) {
            Some(format!(
                "the document '{api}' sent by name (over the HTTP API or with `index -`)"
            ))
        } else if Path::new(stored).exists() {
            Some(stored.clone())
        } else {
            None
        };
        if let Some(other) = held_by {
            return Err(Error::KeyTaken {
                key: r.key.clone(),
                path: r.path.clone(),
                other,
            });
        }
    }

    let current: HashSet<&str> = read.iter().map(|r| r.key.as_str()).collect();
    let abs_roots: Vec<PathBuf> = roots
        .iter()
        .filter(|r| r.is_dir())
        .map(|r| std::path::absolute(r).unwrap_or_else(|_| r.clone()))
        .collect();
    let gone: Vec<String> = stored_docs
        .iter()
        .filter(|(key, path)| {
            !current.contains(key.as_str()) && !path.starts_with(API_PATH_PREFIX) && {
                let p = Path::new(path.as_str());
                !p.exists() || abs_roots.iter().any(|r| p.starts_with(r))
            }
        })
        .map(|(k, _)| k.clone())
        .collect();
    Ok(gone)
}

/// A document sent by name replaces only a document sent under the same name: not a file's
/// (indexing that file again would then fail, its key held), and not another name's that
/// cleans to the same key. A document stored by a semclust before names were kept (its path is
/// the prefix and the key) is taken to be the same document.
fn check_names(stored_docs: &HashMap<String, String>, read: &[DocumentPassages]) -> Result<()> {
    for r in read {
        let Some(name) = r.path.strip_prefix(API_PATH_PREFIX) else {
            continue;
        };
        let Some(stored) = stored_docs.get(&r.key) else {
            continue;
        };
        let other = match stored.strip_prefix(API_PATH_PREFIX) {
            Some(old) if old == name || old == r.key => continue,
            Some(old) => format!("the document sent as '{old}'"),
            None => format!("the file {stored}"),
        };
        return Err(Error::NameTaken {
            name: name.to_string(),
            key: r.key.clone(),
            other,
        });
    }
    Ok(())
}

/// What bringing a store in line with some documents would change, worked out from the store
/// without writing anything: [`apply_plan`] carries it out, `index --dry-run` reports it.
#[derive(Debug)]
pub struct Plan {
    /// The counts the run will report (`embedded`: distinct texts no stored vector serves).
    pub report: IndexReport,
    documents: Vec<(String, String)>,
    need: Vec<Passage>,
    touched: Vec<Passage>,
    deleted: Vec<String>,
    gone: Vec<String>,
    /// Vectors already stored for the text of some of `need`, by hash.
    reuse: HashMap<String, Vec<f32>>,
    /// Indices into `need` of the passages the model has to read: one per distinct text.
    to_embed: Vec<usize>,
}

impl Plan {
    /// The passages the model would read, one per distinct text.
    pub fn to_embed(&self) -> impl Iterator<Item = &Passage> {
        self.to_embed.iter().map(|&i| &self.need[i])
    }
}

/// Work out what bringing `store` in line with `read` (each document's passages replace the
/// stored ones) and removing the documents `gone` changes, writing nothing.
pub fn plan_documents(
    store: &dyn VectorStoreWrite,
    read: &[DocumentPassages],
    gone: &[String],
) -> Result<Plan> {
    let mut report = IndexReport {
        files: read.len(),
        ..Default::default()
    };
    let stored_docs = store.documents()?;
    check_names(&stored_docs, read)?;
    let gone: Vec<String> = gone
        .iter()
        .filter(|k| stored_docs.contains_key(k.as_str()))
        .cloned()
        .collect();

    // What needs a vector, what only moved, what disappeared.
    let mut need: Vec<Passage> = Vec::new();
    let mut touched: Vec<Passage> = Vec::new();
    let mut deleted: Vec<String> = Vec::new();
    let mut documents = Vec::new();
    let bare = {
        let touched: HashSet<&str> = read
            .iter()
            .map(|r| r.key.as_str())
            .chain(gone.iter().map(String::as_str))
            .collect();
        let others: Vec<_> = if read.is_empty() {
            Vec::new()
        } else {
            store
                .passages()?
                .into_iter()
                .filter(|p| !touched.contains(p.document.as_str()))
                .map(|p| (p.document, p.text))
                .collect()
        };
        boilerplate_ids(read, &others)
    };
    for r in read {
        documents.push((r.key.clone(), r.path.clone()));
        let state = store.document_state(&r.key)?;
        let mut seen = HashSet::new();
        for p in &r.passages {
            seen.insert(p.id.as_str());
            // Boilerplate is stored as its bare text, unless this copy is already stored with
            // its context (a text that became boilerplate is not embedded again for that).
            let bare_copy;
            let p = match state.get(&p.id) {
                Some(s) if s.hash == p.hash => p,
                _ if bare.contains(p.id.as_str()) => {
                    bare_copy = bare_text(p);
                    &bare_copy
                }
                _ => p,
            };
            match state.get(&p.id) {
                Some(s) if s.hash == p.hash => {
                    report.kept += 1;
                    if *s != PassageState::of(p) {
                        touched.push(p.clone());
                    }
                }
                Some(s) => {
                    report.updated += 1;
                    if s.hash != p.hash && s.hash == crate::corpus::hash(&p.text) {
                        report.context_added += 1;
                    }
                    need.push(p.clone());
                }
                None => {
                    report.added += 1;
                    need.push(p.clone());
                }
            }
        }
        for id in state.keys() {
            if !seen.contains(id.as_str()) {
                deleted.push(id.clone());
            }
        }
    }
    report.removed = deleted.len();
    for key in &gone {
        report.removed += store.document_state(key)?.len();
    }
    report.documents_removed = gone.len();

    // Vectors already stored for the same text are reused; the same text twice is embedded once.
    let mut reuse: HashMap<String, Vec<f32>> = HashMap::new();
    let mut to_embed = Vec::new();
    let mut queued: HashSet<&str> = HashSet::new();
    for (i, p) in need.iter().enumerate() {
        if reuse.contains_key(&p.hash) || queued.contains(p.hash.as_str()) {
            continue;
        }
        match store.vector_for_hash(&p.hash)? {
            Some(v) => {
                reuse.insert(p.hash.clone(), v);
            }
            None => {
                queued.insert(&p.hash);
                to_embed.push(i);
            }
        }
    }
    report.embedded = to_embed.len();
    Ok(Plan {
        report,
        documents,
        need,
        touched,
        deleted,
        gone,
        reuse,
        to_embed,
    })
}

/// Bring `store` in line with `read` (each document's passages replace the stored ones: new ones
/// added, edited ones embedded again, missing ones removed) and remove the documents `gone`.
/// Documents not named in either are left as they are.
pub fn apply_documents(
    store: &mut dyn VectorStoreWrite,
    encoder: &dyn Encode,
    read: &[DocumentPassages],
    gone: &[String],
    progress: &mut dyn FnMut(Progress),
) -> Result<IndexReport> {
    let plan = plan_documents(&*store, read, gone)?;
    apply_plan(store, encoder, plan, progress, &|| false)
}

/// Carry out `plan`. `stop` is asked between chunks: when it says yes, the chunk in flight has
/// been committed and the run ends there, its report marked `interrupted` (the passages still
/// to embed are counted in `not_embedded`; what was stored stays, and the same run again
/// embeds only the rest). Removals wait for a run that finishes: until the new passages of a
/// document are in, its old ones still answer searches.
pub fn apply_plan(
    store: &mut dyn VectorStoreWrite,
    encoder: &dyn Encode,
    plan: Plan,
    progress: &mut dyn FnMut(Progress),
    stop: &dyn Fn() -> bool,
) -> Result<IndexReport> {
    let Plan {
        mut report,
        documents,
        need,
        touched,
        deleted,
        gone,
        reuse,
        to_embed,
    } = plan;
    let to_embed: Vec<&Passage> = to_embed.iter().map(|&i| &need[i]).collect();

    // Documents first (passages reference them), with the passages that need no model.
    let mut first = Changes {
        documents,
        ..Default::default()
    };
    let mut pending: Vec<&Passage> = Vec::new();
    for p in &need {
        match reuse.get(&p.hash) {
            Some(v) => first.upserts.push((p.clone(), v.clone())),
            None => pending.push(p),
        }
    }
    store.apply(first)?;

    let inputs: Vec<String> = to_embed.iter().map(|p| model_input(p)).collect();
    let tokens = token_counts(encoder, &inputs)?;
    progress(Progress::Embedding {
        total: to_embed.len(),
        tokens: tokens.iter().sum(),
    });
    let (mut done, mut tokens_done) = (0, 0);
    for (chunk, inputs) in to_embed.chunks(CHUNK).zip(inputs.chunks(CHUNK)) {
        if stop() {
            report.interrupted = true;
            report.not_embedded = to_embed.len() - done;
            report.embedded = done;
            return Ok(report);
        }
        let texts: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let e = encoder.encode(&texts, InputKind::Passage)?;
        let by_hash: HashMap<&str, &[f32]> = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| (p.hash.as_str(), e.row(i)))
            .collect();
        // Every passage (under any id) whose text this chunk embedded.
        let mut changes = Changes::default();
        pending.retain(|p| match by_hash.get(p.hash.as_str()) {
            Some(v) => {
                changes.upserts.push(((*p).clone(), v.to_vec()));
                false
            }
            None => true,
        });
        store.apply(changes)?;
        tokens_done += tokens[done..done + chunk.len()].iter().sum::<usize>();
        done += chunk.len();
        progress(Progress::Embedded {
            done,
            tokens: tokens_done,
        });
    }

    store.apply(Changes {
        touched,
        deleted_passages: deleted,
        deleted_documents: gone,
        ..Default::default()
    })?;
    Ok(report)
}

impl Plan {
    /// The plan for documents going into an index that does not exist yet: every passage is
    /// added, each distinct text embedded once.
    pub fn everything(read: &[DocumentPassages]) -> Self {
        let bare = boilerplate_ids(read, &[]);
        let need: Vec<Passage> = read
            .iter()
            .flat_map(|r| &r.passages)
            .map(|p| {
                if bare.contains(p.id.as_str()) {
                    bare_text(p)
                } else {
                    p.clone()
                }
            })
            .collect();
        let mut seen = HashSet::new();
        let to_embed: Vec<usize> = (0..need.len())
            .filter(|&i| seen.insert(need[i].hash.as_str()))
            .collect();
        Plan {
            report: IndexReport {
                files: read.len(),
                added: need.len(),
                embedded: to_embed.len(),
                ..Default::default()
            },
            documents: read
                .iter()
                .map(|r| (r.key.clone(), r.path.clone()))
                .collect(),
            need,
            touched: Vec::new(),
            deleted: Vec::new(),
            gone: Vec::new(),
            reuse: HashMap::new(),
            to_embed,
        }
    }
}

/// Ids of the passages of `read` that are boilerplate (see [`crate::boilerplate`]) in the
/// index they go into, whose other documents hold `others` (document, text).
fn boilerplate_ids<'a>(
    read: &'a [DocumentPassages],
    others: &[(String, String)],
) -> HashSet<&'a str> {
    let read_rows = read
        .iter()
        .flat_map(|r| r.passages.iter().map(move |p| (r.key.as_str(), p)));
    let rows: Vec<(&str, &str)> = read_rows
        .clone()
        .map(|(d, p)| (d, p.text.as_str()))
        .chain(others.iter().map(|(d, t)| (d.as_str(), t.as_str())))
        .collect();
    let recurrence = crate::boilerplate::Recurrence::of(rows);
    read_rows
        .enumerate()
        .filter(|(i, _)| recurrence.is_boilerplate(*i))
        .map(|(_, (_, p))| p.id.as_str())
        .collect()
}

/// `p` as boilerplate is embedded and stored: its text alone. The context (title › headings)
/// differs from one document to the next and would make each copy a text of its own to embed;
/// bare, every copy shares one hash, so the text is embedded once.
fn bare_text(p: &Passage) -> Passage {
    Passage {
        hash: corpus::hash(&p.text),
        ..p.clone()
    }
}

/// What the model reads for `p`: its text alone when its hash says it is stored bare (see
/// [`bare_text`]; the same as [`Passage::embedding_input`] for a passage without context), else
/// its context and text.
fn model_input(p: &Passage) -> String {
    if p.hash == corpus::hash(&p.text) {
        p.text.clone()
    } else {
        p.embedding_input()
    }
}

/// Tokens of each passage input, tokenised a thousand at a time (a run over a whole folder
/// holds hundreds of thousands).
fn token_counts(encoder: &dyn Encode, inputs: &[String]) -> Result<Vec<usize>> {
    let mut tokens = Vec::with_capacity(inputs.len());
    for part in inputs.chunks(1024) {
        let texts: Vec<&str> = part.iter().map(String::as_str).collect();
        tokens.extend(encoder.token_counts(&texts, InputKind::Passage)?);
    }
    Ok(tokens)
}

/// Passages timed by [`estimate`]: one chunk of an indexing run.
const SAMPLE: usize = CHUNK;

/// How long the model would take over a plan's passages, without embedding them all.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Passages to embed, and their tokens (special tokens included).
    pub passages: usize,
    pub tokens: usize,
    /// Passages embedded (and thrown away) to measure the rate.
    pub sample: usize,
    pub tokens_per_second: f64,
    pub seconds: f64,
}

/// Count the tokens of the passages `plan` embeds and time the model on a sample of them:
/// `SAMPLE` passages spread over the range of lengths (each quantile of the token counts),
/// after one warm-up call, so that the rate reflects the mix of lengths the run will see
/// (attention makes long passages cost more per token). Nothing is stored.
pub fn estimate(plan: &Plan, encoder: &dyn Encode) -> Result<Estimate> {
    let inputs: Vec<String> = plan.to_embed().map(model_input).collect();
    let tokens = token_counts(encoder, &inputs)?;
    let total: usize = tokens.iter().sum();
    if inputs.is_empty() {
        return Ok(Estimate {
            passages: 0,
            tokens: 0,
            sample: 0,
            tokens_per_second: 0.0,
            seconds: 0.0,
        });
    }
    let mut by_len: Vec<usize> = (0..inputs.len()).collect();
    by_len.sort_by_key(|&i| tokens[i]);
    let n = SAMPLE.min(by_len.len());
    let sample: Vec<usize> = (0..n).map(|k| by_len[k * by_len.len() / n]).collect();
    encoder.encode(&[inputs[by_len[0]].as_str()], InputKind::Passage)?;
    let texts: Vec<&str> = sample.iter().map(|&i| inputs[i].as_str()).collect();
    let started = std::time::Instant::now();
    encoder.encode(&texts, InputKind::Passage)?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    let rate = sample.iter().map(|&i| tokens[i]).sum::<usize>() as f64 / secs;
    Ok(Estimate {
        passages: inputs.len(),
        tokens: total,
        sample: n,
        tokens_per_second: rate,
        seconds: total as f64 / rate,
    })
}
