//! Documents in, passages out: find the files under the paths a user gives, read Markdown,
//! plain text and JSONL, and split them into articles and paragraphs with stable, readable ids
//! (`FILE/ARTICLE/PARAGRAPH`, 1-based), character spans and content hashes.

pub(crate) mod charset;
mod discover;
mod frontmatter;
mod html;
mod jsonl;
mod markdown;
mod pdf;
mod roff;
mod rst;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, FileProblem, Result};

/// One paragraph of an article, ready to embed and store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// `DOCUMENT/ARTICLE/PARAGRAPH`, e.g. `lemonde-ia-2025/3/12`.
    pub id: String,
    /// The document key (see [`SourceFile::key`]).
    pub document: String,
    /// 1-based article number within the document (for JSONL: the record's id or line).
    pub article: String,
    /// 1-based paragraph number within the article.
    pub paragraph: u32,
    /// The article's title.
    pub title: String,
    /// The headings above the passage under the article's title, `Section › Subsection`.
    pub section: Option<String>,
    /// The article's metadata: front matter keys, a JSONL record's other fields, a clipped
    /// page's URL (`title`, `date`, `lang`, `url`, `tags` and any other key).
    pub meta: Meta,
    /// Span of the paragraph in characters (Unicode scalar values), end exclusive: in the file
    /// for Markdown and text, in the record's `text` field for JSONL.
    pub span: (u64, u64),
    /// The paragraph as plain text: lines joined, Markdown link syntax and escapes removed.
    pub text: String,
    /// sha256 of what the model embeds ([`Passage::embedding_input`]), hex: a passage whose
    /// text, title or headings changed needs a new vector, one that only moved does not.
    pub hash: String,
}

/// Metadata of an article, by key.
pub type Meta = serde_json::Map<String, serde_json::Value>;

/// A file to index and the key its passages' ids start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path relative to the folder it was found in, without its extension, with `/`
    /// separators; a file named directly is keyed by its stem.
    pub key: String,
    pub format: Format,
}

/// How a file's text is split; over HTTP `markdown` (or `md`), `text` (or `txt`), `jsonl` and
/// `html` (or `htm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    #[serde(alias = "md")]
    Markdown,
    #[serde(alias = "txt")]
    Text,
    Jsonl,
    #[serde(alias = "htm")]
    Html,
    /// reStructuredText.
    Rst,
    /// A manual page (roff with the `man` macros).
    Man,
    /// PDF: the text of each page (read from files only; the HTTP API takes text).
    #[serde(skip_deserializing)]
    Pdf,
}

/// Every format with the name the HTTP API takes, its aliases there, and the file extensions
/// it is read from: the one list that the file walk, the messages, the help and the OpenAPI
/// document derive theirs from.
pub const FORMATS: &[(Format, &str, &[&str], &[&str])] = &[
    (Format::Markdown, "markdown", &["md"], &["md", "markdown"]),
    (Format::Text, "text", &["txt"], &["txt", "text"]),
    (Format::Jsonl, "jsonl", &[], &["jsonl", "ndjson"]),
    (Format::Html, "html", &["htm"], &["html", "htm", "xhtml"]),
    (Format::Rst, "rst", &[], &["rst", "rest"]),
    (Format::Man, "man", &[], &["man"]),
    (Format::Pdf, "pdf", &[], &["pdf"]),
];

/// Compressed files read through gzip: `NAME.EXT.gz` is read as `NAME.EXT` would be, a manual
/// page `ls.1.gz` (a section digit) as a man page, and anything else (`changelog.Debian.gz`,
/// `NEWS.gz`) as plain text. Archives (`.tar.gz`) are not read.
pub const COMPRESSED_EXTENSION: &str = "gz";

/// Inner extensions of `NAME.EXT.gz` files that are not prose (archives, PostScript, images,
/// data, source code): such files are counted as not read, not read as plain text. Met in
/// /usr/share/doc: `manual.ps.gz` and `all.json.gz` read as text gave one paragraph of over a
/// megabyte each; `refcard.dvi.gz` is binary.
const NOT_TEXT_INSIDE_GZ: &[&str] = &[
    "tar", "ps", "eps", "dvi", "json", "xml", "svg", "png", "jpg", "jpeg", "gif", "bmp", "ico",
    "el", "elc", "c", "h", "cc", "cpp", "py", "js", "css", "sh", "pl", "pm", "sql", "bin", "dat",
    "db", "ttf", "otf", "wasm", "zip", "bz2", "xz", "gz",
];

