//! PDF bytes → paragraphs of text per page, for the semantic-search indexer.
//!
//! Parsing (xref, object streams, filters, decryption with an empty password, font encodings and
//! ToUnicode CMaps) is `lopdf`'s. Its own `Document::extract_text` throws every position away,
//! though, and positions are what tell a line break from a word gap and a paragraph break from a
//! line break. So this module walks each page's content stream itself, tracks the text and
//! graphics matrices, and records every line with its baseline, left and right edges and font
//! size. Plain heuristics on that geometry then:
//!
//! * drop running headers and footers: a page's top or bottom line that recurs at the same
//!   height, digits masked, on at least 60% of the pages of a document of 3 or more; a running
//!   head that changes with the chapter; a line carrying the printed page number; a bare one;
//! * rejoin lines into paragraphs: a line break becomes a space, `docu-` + `ment` becomes
//!   `document`, and a paragraph ends at an unusually large vertical gap, a change of font size,
//!   a bullet, a column jump, or a short line ending a sentence.
//!
//! Everything that reads the file runs under `catch_unwind`, and every stream is inflated within
//! a fixed bound, so a hostile or broken file yields a [`PdfError`] rather than a panic or a
//! decompression bomb. The caller still owns the other bounds: how large a file it reads into
//! memory, and how long it lets one file take.

use std::collections::HashMap;
use std::fmt;
use std::panic;
use std::rc::Rc;

use lopdf::content::{Content, Operation};
use lopdf::{DecompressError, Dictionary, Document, Encoding, LoadOptions, Object, ObjectId};

/// Bound on what any one stream may inflate to while the file loads (object and xref streams),
/// and on the decoded content of one page, Form XObjects included. Real pages need well under
/// 1 MiB; the bound keeps a few KiB of crafted Flate data from inflating to gigabytes.
const MAX_DECODED_BYTES: usize = 64 << 20;
/// Form XObjects may nest, and may name each other in a cycle.
const MAX_FORM_DEPTH: usize = 8;
/// A page that draws one small form a million times would otherwise decode it a million times.
const MAX_FORM_CALLS: usize = 2_000;
/// Deeper `q` saves are ignored so a hostile stream cannot grow the state stack without bound.
const MAX_STATE_DEPTH: usize = 256;
/// Bound on an embedded Type 1 font program, decoded only to read its built-in encoding.
const MAX_FONT_BYTES: usize = 8 << 20;
/// Readers accept junk before `%PDF-`; real files keep it within the first KiB.
const HEADER_WINDOW: usize = 1024;
/// Share of pages on which an edge line must recur to count as a running header or footer.
const REPEAT_FRACTION: f32 = 0.6;
/// Documents shorter than this have too few pages to tell a running line from content.
const REPEAT_MIN_PAGES: usize = 3;

/// One page's text: `number` is the 1-based page index in the document. Pages that end up with
/// no text (blank, image-only, or only a header and footer) are left out of [`read_pdf`]'s result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfPage {
    pub number: usize,
    pub paragraphs: Vec<String>,
}

/// Why a PDF gave no text. `Display` is one lowercase line that reads after a file name
/// ("report.pdf: holds no text layer …") and says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdfError {
    /// No `%PDF-` header: some other kind of file.
    NotPdf,
    /// Encrypted with a password other than the empty one.
    Encrypted,
    /// Structurally broken, hostile, or using something lopdf cannot read.
    Damaged(String),
    /// Parsed fine, but no page holds any text.
    NoText,
}

impl fmt::Display for PdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPdf => f.write_str(
                "is not a PDF (no %PDF- header in its first KiB): check that the file really is a PDF",
            ),
            Self::Encrypted => f.write_str(
                "is encrypted with a password: decrypt it first (e.g. qpdf --decrypt --password=PW in.pdf out.pdf)",
            ),
            Self::Damaged(why) => write!(
                f,
                "is damaged or unsupported ({why}): repair or re-save it (e.g. qpdf in.pdf out.pdf) and retry"
            ),
            Self::NoText => f.write_str(
                "holds no text layer (a scanned PDF?): run OCR first (e.g. ocrmypdf in.pdf out.pdf)",
            ),
        }
    }
}

impl std::error::Error for PdfError {}

