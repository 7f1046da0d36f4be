//! The theme report: the [`Themes`] model rendered as one self-contained HTML file (an SVG map,
//! key-term bars, representative passages, the article × theme table), as Markdown (with the
//! map beside it as an SVG file) and as JSON. All three carry the same content.

mod html;
mod markdown;
mod svg;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cluster::Themes;
use crate::error::{Error, Result};

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Json,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "html" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            other => Err(Error::invalid(
                "format",
                format!("'{other}': expected html, md or json (comma-separated)"),
            )),
        }
    }
}

/// The report as written: the themes and the facts of the writing.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub title: String,
    /// When the report was made, UTC.
    pub date: String,
    pub semclust_version: &'static str,
    /// The index the themes come from.
    pub index: String,
    #[serde(flatten)]
    pub themes: &'a Themes,
}

impl<'a> Report<'a> {
    pub fn new(themes: &'a Themes, index: &str) -> Self {
        Self {
            title: format!(
                "Themes of {} passages from {} articles",
                themes.facts.passages, themes.facts.articles
            ),
            date: utc_now(),
            semclust_version: env!("CARGO_PKG_VERSION"),
            index: index.to_string(),
            themes,
        }
    }
}

/// Write the report in every format asked for into `out` (created if absent); returns the
/// files written, the main one (HTML where asked) first.
pub fn write(report: &Report<'_>, out: &Path, formats: &[Format]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| {
        Error::io(
            format!(
                "cannot create the report folder {}; choose another with --out",
                out.display()
            ),
            e,
        )
    })?;
    let mut written = Vec::new();
    let put = |name: &str, content: &[u8], written: &mut Vec<PathBuf>| -> Result<()> {
        let path = out.join(name);
        // Written beside and renamed, so that a reader never sees half a report.
        let tmp = out.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, content)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::io(
                    format!(
                        "cannot write {}; choose another folder with --out",
                        path.display()
                    ),
                    e,
                )
            })?;
        written.push(path);
        Ok(())
    };
    let mut sorted = formats.to_vec();
    sorted.sort_by_key(|f| match f {
        Format::Html => 0,
        Format::Markdown => 1,
        Format::Json => 2,
    });
    sorted.dedup();
    for f in sorted {
        match f {
            Format::Html => put("themes.html", html::render(report).as_bytes(), &mut written)?,
            Format::Markdown => {
                put(
                    "themes.md",
                    markdown::render(report, "themes-map.svg").as_bytes(),
                    &mut written,
                )?;
                put(
                    "themes-map.svg",
                    svg::map(report.themes, false, &svg::map_sample(report.themes)).as_bytes(),
                    &mut written,
                )?;
            }
            Format::Json => {
                let json = serde_json::to_string_pretty(report)
                    .map_err(|e| Error::internal(format!("report JSON: {e}")))?;
                put("themes.json", json.as_bytes(), &mut written)?;
            }
        }
    }
    Ok(written)
}

/// Colour of theme `t` (1-based): a qualitative palette (Tableau 10) for the first ten, then
/// hues a golden angle apart.
/// The vectors a run clustered, in words, for the report's facts.
pub fn vectors_line(f: &crate::cluster::RunFacts) -> String {
    let view = match f.vectors {
        "language-neutral" => "the model's, in the language-neutral view",
        _ => "the model's own",
    };
    let articles = match f.article_identity {
        "reduced" => {
            "each passage less what sets its article apart from the articles most like it, so that themes cross articles"
        }
        _ => "as stored, with their article's title and headings (--with-titles)",
    };
    format!("{view}; {articles}")
}

/// How many of a theme's articles its line names (the JSON output keeps them all).
pub const THEME_ARTICLES_SHOWN: usize = 10;

/// The titles that name more than one article of the run: a documents folder holds a
/// `changelog`, a `README` and a `NEWS` per package.
pub fn shared_titles(t: &Themes) -> std::collections::HashSet<&str> {
    let mut seen = std::collections::HashSet::new();
    t.table
        .iter()
        .filter(|r| !seen.insert(r.article.as_str()))
        .map(|r| r.article.as_str())
        .collect()
}

/// An article as a reader tells it from the others: its title, or its document (`git/changelog`)
/// where other articles share the title.
pub fn article_name<'a>(
    shared: &std::collections::HashSet<&str>,
    title: &'a str,
    document: &'a str,
) -> &'a str {
    if shared.contains(title) && !document.is_empty() {
        document
    } else {
        title
    }
}

/// A theme's articles in one line, most passages first: `name (passages)` for the first
/// [`THEME_ARTICLES_SHOWN`], then how many more. At a few hundred articles a theme's full list
/// was a page of text in every output. `show` cuts and escapes a name for the output at hand.
pub fn articles_line(
    shared: &std::collections::HashSet<&str>,
    th: &crate::cluster::Theme,
    show: impl Fn(&str) -> String,
) -> String {
    let mut line = th
        .articles
        .iter()
        .take(THEME_ARTICLES_SHOWN)
        .map(|a| {
            format!(
                "{} ({})",
                show(article_name(shared, &a.article, &a.document)),
                a.passages
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let rest = th.articles.len().saturating_sub(THEME_ARTICLES_SHOWN);
    if rest > 0 {
        line.push_str(&format!("; and {rest} more"));
    }
    line
}

/// A theme's languages in words (`de 52 %, es 48 %`), for runs where some theme holds more
/// than one language; `None` in a collection of one language, where it would only repeat it.
pub fn languages_line(t: &Themes, th: &crate::cluster::Theme) -> Option<String> {
    if !t.themes.iter().any(|x| x.languages.len() > 1) {
        return None;
    }
    Some(
        th.languages
            .iter()
            .map(|l| format!("{} {:.0} %", l.language, 100.0 * l.share))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

pub fn colour(t: usize) -> String {
    const PALETTE: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
        "#9c755f", "#bab0ac",
    ];
    let i = t.saturating_sub(1);
    match PALETTE.get(i) {
        Some(c) => (*c).to_string(),
        None => format!("hsl({:.0}, 55%, 50%)", (i as f64 * 137.508) % 360.0),
    }
}

/// Text made safe for HTML and XML content and attribute values (see
/// [`crate::util::text::escape_xml`]).
pub fn escape(s: &str) -> String {
    crate::util::text::escape_xml(s)
}

/// At most `max` characters of `text`, cut at a word boundary, with an ellipsis when cut.
pub fn snippet(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => &cut[..],
    };
    format!("{}…", cut.trim_end())
}

/// The current time, UTC, as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    crate::util::text::utc(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn snippets_cut_at_a_word() {
        assert_eq!(snippet("un deux trois quatre", 12), "un deux…");
        assert_eq!(snippet("court", 12), "court");
    }
}