/// Files without an extension read as plain text, by name (any case): the documents a
/// project or a package ships beside its code. `NEWS.gz` was read and `NEWS` was not. Licence
/// texts (`copyright`, `COPYING`, `LICENSE`) and build files (`Makefile`) stay out.
pub const TEXT_NAMES: &[&str] = &[
    "readme",
    "news",
    "changes",
    "changelog",
    "history",
    "authors",
    "thanks",
    "todo",
    "install",
    "bugs",
    "faq",
    "contributing",
];

impl Format {
    /// The format of a file, by its extension, or for a file without one, by its name
    /// ([`TEXT_NAMES`]).
    pub fn of(path: &Path) -> Option<Format> {
        let Some(ext) = path.extension() else {
            let name = path.file_name()?.to_str()?.to_ascii_lowercase();
            return TEXT_NAMES.contains(&name.as_str()).then_some(Format::Text);
        };
        let ext = ext.to_str()?.to_ascii_lowercase();
        if ext == COMPRESSED_EXTENSION {
            let inner = Path::new(path.file_stem()?);
            let Some(inner) = inner.extension().and_then(|e| e.to_str()) else {
                return Some(Format::Text);
            };
            let inner = inner.to_ascii_lowercase();
            if NOT_TEXT_INSIDE_GZ.contains(&inner.as_str()) {
                return None;
            }
            // `ls.1.gz`, `CA.pl.1ssl.gz`: a manual section.
            if inner.starts_with(|c: char| ('1'..='9').contains(&c)) {
                return Some(Format::Man);
            }
            return Some(Self::by_extension(&inner).unwrap_or(Format::Text));
        }
        Self::by_extension(&ext)
    }

    fn by_extension(ext: &str) -> Option<Format> {
        FORMATS
            .iter()
            .find(|(_, _, _, exts)| exts.contains(&ext))
            .map(|(f, ..)| *f)
    }

    /// Every extension read, for messages: `.md, .markdown, …, .man and .gz`.
    pub fn extensions() -> String {
        let exts: Vec<String> = FORMATS
            .iter()
            .flat_map(|(_, _, _, e)| e.iter().map(|e| format!(".{e}")))
            .chain(std::iter::once(format!(".{COMPRESSED_EXTENSION}")))
            .collect();
        match exts.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => exts.concat(),
        }
    }

    /// The format's name (as the HTTP API takes it).
    pub fn name(self) -> &'static str {
        FORMATS
            .iter()
            .find(|(f, ..)| *f == self)
            .map_or("markdown", |(_, n, ..)| n)
    }

    /// The format a name (as the HTTP API takes it, aliases included) stands for.
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name.to_ascii_lowercase();
        FORMATS
            .iter()
            .find(|(f, n, aliases, _)| {
                f.is_text() && (*n == name || aliases.contains(&name.as_str()))
            })
            .map(|(f, ..)| *f)
    }

    /// Whether the format is text (else bytes: a PDF, read from files only).
    pub fn is_text(self) -> bool {
        self != Format::Pdf
    }

    /// Every name the HTTP API takes for a format, aliases included.
    pub fn api_names() -> Vec<&'static str> {
        FORMATS
            .iter()
            .filter(|(f, ..)| f.is_text())
            .flat_map(|(_, name, aliases, _)| std::iter::once(*name).chain(aliases.iter().copied()))
            .collect()
    }
}

/// The help of `index PATHS`: written out because clap's help must be a constant; a unit test
/// checks that it names every extension of [`FORMATS`].
pub const FILES_HELP: &str = "Markdown (.md, .markdown), text (.txt, .text), JSONL (.jsonl, .ndjson), HTML (.html, .htm, .xhtml), reStructuredText (.rst, .rest), manual page (.man, .1.gz …) or PDF (.pdf) files, any of them gzipped (.gz; changelog.gz is text), or folders searched recursively";

/// Nested lists (Markdown and HTML) indent at most this many levels; deeper items are written
/// at this indent, so that a list's text stays linear in its source.
pub(crate) const MAX_INDENT: usize = 8;

/// Longest heading or title kept, in characters: a heading is a line, and the context put in
/// front of every passage of its section. Cut at a word, with `…`.
pub const MAX_HEADING_CHARS: usize = 200;

/// Longest context (`title › section › subsection`) put in front of a passage, in characters.
/// The deepest real heading paths measured are under 200 (Debian Reference: 151); without a
/// bound, a 20 KB heading was embedded in front of each of its passages (40 windows of the
/// model each, 128 s for 20 passages, and 20 identical vectors).
pub const MAX_CONTEXT_CHARS: usize = 400;