/// Extract the text of every page as paragraphs, headers and footers removed.
///
/// Pages without text are omitted; a document in which no page has text is [`PdfError::NoText`].
pub fn read_pdf(bytes: &[u8]) -> Result<Vec<PdfPage>, PdfError> {
    let window = &bytes[..bytes.len().min(HEADER_WINDOW)];
    if !window.windows(5).any(|w| w == b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    // lopdf parses attacker-controlled bytes with plenty of slicing, arithmetic and `unwrap`s on
    // paths nobody fuzzed; one bad file must cost that file, not the whole indexing run (or a
    // worker thread that dies holding a lock). Nothing shared is mutated inside: the closure only
    // reads `bytes` (so it is `UnwindSafe` without an assertion) and builds fresh values.
    // Limits: the default panic hook still prints the message to stderr (the hook is the
    // process's to set, not this module's), and a stack overflow or allocation failure aborts
    // rather than unwinds; the size bounds above exist to make the latter unreachable.
    let pages = panic::catch_unwind(|| extract_lines(bytes)).map_err(|payload| {
        PdfError::Damaged(format!("the PDF parser crashed: {}", panic_text(&*payload)))
    })??;

    let pages = assemble(pages);
    if pages.is_empty() {
        return Err(PdfError::NoText);
    }
    Ok(pages)
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

fn bomb_error() -> PdfError {
    PdfError::Damaged(format!(
        "a stream inflates past {} MiB, which looks like a decompression bomb",
        MAX_DECODED_BYTES >> 20
    ))
}

fn map_load_error(err: lopdf::Error) -> PdfError {
    match err {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => PdfError::Encrypted,
        lopdf::Error::Unimplemented(what) if what.contains("encrypted") => PdfError::Encrypted,
        lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => bomb_error(),
        // lopdf's "missing feature" errors go on to ask for a bug report: keep the first clause.
        other => PdfError::Damaged(
            other
                .to_string()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Content-stream walk: bytes → positioned lines per page.

/// One line of text as laid out on the page, in default user space (points, y upwards).
#[derive(Debug, Clone, PartialEq)]
struct Line {
    text: String,
    /// Baseline of the line's first piece of text.
    y: f32,
    x0: f32,
    x1: f32,
    /// Largest font size on the line, in user-space units.
    size: f32,
}

fn extract_lines(bytes: &[u8]) -> Result<Vec<Vec<Line>>, PdfError> {
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_DECODED_BYTES),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(map_load_error)?;
    // With no usable password lopdf loads an encrypted file anyway, leaving every string and
    // stream ciphertext; `was_encrypted` says whether it managed to decrypt.
    if doc.trailer.has(b"Encrypt") && !doc.was_encrypted() {
        return Err(PdfError::Encrypted);
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(PdfError::Damaged("no pages found".into()));
    }
    let mut out = Vec::with_capacity(pages.len());
    let mut failures = 0;
    let mut first_failure = None;
    let mut builtins = BuiltinCache::new();
    for &page_id in pages.values() {
        match page_lines(&doc, page_id, &mut builtins) {
            Ok(lines) => out.push(lines),
            // A bomb is hostile: refuse the file rather than index what surrounds it.
            Err(WalkError::TooBig) => return Err(bomb_error()),
            // One unreadable page should not cost the rest of the document.
            Err(WalkError::Pdf(err)) => {
                failures += 1;
                first_failure.get_or_insert(err);
                out.push(Vec::new());
            }
        }
    }
    if failures == pages.len() {
        let why = first_failure.map_or_else(|| "no readable page".to_string(), |e| e.to_string());
        return Err(PdfError::Damaged(why));
    }
    Ok(out)
}

enum WalkError {
    TooBig,
    Pdf(lopdf::Error),
}

impl From<lopdf::Error> for WalkError {
    fn from(err: lopdf::Error) -> Self {
        match err {
            lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => Self::TooBig,
            other => Self::Pdf(other),
        }
    }
}

fn page_lines(
    doc: &Document,
    page_id: ObjectId,
    builtins: &mut BuiltinCache,
) -> Result<Vec<Line>, WalkError> {
    let font_dicts: Vec<(Vec<u8>, Dictionary)> = doc
        .get_page_fonts(page_id)?
        .into_iter()
        .map(|(name, dict)| (name, prefer_to_unicode(dict)))
        .collect();
    let fonts = load_fonts(doc, &font_dicts, builtins)?;
    let xobjects = page_xobjects(doc, page_id);
    let content = doc.get_page_content_with_limit(page_id, MAX_DECODED_BYTES)?;
    let mut walker = Walker::new(MAX_DECODED_BYTES.saturating_sub(content.len()), builtins);
    walker.run(doc, &content, &fonts, &xobjects, 0)?;
    Ok(walker.finish())
}

/// A copy of a font dictionary without `/Encoding` when it has a `/ToUnicode` CMap. lopdf
/// consults `/Encoding` first, but ToUnicode is the mapping the spec defines for extracting
/// text, and it survives glyph names lopdf does not know (which make it fall back to
/// StandardEncoding for the whole font).
fn prefer_to_unicode(dict: &Dictionary) -> Dictionary {
    let mut dict = dict.clone();
    if dict.has(b"ToUnicode") {
        dict.remove(b"Encoding");
    }
    dict
}

/// What the walker needs of a font: how to turn codes into text and how far each glyph advances.
struct Font<'a> {
    encoding: Option<Encoding<'a>>,
    /// Per-code text that overrides `encoding` in simple fonts without a ToUnicode CMap: from
    /// the embedded font program's built-in encoding and from `/Differences`, for the glyph
    /// names [`glyph_text`] knows. lopdf reads neither built-in encodings (so classic LaTeX
    /// fonts lose "fi", "“", "–") nor a `/Differences` holding one glyph name it does not know.
    overrides: Option<Rc<Overrides>>,
    /// Type0 (composite) fonts use two-byte codes (true of Identity-H, by far the usual CMap).
    two_byte: bool,
    widths: Widths,
    /// Glyph-space to text-space factor: 1/1000, except for Type3 fonts (their FontMatrix).
    scale: f32,
}

enum Widths {
    Simple {
        first: u32,
        widths: Vec<f32>,
        missing: f32,
    },
    /// CID font `/W` entries as sorted, inclusive code ranges.
    Cid {
        default: f32,
        ranges: Vec<(u32, u32, f32)>,
    },
}

impl Widths {
    fn get(&self, code: u32) -> f32 {
        match self {
            Self::Simple {
                first,
                widths,
                missing,
            } => code
                .checked_sub(*first)
                .and_then(|i| widths.get(i as usize))
                .copied()
                .unwrap_or(*missing),
            Self::Cid { default, ranges } => {
                let i = ranges.partition_point(|&(start, _, _)| start <= code);
                match i.checked_sub(1).map(|i| ranges[i]) {
                    Some((_, end, w)) if code <= end => w,
                    _ => *default,
                }
            }
        }
    }
}

fn number(obj: &Object) -> Option<f32> {
    obj.as_float().ok().filter(|v| v.is_finite())
}

fn deref<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Object> {
    doc.dereference(obj).ok().map(|(_, obj)| obj)
}

fn load_fonts<'a>(
    doc: &'a Document,
    dicts: &'a [(Vec<u8>, Dictionary)],
    builtins: &mut BuiltinCache,
) -> Result<HashMap<&'a [u8], Font<'a>>, WalkError> {
    let mut fonts = HashMap::with_capacity(dicts.len());
    for (name, dict) in dicts {
        let encoding = match dict.get_font_encoding_with_limit(doc, MAX_DECODED_BYTES) {
            Ok(encoding) => Some(encoding),
            Err(err) => match WalkError::from(err) {
                WalkError::TooBig => return Err(WalkError::TooBig),
                WalkError::Pdf(_) => None,
            },
        };
        let subtype = dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let two_byte = subtype == b"Type0";
        let scale = if subtype == b"Type3" {
            dict.get(b"FontMatrix")
                .ok()
                .and_then(|m| deref(doc, m))
                .and_then(|m| m.as_array().ok())
                .and_then(|m| m.first())
                .and_then(number)
                .unwrap_or(0.001)
        } else {
            0.001
        };
        let widths = if two_byte {
            cid_widths(doc, dict)
        } else {
            simple_widths(doc, dict)
        };
        let overrides = if two_byte || dict.has(b"ToUnicode") {
            None
        } else {
            overrides(doc, dict, builtins)
        };
        fonts.insert(
            name.as_slice(),
            Font {
                encoding,
                overrides,
                two_byte,
                widths,
                scale,
            },
        );
    }
    Ok(fonts)
}

fn simple_widths(doc: &Document, font: &Dictionary) -> Widths {
    let first = font
        .get(b"FirstChar")
        .ok()
        .and_then(number)
        .map_or(0, |v| v.clamp(0.0, 255.0) as u32);
    let widths = font
        .get(b"Widths")
        .ok()
        .and_then(|w| deref(doc, w))
        .and_then(|w| w.as_array().ok())
        .map(|w| {
            w.iter()
                .take(256)
                .map(|v| deref(doc, v).and_then(number).unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    let missing = font
        .get(b"FontDescriptor")
        .ok()
        .and_then(|d| deref(doc, d))
        .and_then(|d| d.as_dict().ok())
        .and_then(|d| d.get(b"MissingWidth").ok())
        .and_then(number)
        .filter(|&w| w > 0.0)
        // The standard 14 fonts come without /Widths; half an em is a fair average advance.
        .unwrap_or(500.0);
    Widths::Simple {
        first,
        widths,
        missing,
    }
}

fn cid_widths(doc: &Document, font: &Dictionary) -> Widths {
    let descendant = font
        .get(b"DescendantFonts")
        .ok()
        .and_then(|d| deref(doc, d))
        .and_then(|d| d.as_array().ok())
        .and_then(|d| d.first())
        .and_then(|d| deref(doc, d))
        .and_then(|d| d.as_dict().ok());
    let Some(descendant) = descendant else {
        return Widths::Cid {
            default: 1000.0,
            ranges: Vec::new(),
        };
    };
    let default = descendant
        .get(b"DW")
        .ok()
        .and_then(number)
        .unwrap_or(1000.0);
    let mut ranges = Vec::new();
    let items = descendant
        .get(b"W")
        .ok()
        .and_then(|w| deref(doc, w))
        .and_then(|w| w.as_array().ok())
        .map_or(&[][..], Vec::as_slice);
    // `/W` mixes `c [w1 w2 …]` and `c_first c_last w`; ranges stay ranges so a hostile
    // `0 4294967295 500` costs one entry, not four billion.
    let mut i = 0;
    while i < items.len() {
        let Some(start) = number(&items[i]).map(|v| v.max(0.0) as u32) else {
            break;
        };
        match items.get(i + 1).and_then(|o| deref(doc, o)) {
            Some(Object::Array(list)) => {
                for (k, w) in list.iter().enumerate() {
                    let code = start.saturating_add(k as u32);
                    ranges.push((code, code, number(w).unwrap_or(default)));
                }
                i += 2;
            }
            Some(end) => {
                let (Some(end), Some(w)) = (number(end), items.get(i + 2).and_then(number)) else {
                    break;
                };
                ranges.push((start, end.max(0.0) as u32, w));
                i += 3;
            }
            None => break,
        }
    }
    ranges.sort_by_key(|&(start, _, _)| start);
    Widths::Cid { default, ranges }
}

type Overrides = [Option<&'static str>; 256];

/// Built-in encodings already read, by font program: fonts are shared by many pages.
type BuiltinCache = HashMap<ObjectId, Option<Rc<Overrides>>>;

fn overrides(
    doc: &Document,
    font: &Dictionary,
    builtins: &mut BuiltinCache,
) -> Option<Rc<Overrides>> {
    let encoding = font.get(b"Encoding").ok().and_then(|e| deref(doc, e));
    let encoding_dict = encoding.and_then(|e| e.as_dict().ok());
    // The font program's own encoding is the base unless the font names a standard one.
    let uses_builtin = match encoding {
        None => true,
        Some(_) => encoding_dict.is_some_and(|d| !d.has(b"BaseEncoding")),
    };
    let base = if uses_builtin {
        builtin_encoding(doc, font, builtins)
    } else {
        None
    };
    let differences = encoding_dict
        .and_then(|d| d.get(b"Differences").ok())
        .and_then(|d| deref(doc, d))
        .and_then(|d| d.as_array().ok());
    let Some(differences) = differences else {
        return base;
    };

    let mut table = base.as_deref().copied().unwrap_or([None; 256]);
    let mut code = 0usize;
    for item in differences {
        match item {
            Object::Integer(n) => code = usize::try_from(*n).unwrap_or(usize::MAX),
            Object::Name(name) => {
                if let Some(slot) = table.get_mut(code) {
                    *slot = glyph_text(name);
                }
                code = code.saturating_add(1);
            }
            _ => {}
        }
    }
    Some(Rc::new(table))
}

/// The encoding built into an embedded Type 1 font program (`/FontFile`): its cleartext part
/// holds `/Encoding 256 array … dup 12 /fi put … readonly def`.
fn builtin_encoding(
    doc: &Document,
    font: &Dictionary,
    cache: &mut BuiltinCache,
) -> Option<Rc<Overrides>> {
    let file_id = font
        .get(b"FontDescriptor")
        .ok()
        .and_then(|d| deref(doc, d))
        .and_then(|d| d.as_dict().ok())?
        .get(b"FontFile")
        .ok()?
        .as_reference()
        .ok()?;
    cache
        .entry(file_id)
        .or_insert_with(|| {
            let stream = doc.get_object(file_id).ok()?.as_stream().ok()?;
            let program = stream
                .decompressed_content_with_limit(MAX_FONT_BYTES)
                .ok()?;
            let clear_len = stream
                .dict
                .get(b"Length1")
                .ok()
                .and_then(number)
                .map_or(program.len(), |n| n.max(0.0) as usize);
            parse_builtin_encoding(&program[..clear_len.min(program.len())]).map(Rc::new)
        })
        .clone()
}

fn parse_builtin_encoding(clear_text: &[u8]) -> Option<Overrides> {
    let start = clear_text.windows(9).position(|w| w == b"/Encoding")? + 9;
    let mut tokens = clear_text[start..]
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty());
    let mut table = [None; 256];
    let mut any = false;
    while let Some(token) = tokens.next() {
        match token {
            b"StandardEncoding" => return None,
            b"def" | b"readonly" => break,
            b"dup" => {
                let code = tokens
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.parse::<u8>().ok());
                let name = tokens.next().and_then(|t| t.strip_prefix(b"/"));
                if let (Some(code), Some(name)) = (code, name) {
                    table[usize::from(code)] = glyph_text(name);
                    any = true;
                }
            }
            _ => {}
        }
    }
    any.then_some(table)
}

/// Unicode text for a glyph name: `uniXXXX`/`uXXXX` names, single letters, and the names
/// that Latin text set in TeX and Type 1 fonts uses. `None` leaves the code to lopdf.
fn glyph_text(name: &[u8]) -> Option<&'static str> {
    /// The names of U+00C0..=U+00FF, in order.
    const LATIN1_NAMES: &str = "Agrave Aacute Acircumflex Atilde Adieresis Aring AE Ccedilla \
        Egrave Eacute Ecircumflex Edieresis Igrave Iacute Icircumflex Idieresis Eth Ntilde Ograve \
        Oacute Ocircumflex Otilde Odieresis multiply Oslash Ugrave Uacute Ucircumflex Udieresis \
        Yacute Thorn germandbls agrave aacute acircumflex atilde adieresis aring ae ccedilla \
        egrave eacute ecircumflex edieresis igrave iacute icircumflex idieresis eth ntilde ograve \
        oacute ocircumflex otilde odieresis divide oslash ugrave uacute ucircumflex udieresis \
        yacute thorn ydieresis";
    const LATIN1: &str = "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ";
    const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    #[rustfmt::skip]
    const OTHER: &[(&str, &str)] = &[
        ("space", " "), ("exclam", "!"), ("quotedbl", "\""), ("numbersign", "#"), ("dollar", "$"),
        ("percent", "%"), ("ampersand", "&"), ("quotesingle", "'"), ("parenleft", "("),
        ("parenright", ")"), ("asterisk", "*"), ("plus", "+"), ("comma", ","), ("hyphen", "-"),
        ("period", "."), ("slash", "/"), ("zero", "0"), ("one", "1"), ("two", "2"), ("three", "3"),
        ("four", "4"), ("five", "5"), ("six", "6"), ("seven", "7"), ("eight", "8"), ("nine", "9"),
        ("colon", ":"), ("semicolon", ";"), ("less", "<"), ("equal", "="), ("greater", ">"),
        ("question", "?"), ("at", "@"), ("bracketleft", "["), ("backslash", "\\"),
        ("bracketright", "]"), ("asciicircum", "^"), ("underscore", "_"), ("grave", "`"),
        ("braceleft", "{"), ("bar", "|"), ("braceright", "}"), ("asciitilde", "~"),
        ("ff", "ff"), ("fi", "fi"), ("fl", "fl"), ("ffi", "ffi"), ("ffl", "ffl"),
        ("quoteleft", "‘"), ("quoteright", "’"), ("quotedblleft", "“"), ("quotedblright", "”"),
        ("quotesinglbase", "‚"), ("quotedblbase", "„"), ("guillemotleft", "«"),
        ("guillemotright", "»"), ("endash", "–"), ("emdash", "—"), ("minus", "−"),
        ("bullet", "•"), ("periodcentered", "·"), ("ellipsis", "…"), ("dagger", "†"),
        ("daggerdbl", "‡"), ("section", "§"), ("paragraph", "¶"), ("copyright", "©"),
        ("registered", "®"), ("trademark", "™"), ("degree", "°"), ("exclamdown", "¡"),
        ("questiondown", "¿"), ("visiblespace", "␣"), ("oe", "œ"), ("OE", "Œ"),
        ("dotlessi", "ı"), ("dotlessj", "ȷ"), ("lslash", "ł"), ("Lslash", "Ł"),
        ("plusminus", "±"), ("lessequal", "≤"), ("greaterequal", "≥"), ("notequal", "≠"),
        ("infinity", "∞"), ("element", "∈"), ("arrowright", "→"), ("arrowleft", "←"),
        ("Gamma", "Γ"), ("Delta", "Δ"), ("Theta", "Θ"), ("Lambda", "Λ"), ("Xi", "Ξ"), ("Pi", "Π"),
        ("Sigma", "Σ"), ("Upsilon", "Υ"), ("Phi", "Φ"), ("Psi", "Ψ"), ("Omega", "Ω"),
        ("alpha", "α"), ("beta", "β"), ("gamma", "γ"), ("delta", "δ"), ("epsilon", "ε"),
        ("zeta", "ζ"), ("eta", "η"), ("theta", "θ"), ("iota", "ι"), ("kappa", "κ"),
        ("lambda", "λ"), ("mu", "μ"), ("nu", "ν"), ("xi", "ξ"), ("pi", "π"), ("rho", "ρ"),
        ("sigma", "σ"), ("tau", "τ"), ("upsilon", "υ"), ("phi", "φ"), ("chi", "χ"),
        ("psi", "ψ"), ("omega", "ω"), ("asteriskmath", "∗"),
    ];

    let name = std::str::from_utf8(name).ok()?;
    if name.len() == 1 {
        let i = LETTERS.find(name)?;
        return Some(&LETTERS[i..=i]);
    }
    if let Some(i) = LATIN1_NAMES.split_whitespace().position(|n| n == name) {
        // Every character of LATIN1 is two bytes long in UTF-8.
        return LATIN1.get(2 * i..2 * i + 2);
    }
    OTHER
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// Named XObjects reachable from a page's resources, nearest definition first.
fn page_xobjects(doc: &Document, page_id: ObjectId) -> HashMap<Vec<u8>, ObjectId> {
    let mut map = HashMap::new();
    if let Ok((own, inherited)) = doc.get_page_resources(page_id) {
        let inherited = inherited
            .into_iter()
            .filter_map(|id| doc.get_dictionary(id).ok());
        for resources in own.into_iter().chain(inherited) {
            add_xobjects(doc, resources, &mut map);
        }
    }
    map
}

fn add_xobjects(doc: &Document, resources: &Dictionary, map: &mut HashMap<Vec<u8>, ObjectId>) {
    let Some(dict) = resources
        .get(b"XObject")
        .ok()
        .and_then(|x| deref(doc, x))
        .and_then(|x| x.as_dict().ok())
    else {
        return;
    };
    for (name, obj) in dict.iter() {
        if let Ok(id) = obj.as_reference() {
            map.entry(name.clone()).or_insert(id);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix([f32; 6]);

impl Matrix {
    const IDENTITY: Self = Self([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    fn translate(tx: f32, ty: f32) -> Self {
        Self([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    fn from_operands(operands: &[Object]) -> Option<Self> {
        let mut m = [0.0; 6];
        if operands.len() < 6 {
            return None;
        }
        for (slot, obj) in m.iter_mut().zip(operands) {
            *slot = number(obj)?;
        }
        Some(Self(m))
    }

    /// `self` applied first, then `then` (PDF's row-vector convention).
    fn then(self, then: Self) -> Self {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = then.0;
        Self([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn apply(self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.0;
        (x * a + y * c + e, x * b + y * d + f)
    }
}

/// The parts of the graphics state that affect where text lands (`q`/`Q` save and restore them).
#[derive(Debug, Clone)]
struct State {
    ctm: Matrix,
    char_space: f32,
    word_space: f32,
    h_scale: f32,
    leading: f32,
    rise: f32,
    font: Option<Vec<u8>>,
    size: f32,
}

impl Default for State {
    fn default() -> Self {
        Self {
            ctm: Matrix::IDENTITY,
            char_space: 0.0,
            word_space: 0.0,
            h_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            font: None,
            size: 0.0,
        }
    }
}

struct Walker<'c> {
    builtins: &'c mut BuiltinCache,
    state: State,
    saved: Vec<State>,
    tm: Matrix,
    tlm: Matrix,
    lines: Vec<Line>,
    current: Option<Line>,
    /// Decoded bytes still allowed for Form XObjects on this page.
    budget: usize,
    form_calls: usize,
}

type Fonts<'a> = HashMap<&'a [u8], Font<'a>>;

impl<'c> Walker<'c> {
    fn new(budget: usize, builtins: &'c mut BuiltinCache) -> Self {
        Self {
            builtins,
            state: State::default(),
            saved: Vec::new(),
            tm: Matrix::IDENTITY,
            tlm: Matrix::IDENTITY,
            lines: Vec::new(),
            current: None,
            budget,
            form_calls: 0,
        }
    }

    fn run(
        &mut self,
        doc: &Document,
        content: &[u8],
        fonts: &Fonts<'_>,
        xobjects: &HashMap<Vec<u8>, ObjectId>,
        depth: usize,
    ) -> Result<(), WalkError> {
        // Operations one at a time: collecting a 64 MiB stream first would cost several times
        // that in `Operation`s. A syntax error ends the stream, keeping the text before it.
        for op in Content::decode_iter(content) {
            let Ok(op) = op else { break };
            self.op(doc, &op, fonts, xobjects, depth)?;
        }
        Ok(())
    }

    fn op(
        &mut self,
        doc: &Document,
        op: &Operation,
        fonts: &Fonts<'_>,
        xobjects: &HashMap<Vec<u8>, ObjectId>,
        depth: usize,
    ) -> Result<(), WalkError> {
        let operands = op.operands.as_slice();
        let num = |i: usize| operands.get(i).and_then(number);
        match op.operator.as_str() {
            "q" if self.saved.len() < MAX_STATE_DEPTH => self.saved.push(self.state.clone()),
            "Q" => {
                if let Some(state) = self.saved.pop() {
                    self.state = state;
                }
            }
            "cm" => {
                if let Some(m) = Matrix::from_operands(operands) {
                    self.state.ctm = m.then(self.state.ctm);
                }
            }
            "BT" => {
                self.tm = Matrix::IDENTITY;
                self.tlm = Matrix::IDENTITY;
            }
            "Tf" => {
                if let Some(name) = operands.first().and_then(|o| o.as_name().ok()) {
                    self.state.font = Some(name.to_vec());
                }
                if let Some(size) = num(1) {
                    self.state.size = size;
                }
            }
            "Tc" => self.state.char_space = num(0).unwrap_or(0.0),
            "Tw" => self.state.word_space = num(0).unwrap_or(0.0),
            "Tz" => self.state.h_scale = num(0).unwrap_or(100.0) / 100.0,
            "TL" => self.state.leading = num(0).unwrap_or(0.0),
            "Ts" => self.state.rise = num(0).unwrap_or(0.0),
            "Td" => self.next_line(num(0).unwrap_or(0.0), num(1).unwrap_or(0.0)),
            "TD" => {
                let ty = num(1).unwrap_or(0.0);
                self.state.leading = -ty;
                self.next_line(num(0).unwrap_or(0.0), ty);
            }
            "Tm" => {
                if let Some(m) = Matrix::from_operands(operands) {
                    self.tm = m;
                    self.tlm = m;
                }
            }
            "T*" => self.next_line(0.0, -self.state.leading),
            "Tj" => {
                if let Some(Object::String(bytes, _)) = operands.first() {
                    self.show(bytes, fonts);
                }
            }
            "'" => {
                self.next_line(0.0, -self.state.leading);
                if let Some(Object::String(bytes, _)) = operands.first() {
                    self.show(bytes, fonts);
                }
            }
            "\"" => {
                self.state.word_space = num(0).unwrap_or(0.0);
                self.state.char_space = num(1).unwrap_or(0.0);
                self.next_line(0.0, -self.state.leading);
                if let Some(Object::String(bytes, _)) = operands.get(2) {
                    self.show(bytes, fonts);
                }
            }
            "TJ" => {
                if let Some(Object::Array(items)) = operands.first() {
                    for item in items {
                        match item {
                            Object::String(bytes, _) => self.show(bytes, fonts),
                            other => {
                                if let Some(adjust) = number(other) {
                                    // Thousandths of an em, subtracted from the advance.
                                    let tx =
                                        -adjust / 1000.0 * self.state.size * self.state.h_scale;
                                    self.tm = Matrix::translate(tx, 0.0).then(self.tm);
                                }
                            }
                        }
                    }
                }
            }
            "Do" => {
                if let Some(name) = operands.first().and_then(|o| o.as_name().ok()) {
                    self.form(doc, name, fonts, xobjects, depth)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn next_line(&mut self, tx: f32, ty: f32) {
        self.tlm = Matrix::translate(tx, ty).then(self.tlm);
        self.tm = self.tlm;
    }

    /// Run a Form XObject's content in place, with its own resources where it has them.
    fn form(
        &mut self,
        doc: &Document,
        name: &[u8],
        fonts: &Fonts<'_>,
        xobjects: &HashMap<Vec<u8>, ObjectId>,
        depth: usize,
    ) -> Result<(), WalkError> {
        if depth >= MAX_FORM_DEPTH || self.form_calls >= MAX_FORM_CALLS {
            return Ok(());
        }
        let Some(stream) = xobjects
            .get(name)
            .and_then(|&id| doc.get_object(id).ok())
            .and_then(|o| o.as_stream().ok())
        else {
            return Ok(());
        };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form".as_slice()) {
            return Ok(()); // images carry no text
        }
        self.form_calls += 1;
        let content = match stream.decompressed_content_with_limit(self.budget) {
            Ok(content) => content,
            Err(err) => match WalkError::from(err) {
                WalkError::TooBig => return Err(WalkError::TooBig),
                WalkError::Pdf(_) => return Ok(()), // an unreadable form costs only itself
            },
        };
        self.budget = self.budget.saturating_sub(content.len());

        let resources = stream
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|r| deref(doc, r))
            .and_then(|r| r.as_dict().ok());
        let own_font_dicts: Vec<(Vec<u8>, Dictionary)> = resources
            .and_then(|r| r.get(b"Font").ok())
            .and_then(|f| deref(doc, f))
            .and_then(|f| f.as_dict().ok())
            .map(|f| {
                f.iter()
                    .filter_map(|(name, font)| {
                        let font = deref(doc, font)?.as_dict().ok()?;
                        Some((name.clone(), prefer_to_unicode(font)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let own_fonts = load_fonts(doc, &own_font_dicts, self.builtins)?;
        // A form without its own fonts or XObjects uses those of whoever draws it.
        let fonts = if own_font_dicts.is_empty() {
            fonts
        } else {
            &own_fonts
        };
        let mut own_xobjects = HashMap::new();
        if let Some(resources) = resources {
            add_xobjects(doc, resources, &mut own_xobjects);
        }
        let xobjects = if own_xobjects.is_empty() {
            xobjects
        } else {
            &own_xobjects
        };

        let matrix = stream
            .dict
            .get(b"Matrix")
            .ok()
            .and_then(|m| deref(doc, m))
            .and_then(|m| m.as_array().ok())
            .and_then(|m| Matrix::from_operands(m))
            .unwrap_or(Matrix::IDENTITY);
        // A form runs inside an implicit q/Q, and its unbalanced `q`s must not leak out.
        let (saved_state, saved_tm, saved_tlm) = (self.state.clone(), self.tm, self.tlm);
        let saved_depth = self.saved.len();
        self.state.ctm = matrix.then(self.state.ctm);
        let result = self.run(doc, &content, fonts, xobjects, depth + 1);
        (self.state, self.tm, self.tlm) = (saved_state, saved_tm, saved_tlm);
        self.saved.truncate(saved_depth);
        result
    }

    /// Show one string: decode it, advance the text matrix glyph by glyph, record where it went.
    fn show(&mut self, bytes: &[u8], fonts: &Fonts<'_>) {
        let font = self.state.font.as_deref().and_then(|name| fonts.get(name));
        let text = decode(font, bytes);

        let render = self.tm.then(self.state.ctm);
        let (x0, y) = Matrix::translate(0.0, self.state.rise)
            .then(render)
            .apply(0.0, 0.0);
        let size = (self.state.size * render.0[2].hypot(render.0[3])).abs();

        let two_byte = font.is_some_and(|f| f.two_byte);
        let step = if two_byte { 2 } else { 1 };
        let mut advance = 0.0;
        for code in bytes.chunks(step) {
            let code_value = code.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            let glyph = font.map_or(0.5, |f| f.widths.get(code_value) * f.scale);
            let mut tx = glyph * self.state.size + self.state.char_space;
            if !two_byte && code_value == 32 {
                tx += self.state.word_space;
            }
            advance += tx * self.state.h_scale;
        }
        if advance.is_finite() {
            self.tm = Matrix::translate(advance, 0.0).then(self.tm);
        }
        let (x1, _) = Matrix::translate(0.0, self.state.rise)
            .then(self.tm.then(self.state.ctm))
            .apply(0.0, 0.0);
        self.add(&text, x0, y, x1, size);
    }

    /// Append a piece of text to the current line, or start a new line if it landed elsewhere.
    fn add(&mut self, raw: &str, x0: f32, y: f32, x1: f32, size: f32) {
        let size = if size.is_finite() { size.max(0.1) } else { 0.1 };
        let text = clean_chars(raw);
        let blank = text.trim().is_empty();
        if let Some(line) = &mut self.current {
            let em = size.max(line.size);
            let same_baseline = (y - line.y).abs() <= 0.5 * em;
            // Jumping back left by more than an em starts a new line even on the same baseline
            // (table cells, columns drawn side by side out of order).
            let moving_on = x0 >= line.x1 - em;
            if same_baseline && moving_on {
                if blank {
                    if !text.is_empty() && !line.text.ends_with(' ') {
                        line.text.push(' ');
                    }
                } else {
                    let gap = x0 - line.x1;
                    if gap > 0.15 * size.min(line.size)
                        && !line.text.ends_with(' ')
                        && !text.starts_with(' ')
                    {
                        line.text.push(' ');
                    }
                    line.text.push_str(&text);
                    line.size = line.size.max(size);
                }
                line.x1 = line.x1.max(x1);
                return;
            }
        }
        if blank {
            return; // a line does not start with a space
        }
        self.flush();
        self.current = Some(Line {
            text,
            y,
            x0,
            x1,
            size,
        });
    }

    fn flush(&mut self) {
        if let Some(mut line) = self.current.take() {
            line.text = collapse_spaces(&line.text);
            if !line.text.is_empty() {
                self.lines.push(line);
            }
        }
    }

    fn finish(mut self) -> Vec<Line> {
        self.flush();
        self.lines
    }
}

fn decode(font: Option<&Font<'_>>, bytes: &[u8]) -> String {
    // Two-byte codes without a mapping are glyph ids: as ASCII they would be noise.
    if font.is_some_and(|f| f.two_byte && f.encoding.is_none()) {
        return String::new();
    }
    // Unknown font or encoding: printable ASCII is the only guess that is seldom wrong.
    let ascii = |bytes: &[u8], out: &mut String| {
        out.extend(
            bytes
                .iter()
                .filter(|b| (0x20..0x7f).contains(*b))
                .map(|&b| char::from(b)),
        );
    };
    let mut out = String::new();
    match (
        font.and_then(|f| f.overrides.as_deref()),
        font.and_then(|f| f.encoding.as_ref()),
    ) {
        (Some(table), encoding) => {
            for &b in bytes {
                match (table[usize::from(b)], encoding) {
                    (Some(text), _) => out.push_str(text),
                    (None, Some(encoding)) => {
                        let _ = encoding.write_to_string(&[b], &mut out);
                    }
                    (None, None) => ascii(&[b], &mut out),
                }
            }
        }
        (None, Some(encoding)) => {
            let _ = encoding.write_to_string(bytes, &mut out);
        }
        (None, None) => ascii(bytes, &mut out),
    }
    out
}

/// Undo typesetting artefacts that hurt search: ligature glyphs, odd spaces, control codes.
/// Soft hyphens stay until lines are joined, where they mark a word broken across lines.
fn clean_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{FB00}' => out.push_str("ff"),
            '\u{FB01}' => out.push_str("fi"),
            '\u{FB02}' => out.push_str("fl"),
            '\u{FB03}' => out.push_str("ffi"),
            '\u{FB04}' => out.push_str("ffl"),
            '\u{FB05}' | '\u{FB06}' => out.push_str("st"),
            '\u{200B}'..='\u{200D}' | '\u{FEFF}' | '\u{FFFD}' => {}
            c if c.is_whitespace() => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Layout: positioned lines → headers and footers dropped → paragraphs.

fn assemble(mut pages: Vec<Vec<Line>>) -> Vec<PdfPage> {
    strip_running_lines(&mut pages);
    pages
        .iter()
        .enumerate()
        .filter_map(|(i, lines)| {
            let paragraphs = paragraphs(lines);
            (!paragraphs.is_empty()).then_some(PdfPage {
                number: i + 1,
                paragraphs,
            })
        })
        .collect()
}

/// Index of the page's top (highest baseline) or bottom line, by position rather than stream
/// order: generators emit headers and footers wherever their output routine happens to.
fn edge(lines: &[Line], top: bool) -> Option<usize> {
    let key = |i: &usize| if top { lines[*i].y } else { -lines[*i].y };
    (0..lines.len()).max_by(|a, b| key(a).total_cmp(&key(b)))
}

/// A line with its digits masked, so "Page 3 of 10" and "Page 12 of 10" compare equal.
fn running_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !key.ends_with('#') {
                key.push('#');
            }
        } else {
            key.extend(c.to_lowercase());
        }
    }
    collapse_spaces(&key)
}

/// "12", "- 12 -", "Page 12", "page 3 of 10", "3/10", "xii".
fn is_page_number(text: &str) -> bool {
    if is_small_roman(text.trim()) {
        return true;
    }
    let lower = text.trim().to_lowercase();
    let core = lower.trim_matches(|c: char| c == '-' || c == '–' || c == '—' || c.is_whitespace());
    let core = core
        .strip_prefix("page")
        .or_else(|| core.strip_prefix("p."))
        .unwrap_or(core)
        .trim();
    let mut parts = core
        .split(|c: char| c == '/' || c.is_whitespace())
        .filter(|p| !p.is_empty() && *p != "of");
    let is_num = |p: &str| p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, None) => is_num(a),
        (Some(a), Some(b), None) => is_num(a) && is_num(b),
        _ => false,
    }
}

/// Lowercase roman numerals up to 50 written canonically (front-matter page numbers), so that
/// words made of the letters i, v, x, l, c, d, m ("mix", "civil") do not count.
fn is_small_roman(s: &str) -> bool {
    const NUMERALS: [(u32, &str); 6] = [
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
    ];
    if s.is_empty() || s.len() > 8 {
        return false;
    }
    (1..=50).any(|mut n: u32| {
        let mut roman = String::new();
        for (value, digits) in NUMERALS {
            while n >= value {
                roman.push_str(digits);
                n -= value;
            }
        }
        roman.push_str(&"i".repeat(n as usize));
        roman == s
    })
}

/// Drop running headers/footers and bare page numbers from the top and bottom of each page.
///
/// A page's top (or bottom) line goes when it is
/// * the same text, digits masked, at the same height on at least 60% of the pages;
/// * or set apart from the page's other lines, at a height where most pages have their edge
///   line, with its text there on 2 or more pages: a running head that follows the chapter;
/// * or it carries the printed page number (see [`folio_offsets`]), or is nothing else.
///
/// Requiring the same height keeps a first-page title that repeats the running header.
fn strip_running_lines(pages: &mut [Vec<Line>]) {
    /// How far (points) a running line may drift between pages.
    const SAME_PLACE: f32 = 4.0;
    let need = ((pages.len() as f32) * REPEAT_FRACTION).ceil() as usize;
    let repeats_allowed = pages.len() >= REPEAT_MIN_PAGES;
    let folios = if repeats_allowed {
        folio_offsets(pages, need)
    } else {
        Vec::new()
    };
    // A page prints its number once: after that, a number at the edge is content (a chapter
    // "2 Usage" that starts on page 2).
    let mut numbered = vec![false; pages.len()];
    // Twice, because a page can carry two running lines at one edge (a title above a rule and
    // page number, a footer line over the page number).
    for _ in 0..2 {
        let mut changed = false;
        for top in [true, false] {
            let edges: Vec<Option<(usize, String, f32)>> = pages
                .iter()
                .map(|lines| edge(lines, top).map(|i| (i, running_key(&lines[i].text), lines[i].y)))
                .collect();
            let mut heights: HashMap<&str, Vec<f32>> = HashMap::new();
            for (_, key, y) in edges.iter().flatten() {
                heights.entry(key.as_str()).or_default().push(*y);
            }
            let all_heights: Vec<f32> = edges.iter().flatten().map(|(_, _, y)| *y).collect();
            let near = |ys: &[f32], y: f32| {
                ys.iter()
                    .filter(|other| (*other - y).abs() <= SAME_PLACE)
                    .count()
            };
            for (index, (lines, found)) in pages.iter_mut().zip(&edges).enumerate() {
                let Some((i, key, y)) = found else { continue };
                let (i, y) = (*i, *y);
                let repeats = near(&heights[key.as_str()], y);
                let apart = lines
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, other)| if top { y - other.y } else { other.y - y })
                    .all(|gap| gap > 1.8 * lines[i].size);
                let chapter_head = apart && repeats >= 2 && near(&all_heights, y) >= need;
                let text = &lines[i].text;
                let carries_folio = edge_numbers(text)
                    .into_iter()
                    .flatten()
                    .any(|n| folios.contains(&(n - index as i64)));
                let folio = !numbered[index] && (carries_folio || is_page_number(text));
                if (repeats_allowed && (repeats >= need || chapter_head)) || folio {
                    numbered[index] |= folio;
                    lines.remove(i);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// The number a line starts or ends with, as a word of its own: "Chapter 2: Parsing 13"
/// gives 13, "14 GNU libtasn1" gives 14.
fn edge_numbers(text: &str) -> [Option<i64>; 2] {
    let as_number = |word: Option<&str>| {
        word.filter(|w| w.len() <= 5)
            .and_then(|w| w.parse::<i64>().ok())
    };
    [
        as_number(text.split_whitespace().next()),
        as_number(text.split_whitespace().next_back()),
    ]
}

/// Printed page number minus page index, for each numbering that most pages carry in a top or
/// bottom line. Running heads that change with the chapter ("Chapter 2: Parsing 13") never
/// repeat as text, but they do carry the page number, and that number advances with the page.
fn folio_offsets(pages: &[Vec<Line>], need: usize) -> Vec<i64> {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for (index, lines) in pages.iter().enumerate() {
        let mut offsets: Vec<i64> = [true, false]
            .into_iter()
            .filter_map(|top| edge(lines, top))
            .flat_map(|i| edge_numbers(&lines[i].text))
            .flatten()
            .map(|n| n - index as i64)
            .collect();
        offsets.sort_unstable();
        offsets.dedup();
        for offset in offsets {
            *counts.entry(offset).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|&(_, n)| n >= need)
        .map(|(offset, _)| offset)
        .collect()
}

/// Page-wide measures the paragraph rules compare each line against.
struct PageMetrics {
    /// Most common font size: the body text.
    body: f32,
    /// Usual baseline-to-baseline distance of body lines, if there are enough to tell.
    line_gap: Option<f32>,
    left: f32,
    right: f32,
}

fn percentile(mut values: Vec<f32>, p: f32) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let i = ((values.len() - 1) as f32 * p).round() as usize;
    values.get(i).copied()
}

fn page_metrics(lines: &[Line]) -> PageMetrics {
    let mut by_size: HashMap<i32, usize> = HashMap::new();
    for line in lines {
        *by_size.entry((line.size * 2.0).round() as i32).or_default() += line.text.len();
    }
    let body = by_size
        .into_iter()
        .max_by_key(|&(size, chars)| (chars, size))
        .map_or(10.0, |(size, _)| size as f32 / 2.0);
    let is_body = |l: &Line| (l.size - body).abs() <= 0.1 * body;
    let gaps: Vec<f32> = lines
        .windows(2)
        .filter(|w| is_body(&w[0]) && is_body(&w[1]))
        .map(|w| w[0].y - w[1].y)
        .filter(|&g| g > 0.5 * body && g < 3.0 * body)
        .collect();
    // The lower quartile, not the median: a page of short paragraphs can have more paragraph
    // gaps than line gaps, but rarely three times as many.
    let line_gap = if gaps.len() >= 3 {
        percentile(gaps, 0.25)
    } else {
        None
    };
    let body_lines: Vec<&Line> = lines.iter().filter(|l| is_body(l)).collect();
    let left = percentile(body_lines.iter().map(|l| l.x0).collect(), 0.1).unwrap_or(0.0);
    let right = percentile(body_lines.iter().map(|l| l.x1).collect(), 0.9).unwrap_or(0.0);
    PageMetrics {
        body,
        line_gap,
        left,
        right,
    }
}

fn starts_with_bullet(text: &str) -> bool {
    text.starts_with([
        '•', '◦', '▪', '‣', '∙', '●', '○', '■', '□', '►', '▸', '–', '—',
    ])
}

fn ends_sentence(text: &str) -> bool {
    let trimmed = text.trim_end_matches(['"', '\'', '”', '’', ')', ']']);
    trimmed.ends_with(['.', '!', '?', ':', ';', '…'])
}

/// Whether `next` starts a new paragraph after `prev`.
fn breaks_paragraph(prev: &Line, next: &Line, m: &PageMetrics) -> bool {
    let em = prev.size.max(next.size);
    let drop = prev.y - next.y;
    // Not below the previous line: a new column, a table cell, or text emitted out of
    // reading order. (NaN, from a degenerate matrix, breaks too.)
    if drop.is_nan() || drop <= 0.3 * em {
        return true;
    }
    // A change of font size: heading, caption, footnote.
    if (prev.size - next.size).abs() > 0.15 * em {
        return true;
    }
    // A gap clearly wider than the usual baseline distance (scaled for non-body sizes).
    let usual = m
        .line_gap
        .map_or(1.2 * em, |g| g * (em / m.body).clamp(0.5, 3.0));
    if drop > 1.15 * usual + 0.3 {
        return true;
    }
    if starts_with_bullet(&next.text) {
        return true;
    }
    // A table-of-contents entry: dot leaders, then the page number.
    if prev.text.contains(". . .") && prev.text.ends_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    if ends_sentence(&prev.text) {
        // The last line of a paragraph stops short of the right margin. Demand a fifth of
        // the column so ragged-right text, whose lines stop short by up to a long word, does
        // not split after every sentence.
        let width = (m.right - m.left).max(0.0);
        if prev.x1 < m.right - (2.0 * em).max(0.2 * width) {
            return true;
        }
        // First-line indent, for typesetting without space between paragraphs.
        if next.x0 > m.left + 0.8 * em && next.x0 > prev.x0 + 0.8 * em {
            return true;
        }
    }
    false
}

fn paragraphs(lines: &[Line]) -> Vec<String> {
    let metrics = page_metrics(lines);
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 && breaks_paragraph(&lines[i - 1], line, &metrics) {
            push_paragraph(&mut out, &mut current);
        }
        join_line(&mut current, &line.text);
    }
    push_paragraph(&mut out, &mut current);
    out
}

fn push_paragraph(out: &mut Vec<String>, current: &mut String) {
    let paragraph = std::mem::take(current).replace('\u{AD}', "");
    let paragraph = paragraph.trim();
    if !paragraph.is_empty() {
        out.push(paragraph.to_string());
    }
}

/// Append a line to a paragraph: a line break is a space, except after a hyphen that splits a
/// word. `docu-` + `ment` gives `document`; before anything but a lowercase letter the hyphen is
/// kept and joined without a space (`non-` + `ASCII` gives `non-ASCII`).
fn join_line(paragraph: &mut String, line: &str) {
    if paragraph.is_empty() {
        paragraph.push_str(line);
        return;
    }
    let next_lower = line.chars().next().is_some_and(char::is_lowercase);
    let mut tail = paragraph.chars().rev();
    let (last, before) = (tail.next(), tail.next());
    let after_letter = before.is_some_and(char::is_alphabetic);
    match last {
        Some('\u{AD}') => {
            paragraph.pop();
        }
        Some('-' | '\u{2010}') if after_letter => {
            if next_lower {
                paragraph.pop();
            }
        }
        Some('—' | '/') => {}
        _ => paragraph.push(' '),
    }
    paragraph.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{dictionary, Stream};
    use std::path::PathBuf;

    fn line(text: &str, y: f32, x0: f32, x1: f32, size: f32) -> Line {
        Line {
            text: text.into(),
            y,
            x0,
            x1,
            size,
        }
    }

    /// A real pdfTeX document (135 KB, 15 pages): the fontconfig user manual, shipped gzipped
    /// by Debian's fontconfig package as /usr/share/doc/fontconfig/fontconfig-user.pdf.gz
    /// (copied by `scripts/real-collections.sh fixtures`).
    fn fixture() -> Vec<u8> {
        use std::io::Read;
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/real/pdf/fontconfig-user.pdf.gz");
        let gz = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }

    /// What must hold for any PDF with text.
    fn check_invariants(pages: &[PdfPage]) {
        assert!(pages.windows(2).all(|w| w[0].number < w[1].number));
        for page in pages {
            assert!(!page.paragraphs.is_empty(), "page {}", page.number);
            for paragraph in &page.paragraphs {
                assert!(!paragraph.is_empty() && paragraph.trim() == paragraph);
                assert!(!paragraph.contains("  ") && !paragraph.contains('\n'));
                assert!(!paragraph.contains(['\u{FB01}', '\u{FB02}', '\u{AD}']));
            }
            // A page's number would be its first or last paragraph.
            let ends = [page.paragraphs.first(), page.paragraphs.last()];
            assert!(
                !ends.into_iter().flatten().any(|p| is_page_number(p)),
                "page {}",
                page.number
            );
        }
    }

    /// A PDF built with lopdf: one page per entry, each a list of (x, y, size, text) runs in
    /// Helvetica (no /Widths, so the walker's half-em estimate is in play).
    fn synthetic_pdf(pages: &[Vec<(f32, f32, f32, &str)>]) -> Document {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
            "Encoding" => "WinAnsiEncoding",
        });
        let resources_id =
            doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let mut kids = Vec::new();
        for runs in pages {
            let mut ops = vec![Operation::new("BT", vec![])];
            for &(x, y, size, text) in runs {
                ops.push(Operation::new("Tf", vec!["F1".into(), size.into()]));
                ops.push(Operation::new(
                    "Tm",
                    vec![1.into(), 0.into(), 0.into(), 1.into(), x.into(), y.into()],
                ));
                ops.push(Operation::new("Tj", vec![Object::string_literal(text)]));
            }
            ops.push(Operation::new("ET", vec![]));
            let content = Content { operations: ops }.encode().unwrap();
            let content_id = doc.add_object(Stream::new(dictionary! {}, content));
            let page_id = doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            });
            kids.push(page_id.into());
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        doc
    }

    fn save(doc: &mut Document) -> Vec<u8> {
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn real_pdf_gives_paragraphs_without_running_lines() {
        let pages = read_pdf(&fixture()).expect("fixture extracts");
        check_invariants(&pages);
        // Page 14 is blank.
        let numbers: Vec<usize> = pages.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15]);
        let first = &pages[0].paragraphs;
        // Rejoined across three printed lines.
        let overview =
            "Fontconfig contains two essential modules, the configuration module which builds \
            an internal configuration from XML files and the matching module which accepts font \
            patterns and returns the nearest matching font.";
        assert!(first.iter().any(|p| p == overview), "{first:#?}");
        // "cus-" + "tomization" rejoined; "fi" ligatures spelled out.
        let description = "Fontconfig is a library designed to provide system-wide font \
            configuration, customization and application access.";
        assert!(first.iter().any(|p| p == description), "{first:#?}");
        // Headings are paragraphs of their own.
        assert!(first.iter().any(|p| p == "Functional Overview"));
        // The running title "fonts-conf" heads every page at the same height, except on page 1,
        // where the same words, set larger and lower, are the title and stay.
        assert_eq!(first[0], "fonts-conf");
        for page in &pages[1..] {
            assert!(
                !page.paragraphs.iter().any(|p| p == "fonts-conf"),
                "page {}",
                page.number
            );
        }
    }

    #[test]
    fn pdf_named_by_env_keeps_invariants() {
        let Some(path) = std::env::var_os("PDF_FIXTURE") else {
            return;
        };
        let bytes = std::fs::read(&path).expect("reading PDF_FIXTURE");
        match read_pdf(&bytes) {
            Ok(pages) => check_invariants(&pages),
            Err(err) => panic!("{}: {err}", path.to_string_lossy()),
        }
    }

    #[test]
    fn garbage_and_truncated_input_are_errors_not_panics() {
        assert_eq!(read_pdf(b""), Err(PdfError::NotPdf));
        assert_eq!(read_pdf(b"PK\x03\x04 a zip file"), Err(PdfError::NotPdf));
        assert!(matches!(
            read_pdf(b"%PDF-1.7\n garbage \xff\xfe"),
            Err(PdfError::Damaged(_))
        ));

        let real = fixture();
        for len in [
            9,
            100,
            1000,
            real.len() / 3,
            real.len() / 2,
            real.len() - 200,
        ] {
            // A cut-off file may still yield some pages through xref reconstruction; it must
            // just not panic.
            let _ = read_pdf(&real[..len]);
        }
        // Deterministic pseudo-random bytes behind a valid header, and flipped bytes inside a
        // real file.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20 {
            let mut bytes = b"%PDF-1.4\n".to_vec();
            bytes.extend((0..4096).map(|_| next() as u8));
            assert!(read_pdf(&bytes).is_err());
            let mut damaged = real.clone();
            for _ in 0..50 {
                let i = (next() as usize) % damaged.len();
                damaged[i] = next() as u8;
            }
            let _ = read_pdf(&damaged);
        }
        // Deep nesting must not overflow the stack.
        let mut nested = b"%PDF-1.4\n1 0 obj\n".to_vec();
        nested.extend(std::iter::repeat_n(b'[', 100_000));
        nested.extend(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
        assert!(read_pdf(&nested).is_err());
    }

    #[test]
    fn hostile_structures_are_bounded() {
        // Content nested 100,000 arrays deep, then text.
        let mut doc = synthetic_pdf(&[vec![(72.0, 700.0, 12.0, "after the nest")]]);
        let page_id = doc.page_iter().next().unwrap();
        let mut content = "[".repeat(100_000).into_bytes();
        content.extend(b" BT /F1 12 Tf 72 700 Td (nested) Tj ET");
        let nest_id = doc.add_object(Stream::new(dictionary! {}, content));
        doc.get_dictionary_mut(page_id)
            .unwrap()
            .set("Contents", nest_id);
        let _ = read_pdf(&save(&mut doc));

        // A Form XObject that draws itself, and a page tree whose node lists itself as a kid.
        let mut doc = synthetic_pdf(&[vec![(72.0, 700.0, 12.0, "outside the form")]]);
        let page_id = doc.page_iter().next().unwrap();
        let form_id = doc.new_object_id();
        let form = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
                "Resources" => dictionary! { "XObject" => dictionary! { "X" => form_id } },
            },
            b"/X Do".to_vec(),
        );
        doc.objects.insert(form_id, Object::Stream(form));
        let old = doc.get_page_content(page_id);
        let mut content = b"/X Do\n".to_vec();
        content.extend(old);
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page = doc.get_dictionary_mut(page_id).unwrap();
        page.set("Contents", content_id);
        page.set(
            "Resources",
            dictionary! { "XObject" => dictionary! { "X" => form_id } },
        );
        let pages = read_pdf(&save(&mut doc)).unwrap();
        assert_eq!(pages[0].paragraphs, ["outside the form"]);

        let mut doc = synthetic_pdf(&[vec![(72.0, 700.0, 12.0, "cyclic tree")]]);
        let root_pages = doc
            .catalog()
            .unwrap()
            .get(b"Pages")
            .unwrap()
            .as_reference()
            .unwrap();
        let kids = doc
            .get_dictionary_mut(root_pages)
            .unwrap()
            .get_mut(b"Kids")
            .unwrap();
        kids.as_array_mut()
            .unwrap()
            .push(Object::Reference(root_pages));
        let _ = read_pdf(&save(&mut doc));
    }

    #[test]
    fn decompression_bomb_is_refused() {
        use std::io::Write;
        let mut doc = synthetic_pdf(&[vec![(72.0, 700.0, 12.0, "hello")]]);
        // 100 MiB of spaces: a valid content stream that Flate shrinks to ~100 KiB.
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..100 {
            encoder.write_all(&chunk).unwrap();
        }
        let compressed = encoder.finish().unwrap();
        let page_id = doc.page_iter().next().unwrap();
        let stream_id = doc.add_object(Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            compressed,
        ));
        doc.get_dictionary_mut(page_id)
            .unwrap()
            .set("Contents", stream_id);
        let err = read_pdf(&save(&mut doc)).unwrap_err();
        assert!(err.to_string().contains("decompression bomb"), "{err}");
    }

    #[test]
    fn synthetic_document_lines_paragraphs_and_running_lines() {
        const WORDS: [&str; 3] = ["one.", "two.", "three."];
        let body = |n: usize| {
            vec![
                (72.0, 800.0, 9.0, "Annual Report 2024"),
                (
                    72.0,
                    700.0,
                    12.0,
                    [
                        "This paragraph talks about docu-",
                        "Here we talk about docu-",
                        "Now about docu-",
                    ][n],
                ),
                (72.0, 686.0, 12.0, "ment processing on page"),
                // A separate string on the same baseline: joined with a space.
                (300.0, 686.0, 12.0, WORDS[n]),
                (72.0, 650.0, 12.0, "A second paragraph after a gap on page"),
                (72.0, 636.0, 12.0, WORDS[n]),
                (
                    300.0,
                    40.0,
                    9.0,
                    ["Page 2 of 3", "Page 13 of 30", "Page 3 of 3"][n],
                ),
            ]
        };
        let mut doc = synthetic_pdf(&[body(0), body(1), body(2)]);
        let pages = read_pdf(&save(&mut doc)).unwrap();
        assert_eq!(pages.len(), 3);
        for (n, page) in pages.iter().enumerate() {
            assert_eq!(page.number, n + 1);
            assert_eq!(
                page.paragraphs,
                [
                    format!(
                        "{} document processing on page {}",
                        [
                            "This paragraph talks about",
                            "Here we talk about",
                            "Now about"
                        ][n],
                        WORDS[n]
                    ),
                    format!("A second paragraph after a gap on page {}", WORDS[n]),
                ]
            );
        }
    }

    #[test]
    fn pages_without_text_are_no_text() {
        let mut doc = synthetic_pdf(&[vec![], vec![(300.0, 40.0, 9.0, "7")]]);
        assert_eq!(read_pdf(&save(&mut doc)), Err(PdfError::NoText));
    }

    #[test]
    fn password_protected_is_encrypted_and_empty_password_is_read() {
        use lopdf::{EncryptionState, EncryptionVersion, Permissions};
        let encrypt = |user_password: &str| {
            let mut doc = synthetic_pdf(&[vec![(72.0, 700.0, 12.0, "secret text")]]);
            doc.trailer
                .set("ID", vec![Object::string_literal("0123456789abcdef"); 2]);
            let version = EncryptionVersion::V2 {
                document: &doc,
                owner_password: "owner",
                user_password,
                key_length: 128,
                permissions: Permissions::all(),
            };
            let state = EncryptionState::try_from(version).unwrap();
            doc.encrypt(&state).unwrap();
            save(&mut doc)
        };
        assert_eq!(read_pdf(&encrypt("hunter2")), Err(PdfError::Encrypted));
        let open = read_pdf(&encrypt("")).unwrap();
        assert_eq!(open[0].paragraphs, ["secret text"]);
    }

    #[test]
    fn errors_display_as_one_lowercase_line() {
        for err in [
            PdfError::NotPdf,
            PdfError::Encrypted,
            PdfError::Damaged("bad xref".into()),
            PdfError::NoText,
        ] {
            let text = err.to_string();
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
            assert!(!text.contains('\n') && text.contains(':'), "{text}");
        }
        assert_eq!(
            PdfError::NoText.to_string(),
            "holds no text layer (a scanned PDF?): run OCR first (e.g. ocrmypdf in.pdf out.pdf)"
        );
    }

    #[test]
    fn builtin_type1_encodings_and_glyph_names() {
        let program = b"%!PS-AdobeFont-1.0: CMR10\n/Encoding 256 array\n\
            0 1 255 {1 index exch /.notdef put} for\ndup 12 /fi put\ndup 65 /A put\n\
            dup 92 /quotedblleft put\ndup 200 /eacute put\ndup 7 /notAGlyph put\nreadonly def\n";
        let table = parse_builtin_encoding(program).unwrap();
        assert_eq!(table[12], Some("fi"));
        assert_eq!(table[65], Some("A"));
        assert_eq!(table[92], Some("“"));
        assert_eq!(table[200], Some("é"));
        assert_eq!(table[7], None, "unknown names are left to lopdf");
        assert_eq!(table[66], None);
        assert_eq!(
            parse_builtin_encoding(b"/Encoding StandardEncoding def"),
            None
        );
        assert_eq!(glyph_text(b"ydieresis"), Some("ÿ"));
        assert_eq!(glyph_text(b"Agrave"), Some("À"));
        assert_eq!(glyph_text(b"."), None);
    }

    #[test]
    fn hyphens_and_line_breaks_join() {
        let mut p = String::new();
        for l in [
            "a docu-",
            "ment on non-",
            "ASCII text",
            "and soft\u{AD}",
            "hyphens — and",
            "more",
        ] {
            join_line(&mut p, l);
        }
        assert_eq!(p, "a document on non-ASCII text and softhyphens — and more");
        let mut p = "range 1-".to_string();
        join_line(&mut p, "two");
        assert_eq!(
            p, "range 1- two",
            "a hyphen after a digit is not a word break"
        );
    }

    #[test]
    fn page_numbers_and_running_keys() {
        for yes in [
            "12",
            " 3 ",
            "- 4 -",
            "Page 5",
            "page 3 of 10",
            "3/10",
            "xii",
            "iv",
            "– 7 –",
        ] {
            assert!(is_page_number(yes), "{yes}");
        }
        for no in [
            "mix",
            "civil",
            "I",
            "12 Monkeys",
            "2.1. Directory layout",
            "",
            "page",
        ] {
            assert!(!is_page_number(no), "{no}");
        }
        assert_eq!(running_key("Page 3 of 10"), running_key("page 12  of 10"));
    }

    #[test]
    fn running_lines_need_most_pages() {
        const BODY: [&str; 5] = ["Alpha.", "Beta.", "Gamma.", "Delta.", "Epsilon."];
        let page = |header: &str, n: usize| {
            vec![
                line(header, 800.0, 72.0, 200.0, 9.0),
                line(BODY[n - 1], 700.0, 72.0, 500.0, 12.0),
                line(&format!("{n}"), 40.0, 300.0, 310.0, 9.0),
            ]
        };
        let texts = |pages: &[Vec<Line>]| -> Vec<Vec<String>> {
            pages
                .iter()
                .map(|p| p.iter().map(|l| l.text.clone()).collect())
                .collect()
        };
        // A header on 3 of 5 pages (60%) goes; one-off top lines stay.
        let headers = [
            "Running Title",
            "Running Title",
            "Running Title",
            "Preface",
            "Chapter 2",
        ];
        let mut pages: Vec<Vec<Line>> = (1..=5).map(|n| page(headers[n - 1], n)).collect();
        strip_running_lines(&mut pages);
        assert_eq!(
            texts(&pages),
            [
                vec!["Alpha."],
                vec!["Beta."],
                vec!["Gamma."],
                vec!["Preface", "Delta."],
                vec!["Chapter 2", "Epsilon."]
            ]
        );
        // A running head that follows the chapter: in the header slot on every page, set apart,
        // on 2 or more pages each.
        let headers = ["Introduction", "Introduction", "Usage", "Usage", "Usage"];
        let mut pages: Vec<Vec<Line>> = (1..=5).map(|n| page(headers[n - 1], n)).collect();
        strip_running_lines(&mut pages);
        assert_eq!(texts(&pages), BODY.map(|b| vec![b]));
        // A page number inside a changing head ("Chapter 2: Usage 14") goes as well.
        let mut pages: Vec<Vec<Line>> = (1..=5)
            .map(|n| page(&format!("Chapter {}: {} {}", n, BODY[5 - n], n + 10), n))
            .collect();
        strip_running_lines(&mut pages);
        assert_eq!(texts(&pages), BODY.map(|b| vec![b]));
        // Once a page's number is gone, a heading that starts with the same number stays.
        let mut pages: Vec<Vec<Line>> = (1..=5).map(|n| page(&n.to_string(), n)).collect();
        pages[1].insert(1, line("2 Usage", 760.0, 72.0, 200.0, 14.0));
        strip_running_lines(&mut pages);
        assert_eq!(texts(&pages)[1], ["2 Usage", "Beta."]);
        // Two pages: nothing counts as running, but bare page numbers still go.
        let mut pages = vec![page("Same", 1), page("Same", 2)];
        strip_running_lines(&mut pages);
        assert_eq!(
            texts(&pages),
            [vec!["Same", "Alpha."], vec!["Same", "Beta."]]
        );
    }

    #[test]
    fn paragraph_rules() {
        let l = |t: &str, y: f32, x0: f32, x1: f32| line(t, y, x0, x1, 10.0);
        let lines = vec![
            line("1. Introduction", 760.0, 72.0, 180.0, 14.0),
            l("Justified text runs to the right", 735.0, 72.0, 520.0),
            l("margin until the paragraph ends here.", 723.0, 72.0, 300.0),
            l("Indented paragraphs follow without", 711.0, 90.0, 520.0),
            l("extra space between them.", 699.0, 72.0, 520.0),
            l("• a bullet item", 687.0, 80.0, 200.0),
            l("• another one", 675.0, 80.0, 200.0),
            l("After a gap.", 640.0, 72.0, 200.0),
        ];
        assert_eq!(
            paragraphs(&lines),
            [
                "1. Introduction",
                "Justified text runs to the right margin until the paragraph ends here.",
                "Indented paragraphs follow without extra space between them.",
                "• a bullet item",
                "• another one",
                "After a gap.",
            ]
        );
    }
}
