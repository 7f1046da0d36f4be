//! What an index holds, document by document: `semclust docs list / show / stats`. Worked out
//! from the stored passages (their metadata says their language and date), so that both
//! stores answer alike.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::corpus::Format;
use crate::indexing::API_PATH_PREFIX;
use crate::store::StoredPassage;

/// One stored document.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentInfo {
    pub key: String,
    /// The file it was read from, or `api:NAME` for a document sent by name.
    pub path: String,
    /// Its format, from its file name (`api` for a document sent by name, whose format is not
    /// kept).
    pub format: String,
    pub passages: usize,
    /// Bytes of passage text.
    pub bytes: usize,
    /// Passages per language (the `lang` metadata: given by the document, else detected;
    /// `(none)` where no language was detected).
    pub languages: BTreeMap<String, usize>,
    /// The earliest and latest `date` of its articles, when they give one.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, min_items = 2, max_items = 2))]
    pub dates: Option<(String, String)>,
}

/// Figures of a whole index.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndexStats {
    pub documents: usize,
    pub passages: usize,
    /// Bytes of passage text.
    pub bytes: usize,
    /// Documents per format.
    pub formats: BTreeMap<String, usize>,
    /// Passages per language.
    pub languages: BTreeMap<String, usize>,
}

/// The format named for a stored path.
fn format_of(path: &str) -> String {
    if path.starts_with(API_PATH_PREFIX) {
        return "api".into();
    }
    Format::of(Path::new(path)).map_or_else(|| "unknown".into(), |f| f.name().to_string())
}

/// Every document of `documents` (key → path), with what `passages` say of it, by key.
pub fn documents(
    documents: &HashMap<String, String>,
    passages: &[StoredPassage],
) -> Vec<DocumentInfo> {
    let mut by_key: BTreeMap<&str, DocumentInfo> = documents
        .iter()
        .map(|(key, path)| {
            (
                key.as_str(),
                DocumentInfo {
                    key: key.clone(),
                    path: path.clone(),
                    format: format_of(path),
                    passages: 0,
                    bytes: 0,
                    languages: BTreeMap::new(),
                    dates: None,
                },
            )
        })
        .collect();
    for p in passages {
        let Some(d) = by_key.get_mut(p.document.as_str()) else {
            continue;
        };
        d.passages += 1;
        d.bytes += p.text.len();
        let lang = p
            .meta
            .get("lang")
            .and_then(|v| v.as_str())
            .unwrap_or("(none)");
        *d.languages.entry(lang.to_string()).or_insert(0) += 1;
        if let Some(date) = p.meta.get("date").and_then(|v| v.as_str()) {
            d.dates = Some(match d.dates.take() {
                None => (date.to_string(), date.to_string()),
                Some((lo, hi)) => (
                    if date < lo.as_str() {
                        date.to_string()
                    } else {
                        lo
                    },
                    if date > hi.as_str() {
                        date.to_string()
                    } else {
                        hi
                    },
                ),
            });
        }
    }
    by_key.into_values().collect()
}

/// The figures of an index whose documents are `docs`.
pub fn stats(docs: &[DocumentInfo]) -> IndexStats {
    let mut s = IndexStats {
        documents: docs.len(),
        ..Default::default()
    };
    for d in docs {
        s.passages += d.passages;
        s.bytes += d.bytes;
        *s.formats.entry(d.format.clone()).or_insert(0) += 1;
        for (l, n) in &d.languages {
            *s.languages.entry(l.clone()).or_insert(0) += n;
        }
    }
    s
}
