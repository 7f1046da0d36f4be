//! A file's bytes as text, whatever its charset: a byte-order mark first, then what the page
//! declares (HTML: `<meta charset>`, `http-equiv`, the XML declaration), then valid UTF-8 as it
//! is, then a detector's guess (chardetng, Firefox's) for the legacy single- and multi-byte
//! charsets. A guess that does not decode the bytes cleanly is refused with the reason rather
//! than indexed as mojibake; bytes with NULs in their first 8 KB are a binary file.

use encoding_rs::Encoding;

use super::Format;
use crate::error::FileProblem;

/// How far into a page its charset declaration is looked for (HTML's own rule is 1,024 bytes;
/// generated pages put comments first, so a little more).
const DECLARATION_BYTES: usize = 4096;

/// Bytes looked at for NULs.
const BINARY_SNIFF_BYTES: usize = 8192;

/// `bytes` as text, with the charset it was decoded from when it was not UTF-8; or why not.
pub(crate) fn decode(
    bytes: &[u8],
    format: Format,
) -> Result<(String, Option<&'static str>), (FileProblem, String)> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        return clean(enc, &bytes[bom..], "its byte-order mark says");
    }
    if bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
        return Err((
            FileProblem::Binary,
            "a binary file (NUL bytes), not text".into(),
        ));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_string(), None));
    }
    if format == Format::Html {
        if let Some(enc) = declared(&bytes[..bytes.len().min(DECLARATION_BYTES)]) {
            if enc != encoding_rs::UTF_8 {
                return clean(enc, bytes, "the page declares");
            }
        }
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let enc = detector.guess(None, true);
    clean(enc, bytes, "detected as")
}

/// `bytes` decoded as `enc`, refused when that leaves malformed sequences.
fn clean(
    enc: &'static Encoding,
    bytes: &[u8],
    why: &str,
) -> Result<(String, Option<&'static str>), (FileProblem, String)> {
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    if had_errors {
        return Err((
            FileProblem::Charset,
            format!(
                "not valid UTF-8, and not valid {} either ({why} {}); convert the file to UTF-8",
                enc.name(),
                enc.name()
            ),
        ));
    }
    let name = (enc != encoding_rs::UTF_8).then(|| enc.name());
    Ok((text.into_owned(), name))
}

/// The charset a page's head declares: `<meta charset="…">`, `<meta http-equiv="Content-Type"
/// content="…; charset=…">`, or `<?xml … encoding="…"?>`.
fn declared(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let label_after = |key: &[u8]| -> Option<&'static Encoding> {
        let mut from = 0;
        while let Some(i) = memchr::memmem::find(&lower[from..], key) {
            let start = from + i + key.len();
            let rest = &lower[start..];
            let rest = rest.strip_prefix(b"=").unwrap_or(rest);
            let rest = rest
                .iter()
                .position(|&c| c != b'"' && c != b'\'' && c != b' ')
                .map_or(&rest[rest.len()..], |p| &rest[p..]);
            let end = rest
                .iter()
                .position(|&c| matches!(c, b'"' | b'\'' | b' ' | b';' | b'>' | b'/' | b'?'))
                .unwrap_or(rest.len());
            if let Some(enc) = Encoding::for_label(&rest[..end]) {
                return Some(enc);
            }
            from = start;
        }
        None
    };
    if lower.starts_with(b"<?xml") {
        if let Some(end) = memchr::memchr(b'>', &lower) {
            if let Some(enc) = label_after(b"encoding").filter(|_| end > 0) {
                return Some(enc);
            }
        }
    }
    label_after(b"charset")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latin1(s: &str) -> Vec<u8> {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect()
    }

    /// A paragraph of Debian Reference's German preface (the repository's fixture) that
    /// Latin-1 can write, with umlauts.
    fn german() -> String {
        include_str!("../../../../tests/fixtures/real/debian-reference/pr01.de.txt")
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .find(|p| {
                p.len() > 80
                    && p.chars().all(|c| (c as u32) < 0x100)
                    && p.chars().any(|c| "äöüß".contains(c))
            })
            .unwrap()
    }

    #[test]
    fn declared_bom_utf8_and_detected_charsets() {
        let de = german();
        let page = latin1(&format!(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\"></head><body><p>{de}</p></body></html>"
        ));
        let (t, enc) = decode(&page, Format::Html).unwrap();
        assert!(t.contains(&de), "{t}");
        assert_eq!(enc, Some("windows-1252"));
        let xml = latin1(&format!(
            "<?xml version=\"1.0\" encoding=\"iso-8859-15\"?><html><p>{de}</p></html>"
        ));
        assert!(decode(&xml, Format::Html).unwrap().0.contains(&de));
        let mut bom = vec![0xFF, 0xFE];
        for u in de.encode_utf16() {
            bom.extend(u.to_le_bytes());
        }
        assert_eq!(decode(&bom, Format::Text).unwrap().0, de);
        assert_eq!(
            decode(de.as_bytes(), Format::Text).unwrap(),
            (de.clone(), None)
        );
        let (t, enc) = decode(&latin1(&de), Format::Text).unwrap();
        assert_eq!(t, de);
        assert_eq!(enc, Some("windows-1252"));
        let (p, _) = decode(b"\x7fELF\x02\x01\x01\x00\x00", Format::Text).unwrap_err();
        assert_eq!(p, FileProblem::Binary);
    }
}
