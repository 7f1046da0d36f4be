//! Text made safe to show: cut on character boundaries, escaped for HTML/XML and Markdown, and
//! with secrets removed from anything that looks like a URL.

/// At most `max` characters of `s` (never a byte slice: a cut inside a character panics).
pub fn prefix_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Characters XML 1.0 does not allow anywhere, even escaped (C0 controls but tab, line feed and
/// carriage return; U+FFFE and U+FFFF). HTML forbids them too, so they are dropped from both.
pub fn xml_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Text made safe for HTML and XML content and attribute values.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if xml_forbidden(c) => {}
            _ => out.push(c),
        }
    }
    out
}

/// Corpus text as Markdown that renders as the same text: HTML is written as entities (Markdown
/// viewers render raw HTML, `<img onerror=…>` included), and the characters that would start
/// emphasis, code, links or table cells are backslash-escaped. Line breaks become spaces.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if xml_forbidden(c) => {}
            _ => out.push(c),
        }
    }
    out
}

/// JSON made safe inside an HTML `<script>` element: `<` written as `\u003c`, so that no text
/// can close the element (`</script>`) or switch the parser into its escaped states (`<!--`).
/// U+2028 and U+2029 are escaped too, for scripts that `eval` the text.
pub fn json_for_script(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `text` with the password of every URL in it (`scheme://user:password@host`, and `password=`
/// or similar query parameters) replaced by `***`. Applied to every message that may quote a
/// user's store URL, whatever its scheme (a mistyped `postgress://` included).
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        out.push_str(&rest[..at + 3]);
        rest = &rest[at + 3..];
        // The URL runs to the next white space (or a quote, as messages quote URLs).
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
            .unwrap_or(rest.len());
        let (url, tail) = rest.split_at(end);
        out.push_str(&redact_url_tail(url));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `user:password@host/path?query` after the scheme, redacted. The user info ends at the *last*
/// `@` before the query: a password may hold `@` or `/` when the user did not percent-encode it.
fn redact_url_tail(url: &str) -> String {
    let (before_query, query) = match url.find(['?', '#']) {
        Some(q) => url.split_at(q),
        None => (url, ""),
    };
    let mut out = String::with_capacity(url.len());
    match before_query.rfind('@') {
        Some(at) => {
            let userinfo = &before_query[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&before_query[at..]);
        }
        None => out.push_str(before_query),
    }
    if query.is_empty() {
        return out;
    }
    // Query parameters: any key naming a password or secret loses its value.
    let (sep, params) = query.split_at(1);
    out.push_str(sep);
    let parts: Vec<String> = params
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret_key(k) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    out.push_str(&parts.join("&"));
    out
}

fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("password") || k.contains("passwd") || k.contains("secret") || k == "pass"
}

/// A time as `YYYY-MM-DD HH:MM UTC` (a time before 1970 as 1970-01-01 00:00).
pub fn utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cut_between_characters() {
        assert_eq!(prefix_chars("révision", 2), "ré");
        assert_eq!(prefix_chars("abc", 12), "abc");
        assert_eq!(prefix_chars("日本語テキスト", 3), "日本語");
    }

    #[test]
    fn passwords_never_survive() {
        for (url, secret) in [
            (
                "postgres://db.example/a?user=alice&password=S3cret",
                "S3cret",
            ),
            ("postgres://alice:Pa@ss@host/a", "ss@host"),
            ("postgress://alice:S3cret@host/a", "S3cret"),
            ("postgres://alice:pa/ss@host/a", "pa/ss"),
            ("error: --store postgres://u:pw1234@h/db: bad", "pw1234"),
            ("x postgres://h/db?sslpassword=k3y&schema=s", "k3y"),
        ] {
            let r = redact_secrets(url);
            assert!(!r.contains(secret), "{url} → {r}");
        }
        assert_eq!(
            redact_secrets("see postgres://alice:pw@host:5432/db?schema=x now"),
            "see postgres://alice:***@host:5432/db?schema=x now"
        );
        assert_eq!(
            redact_secrets("postgres://alice@host/db"),
            "postgres://alice@host/db"
        );
        assert_eq!(redact_secrets("no url here"), "no url here");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape_xml("a\u{1}<b>\u{b}&\u{1b}"), "a&lt;b&gt;&amp;");
        assert_eq!(
            escape_markdown("<img src=x onerror=alert(1)> *b* [l](u)"),
            "&lt;img src=x onerror=alert(1)&gt; \\*b\\* \\[l\\](u)"
        );
        assert_eq!(
            json_for_script(r#"{"t":"<!--<script></script>"}"#),
            r#"{"t":"\u003c!--\u003cscript>\u003c/script>"}"#
        );
    }

    #[test]
    fn utc_dates_match_the_calendar() {
        // Checked against `date -u -d @SECONDS`.
        let at = |s: u64| utc(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(at(1_796_577_902), "2026-12-06 17:25 UTC");
    }
}
