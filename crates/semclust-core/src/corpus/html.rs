//! Saved web pages and HTML documents (`.html`, `.htm`), read with an HTML5 parser (scraper,
//! on html5ever): one article per page.
//!
//! - Title: the first `<h1>`, else `<title>`, else the file name. A page with several `<h1>`
//!   and a `<title>` (a manual page rendered by mandoc: NAME, SYNOPSIS… are all `<h1>`) is
//!   titled by its `<title>`, and its `<h1>`s are sections.
//! - Passages: paragraphs (and text standing loose in a block, as many pages write it), whole
//!   lists and whole tables, as for Markdown; `<pre>` code is not a passage. Headings below the
//!   title give each passage its heading path.
//! - Not read: `nav`, `header`, `footer`, `aside`, forms, scripts, styles, embedded frames and
//!   graphics; elements whose ARIA role is navigation, banner, contentinfo, complementary,
//!   search or dialog; and elements whose class or id names page chrome (`navheader`,
//!   `sidebar`, `toc`, `breadcrumb`, `cookie`, `consent`…), which is how pages without the
//!   semantic elements (DocBook output, older templates, cookie banners) mark it.
//! - Metadata: `lang` from `<html lang>`, `url` from the canonical link or `og:url`, `date` from
//!   the published-time or date meta tags, `tags` from `keywords`, `author`, `description`.
//!
//! A page has no source span per passage that a reader could use (entities and tags sit in
//! between), so spans are in the page's extracted text: its passages joined by blank lines.
//!
//! Bounds, for pages nobody wrote by hand (and requests made to hurt): tags nested past
//! [`MAX_DEPTH`] are dropped before parsing (their text kept); the walk recurses over at most
//! that many elements, and text is read by a loop, so 10,000 nested `<div>` cost no stack. Nested lists indent at most [`MAX_INDENT`] levels (a
//! list nested 20,000 deep would otherwise write 400 MB of spaces), tables read their own rows
//! and cells only (a table nested in a cell is text of that cell, once), so the text read is
//! never more than linear in the page; and a passage is checked against the passage limit as
//! it grows, not once it is whole.

use scraper::node::Node;
use scraper::{ElementRef, Html, Selector};

use super::{Meta, RawArticle, RawParagraph, MAX_INDENT};

/// Elements nested deeper than this are read as flat text, without recursion: the walk below
/// recurses once per level, on whatever stack the caller has (an async worker's 2 MiB in the
/// server). Real pages nest a few dozen levels; 256 is far above them and far below the stack.
pub(crate) const MAX_DEPTH: usize = 256;

/// Elements never read (with everything inside them).
const SKIPPED_TAGS: &[&str] = &[
    "nav", "header", "footer", "aside", "script", "style", "noscript", "template", "form",
    "button", "select", "textarea", "iframe", "object", "embed", "svg", "math", "canvas", "video",
    "audio", "picture", "img", "dialog", "head", "title", "meta", "link",
];

const SKIPPED_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
];

/// Words of a class or id (split at `-`, `_` and spaces) that name page chrome.
const CHROME_WORDS: &[&str] = &[
    "nav",
    "navbar",
    "navheader",
    "navfooter",
    "navigation",
    "menu",
    "sidebar",
    "breadcrumb",
    "breadcrumbs",
    "toc",
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "skiplink",
    "share",
    "social",
    "newsletter",
    "footer",
    "masthead",
    "header",
    "head",
    "foot",
];

/// Elements whose content flows inside a paragraph.
const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "del", "em", "font", "i", "ins",
    "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time",
    "tt", "u", "var", "wbr", "big", "acronym", "nobr",
];

