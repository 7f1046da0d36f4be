//! Articles and passages of Markdown files, read with a CommonMark parser (pulldown-cmark).
//!
//! What a passage is: a paragraph (also inside a block quote), a whole list, or a whole table,
//! each on its own: a list never glues onto the paragraph before it. Code blocks, HTML blocks,
//! images and link-only lines are not passages. Each passage keeps its heading path under the
//! article's title (`Section › Subsection`).
//!
//! Where articles start:
//! - Front matter (`---` YAML or `+++` TOML) is metadata of every article of the file; its
//!   `title` names a file that holds one article.
//! - A file with two or more top-level `# ` headings holds one article per such heading.
//! - Otherwise the first `#`/`##` heading before any passage titles the article, and a line
//!   holding only a bracketed URL ends it. That is the layout of news articles saved as Markdown
//!   (the sample corpus), where `##` also marks sections inside articles; in such a file
//!   ("clipped pages") web-page chrome is dropped too: the author line under a title (short, no
//!   final full stop), reading time, dateline, paywall badge, "Lire aussi", and a paragraph cut
//!   mid-sentence by a stray blank line is rejoined. `scripts/make_references.py` applies the
//!   same rule in Python; a unit test checks that both find the same paragraphs.

use std::ops::Range;
use std::sync::LazyLock;

use pulldown_cmark::{Event, HeadingLevel, MetadataBlockKind, Options, Parser, Tag, TagEnd};
use regex::Regex;

use super::frontmatter;
use super::{Meta, RawArticle, RawParagraph};

/// A pattern written in this file (a typo in one fails every test that reads Markdown).
fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

static LINK_ONLY: LazyLock<Regex> = LazyLock::new(|| regex(r"^(\[[^\]]*\]\([^)]*\)\s*(et\s*)?)+$"));
static CHROME: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^(\d+[–-]\d+ Minuten|Publié .*|Article réservé aux abonnés|Lire .*)$")
});
static URL_LINE: LazyLock<Regex> = LazyLock::new(|| regex(r"^\[(https?://[^\]\s]*)\]"));
static BOLD_ONLY: LazyLock<Regex> = LazyLock::new(|| regex(r"^\*\*[^*]+\*\*$"));
static TRAILING_LINK: LazyLock<Regex> = LazyLock::new(|| regex(r"\]\([^)]*\)$"));

/// A top-level block as the article rules see it.
enum Block {
    Heading {
        level: usize,
        text: String,
    },
    /// A paragraph: `raw` is its Markdown source, lines trimmed and joined by spaces.
    Paragraph {
        raw: String,
        text: String,
        span: (u64, u64),
    },
    /// A list or a table: a passage as it stands.
    Whole {
        text: String,
        span: (u64, u64),
    },
}

/// The articles of a Markdown file, or an error naming what is wrong in its front matter or
/// the line where a passage grows past `max` bytes.
pub(crate) fn articles(text: &str, max: usize) -> Result<Vec<RawArticle>, String> {
    let (meta, blocks) = parse(text, max)?;
    let clipped = blocks
        .iter()
        .any(|b| matches!(b, Block::Paragraph { raw, .. } if URL_LINE.is_match(raw)));
    let h1_articles = blocks
        .iter()
        .filter(|b| matches!(b, Block::Heading { level: 1, .. }))
        .count()
        >= 2;
    let mut a = Articles::new(meta, !h1_articles);
    for b in blocks {
        match b {
            Block::Heading { level, text } => {
                if clipped && level == 2 {
                    a.after_title = true;
                }
                if h1_articles && level == 1 {
                    a.finish();
                    a.cur.title = Some(text);
                } else if level <= 2 && a.cur.title.is_none() && a.cur.paragraphs.is_empty() {
                    a.cur.title = Some(text);
                } else {
                    a.section(level, text);
                }
                a.prev_is_para = false;
            }
            Block::Paragraph { raw, text, span } => {
                if let Some(url) = URL_LINE.captures(&raw).filter(|_| clipped) {
                    // The article's URL: its end.
                    a.cur.meta.entry("url").or_insert(url[1].into());
                    a.finish();
                    a.prev_is_para = false;
                } else if LINK_ONLY.is_match(&raw) {
                    // credits, "Contribuer" links
                    a.prev_is_para = false;
                } else if BOLD_ONLY.is_match(&raw) {
                    a.section(7, super::cap_heading(text));
                    a.prev_is_para = false;
                } else if clipped {
                    a.clipped_paragraph(raw, text, span);
                } else {
                    a.push(text, span);
                }
            }
            Block::Whole { text, span } => {
                a.push(text, span);
                a.after_title = false;
                a.prev_is_para = false;
            }
        }
    }
    a.finish();
    Ok(a.out)
}

