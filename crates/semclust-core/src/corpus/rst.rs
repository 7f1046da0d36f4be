//! reStructuredText (`.rst`, as Python projects and many Debian packages ship their READMEs):
//! one article per file, titled by its first heading; later headings are its sections, their
//! levels in the order their underline styles first appear (as docutils ranks them). Passages
//! are paragraphs (lines joined) and whole bullet or enumerated lists; directives (`.. image::`,
//! `.. code-block::`), comments, link targets and literal blocks (after `::`) are not prose and
//! are skipped with their indented bodies. Inline markup is read as its text: ``code``,
//! `label <url>`_, `reference`_, :role:`text`, *emphasis*.

use std::sync::LazyLock;

use regex::Regex;

use super::{RawArticle, RawParagraph};

/// Characters that may underline (and overline) a heading.
const ADORNMENT: &str = "=-`:'\"~^_*+#<>.";

static INLINE: LazyLock<[(Regex, &'static str); 5]> = LazyLock::new(|| {
    let r = |p: &str| Regex::new(p).expect("valid regex");
    [
        // `label <url>`_ and `label <url>`__
        (r(r"`([^`<]+?)\s*<[^>`]*>`__?"), "$1"),
        // :role:`text`
        (r(r":[A-Za-z][\w.+-]*:`([^`]*)`"), "$1"),
        // ``literal``
        (r(r"``([^`]+)``"), "$1"),
        // `reference`_ and `interpreted`
        (r(r"`([^`]+)`_{0,2}"), "$1"),
        // word_ references, **strong**, *emphasis*
        (
            r(r"\b([\w.-]+)_\b|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*"),
            "$1$2$3",
        ),
    ]
});

fn inline(s: &str) -> String {
    let mut t = s.to_string();
    for (re, rep) in INLINE.iter() {
        t = re.replace_all(&t, *rep).into_owned();
    }
    t
}

fn is_adornment(line: &str) -> bool {
    let t = line.trim_end();
    let mut chars = t.chars();
    match chars.next() {
        Some(c) if ADORNMENT.contains(c) => t.len() >= 3 && chars.all(|x| x == c),
        _ => false,
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn list_item(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") || {
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        (digits > 0 || t.starts_with('#')) && t[digits.max(1)..].starts_with(". ")
    }
}

pub(crate) fn articles(text: &str, max: usize) -> Result<Vec<RawArticle>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Out {
        max,
        ..Out::default()
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        let next = lines.get(i + 1).copied().unwrap_or("");
        // A heading with an overline: adornment, title, the same adornment.
        if is_adornment(t)
            && !next.trim().is_empty()
            && lines.get(i + 2).is_some_and(|u| u.trim() == t)
        {
            out.flush();
            let style = (t.chars().next().unwrap_or('='), true);
            out.heading(style, next.trim());
            i += 3;
            continue;
        }
        // A heading: a title line at the margin, underlined at least as long.
        if !t.is_empty()
            && indent(line) == 0
            && !is_adornment(t)
            && is_adornment(next)
            && next.trim().chars().count() >= t.chars().count()
        {
            out.flush();
            let style = (next.trim().chars().next().unwrap_or('='), false);
            out.heading(style, t);
            i += 2;
            continue;
        }
        // Directives, comments, link targets: skipped with their indented body.
        if t.starts_with("..") && (t == ".." || t.starts_with(".. ")) {
            out.flush();
            i = skip_block(&lines, i + 1, indent(line));
            continue;
        }
        if t.is_empty() {
            out.flush();
            i += 1;
            continue;
        }
        if list_item(line) && !out.para.is_empty() && !out.in_list {
            out.flush();
        }
        out.line(t, list_item(line), indent(line), i)?;
        // A paragraph ending in `::` introduces a literal block: the indented lines after it.
        if t.ends_with("::") && next.trim().is_empty() {
            let base = indent(line);
            // "text::" reads "text:"; a lone "::" (after a space) is dropped.
            out.para.truncate(out.para.len() - 1);
            if out.para.ends_with(" :") || out.para == ":" {
                out.para.truncate(out.para.len() - 1);
                let kept = out.para.trim_end().len();
                out.para.truncate(kept);
            }
            out.flush();
            i = skip_block(&lines, i + 1, base);
            continue;
        }
        i += 1;
    }
    out.flush();
    out.end_list();
    if out.paragraphs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![RawArticle {
        id: None,
        title: out.title,
        paragraphs: out.paragraphs,
        meta: Default::default(),
    }])
}

/// The line after the indented block that starts at `from` (blank lines inside it included),
/// the block being what is indented more than `base`.
fn skip_block(lines: &[&str], from: usize, base: usize) -> usize {
    let mut j = from;
    while j < lines.len() && (lines[j].trim().is_empty() || indent(lines[j]) > base) {
        j += 1;
    }
    j
}