/// The page's article; `Err` names the passage that grows past `max_passage_bytes`.
pub(crate) fn articles(text: &str, max_passage_bytes: usize) -> Result<Vec<RawArticle>, String> {
    let doc = Html::parse_document(&cap_nesting(text, MAX_DEPTH));
    let mut page = Page {
        max_passage_bytes,
        ..Page::default()
    };
    let root = doc.root_element();
    let title_tag = first(&doc, "title")
        .map(|t| super::cap_heading(text_of(t, max_passage_bytes)))
        .filter(|t| !t.is_empty());
    if title_tag.is_some() && count(&doc, "body h1") > 1 {
        page.title = title_tag.clone();
    }
    if let Some(body) = first(&doc, "body") {
        page.walk(body, 0);
    } else {
        page.walk(root, 0);
    }
    page.flush();
    if let Some(e) = page.too_long {
        return Err(e);
    }
    let title = page.title.clone().or(title_tag);
    let meta = metadata(&doc, root);
    let mut paragraphs = Vec::new();
    let mut pos = 0u64;
    for (text, section) in page.passages {
        let len = text.chars().count() as u64;
        paragraphs.push(RawParagraph {
            text,
            span: (pos, pos + len),
            section,
        });
        pos += len + 2;
    }
    if paragraphs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![RawArticle {
        id: None,
        title,
        paragraphs,
        meta,
    }])
}

/// Elements that never have content or an end tag.
const VOID_TAGS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen",
];

/// Elements whose content is raw text up to their end tag.
const RAW_TEXT_TAGS: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "plaintext",
];

/// Elements an opening tag of the same name closes (`<p>a<p>b`, `<li>`, table cells).
const SELF_CLOSING_SIBLINGS: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "rt", "rp",
];

/// `text` with the tags of elements nested deeper than `max` left out (their text kept), in one
/// linear pass over the tags; the text itself when nothing is that deep (the common case, no
/// copy). Why before parsing: the HTML5 tree builder looks down its stack of open elements at
/// many start tags ("close a `p` in button scope"), so its time grows with depth × tags: 10,000
/// nested `<div>` took 0.3 s, and the 800,000 a 4 MiB request holds would take minutes. The
/// nesting seen here is the tags' own (with the implied ends of `p`, `li` and table cells, and
/// no tree-building rules), which is what makes the parse slow.
fn cap_nesting(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let b = text.as_bytes();
    // Open elements: name, and whether its tags are kept.
    let mut stack: Vec<(String, bool)> = Vec::new();
    let mut out: Option<String> = None;
    // Bytes of `text` up to here are in `out` (when it exists).
    let mut copied = 0;
    let mut i = 0;
    let name_at = |mut j: usize| {
        let start = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b':') {
            j += 1;
        }
        (text[start..j].to_ascii_lowercase(), j)
    };
    // The end of a tag starting at `j` (past its `>`), quotes in attributes respected.
    let tag_end = |mut j: usize| {
        let mut quote = None;
        while j < b.len() {
            match (quote, b[j]) {
                (None, b'"' | b'\'') => quote = Some(b[j]),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => return j + 1,
                _ => {}
            }
            j += 1;
        }
        b.len()
    };
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let at = i + off;
        let next = b.get(at + 1).copied().unwrap_or(0);
        if b[at..].starts_with(b"<!--") {
            i = memchr::memmem::find(&b[at + 4..], b"-->").map_or(b.len(), |e| at + 4 + e + 3);
            continue;
        }
        if next == b'!' || next == b'?' {
            i = memchr::memchr(b'>', &b[at..]).map_or(b.len(), |e| at + e + 1);
            continue;
        }
        let closing = next == b'/';
        let name_start = at + 1 + usize::from(closing);
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            i = at + 1;
            continue;
        }
        let (name, after_name) = name_at(name_start);
        let end = tag_end(after_name);
        let mut keep = true;
        if closing {
            // Close the nearest open element of this name among the last few (a stray end
            // tag closes nothing); its tags were kept or dropped together.
            let found = stack.iter().rev().take(16).position(|(n, _)| *n == name);
            if let Some(pos) = found {
                let idx = stack.len() - 1 - pos;
                keep = stack[idx].1;
                stack.truncate(idx);
            }
        } else {
            let self_closed = end >= 2 && b[end - 2] == b'/';
            if SELF_CLOSING_SIBLINGS.contains(&name.as_str())
                && stack.last().is_some_and(|(n, _)| *n == name)
            {
                stack.pop();
            }
            if !VOID_TAGS.contains(&name.as_str()) && !self_closed {
                keep = stack.len() < max;
                stack.push((name.clone(), keep));
            }
        }
        if !keep {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..at]);
            copied = end;
        }
        i = end;
        if !closing && RAW_TEXT_TAGS.contains(&name.as_str()) {
            // Its content is text up to `</name`, whatever it holds.
            let mut j = i;
            i = b.len();
            while let Some(off) = memchr::memmem::find(&b[j..], b"</") {
                let n = j + off + 2;
                if b.get(n..n + name.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(name.as_bytes()))
                {
                    i = j + off;
                    break;
                }
                j = n;
            }
        }
    }
    match out {
        Some(mut o) => {
            o.push_str(&text[copied..]);
            std::borrow::Cow::Owned(o)
        }
        None => std::borrow::Cow::Borrowed(text),
    }
}

