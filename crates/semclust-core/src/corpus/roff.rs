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
    for (n, line) in text.lines().enumerate() {
        page.line(line, n + 1)?;
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
    /// The next text line is an item's tag (after `.TP`).
    tag_next: bool,
    /// Inside a macro definition (`.de`, `.am`, `.ig`): the request that ends it (`.` for `..`).
    definition_end: Option<String>,
    /// Inside a conditional block not taken: `\{` not yet closed.
    skipped_depth: usize,
    /// What the last `.ie` chose, for its `.el`.
    last_ie: bool,
}

/// Whether a request's condition holds for a reader of the terminal (what `man` shows): `n`
/// (nroff) holds, `t` (typesetter) does not, groff's `\n(.g` holds; the rest, rare in manual
/// pages, counts as true. Returns the condition's truth and what follows it.
fn condition(rest: &str) -> (bool, &str) {
    let (negated, rest) = match rest.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (cond, body) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    let truth = match cond {
        "t" => false,
        "n" => true,
        _ => !cond.starts_with('\'') && !cond.starts_with('"'),
    };
    (truth != negated, body.trim_start())
}

/// Opening minus closing braces of conditional blocks on a line.
fn brace_balance(line: &str) -> isize {
    line.matches("\\{").count() as isize - line.matches("\\}").count() as isize
}

impl Page {
    /// Read one line of the page.
    fn line(&mut self, line: &str, n: usize) -> Result<(), String> {
        if let Some(end) = &self.definition_end {
            // `..`, or `.  .` inside an indented block, or the name the definition gave.
            let request = line.strip_prefix(['.', '\'']).map(str::trim_start);
            if request.and_then(|r| r.split_whitespace().next()) == Some(end.as_str()) {
                self.definition_end = None;
            }
            return Ok(());
        }
        if self.skipped_depth > 0 {
            self.skipped_depth =
                (self.skipped_depth as isize + brace_balance(line)).max(0) as usize;
            return Ok(());
        }
        if line.starts_with(".\\\"") || line.starts_with("'\\\"") || line == "." {
            return Ok(());
        }
        let Some(request) = line.strip_prefix('.').or_else(|| line.strip_prefix('\'')) else {
            return self.text(&unescape(line), n);
        };
        let request = request.trim_start();
        let (name, rest) = request
            .split_once([' ', '\t'])
            .map_or((request, ""), |(a, b)| (a, b.trim()));
        let args = arguments(rest);
        match name {
            "TH" => {
                if let Some(title) = args.first() {
                    let section = args.get(1).map_or(String::new(), |s| format!("({s})"));
                    self.title = Some(super::cap_heading(format!("{title}{section}")));
                }
            }
            "SH" | "SS" => {
                self.flush();
                self.end_items();
                let heading = super::cap_heading(unescape(&args.join(" ")));
                if name == "SH" {
                    self.headings.clear();
                } else {
                    self.headings.truncate(1);
                }
                if !heading.is_empty() {
                    self.headings.push(heading);
                }
            }
            "TP" | "TQ" => {
                self.flush();
                self.start_item(n)?;
                self.tag_next = true;
            }
            "IP" => {
                self.flush();
                self.start_item(n)?;
                if let Some(tag) = args.first() {
                    self.item_tag = unescape(tag);
                }
            }
            // A macro's definition is not text (`.de URL` in pages made by Asciidoctor holds
            // `\\$2 <\\$1>\\$3`): skipped to its end, `..` or the name given.
            "de" | "de1" | "am" | "am1" | "ig" => {
                let end = if name == "ig" {
                    args.first()
                } else {
                    args.get(1)
                };
                self.definition_end = Some(end.map_or(".".to_string(), String::clone));
            }
            // Conditionals: the branch a terminal reader sees, the other skipped (pages made by
            // DocBook and Asciidoctor draw each bullet twice, once per branch).
            "if" | "ie" | "el" => {
                let (taken, body) = if name == "el" {
                    (!self.last_ie, rest)
                } else {
                    condition(rest)
                };
                if name == "ie" {
                    self.last_ie = taken;
                }
                if taken {
                    let body = body.strip_prefix("\\{").unwrap_or(body);
                    let body = body.strip_suffix('\\').unwrap_or(body).trim();
                    if !body.is_empty() {
                        self.line(body, n)?;
                    }
                } else {
                    self.skipped_depth = brace_balance(body).max(0) as usize;
                }
            }
            _ if BREAKS.contains(&name) => {
                self.flush();
                if matches!(name, "PP" | "LP" | "P") {
                    self.end_items();
                }
            }
            _ if FONT.contains(&name) => self.text(&unescape(&args.join(" ")), n)?,
            _ if ALTERNATING.contains(&name) => self.text(&unescape(&args.concat()), n)?,
            _ => {} // layout, strings, registers: not text
        }
        Ok(())
    }

    fn text(&mut self, t: &str, line: usize) -> Result<(), String> {
        let t = t.trim();
        if t.is_empty() {
            self.flush();
            return Ok(());
        }
        if self.items.is_some() {
            let field = if std::mem::take(&mut self.tag_next) {
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
            // Motions, widths, lines and device controls take a delimited argument and print
            // nothing a reader sees as text: `\h'-04'`, `\w'abc'u`, `\l'1i'`.
            Some('h' | 'v' | 'w' | 'l' | 'L' | 'D' | 'X' | 'x' | 'o' | 'b' | 'R' | 'S' | 'Z') => {
                if let Some(delim) = it.next() {
                    for c in it.by_ref() {
                        if c == delim {
                            break;
                        }
                    }
                }
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
            Some('&' | '|' | '^' | ',' | '/' | ')' | 'c' | '%' | ':' | '{' | '}') => {}
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

    /// A gzipped manual page of `tests/fixtures/real/doc-tree`, as text.
    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../tests/fixtures/real/doc-tree/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let gz = std::fs::read(path).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        text
    }

    /// coreutils' cat(1) as Debian ships it (`tests/fixtures/real/doc-tree/cat.1.gz`).
    #[test]
    fn a_real_manual_page() {
        let a = articles(&fixture("cat.1.gz"), 1 << 20).unwrap();
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

    /// linux-perf's perf-iostat(1), made by Asciidoctor
    /// (`tests/fixtures/real/doc-tree/perf-iostat.1.gz`): a macro definition and conditional
    /// branches, each bullet drawn once per branch in the source.
    #[test]
    fn an_asciidoctor_manual_page() {
        let ps = &articles(&fixture("perf-iostat.1.gz"), 1 << 20).unwrap()[0].paragraphs;
        // The body of `.de URL` is not text.
        assert_eq!(ps[0].text, "perf-iostat - Show I/O performance metrics");
        assert!(ps.iter().all(|p| !p.text.contains("$1")), "{ps:#?}");
        // One bullet per item, no motion escape left.
        let bullet = ps.iter().find(|p| p.text.contains("Inbound Read")).unwrap();
        assert_eq!(
            bullet.text,
            "• Inbound Read   - I/O devices below root port read from the host memory, in MB"
        );
        assert!(ps.iter().all(|p| !p.text.contains("h'")), "{ps:#?}");
    }
}