#[derive(Default)]
struct Out {
    max: usize,
    title: Option<String>,
    /// Heading styles (character, overlined) in the order they first appear: their levels.
    styles: Vec<(char, bool)>,
    headings: Vec<(usize, String)>,
    paragraphs: Vec<RawParagraph>,
    para: String,
    /// The paragraph being read is a list (its items separated by blank lines or not).
    in_list: bool,
    /// The indent of the list's items.
    list_indent: usize,
    list: String,
    /// Characters of the text read so far, for spans in the extracted text.
    pos: u64,
}

impl Out {
    fn heading(&mut self, style: (char, bool), text: &str) {
        self.end_list();
        let level = match self.styles.iter().position(|s| *s == style) {
            Some(l) => l,
            None => {
                self.styles.push(style);
                self.styles.len() - 1
            }
        };
        let text = super::cap_heading(inline(text));
        if self.title.is_none() && self.paragraphs.is_empty() && level == 0 {
            self.title = Some(text);
            return;
        }
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        self.headings.push((level, text));
    }

    fn line(&mut self, t: &str, item: bool, indent: usize, n: usize) -> Result<(), String> {
        // A block at the list's margin that is not an item ends the list.
        if !item && self.in_list && self.para.is_empty() && indent <= self.list_indent {
            self.end_list();
        }
        if item && !self.in_list {
            self.list_indent = indent;
        }
        if item {
            // A new item of a list: the paragraph so far (an item before it) joins the list.
            if self.in_list && !self.para.is_empty() {
                let p = std::mem::take(&mut self.para);
                self.add_item(p);
            }
            self.in_list = true;
        }
        if !self.para.is_empty() {
            self.para.push(' ');
        }
        self.para.push_str(t);
        let len = self.para.len() + self.list.len();
        if len > self.max {
            return Err(super::too_long(&format!("line {}", n + 1), len, self.max));
        }
        Ok(())
    }

    fn add_item(&mut self, item: String) {
        if !self.list.is_empty() {
            self.list.push('\n');
        }
        self.list.push_str(&inline(&item));
    }

    /// End of a block (a blank line, a heading, a directive): a paragraph becomes a passage; a
    /// list item waits for the next item or the end of the list.
    fn flush(&mut self) {
        let p = std::mem::take(&mut self.para);
        if p.trim().is_empty() {
            return;
        }
        if self.in_list {
            self.add_item(p);
        } else {
            self.end_list();
            let text = inline(&p);
            self.push(text);
        }
    }

    fn end_list(&mut self) {
        self.in_list = false;
        let l = std::mem::take(&mut self.list);
        if !l.trim().is_empty() {
            self.push(l);
        }
    }

    fn push(&mut self, text: String) {
        let section = (!self.headings.is_empty()).then(|| {
            let names: Vec<&str> = self.headings.iter().map(|(_, t)| t.as_str()).collect();
            names.join(" › ")
        });
        let len = text.chars().count() as u64;
        self.paragraphs.push(RawParagraph {
            text,
            span: (self.pos, self.pos + len),
            section,
        });
        self.pos += len + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libjansson4's README.rst as Debian ships it.
    #[test]
    fn a_real_readme() {
        let text = include_str!("../../../../tests/fixtures/real/doc-tree/jansson-README.rst");
        let a = articles(text, 1 << 20).unwrap();
        assert_eq!(a[0].title.as_deref(), Some("Jansson README"));
        let ps = &a[0].paragraphs;
        assert_eq!(
            ps[0].text,
            "Jansson is a C library for encoding, decoding and manipulating JSON data. Its main features and design principles are:"
        );
        assert_eq!(
            ps[1].text,
            "- Simple and intuitive API and data model\n- Comprehensive documentation\n- No dependencies on other libraries\n- Full Unicode support (UTF-8)\n- Extensive test suite"
        );
        let install = ps
            .iter()
            .find(|p| {
                p.text.starts_with(
                    "You can download and install Jansson using the vcpkg dependency manager",
                )
            })
            .unwrap();
        assert_eq!(
            install.section.as_deref(),
            Some("Compilation and Installation")
        );
        // Directives, their bodies and literal blocks are not passages.
        assert!(
            ps.iter().all(|p| !p.text.contains("image::")
                && !p.text.contains("git clone")
                && !p.text.contains("$ ./configure")),
            "{ps:#?}"
        );
        // `text::` before a literal block reads `text:`.
        assert!(ps
            .iter()
            .any(|p| p.text.ends_with("The easiest way is to use autoreconf:")));
    }
}