/// `s` cut to at most `max` characters, at the last space before the cut when there is one,
/// with `…` appended when cut.
pub(crate) fn cap_chars(s: String, max: usize) -> String {
    use crate::util::text::prefix_chars;
    if prefix_chars(&s, max).len() == s.len() {
        return s;
    }
    let cut = prefix_chars(&s, max.saturating_sub(1));
    let head = match cut.rfind(' ') {
        Some(i) if i > cut.len() / 2 => &cut[..i],
        _ => cut,
    };
    format!("{}…", head.trim_end())
}

/// A heading or title within [`MAX_HEADING_CHARS`].
pub(crate) fn cap_heading(s: String) -> String {
    cap_chars(s, MAX_HEADING_CHARS)
}

/// The message of a passage over the passage limit, `at` saying where it starts.
pub(crate) fn too_long(at: &str, bytes: usize, max: usize) -> String {
    format!(
        "the paragraph at {at} has {bytes} bytes or more, over the limit of {max} per passage (--max-passage-bytes); break it into paragraphs with blank lines, or raise the limit"
    )
}

/// How much one file and one passage may hold. Past either, reading stops with an error that
/// names the file (and the line), before anything is embedded: a 50 MB paragraph would take
/// gigabytes to tokenise and minutes to embed, and is almost always a file that is not prose
/// (a minified page, a data dump) or has lost its line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Bytes of one file (`--max-file-bytes`).
    pub max_file_bytes: u64,
    /// Bytes of one passage's text (`--max-passage-bytes`).
    pub max_passage_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 256 << 20,
            max_passage_bytes: 1 << 20,
        }
    }
}

pub use discover::{
    discover, discover_all, discover_reporting, discover_selected, Discovery, Selection,
};

/// What a special file is, for messages.
fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    let _ = meta;
    "a special file"
}

/// The key of a document named by a user (an API request): `/`-separated parts, each cleaned
/// as file names are, empty parts dropped.
pub fn document_key(name: &str) -> String {
    name.split('/')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(clean_key)
        .collect::<Vec<_>>()
        .join("/")
}

/// Ids are read and typed by people: keep letters, digits, `-`, `_`, `.`; the rest becomes `-`.
fn clean_key(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Read a file and split it into passages.
pub fn read(file: &SourceFile, limits: &ReadLimits) -> Result<Vec<Passage>> {
    use std::io::Read;
    let cannot = |e| Error::io(format!("cannot read {}", file.path.display()), e);
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    // Opened without waiting: a FIFO put in the file's place after discovery must not block.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NONBLOCK);
    let f = opts.open(&file.path).map_err(cannot)?;
    let meta = f.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::file_problem(
            &file.path,
            FileProblem::NotRegular,
            format!("{}, not a regular file", special_kind(&meta)),
        ));
    }
    // `size`: what is known of the file's size when the limit is found to be passed.
    let too_big = |size: String| {
        Error::file_problem(
            &file.path,
            FileProblem::TooLarge,
            format!(
                "{size}, over the limit of {} bytes per file (--max-file-bytes); split the file or raise the limit",
                limits.max_file_bytes
            ),
        )
    };
    if meta.len() > limits.max_file_bytes {
        return Err(too_big(format!("{} bytes", meta.len())));
    }
    // Read no more than the limit even if the file grows meanwhile.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_big("grown while read".into()));
    }
    let compressed = file
        .path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(COMPRESSED_EXTENSION));
    if compressed {
        bytes = gunzip(&bytes, limits.max_file_bytes)
            .map_err(|(problem, m)| Error::file_problem(&file.path, problem, m))?;
    }
    if file.format == Format::Pdf {
        let pages = pdf::read_pdf(&bytes)
            .map_err(|e| Error::file_problem(&file.path, FileProblem::Content, e.to_string()))?;
        drop(bytes);
        let (text, raw) = pdf_articles(pages, limits.max_passage_bytes)
            .map_err(|m| Error::bad_file(&file.path, m))?;
        return passages_of(raw, &text, file, limits);
    }
    let (text, _charset) = charset::decode(&bytes, file.format)
        .map_err(|(problem, message)| Error::file_problem(&file.path, problem, message))?;
    drop(bytes);
    split(&text, file, limits)
}