/// The article being read and those already read.
struct Articles {
    out: Vec<RawArticle>,
    cur: RawArticle,
    file_meta: Meta,
    /// Headings under the article's title, with their levels (bold-only lines are level 7).
    headings: Vec<(usize, String)>,
    // Clipped pages: right after a `##` title (the author line may follow), and whether the
    // last block was a paragraph, with its Markdown, to rejoin one cut mid-sentence.
    after_title: bool,
    prev_is_para: bool,
    last_raw: String,
}

impl Articles {
    /// `meta_titles`: the front matter's `title` titles the (first) article.
    fn new(file_meta: Meta, meta_titles: bool) -> Self {
        let mut a = Self {
            out: Vec::new(),
            cur: RawArticle::default(),
            file_meta,
            headings: Vec::new(),
            after_title: false,
            prev_is_para: false,
            last_raw: String::new(),
        };
        a.start(meta_titles);
        a
    }

    fn start(&mut self, meta_titles: bool) {
        self.cur = RawArticle {
            meta: self.file_meta.clone(),
            ..RawArticle::default()
        };
        if meta_titles {
            self.cur.title = frontmatter::title(&self.file_meta);
        }
        self.headings.clear();
    }

    /// Close the current article (kept if it has passages) and start the next.
    fn finish(&mut self) {
        let done = std::mem::take(&mut self.cur);
        if !done.paragraphs.is_empty() {
            self.out.push(done);
        }
        self.start(false);
    }

    fn section(&mut self, level: usize, text: String) {
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        self.headings.push((level, text));
    }

    fn push(&mut self, text: String, span: (u64, u64)) {
        let section = (!self.headings.is_empty()).then(|| {
            let names: Vec<&str> = self.headings.iter().map(|(_, t)| t.as_str()).collect();
            names.join(" › ")
        });
        self.cur.paragraphs.push(RawParagraph {
            text,
            span,
            section,
        });
    }

    fn clipped_paragraph(&mut self, raw: String, text: String, span: (u64, u64)) {
        if self.after_title && raw.chars().count() < 80 && !raw.ends_with('.') {
            self.after_title = false; // the author line under a title
            self.prev_is_para = false;
        } else if CHROME.is_match(&raw) {
            self.after_title = false;
            self.prev_is_para = false;
        } else if self.prev_is_para && !ends_sentence(&self.last_raw) {
            if let Some(p) = self.cur.paragraphs.last_mut() {
                self.last_raw.push(' ');
                self.last_raw.push_str(&raw);
                p.text.push(' ');
                p.text.push_str(&text);
                p.span.1 = span.1;
            }
        } else {
            self.after_title = false;
            self.last_raw = raw;
            self.push(text, span);
            self.prev_is_para = true;
        }
    }
}

fn ends_sentence(block: &str) -> bool {
    let b = TRAILING_LINK.replace(block, "");
    let b = b.trim_end_matches(['*', '_', ' ']);
    b.chars().last().is_some_and(|c| ".!?»…\"”)".contains(c))
}

/// Markdown inline text as plain text: link and emphasis syntax, inline HTML, images and
/// escapes removed.
#[cfg(test)]
pub(crate) fn plain(md: &str) -> String {
    let mut s = String::new();
    let mut images = 0;
    for event in Parser::new_ext(md, Options::empty()) {
        inline_text(&event, &mut s, &mut images);
    }
    s.trim().to_string()
}

/// Add what `event` contributes to a block's plain text; `images` counts open images (their
/// alt text is not prose).
fn inline_text(event: &Event, out: &mut String, images: &mut usize) {
    match event {
        Event::Start(Tag::Image { .. }) => *images += 1,
        Event::End(TagEnd::Image) => *images = images.saturating_sub(1),
        Event::Text(t) | Event::Code(t) if *images == 0 => out.push_str(t),
        Event::SoftBreak | Event::HardBreak if *images == 0 => out.push(' '),
        _ => {}
    }
}

