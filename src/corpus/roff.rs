//! Manual pages (roff with the `man` macros, as `/usr/share/man` ships them, usually gzipped):
//! one article per page, titled `NAME(SECTION)` from `.TH`; `.SH` and `.SS` are its sections;
//! paragraphs are the text between paragraph macros; a run of tagged items (`.TP`, `.IP`: the
//! options of a command) is one passage, an item a line (`-A, --show-all: equivalent to
//! -vET`), as a list is in Markdown. Font and character escapes are rendered as text; requests
//! that only lay out (`.nf`, `.RS`, `.sp`…) and comments are dropped. This is the text a reader
//! sees in `man`, not a typesetter: tables (`tbl`) and equations come out as their source lines.

use super::{RawArticle, RawParagraph};

/// Requests after which a new paragraph starts.
const BREAKS: &[&str] = &[
    "PP", "LP", "P", "sp", "HP", "br", "nf", "fi", "EX", "EE", "RS", "RE",
];

/// Macros whose arguments are text set in one font.
const FONT: &[&str] = &["B", "I", "SM", "SB"];

/// Macros whose arguments alternate fonts and are set without spaces between them.
const ALTERNATING: &[&str] = &["BR", "RB", "BI", "IB", "IR", "RI"];

pub(crate) fn articles(text: &str, max: usize) -> Result<Vec<RawArticle>, String> {
    let mut page = Page {
        max,
        ..Page::default()
    };
    let mut tag_next = false;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.starts_with(".\\\"") || line.starts_with("'\\\"") || line == "." {
            continue;
        }
        if let Some(request) = line.strip_prefix('.').or_else(|| line.strip_prefix('\'')) {
            let request = request.trim_start();
            let (name, rest) = request
                .split_once([' ', '\t'])
                .map_or((request, ""), |(a, b)| (a, b.trim()));
            let args = arguments(rest);
            match name {
                "TH" => {
                    if let Some(title) = args.first() {
                        let section = args.get(1).map_or(String::new(), |s| format!("({s})"));
                        page.title = Some(super::cap_heading(format!("{title}{section}")));
                    }
                }
                "SH" | "SS" => {
                    page.flush();
                    page.end_items();
                    let heading = super::cap_heading(unescape(&args.join(" ")));
                    if name == "SH" {
                        page.headings.clear();
                    } else {
                        page.headings.truncate(1);
                    }
                    if !heading.is_empty() {
                        page.headings.push(heading);
                    }
                }
                "TP" | "TQ" => {
                    page.flush();
                    page.start_item(n)?;
                    tag_next = true;
                }
                "IP" => {
                    page.flush();
                    page.start_item(n)?;
                    if let Some(tag) = args.first() {
                        page.item_tag = unescape(tag);
                    }
                }
                _ if BREAKS.contains(&name) => {
                    page.flush();
                    if matches!(name, "PP" | "LP" | "P") {
                        page.end_items();
                    }
                }
                _ if FONT.contains(&name) => {
                    page.text(&unescape(&args.join(" ")), n, &mut tag_next)?
                }
                _ if ALTERNATING.contains(&name) => {
                    page.text(&unescape(&args.concat()), n, &mut tag_next)?
                }
                _ => {} // layout, definitions, conditionals: not text
            }
            continue;
        }
        page.text(&unescape(line), n, &mut tag_next)?;
    }
    page.flush();
    page.end_items();
    if page.paragraphs.is_empty() {
        return Ok(Vec::new());
    }
    // Spans are in the page's extracted text, its passages joined by blank lines (as for
    // HTML): roff source has no character positions a reader would use.
    let mut pos = 0u64;
    for p in &mut page.paragraphs {
        let len = p.text.chars().count() as u64;
        p.span = (pos, pos + len);
        pos += len + 2;
    }
    Ok(vec![RawArticle {
        id: None,
        title: page.title,
        paragraphs: page.paragraphs,
        meta: Default::default(),
    }])
}

#[derive(Default)]
struct Page {
    max: usize,
    title: Option<String>,
    headings: Vec<String>,
    paragraphs: Vec<RawParagraph>,
    /// The paragraph being read.
    para: String,
    /// The run of tagged items being read (`tag: text` lines).
    items: Option<String>,
    item_tag: String,
    item_text: String,
}

impl Page {
    fn text(&mut self, t: &str, line: usize, tag_next: &mut bool) -> Result<(), String> {
        let t = t.trim();
        if t.is_empty() {
            self.flush();
            return Ok(());
        }
        if self.items.is_some() {
            let field = if std::mem::take(tag_next) {
                &mut self.item_tag
            } else {
                &mut self.item_text
            };
            if !field.is_empty() {
                field.push(' ');
            }
            field.push_str(t);
            return self.check(self.item_text.len() + self.item_tag.len(), line);
        }
        if !self.para.is_empty() {
            self.para.push(' ');
        }
        self.para.push_str(t);
        self.check(self.para.len(), line)
    }

    fn check(&self, bytes: usize, line: usize) -> Result<(), String> {
        if bytes > self.max {
            return Err(super::too_long(&format!("line {line}"), bytes, self.max));
        }
        Ok(())
    }