/// The content of a gzip file, at most `max` bytes of it: a small file that inflates to
/// gigabytes (a "zip bomb") is refused once past the limit, not inflated whole.
fn gunzip(bytes: &[u8], max: u64) -> std::result::Result<Vec<u8>, (FileProblem, String)> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            (
                FileProblem::Binary,
                format!("not a readable gzip file ({e})"),
            )
        })?;
    if out.len() as u64 > max {
        return Err((
            FileProblem::TooLarge,
            format!(
                "decompresses to more than the limit of {max} bytes per file (--max-file-bytes)"
            ),
        ));
    }
    Ok(out)
}

/// Text of an article read to detect its language.
const LANG_SAMPLE_BYTES: usize = 4000;

/// Split a document's text into passages according to its format. A passage over
/// `limits.max_passage_bytes` is an error naming the file and the line it starts on.
pub fn split(text: &str, file: &SourceFile, limits: &ReadLimits) -> Result<Vec<Passage>> {
    // Each reader checks the passage limit while it builds a passage: a passage of quadratic
    // size (a list nested 40,000 deep) is refused before it is built, not after.
    let max = limits.max_passage_bytes;
    let raw = match file.format {
        Format::Markdown => markdown::articles(text, max),
        Format::Text => blocks(text, true, max).map(|paragraphs| {
            vec![RawArticle {
                paragraphs,
                ..RawArticle::default()
            }]
        }),
        Format::Jsonl => jsonl::articles(text, max),
        Format::Html => html::articles(text, max),
        Format::Rst => rst::articles(text, max),
        Format::Man => roff::articles(text, max),
        Format::Pdf => Err("a PDF is read from its file, not from text".to_string()),
    }
    .map_err(|m| Error::bad_file(&file.path, m))?;
    passages_of(raw, text, file, limits)
}

/// The pages of a PDF as articles, one per page (its id the page number, so that passage ids
/// say where they are: `manual/12/3` is the third paragraph of page 12), and the text their
/// spans point into (the paragraphs, a blank line between each).
fn pdf_articles(
    pages: Vec<pdf::PdfPage>,
    max: usize,
) -> std::result::Result<(String, Vec<RawArticle>), String> {
    let mut text = String::new();
    let mut raw = Vec::with_capacity(pages.len());
    for page in pages {
        let mut paragraphs = Vec::with_capacity(page.paragraphs.len());
        for p in page.paragraphs {
            if p.len() > max {
                return Err(too_long(
                    &format!("a paragraph of page {}", page.number),
                    p.len(),
                    max,
                ));
            }
            let start = text.len() as u64;
            text.push_str(&p);
            paragraphs.push(RawParagraph {
                span: (start, text.len() as u64),
                text: p,
                section: None,
            });
            text.push_str("\n\n");
        }
        raw.push(RawArticle {
            id: Some(page.number.to_string()),
            paragraphs,
            ..RawArticle::default()
        });
    }
    Ok((text, raw))
}