/// The front matter and the top-level blocks of `text`; a block whose text grows past `max`
/// bytes stops the parse at once (nested lists write an indent per level: without the check
/// and the indent cap, `- - - … item` 40,000 deep became one 1.6 GB passage before any limit
/// was looked at).
fn parse(text: &str, max: usize) -> Result<(Meta, Vec<Block>), String> {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS;
    let mut chars = CharPos::default();
    let mut meta = Meta::new();
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    let mut depth = 0usize;
    let mut metadata: Option<MetadataBlockKind> = None;
    for (event, range) in Parser::new_ext(text, opts).into_offset_iter() {
        match &event {
            Event::Start(Tag::MetadataBlock(kind)) => metadata = Some(*kind),
            Event::End(TagEnd::MetadataBlock(_)) => metadata = None,
            Event::Text(t) if metadata.is_some() => {
                meta = match metadata {
                    Some(MetadataBlockKind::PlusesStyle) => frontmatter::toml(t)?,
                    _ => frontmatter::yaml(t)?,
                };
            }
            Event::Start(tag) => {
                depth += 1;
                match &mut open {
                    Some(o) => o.start(tag),
                    None => open = Open::of(tag, range, depth),
                }
            }
            Event::End(_) => {
                if open.as_ref().is_some_and(|o| o.depth == depth) {
                    if let Some(o) = open.take() {
                        let range = o.range.clone();
                        let span = chars.span(text, range.clone());
                        blocks.extend(o.block(&text[range], span));
                    }
                } else if let Some(o) = &mut open {
                    o.end(&event);
                }
                depth = depth.saturating_sub(1);
            }
            _ => {
                if let Some(o) = &mut open {
                    inline_text(&event, &mut o.text, &mut o.images);
                }
            }
        }
        if let Some(o) = open.as_ref().filter(|o| o.text.len() > max) {
            let line = 1 + text[..o.range.start]
                .bytes()
                .filter(|&b| b == b'\n')
                .count();
            return Err(super::too_long(&format!("line {line}"), o.text.len(), max));
        }
    }
    Ok((meta, blocks))
}

/// The kinds of block collected whole.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Collect {
    Heading(usize),
    Paragraph,
    /// A list: each item on a line of its own, `- ` or `N. ` first (nested items indented).
    List,
    /// A table: each row on a line of its own, cells joined by ` | `.
    Table,
    /// Code and HTML blocks: read past, not passages.
    Skip,
}

/// The block being collected.
struct Open {
    kind: Collect,
    text: String,
    range: Range<usize>,
    /// Nesting depth of its start tag: the end tag at this depth closes it.
    depth: usize,
    /// Open images (their alt text is not prose).
    images: usize,
    /// The lists open inside it: the next item's number, or `None` for bullets.
    lists: Vec<Option<u64>>,
}

impl Open {
    fn of(tag: &Tag, range: Range<usize>, depth: usize) -> Option<Self> {
        let (kind, lists) = match tag {
            Tag::Heading { level, .. } => (Collect::Heading(heading_level(*level)), vec![]),
            Tag::Paragraph => (Collect::Paragraph, vec![]),
            Tag::List(first) => (Collect::List, vec![*first]),
            Tag::Table(_) => (Collect::Table, vec![]),
            Tag::CodeBlock(_) | Tag::HtmlBlock => (Collect::Skip, vec![]),
            // Block quotes, footnotes, definition lists: their paragraphs are collected.
            _ => return None,
        };
        Some(Self {
            kind,
            text: String::new(),
            range,
            depth,
            images: 0,
            lists,
        })
    }

    /// A tag opened inside the block: where a list item or a table row starts a line.
    fn start(&mut self, tag: &Tag) {
        let s = &mut self.text;
        match tag {
            Tag::List(first) => self.lists.push(*first),
            Tag::Item => {
                if !s.is_empty() {
                    s.push('\n');
                }
                // Indented at most MAX_INDENT levels: the text stays linear in the source.
                let level = self.lists.len().saturating_sub(1);
                s.push_str(&"  ".repeat(level.min(super::MAX_INDENT)));
                match self.lists.last_mut() {
                    Some(Some(k)) => {
                        s.push_str(&format!("{k}. "));
                        *k += 1;
                    }
                    _ => s.push_str("- "),
                }
            }
            Tag::Paragraph if !s.is_empty() && !s.ends_with([' ', '\n']) => s.push(' '),
            Tag::TableHead | Tag::TableRow if !s.is_empty() => s.push('\n'),
            Tag::TableCell if !s.is_empty() && !s.ends_with('\n') => s.push_str(" | "),
            _ => inline_text(&Event::Start(tag.clone()), s, &mut self.images),
        }
    }