    fn push(&mut self, text: String) {
        let section = (!self.headings.is_empty()).then(|| self.headings.join(" › "));
        self.paragraphs.push(RawParagraph {
            text,
            span: (0, 0),
            section,
        });
    }

    fn flush(&mut self) {
        let p = std::mem::take(&mut self.para);
        if !p.trim().is_empty() && self.items.is_none() {
            self.push(p);
        }
    }

    /// Close the item being read into the run's text.
    fn close_item(&mut self) {
        let (tag, text) = (
            std::mem::take(&mut self.item_tag),
            std::mem::take(&mut self.item_text),
        );
        if let Some(run) = self.items.as_mut() {
            let item = match (tag.is_empty(), text.is_empty()) {
                (true, true) => return,
                (false, false) => format!("{tag}: {text}"),
                (false, true) => tag,
                (true, false) => text,
            };
            if !run.is_empty() {
                run.push('\n');
            }
            run.push_str(&item);
        }
    }

    fn start_item(&mut self, line: usize) -> Result<(), String> {
        if self.items.is_none() {
            self.items = Some(String::new());
        } else {
            self.close_item();
        }
        let len = self.items.as_ref().map_or(0, String::len);
        self.check(len, line)
    }

    fn end_items(&mut self) {
        self.close_item();
        if let Some(run) = self.items.take().filter(|r| !r.trim().is_empty()) {
            self.push(run);
        }
    }
}

/// A request's arguments: separated by blanks, `"…"` quoting one with blanks in it.
fn arguments(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// roff's escapes as the text they print: fonts and sizes dropped, `\-` a hyphen, the named
/// characters that prose uses, the rest left out.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    // A name after `(` (two characters) or `[` (up to `]`), or one character.
    fn name(it: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
        match it.next() {
            Some('(') => it.by_ref().take(2).collect(),
            Some('[') => it.by_ref().take_while(|&c| c != ']').collect(),
            Some(c) => c.to_string(),
            None => String::new(),
        }
    }
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('f' | 's' | 'k' | 'n' | 'm' | 'F') => {
                // Font, size, register and colour escapes: `\fB`, `\f(CW`, `\s-1`, `\s+2`.
                if it.peek().is_some_and(|c| matches!(c, '+' | '-')) {
                    it.next();
                }
                let n = name(&mut it);
                if n.chars().all(|c| c.is_ascii_digit()) {
                    // `\s10`: the second digit.
                    if it.peek().is_some_and(char::is_ascii_digit) {
                        it.next();
                    }
                }
            }
            Some('*') => {
                let _ = name(&mut it);
            }
            Some('(') => {
                let n: String = it.by_ref().take(2).collect();
                out.push_str(named(&n));
            }
            Some('[') => {
                let n: String = it.by_ref().take_while(|&c| c != ']').collect();
                out.push_str(named(&n));
            }
            Some('-') => out.push('-'),
            Some('e' | '\\') => out.push('\\'),
            Some(' ' | '~' | '0') => out.push(' '),
            Some('&' | '|' | '^' | ',' | '/' | ')' | 'c' | '%' | ':') => {}
            Some('"') => break, // a comment to the end of the line
            Some(c) => out.push(c),
            None => {}
        }
    }
    out
}

fn named(n: &str) -> &'static str {
    match n {
        "em" => "—",
        "en" => "–",
        "aq" => "'",
        "dq" => "\"",
        "lq" => "“",
        "rq" => "”",
        "oq" => "‘",
        "cq" => "’",
        "bu" => "•",
        "co" => "©",
        "rg" => "®",
        "tm" => "™",
        "hy" | "mi" => "-",
        "ga" => "`",
        "ti" => "~",
        "ha" => "^",
        "rs" => "\\",
        "de" => "°",
        "mu" => "×",
        "<=" => "≤",
        ">=" => "≥",
        "->" => "→",
        "<-" => "←",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// coreutils' cat(1) as Debian ships it (`tests/fixtures/real/doc-tree/cat.1.gz`).
    #[test]
    fn a_real_manual_page() {
        let gz = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/real/doc-tree/cat.1.gz"
        ))
        .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        let a = articles(&text, 1 << 20).unwrap();
        assert_eq!(a[0].title.as_deref(), Some("CAT(1)"));
        let ps = &a[0].paragraphs;
        assert_eq!(
            ps[0].text,
            "cat - concatenate files and print on the standard output"
        );
        assert_eq!(ps[0].section.as_deref(), Some("NAME"));
        let options = ps
            .iter()
            .find(|p| p.text.starts_with("-A, --show-all: equivalent to -vET"))
            .unwrap();
        assert!(options
            .text
            .contains("\n-b, --number-nonblank: number nonempty output lines, overrides -n"));
        assert_eq!(options.section.as_deref(), Some("DESCRIPTION"));
        assert!(ps
            .iter()
            .any(|p| p.text == "Written by Torbjorn Granlund and Richard M. Stallman."));
        assert!(ps.iter().all(|p| !p.text.contains('\\')), "{ps:?}");
    }
}