/// Passages of a document's articles: titles, languages, ids and limits (see [`split`]).
fn passages_of(
    raw: Vec<RawArticle>,
    text: &str,
    file: &SourceFile,
    limits: &ReadLimits,
) -> Result<Vec<Passage>> {
    let stem = || {
        file.path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let mut out = Vec::new();
    for (ai, mut art) in raw.into_iter().enumerate() {
        let article = art.id.unwrap_or_else(|| (ai + 1).to_string());
        let title = cap_heading(art.title.unwrap_or_else(stem));
        // An article that does not say its language gets the one its text is written in, so
        // that `--where lang=de` works on any collection.
        if !art.meta.contains_key("lang") {
            let mut sample = String::new();
            for p in &art.paragraphs {
                if sample.len() > LANG_SAMPLE_BYTES {
                    break;
                }
                sample.push_str(&p.text);
                sample.push('\n');
            }
            if let Some(l) = crate::language::detect(&sample) {
                art.meta.insert("lang".into(), l.into());
            }
        }
        let mut paragraph = 0u32;
        for p in art.paragraphs {
            if p.text.len() > limits.max_passage_bytes {
                let at = match file.format {
                    Format::Jsonl => format!("record '{article}'"),
                    Format::Html => format!("passage {paragraph} of the page"),
                    _ => format!("line {}", line_of(text, p.span.0)),
                };
                return Err(Error::bad_file(
                    &file.path,
                    too_long(&at, p.text.len(), limits.max_passage_bytes),
                ));
            }
            // A block longer than the model reads (a long table or list) is cut into passages
            // of at most PIECE_CHARS: as one passage its vector was the mean of its windows, a
            // generic "hub" that came first for a sixth of the cross-lingual questions on Debian
            // Reference. Each piece keeps the block's span.
            for text in pieces(&p.text, PIECE_CHARS) {
                paragraph += 1;
                let hash = hash(&embedding_input(&title, p.section.as_deref(), &text));
                out.push(Passage {
                    id: format!("{}/{}/{}", file.key, article, paragraph),
                    document: file.key.clone(),
                    article: article.clone(),
                    paragraph,
                    title: title.clone(),
                    section: p.section.clone(),
                    meta: art.meta.clone(),
                    span: p.span,
                    hash,
                    text,
                });
            }
        }
    }
    Ok(out)
}

/// Longest passage, in characters, before a block is cut: about 400 tokens of English or of a
/// table of figures for multilingual-e5's tokenizer, which leaves room for the title and headings
/// in its 512.
pub const PIECE_CHARS: usize = 1200;

/// `text` cut into pieces of at most `max` characters: at line ends when it has lines (table
/// rows, list items; a table's header row is repeated at the head of each piece), else at
/// sentence ends, else at spaces, and inside a word only when a word is longer than `max`.
pub fn pieces(text: &str, max: usize) -> Vec<String> {
    let len = |s: &str| s.chars().count();
    if len(text) <= max {
        return vec![text.to_string()];
    }
    let (units, sep): (Vec<&str>, &str) = if text.contains('\n') {
        (
            text.lines().filter(|l| !l.trim().is_empty()).collect(),
            "\n",
        )
    } else {
        (text.split_inclusive(['.', '!', '?']).collect(), "")
    };
    // A table (rows of `a | b`) keeps its header row on every piece.
    let header = (sep == "\n" && units.len() > 2 && units[0].contains(" | "))
        .then(|| units[0])
        .filter(|h| len(h) * 2 < max);
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_string());
        }
        cur.clear();
    };
    let start = |cur: &mut String| {
        if let Some(h) = header {
            cur.push_str(h);
        }
    };
    for (i, unit) in units.iter().enumerate() {
        if i == 0 && header.is_some() {
            start(&mut cur);
            continue;
        }
        // A unit too long alone: cut at spaces (or anywhere, for a giant word).
        let mut parts: Vec<String> = Vec::new();
        if len(unit) > max {
            let mut p = String::new();
            for w in unit.split_inclusive(' ') {
                if !p.is_empty() && len(&p) + len(w) > max {
                    parts.push(std::mem::take(&mut p));
                }
                if len(w) > max {
                    let chars: Vec<char> = w.chars().collect();
                    for c in chars.chunks(max) {
                        parts.push(c.iter().collect());
                    }
                } else {
                    p.push_str(w);
                }
            }
            if !p.is_empty() {
                parts.push(p);
            }
        } else {
            parts.push(unit.to_string());
        }
        for part in parts {
            let fresh = cur.is_empty() || header.is_some_and(|h| cur == h);
            if !fresh && len(&cur) + sep.len() + len(&part) > max {
                flush(&mut cur, &mut out);
                start(&mut cur);
            }
            if !cur.is_empty() {
                cur.push_str(sep);
            }
            cur.push_str(&part);
        }
    }
    if header.is_none_or(|h| cur != h) {
        flush(&mut cur, &mut out);
    }
    out
}

/// The 1-based line of the character at `char_offset`.
fn line_of(text: &str, char_offset: u64) -> usize {
    1 + text
        .chars()
        .take(char_offset as usize)
        .filter(|&c| c == '\n')
        .count()
}

/// What the model embeds for a passage of this title and heading path: `title › headings`, a
/// blank line, the text (the title alone where there is no heading). Chosen on cross-lingual
/// retrieval over Debian Reference and on the sample's questions against the text alone, the
/// title alone, the headings alone and the nearest heading (benches/RESULTS.md, "Retrieval
/// beyond the reference pipeline"). What is stored and shown is the text alone.
pub fn embedding_input(title: &str, section: Option<&str>, text: &str) -> String {
    let ctx = match section {
        Some(s) => format!("{title} › {s}"),
        None => title.to_string(),
    };
    // Readers cap each heading; a stored passage or a JSONL title may still carry more.
    let ctx = cap_chars(ctx, MAX_CONTEXT_CHARS);
    if ctx.trim().is_empty() {
        text.to_string()
    } else {
        format!("{ctx}\n\n{text}")
    }
}