fn count(doc: &Html, selector: &str) -> usize {
    Selector::parse(selector).map_or(0, |s| doc.select(&s).count())
}

fn first<'a>(doc: &'a Html, selector: &str) -> Option<ElementRef<'a>> {
    let s = Selector::parse(selector).ok()?;
    doc.select(&s).next()
}

/// What a walk over the page has found.
#[derive(Default)]
struct Page {
    title: Option<String>,
    passages: Vec<(String, Option<String>)>,
    /// Headings under the title, with their levels.
    headings: Vec<(usize, String)>,
    /// Loose text of the block being read.
    loose: String,
    max_passage_bytes: usize,
    /// The first passage found over `max_passage_bytes`: reading stops there.
    too_long: Option<String>,
}

impl Page {
    /// Read the children of `el`, which is `depth` elements below where the walk began.
    fn walk(&mut self, el: ElementRef, depth: usize) {
        for child in el.children() {
            if self.too_long.is_some() {
                return;
            }
            match child.value() {
                Node::Text(t) => {
                    self.loose.push_str(t);
                    self.check(self.loose.len());
                }
                Node::Element(_) => {
                    let Some(e) = ElementRef::wrap(child) else {
                        continue;
                    };
                    if skipped(e) {
                        continue;
                    }
                    if depth >= MAX_DEPTH {
                        raw_text(e, &mut self.loose, self.max_passage_bytes);
                        self.check(self.loose.len());
                    } else {
                        self.element(e, depth + 1);
                    }
                }
                _ => {}
            }
        }
    }

    /// Note a passage of `bytes` bytes if that is over the limit.
    fn check(&mut self, bytes: usize) {
        if bytes > self.max_passage_bytes && self.too_long.is_none() {
            self.too_long = Some(super::too_long(
                &format!("passage {} of the page", self.passages.len() + 1),
                bytes,
                self.max_passage_bytes,
            ));
        }
    }

