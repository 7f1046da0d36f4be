//! Articles and paragraphs of Markdown (and plain-text) files.
//!
//! The rule, written for news articles saved as Markdown (the sample corpus): an article starts
//! with a `#`/`##` title line and ends with a line holding its URL in brackets, the only reliable
//! boundary since `##` also marks sections inside articles. Paragraphs are blocks between blank
//! lines. Not passages: headings, the author line under a title (short, no final full stop),
//! link-only lines (credits, "Contribuer"), bold-only lines, URL lines, and web-page chrome
//! (reading time, dateline, paywall badge, "Lire aussi"). A paragraph cut mid-sentence by a stray
//! blank line is rejoined. `scripts/make_references.py` applies the same rule in Python; a unit
//! test checks that both find the same paragraphs.

use std::sync::LazyLock;

use regex::Regex;

use super::{blocks, RawArticle, RawParagraph};

/// A pattern written in this file (a typo in one fails every test that reads Markdown).
fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

static LINK_ONLY: LazyLock<Regex> = LazyLock::new(|| regex(r"^(\[[^\]]*\]\([^)]*\)\s*(et\s*)?)+$"));
static CHROME: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^(\d+[–-]\d+ Minuten|Publié .*|Article réservé aux abonnés|Lire .*)$")
});
static URL_LINE: LazyLock<Regex> = LazyLock::new(|| regex(r"^\[https?://"));
static BOLD_ONLY: LazyLock<Regex> = LazyLock::new(|| regex(r"^\*\*[^*]+\*\*$"));
static LINK: LazyLock<Regex> = LazyLock::new(|| regex(r"\[([^\]]*)\]\([^)]*\)"));
static TRAILING_LINK: LazyLock<Regex> = LazyLock::new(|| regex(r"\]\([^)]*\)$"));
static EMPHASIS: LazyLock<Regex> = LazyLock::new(|| regex(r"\*{1,3}([^*\s][^*]*?)\*{1,3}"));
static HTML_TAG: LazyLock<Regex> =
    LazyLock::new(|| regex(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>"));
static ESCAPE: LazyLock<Regex> = LazyLock::new(|| regex(r"\\([\\`*_{}\[\]()#+\-.!|])"));

/// Markdown as plain text: link syntax, emphasis markers, inline HTML tags (`3<sup>e</sup>`) and
/// backslash escapes removed.
pub(crate) fn plain(md: &str) -> String {
    let s = LINK.replace_all(md, "$1");
    let s = EMPHASIS.replace_all(&s, "$1");
    let s = HTML_TAG.replace_all(&s, "");
    ESCAPE.replace_all(&s, "$1").into_owned()
}

fn ends_sentence(block: &str) -> bool {
    let b = TRAILING_LINK.replace(block, "");
    let b = b.trim_end_matches(['*', '_', ' ']);
    b.chars().last().is_some_and(|c| ".!?»…\"”)".contains(c))
}

fn heading_title(b: &str) -> Option<String> {
    let level = b.chars().take_while(|&c| c == '#').count();
    let rest = &b[level..];
    (level <= 2 && rest.starts_with(' ')).then(|| plain(rest.trim()))
}

/// Split a file into articles. `markdown = false` reads plain text: every block is a paragraph
/// and the file is one article.
pub(crate) fn articles(text: &str, markdown: bool) -> Vec<RawArticle> {
    let mut out = Vec::new();
    let mut art = RawArticle::default();
    // The raw Markdown of the last paragraph, to tell whether it ends a sentence.
    let mut last_raw = String::new();
    let mut after_title = false;
    let mut prev_is_para = false;
    for b in blocks(text, true) {
        let mut is_para = false;
        let t = b.text.as_str();
        if !markdown {
            art.paragraphs.push(RawParagraph {
                text: b.text.clone(),
                span: b.span,
            });
            continue;
        }
        if t.starts_with('#') {
            after_title = after_title || t.starts_with("## ");
            if art.title.is_none() && art.paragraphs.is_empty() {
                art.title = heading_title(t);
            }
        } else if URL_LINE.is_match(t) {
            // The article's URL: its end.
            if art.title.is_some() || !art.paragraphs.is_empty() {
                out.push(std::mem::take(&mut art));
            }
        } else if LINK_ONLY.is_match(t) || BOLD_ONLY.is_match(t) {
            // credits, "Contribuer" links, bold-only headings
        } else if after_title && t.chars().count() < 80 && !t.ends_with('.') {
            after_title = false; // the author line under a title
        } else if CHROME.is_match(t) {
            after_title = false;
        } else if prev_is_para && !ends_sentence(&last_raw) {
            if let Some(p) = art.paragraphs.last_mut() {
                last_raw.push(' ');
                last_raw.push_str(t);
                p.text = plain(&last_raw);
                p.span.1 = b.span.1;
            }
            is_para = true;
        } else {
            after_title = false;
            last_raw = b.text.clone();
            art.paragraphs.push(RawParagraph {
                text: plain(t),
                span: b.span,
            });
            is_para = true;
        }
        prev_is_para = is_para;
    }
    if art.title.is_some() || !art.paragraphs.is_empty() {
        out.push(art);
    }
    out.retain(|a| !a.paragraphs.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_removes_markup_keeps_words() {
        assert_eq!(
            plain(
                "[McKinsey affirmait](#) que « *directement* » \\_6539184\\_3234 en 3<sup>e</sup>"
            ),
            "McKinsey affirmait que « directement » _6539184_3234 en 3e"
        );
    }

    #[test]
    fn a_file_without_url_lines_is_one_article() {
        let a = articles(
            "# Notes\n\nFirst paragraph, long enough to not be an author line at all here.\n\n## Section\n\nSecond.\n",
            true,
        );
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].title.as_deref(), Some("Notes"));
        assert_eq!(a[0].paragraphs.len(), 2);
    }
}