    fn end(&mut self, event: &Event) {
        if let Event::End(TagEnd::List(_)) = event {
            self.lists.pop();
        }
        inline_text(event, &mut self.text, &mut self.images);
    }

    /// The block, once closed; `None` for skipped blocks and blocks with no text.
    fn block(self, source: &str, span: (u64, u64)) -> Option<Block> {
        let text = self.text.trim().to_string();
        if text.is_empty() {
            return None;
        }
        Some(match self.kind {
            Collect::Heading(level) => Block::Heading {
                level,
                text: super::cap_heading(text),
            },
            Collect::Paragraph => Block::Paragraph {
                raw: source
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
                text,
                span,
            },
            Collect::List | Collect::Table => Block::Whole { text, span },
            Collect::Skip => return None,
        })
    }
}

fn heading_level(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Byte offsets to character offsets, counting forward from the last offset asked for (blocks
/// come in order, so a file is counted about once).
#[derive(Default)]
struct CharPos {
    byte: usize,
    chars: u64,
}

impl CharPos {
    fn at(&mut self, text: &str, byte: usize) -> u64 {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += text[self.byte..byte].chars().count() as u64;
        self.byte = byte;
        self.chars
    }

    /// The character span of `range` with surrounding white space left out.
    fn span(&mut self, text: &str, range: Range<usize>) -> (u64, u64) {
        let src = &text[range.clone()];
        let start = range.start + (src.len() - src.trim_start().len());
        let end = range.start + src.trim_end().len();
        let a = self.at(text, start);
        let b = self.at(text, end.max(start));
        (a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

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
            MAX,
        )
        .unwrap();
        let expected = vec![(
            Some("Notes"),
            vec![
                "First paragraph, long enough to not be an author line at all here.",
                "Second.",
            ],
        )];
        assert_eq!(crate::corpus::outline(&a), expected);
        assert_eq!(a[0].paragraphs[1].section.as_deref(), Some("Section"));
    }

    /// The file of issue 18: front matter, two `# ` articles, a list, a table and a code block.
    #[test]
    fn ordinary_markdown_gives_the_passages_a_reader_would_cut() {
        let md = "---\ntitle: Field notes\ndate: 2025-02-10\nlang: en\ntags: [soil, water]\n---\n\n\
# Irrigation\n\nDrip lines save water in dry summers.\n\n- check filters weekly\n- flush lines in spring\n\n\
Pressure matters more than flow.\n\n## Costs\n\n| item | price |\n|---|---|\n| pipe | 3 |\n\n\
```\nlet x = 1;\n```\n\nThe last paragraph of the first article.\n\n# Soil\n\nCompost feeds the soil life.\n";
        let a = articles(md, MAX).unwrap();
        let first = vec![
            "Drip lines save water in dry summers.",
            "- check filters weekly\n- flush lines in spring",
            "Pressure matters more than flow.",
            "item | price\npipe | 3",
            "The last paragraph of the first article.",
        ];
        let second = vec!["Compost feeds the soil life."];
        assert_eq!(
            crate::corpus::outline(&a),
            [(Some("Irrigation"), first), (Some("Soil"), second)]
        );
        assert_eq!(a[0].paragraphs[3].section.as_deref(), Some("Costs"));
        assert_eq!(a[0].paragraphs[0].section, None);
        for art in &a {
            assert_eq!(art.meta["date"], "2025-02-10");
            assert_eq!(art.meta["lang"], "en");
            assert_eq!(art.meta["tags"], serde_json::json!(["soil", "water"]));
        }
        // Spans cover the list in the file.
        let chars: Vec<char> = md.chars().collect();
        let (s, e) = a[0].paragraphs[1].span;
        let src: String = chars[s as usize..e as usize].iter().collect();
        assert_eq!(src, "- check filters weekly\n- flush lines in spring");
    }

    #[test]
    fn front_matter_titles_a_single_article() {
        let a = articles(
            "+++\ntitle = \"Memo\"\n+++\n\nOne paragraph.\n\n1. first\n2. second\n   - nested\n",
            MAX,
        )
        .unwrap();
        let list = "1. first\n2. second\n  - nested";
        let expected = vec![(Some("Memo"), vec!["One paragraph.", list])];
        assert_eq!(crate::corpus::outline(&a), expected);
        let e = articles("---\ntitle: [oops\n---\n\nText.\n", MAX).unwrap_err();
        assert!(e.contains("not valid YAML"), "{e}");
    }
}