    fn element(&mut self, e: ElementRef, depth: usize) {
        let tag = e.value().name();
        match tag {
            "br" => self.loose.push(' '),
            _ if INLINE_TAGS.contains(&tag) => self.walk(e, depth),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.flush();
                let level = usize::from(tag.as_bytes()[1] - b'0');
                let text = super::cap_heading(text_of(e, self.max_passage_bytes));
                if text.is_empty() {
                    return;
                }
                if level == 1 && self.title.is_none() && self.passages.is_empty() {
                    self.title = Some(text);
                } else {
                    while self.headings.last().is_some_and(|(l, _)| *l >= level) {
                        self.headings.pop();
                    }
                    self.headings.push((level, text));
                }
            }
            "p" => {
                self.flush();
                let text = text_of(e, self.max_passage_bytes);
                self.push(text);
            }
            "ul" | "ol" | "dl" => {
                self.flush();
                let mut s = String::new();
                list(e, 0, depth, &mut s, self.max_passage_bytes);
                self.push(s);
            }
            "table" => {
                self.flush();
                let t = table(e, self.max_passage_bytes);
                self.push(t);
            }
            "pre" | "hr" => self.flush(),
            _ => {
                // A block (div, section, article, blockquote, figure…): its loose text is a
                // paragraph of its own.
                self.flush();
                self.walk(e, depth);
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let text = collapse(&std::mem::take(&mut self.loose));
        self.push(text);
    }

    fn push(&mut self, text: String) {
        if text.trim().is_empty() || self.too_long.is_some() {
            return;
        }
        self.check(text.len());
        if self.too_long.is_some() {
            return;
        }
        let section = (!self.headings.is_empty()).then(|| {
            let names: Vec<&str> = self.headings.iter().map(|(_, t)| t.as_str()).collect();
            names.join(" › ")
        });
        self.passages.push((text, section));
    }
}

fn skipped(e: ElementRef) -> bool {
    let v = e.value();
    if SKIPPED_TAGS.contains(&v.name()) || v.attr("hidden").is_some() {
        return true;
    }
    if v.attr("aria-hidden") == Some("true") {
        return true;
    }
    if v.attr("role")
        .is_some_and(|r| SKIPPED_ROLES.contains(&r.trim()))
    {
        return true;
    }
    let names = [v.attr("class"), v.attr("id")];
    names.into_iter().flatten().any(|n| {
        n.split([' ', '-', '_'])
            .any(|w| CHROME_WORDS.contains(&w.to_ascii_lowercase().as_str()))
    })
}

/// The readable text inside `e`: white space collapsed, skipped elements left out. Reading
/// stops a little past `max` bytes (the caller's check then refuses the passage).
fn text_of(e: ElementRef, max: usize) -> String {
    let mut s = String::new();
    raw_text(e, &mut s, max);
    collapse(&s)
}

/// The text inside `e` appended to `out`, a space around each block element's text (blocks
/// inside a paragraph-like element still separate words). A loop over an explicit stack, not
/// recursion: it reads whatever lies below the walk's [`MAX_DEPTH`], at any depth.
fn raw_text(e: ElementRef, out: &mut String, max: usize) {
    // `None`: the space that closes a block once its children are read.
    let mut stack: Vec<_> = e.children().rev().map(Some).collect();
    while let Some(step) = stack.pop() {
        if out.len() > max {
            return;
        }
        let Some(node) = step else {
            out.push(' ');
            continue;
        };
        match node.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(el) => {
                if el.name() == "br" {
                    out.push(' ');
                } else if ElementRef::wrap(node).is_some_and(|c| !skipped(c)) {
                    if !INLINE_TAGS.contains(&el.name()) {
                        out.push(' ');
                        stack.push(None);
                    }
                    stack.extend(node.children().rev().map(Some));
                }
            }
            _ => {}
        }
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A list as lines: `- item` or `N. item`, nested lists indented (at most [`MAX_INDENT`]
/// levels), `term — definition` lines for definition lists. `level` counts nested lists,
/// `depth` elements from the walk's start.
fn list(e: ElementRef, level: usize, depth: usize, out: &mut String, max: usize) {
    if depth >= MAX_DEPTH {
        raw_text(e, out, max);
        return;
    }
    let ordered = e.value().name() == "ol";
    let mut n = e
        .value()
        .attr("start")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(1);
    for child in e.children().filter_map(ElementRef::wrap) {
        if skipped(child) || out.len() > max {
            continue;
        }
        let tag = child.value().name();
        if !matches!(tag, "li" | "dt" | "dd") {
            continue;
        }
        // The item's own text, its nested lists after it.
        let mut own = String::new();
        let mut nested = Vec::new();
        for c in child.children() {
            match c.value() {
                Node::Text(t) => own.push_str(t),
                Node::Element(el) => {
                    let Some(ce) = ElementRef::wrap(c).filter(|ce| !skipped(*ce)) else {
                        continue;
                    };
                    if matches!(el.name(), "ul" | "ol" | "dl") {
                        nested.push(ce);
                    } else {
                        own.push(' ');
                        raw_text(ce, &mut own, max);
                        own.push(' ');
                    }
                }
                _ => {}
            }
        }
        let own = collapse(&own);
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&"  ".repeat(level.min(MAX_INDENT)));
        match tag {
            "li" if ordered => {
                out.push_str(&format!("{n}. "));
                n += 1;
            }
            "li" | "dt" => out.push_str("- "),
            _ => out.push_str("  "),
        }
        out.push_str(&own);
        for l in nested {
            list(l, level + 1, depth + 2, out, max);
        }
    }
}

/// The children of `el` named one of `names`, skipped ones left out.
fn own<'a>(
    el: ElementRef<'a>,
    names: &'static [&'static str],
) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    el.children()
        .filter_map(ElementRef::wrap)
        .filter(move |c| names.contains(&c.value().name()) && !skipped(*c))
}