impl Passage {
    /// What the model embeds for this passage.
    pub fn embedding_input(&self) -> String {
        embedding_input(&self.title, self.section.as_deref(), &self.text)
    }
}

pub fn hash(text: &str) -> String {
    crate::util::fs::hex(&Sha256::digest(text.as_bytes()))
}

/// An article as a splitter sees it.
#[derive(Debug, Default)]
pub(crate) struct RawArticle {
    pub id: Option<String>,
    pub title: Option<String>,
    pub paragraphs: Vec<RawParagraph>,
    pub meta: Meta,
}

#[derive(Debug)]
pub(crate) struct RawParagraph {
    pub text: String,
    pub span: (u64, u64),
    /// The heading path under the article's title.
    pub section: Option<String>,
}

/// Each article's title and passage texts, for the readers' tests.
#[cfg(test)]
pub(crate) fn outline(articles: &[RawArticle]) -> Vec<(Option<&str>, Vec<&str>)> {
    articles
        .iter()
        .map(|a| {
            let texts = a.paragraphs.iter().map(|p| p.text.as_str()).collect();
            (a.title.as_deref(), texts)
        })
        .collect()
}

/// The blocks of `text` with their character spans: runs of non-blank lines joined by spaces
/// (lines trimmed) when `join_lines`, each non-blank line alone otherwise.
/// A block growing past `max` bytes is an error naming its first line.
pub(crate) fn blocks(
    text: &str,
    join_lines: bool,
    max: usize,
) -> Result<Vec<RawParagraph>, String> {
    let mut out = Vec::new();
    let mut line_no = 0usize;
    let mut first_line = 0usize;
    let mut cur: Option<RawParagraph> = None;
    let mut pos = 0u64;
    for line in text.split('\n') {
        line_no += 1;
        let len = line.chars().count() as u64;
        let t = line.trim();
        if t.is_empty() {
            out.extend(cur.take());
        } else {
            let lead = line.chars().take_while(|c| c.is_whitespace()).count() as u64;
            let (start, end) = (pos + lead, pos + lead + t.chars().count() as u64);
            match &mut cur {
                Some(p) if join_lines => {
                    p.text.push(' ');
                    p.text.push_str(t);
                    p.span.1 = end;
                }
                _ => {
                    out.extend(cur.take());
                    first_line = line_no;
                    cur = Some(RawParagraph {
                        text: t.to_string(),
                        span: (start, end),
                        section: None,
                    });
                }
            }
            if let Some(p) = cur.as_ref().filter(|p| p.text.len() > max) {
                return Err(too_long(&format!("line {first_line}"), p.text.len(), max));
            }
        }
        pos += len + 1;
    }
    out.extend(cur);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formats' one list is what every place says: the help, the messages, the file walk
    /// and the HTTP API's names (the help and a message once left HTML out).
    #[test]
    fn every_place_names_every_format() {
        for (format, name, aliases, exts) in FORMATS {
            for e in *exts {
                assert!(FILES_HELP.contains(&format!(".{e}")), "help lacks .{e}");
                assert!(Format::extensions().contains(&format!(".{e}")));
                assert_eq!(
                    Format::of(Path::new(&format!("a/b.{}", e.to_uppercase()))),
                    Some(*format)
                );
            }
            if !format.is_text() {
                assert!(serde_json::from_value::<Format>(serde_json::json!(name)).is_err());
                assert!(!Format::api_names().contains(name));
                continue;
            }
            let api: Format = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(api, *format);
            for a in *aliases {
                let api: Format = serde_json::from_value(serde_json::json!(a)).unwrap();
                assert_eq!(api, *format);
            }
        }
        assert_eq!(Format::api_names().len(), 9);
        assert_eq!(Format::of(Path::new("x.pdf.gz")), Some(Format::Pdf));
        assert_eq!(Format::of(Path::new("x.ps.gz")), None);
        for (name, format) in [
            ("ls.1.gz", Some(Format::Man)),
            ("CA.pl.1ssl.gz", Some(Format::Man)),
            ("changelog.Debian.gz", Some(Format::Text)),
            ("NEWS.gz", Some(Format::Text)),
            ("README.rst.gz", Some(Format::Rst)),
            ("x.tar.gz", None),
            ("pkg/README", Some(Format::Text)),
            ("NEWS", Some(Format::Text)),
            ("pkg/copyright", None),
            ("Makefile", None),
        ] {
            assert_eq!(Format::of(Path::new(name)), format, "{name}");
        }
    }

    /// A small file that inflates past the file limit is refused once past it, not inflated
    /// whole (64 MB of zeros compress to 64 KB).
    #[test]
    fn gzip_inflates_at_most_the_file_limit() {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..64 {
            z.write_all(&vec![0u8; 1 << 20]).unwrap();
        }
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 1 << 17);
        let (problem, msg) = gunzip(&bomb, 1 << 20).unwrap_err();
        assert_eq!(problem, FileProblem::TooLarge, "{msg}");
        assert_eq!(gunzip(&bomb, 64 << 20).unwrap().len(), 64 << 20);
        let (problem, _) = gunzip(b"not gzip at all", 1 << 20).unwrap_err();
        assert_eq!(problem, FileProblem::Binary);
    }

    #[test]
    fn headings_and_context_are_cut_at_a_word() {
        let long = "Wort ".repeat(100);
        let h = cap_heading(long.trim().to_string());
        assert!(
            h.chars().count() <= MAX_HEADING_CHARS && h.ends_with("Wort…"),
            "{h}"
        );
        assert_eq!(cap_heading("Kurz".into()), "Kurz");
        let input = embedding_input(&long, Some(&long), "Text.");
        let (ctx, text) = input.split_once("\n\n").unwrap();
        assert!(ctx.chars().count() <= MAX_CONTEXT_CHARS && ctx.ends_with('…'));
        assert_eq!(text, "Text.");
        // What real contexts hold is unchanged (the stored hashes stay valid).
        assert_eq!(embedding_input("T", Some("S"), "x"), "T › S\n\nx");
    }

    fn md(text: &str) -> Vec<Passage> {
        let f = SourceFile {
            path: "x/notes.md".into(),
            key: "notes".into(),
            format: Format::Markdown,
        };
        split(text, &f, &ReadLimits::default()).unwrap()
    }

    #[test]
    fn sample_corpus_has_98_passages_in_5_articles() {
        let text = include_str!("../../../../tests/fixtures/lemonde-ia-2025.md");
        let p = md(text);
        assert_eq!(p.len(), 98);
        let mut articles: Vec<&str> = p.iter().map(|p| p.article.as_str()).collect();
        articles.dedup();
        assert_eq!(articles, ["1", "2", "3", "4", "5"]);
        assert!(p[0].title.starts_with("IA : avec l'annonce"));
        assert_eq!(p[0].id, "notes/1/1");
        // Section headings inside article 4 ("## Des IA qui raisonnent ?") do not start an article.
        assert!(p
            .iter()
            .filter(|p| p.article == "4")
            .all(|p| p.title == "Jusqu'où ira l'intelligence artificielle ?"));
        // Links lose their syntax, keep their words.
        let brookfield = p.iter().find(|p| p.text.contains("Brookfield")).unwrap();
        assert!(brookfield.text.starts_with(
            "Le fonds canadien Brookfield a, lui, promis 20 milliards d'euros injectés"
        ));
        // Spans point at the paragraph in the file, in characters.
        let chars: Vec<char> = text.chars().collect();
        for q in &p {
            let src: String = chars[q.span.0 as usize..q.span.1 as usize].iter().collect();
            let first = q.text.split_whitespace().next().unwrap();
            assert!(
                src.contains(first.trim_matches(|c: char| !c.is_alphanumeric())),
                "{}",
                q.id
            );
        }
    }

    #[test]
    fn paragraphs_match_the_reference_texts() {
        // The parity fixture's passages were split by scripts/make_references.py; ours must find
        // the same paragraphs (modulo the link syntax we remove).
        let text = include_str!("../../../../tests/fixtures/lemonde-ia-2025.md");
        let refs: serde_json::Value =
            serde_json::from_str(include_str!("../../../../tests/fixtures/parity/texts.json"))
                .unwrap();
        let refs = refs["passages"].as_array().unwrap();
        let ours = md(text);
        assert_eq!(refs.len(), ours.len());
        for (r, o) in refs.iter().zip(&ours) {
            assert_eq!(markdown::plain(r.as_str().unwrap()), o.text);
        }
    }

    #[test]
    fn plain_text_is_one_article_titled_by_the_file() {
        let f = SourceFile {
            path: "dir/memo.txt".into(),
            key: "memo".into(),
            format: Format::Text,
        };
        let text = "First para\ncontinues.\n\n\nSecond para.\n";
        let p = split(text, &f, &ReadLimits::default()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].text, "First para continues.");
        assert_eq!(p[1].id, "memo/1/2");
        assert_eq!(p[1].title, "memo");
        let (a, b) = p[1].span;
        let src: String = text
            .chars()
            .skip(a as usize)
            .take((b - a) as usize)
            .collect();
        assert_eq!(src, "Second para.");
    }

    #[test]
    fn keys_are_readable() {
        assert_eq!(clean_key("Le Monde: IA"), "Le-Monde--IA");
    }

    #[test]
    fn long_blocks_are_cut_at_lines_sentences_and_spaces() {
        let rows: Vec<String> = (0..60)
            .map(|i| format!("pkg{i} | V:{i} | tool number {i}"))
            .collect();
        let table = format!("package | popcon | description\n{}", rows.join("\n"));
        let ps = pieces(&table, 300);
        assert!(ps.len() > 4);
        for p in &ps {
            assert!(p.chars().count() <= 300, "{p}");
            assert!(p.starts_with("package | popcon | description\n"), "{p}");
        }
        // Every row once, in order.
        let back: Vec<&str> = ps.iter().flat_map(|p| p.lines().skip(1)).collect();
        assert_eq!(back, rows.iter().map(String::as_str).collect::<Vec<_>>());

        let prose = "Une phrase assez longue pour compter. ".repeat(40);
        let ps = pieces(prose.trim(), 200);
        assert!(ps
            .iter()
            .all(|p| p.chars().count() <= 200 && p.ends_with('.')));
        assert_eq!(ps.join(" "), prose.trim());
        let word = "x".repeat(450);
        assert_eq!(
            pieces(&word, 200)
                .iter()
                .map(|p| p.len())
                .collect::<Vec<_>>(),
            [200, 200, 50]
        );
        assert_eq!(pieces("court", 200), ["court"]);
    }

    /// Arbitrary input to every reader: no panic, no passage that breaks the invariants the
    /// store and the reports rely on, and the passage bound holds. Deterministic (a fixed
    /// seed), a bounded number of cases: a property test in the suite, not a fuzzing campaign.
    #[test]
    fn readers_survive_arbitrary_input() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

        // Fragments of the syntax the readers look for, mixed with any characters.
        let fragment = prop_oneof![
            prop::sample::select(vec![
                "# ",
                "## ",
                "### ",
                "\n",
                "\n\n",
                "\r\n",
                "---\n",
                "title: T\n",
                "[a](b)",
                "![i](s)",
                "`",
                "```\n",
                "*",
                "_",
                "|",
                "- ",
                "1. ",
                "> ",
                "<b>",
                "<p>",
                "</div>",
                "<nav>",
                "<ul><li>",
                "<table><tr><td>",
                "&amp;",
                "\\",
                "\u{0}",
                "{\"id\": 1, \"text\": \"x\"}\n",
                "{\"text\": [1]}\n",
                "{",
                "\"",
                "é",
                "日本",
                "\u{200b}",
                "\t",
                "  ",
            ])
            .prop_map(str::to_string),
            any::<String>(),
        ];
        let text = prop::collection::vec(fragment, 0..40).prop_map(|v| v.concat());
        let format = prop::sample::select(vec![
            Format::Markdown,
            Format::Text,
            Format::Jsonl,
            Format::Html,
        ]);
        let limit = prop::sample::select(vec![16usize, 64, 1 << 20]);
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 512,
                ..Config::default()
            },
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        runner
            .run(&(text, format, limit), |(text, format, max)| {
                let f = SourceFile {
                    path: "x/doc.md".into(),
                    key: "doc".into(),
                    format,
                };
                let limits = ReadLimits {
                    max_file_bytes: 1 << 20,
                    max_passage_bytes: max,
                };
                match split(&text, &f, &limits) {
                    Err(Error::BadFile { .. }) => {}
                    Err(e) => panic!("unexpected error kind: {e}"),
                    Ok(ps) => {
                        let chars = text.chars().count() as u64;
                        let mut ids = std::collections::HashSet::new();
                        for p in &ps {
                            prop_assert!(!p.text.trim().is_empty(), "empty passage {:?}", p);
                            prop_assert!(p.text.len() <= max);
                            prop_assert!(ids.insert(p.id.clone()), "id twice: {}", p.id);
                            prop_assert_eq!(&p.hash, &hash(&p.embedding_input()));
                            if format != Format::Jsonl {
                                prop_assert!(p.span.0 <= p.span.1 && p.span.1 <= chars);
                            }
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}
