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
}

/// Progress of an indexing run, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// `total` passages need the model.
    Embedding { total: usize },
    /// `done` of them are embedded and stored.
    Embedded { done: usize },
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
    /// A document received as text (over the HTTP API) under `name`: its key is made from the
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
            Some(format!("the document '{api}' sent over the HTTP API"))
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
    for r in read {
        documents.push((r.key.clone(), r.path.clone()));
        let state = store.document_state(&r.key)?;
        let mut seen = HashSet::new();
        for p in &r.passages {
            seen.insert(p.id.as_str());
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
    let mut to_embed: Vec<&Passage> = Vec::new();
    let mut queued: HashSet<&str> = HashSet::new();
    for p in &need {
        if reuse.contains_key(&p.hash) || queued.contains(p.hash.as_str()) {
            continue;
        }
        match store.vector_for_hash(&p.hash)? {
            Some(v) => {
                reuse.insert(p.hash.clone(), v);
            }
            None => {
                queued.insert(&p.hash);
                to_embed.push(p);
            }
        }
    }
    report.embedded = to_embed.len();

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

    progress(Progress::Embedding {
        total: to_embed.len(),
    });
    let mut done = 0;
    for chunk in to_embed.chunks(CHUNK) {
        let inputs: Vec<String> = chunk.iter().map(|p| p.embedding_input()).collect();
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
        done += chunk.len();
        progress(Progress::Embedded { done });
    }

    store.apply(Changes {
        touched,
        deleted_passages: deleted,
        deleted_documents: gone,
        ..Default::default()
    })?;
    Ok(report)
}