/// A table as lines, cells joined by ` | `. Only the table's own rows and cells: a table
/// nested in a cell is that cell's text (selecting every `tr` below the table would read a
/// table nested d deep d times over).
fn table(e: ElementRef, max: usize) -> String {
    let mut rows: Vec<ElementRef> = Vec::new();
    for c in own(e, &["thead", "tbody", "tfoot", "tr"]) {
        if c.value().name() == "tr" {
            rows.push(c);
        } else {
            rows.extend(own(c, &["tr"]));
        }
    }
    let mut out = String::new();
    for r in rows {
        if out.len() > max {
            break;
        }
        // Empty cells (an icon, a spacer) say nothing.
        let cells: Vec<String> = own(r, &["th", "td"])
            .map(|c| text_of(c, max))
            .filter(|c| !c.is_empty())
            .collect();
        if !cells.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&cells.join(" | "));
        }
    }
    out
}

/// The page's metadata from its `<html>` and `<meta>`/`<link>` elements.
fn metadata(doc: &Html, root: ElementRef) -> Meta {
    let mut meta = Meta::new();
    let lang = root
        .value()
        .attr("lang")
        .or_else(|| root.value().attr("xml:lang"));
    if let Some(l) = lang.map(str::trim).filter(|l| !l.is_empty()) {
        meta.insert("lang".into(), l.into());
    }
    let canonical = first(doc, "link[rel=canonical]").and_then(|l| l.value().attr("href"));
    let pairs = [
        (
            "url",
            canonical.or_else(|| content(doc, "meta[property='og:url']")),
        ),
        (
            "date",
            content(doc, "meta[property='article:published_time']")
                .or_else(|| content(doc, "meta[name=date]"))
                .or_else(|| content(doc, "meta[name='dcterms.date']"))
                .or_else(|| content(doc, "meta[name='DC.date']")),
        ),
        ("author", content(doc, "meta[name=author]")),
        ("description", content(doc, "meta[name=description]")),
        ("tags", content(doc, "meta[name=keywords]")),
    ];
    for (key, value) in pairs {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            meta.insert(key.into(), v.into());
        }
    }
    super::frontmatter::normalise(meta)
}

fn content<'a>(doc: &'a Html, selector: &str) -> Option<&'a str> {
    first(doc, selector)?.value().attr("content")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_past_the_bound_loses_its_tags_not_its_text() {
        let page = "<p>a<p>b<ul><li>c<li>d</ul><script>if (a<b) {}</script><br><img src=x/>";
        // Nothing that deep: the page itself, not a copy.
        assert!(matches!(
            cap_nesting(page, 8),
            std::borrow::Cow::Borrowed(_)
        ));
        let deep = format!("{}x{}", "<div>".repeat(10), "</div>".repeat(10));
        let capped = cap_nesting(&deep, 4);
        assert_eq!(
            capped,
            format!("{}x{}", "<div>".repeat(4), "</div>".repeat(4))
        );
        // `<p>` and `<li>` close their open sibling: a long page of them is not deep.
        let flat = "<p>a".repeat(1000) + &"<li>b".repeat(1000);
        assert!(matches!(
            cap_nesting(&flat, 8),
            std::borrow::Cow::Borrowed(_)
        ));
        // Tags inside a script, a comment or an attribute value are not tags.
        let hidden = format!(
            "<script>{}</script><!-- {} --><a title='{}'>t</a>",
            "<div>".repeat(20),
            "<div>".repeat(20),
            "<div>".repeat(20)
        );
        assert!(matches!(
            cap_nesting(&hidden, 2),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn loose_text_lists_and_tables_are_passages_and_chrome_is_not() {
        let page = "<html lang=de><head><title>Seite | Site</title>\
            <meta name=keywords content='a, b'></head><body>\
            <header><a href=/>Home</a></header><nav><ul><li>Menu</li></ul></nav>\
            <div class=cookie-banner>Wir nutzen Cookies.</div>\
            <main><h1>Titel</h1><p>Erster <em>Absatz</em>.</p>\
            <div>Loser Text<br>in einem div.<p>Danach ein Absatz.</p></div>\
            <h2>Teil</h2><ul><li>eins<ul><li>zwei</li></ul></li><li>drei</li></ul>\
            <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>\
            <pre>code()</pre><script>x()</script></main>\
            <footer>Impressum</footer></body></html>";
        let a = articles(page, 1 << 20).unwrap();
        let texts = vec![
            "Erster Absatz.",
            "Loser Text in einem div.",
            "Danach ein Absatz.",
            "- eins\n  - zwei\n- drei",
            "a | b\n1 | 2",
        ];
        assert_eq!(crate::corpus::outline(&a), [(Some("Titel"), texts)]);
        assert_eq!(a[0].paragraphs[3].section.as_deref(), Some("Teil"));
        assert_eq!(a[0].meta["lang"], "de");
        assert_eq!(a[0].meta["tags"], serde_json::json!(["a", "b"]));
    }
}

/// Real pages: Debian Reference's preface in German and Spanish (DocBook HTML, from the Debian
/// packages; `scripts/real-collections.sh fixtures`), checked against upstream's own plain-text
/// rendering of the same source.
#[cfg(test)]
mod real_pages {
    use super::*;

    fn words(s: &str) -> String {
        collapse(s)
    }

    fn check(html: &str, txt: &str, title: &str, next_chapter: &str) {
        let a = articles(html, 1 << 20).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].title.as_deref(), Some(title));
        assert_eq!(txt.lines().next(), Some(title));
        let lines: Vec<&str> = txt.lines().map(str::trim).collect();
        let flat = words(txt);
        let ps = &a[0].paragraphs;
        assert!(ps.len() >= 40, "{} passages", ps.len());
        let mut prose = 0;
        let mut found = 0;
        for p in ps {
            // Navigation (the footer's link to the next chapter) and the table of contents
            // (every section title in one block) are not passages.
            assert!(!p.text.contains(next_chapter), "{}", p.text);
            assert!(!p.text.contains("Haftungsausschluss 2.") && !p.text.contains("Aviso 2."));
            // Heading paths are upstream's section titles.
            for h in p.section.iter().flat_map(|s| s.split(" › ")) {
                assert!(
                    lines.contains(&h),
                    "section {h:?} is not a heading of the text"
                );
            }
            if !p.text.starts_with("- ") && !p.text.contains('\n') {
                prose += 1;
                found += usize::from(flat.contains(&words(&p.text)));
            }
        }
        // Upstream's text renders some inline markup differently (quotes around literals), so
        // one or two paragraphs differ by a character or two; the rest are word for word
        // (measured: 32 of 33 in German, 31 of 33 in Spanish).
        assert!(
            prose >= 30 && found + 2 >= prose,
            "{found} of {prose} paragraphs"
        );
    }

    #[test]
    fn debian_reference_preface_de() {
        check(
            include_str!("../../../../tests/fixtures/real/debian-reference/pr01.de.html"),
            include_str!("../../../../tests/fixtures/real/debian-reference/pr01.de.txt"),
            "Vorwort",
            "Kapitel 1. GNU/Linux-Lehrstunde",
        );
    }

    #[test]
    fn debian_reference_preface_es() {
        check(
            include_str!("../../../../tests/fixtures/real/debian-reference/pr01.es.html"),
            include_str!("../../../../tests/fixtures/real/debian-reference/pr01.es.txt"),
            "Prefacio",
            "Capítulo 1. Tutoriales de GNU/Linux",
        );
    }

    /// A manual page as mandoc renders it (manpages-de's cat(1)): every section is an `<h1>`,
    /// the page is titled by `<title>`, and the running head and foot tables are not passages.
    #[test]
    fn a_page_of_several_h1_is_titled_by_its_title_element() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/real/manpages"
        );
        let page = std::fs::read_to_string(format!("{dir}/de/cat.1.html")).unwrap();
        let a = articles(&page, 1 << 20).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].title.as_deref(), Some("CAT(1)"));
        let ps = &a[0].paragraphs;
        assert!(ps[0].text.starts_with("cat - "), "{}", ps[0].text);
        assert_eq!(ps[0].section.as_deref(), Some("BEZEICHNUNG"));
        let sections: Vec<&str> = ps.iter().filter_map(|p| p.section.as_deref()).collect();
        for s in [
            "ÜBERSICHT",
            "BESCHREIBUNG",
            "BEISPIELE",
            "AUTOR",
            "ÜBERSETZUNG",
        ] {
            assert!(sections.contains(&s), "{s}: {sections:?}");
        }
        assert!(ps
            .iter()
            .all(|p| !p.text.contains("General Commands Manual")));
    }
}
