//! JSONL documents: one article per line, `{"text": "...", "title": "...", "id": "..."}`.
//! `text` is required; `title` defaults to the file name; `id` (string or number) names the
//! article in passage ids, the line number otherwise. Every other field (`date`, `lang`, `url`,
//! `tags`, anything) is the article's metadata. Paragraphs are the text's blocks between blank
//! lines (its lines, when it has no blank line).

use super::{blocks, RawArticle, RawParagraph};

/// `max`: bytes of one passage (see [`blocks`]).
pub(crate) fn articles(text: &str, max: usize) -> Result<Vec<RawArticle>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {n}: not JSON ({e})"))?;
        let obj = v
            .as_object()
            .ok_or_else(|| format!("line {n}: expected a JSON object with a \"text\" field"))?;
        let body = match obj.get("text") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(_) => return Err(format!("line {n}: field \"text\" must be a string")),
            None => return Err(format!("line {n}: missing field \"text\"")),
        };
        let title = match obj.get("title") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => return Err(format!("line {n}: field \"title\" must be a string")),
        };
        let id = match obj.get("id") {
            None | Some(serde_json::Value::Null) => n.to_string(),
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => super::clean_key(s),
            Some(serde_json::Value::Number(x)) => x.to_string(),
            Some(_) => {
                return Err(format!(
                    "line {n}: field \"id\" must be a non-empty string or a number"
                ))
            }
        };
        let meta = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "text" | "title" | "id"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.push(RawArticle {
            id: Some(id),
            title,
            paragraphs: paragraphs(body, max)
                .map_err(|e| format!("line {n}, in its \"text\": {e}"))?,
            meta: super::frontmatter::normalise(meta),
        });
    }
    let mut ids = std::collections::HashSet::new();
    for a in &out {
        let id = a.id.as_deref().unwrap_or_default();
        if !ids.insert(id) {
            return Err(format!(
                "two records have id \"{id}\"; ids must be unique in a file"
            ));
        }
    }
    out.retain(|a| !a.paragraphs.is_empty());
    Ok(out)
}

fn paragraphs(body: &str, max: usize) -> Result<Vec<RawParagraph>, String> {
    // A text with no blank line is one paragraph a line (an export of short notes); otherwise
    // blank lines separate paragraphs and lines inside one are joined.
    blocks(body, body.contains("\n\n") || body.contains("\n\r\n"), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    #[test]
    fn records_become_articles() {
        let a = articles(
            "{\"id\": \"a1\", \"title\": \"T\", \"text\": \"P one\\ncontinued.\\n\\nP two.\"}\n\n{\"text\": \"L1\\nL2\"}\n",
            MAX,
        )
        .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].id.as_deref(), Some("a1"));
        assert_eq!(a[0].paragraphs[0].text, "P one continued.");
        // "P one\ncontinued.\n\nP two.": the second paragraph starts at character 18.
        assert_eq!(a[0].paragraphs[1].span, (18, 24));
        assert_eq!(a[1].id.as_deref(), Some("3"));
        assert_eq!(a[1].paragraphs.len(), 2);
    }

    #[test]
    fn bad_records_name_their_line() {
        assert!(articles("{\"text\": 1}", MAX)
            .unwrap_err()
            .starts_with("line 1:"));
        assert!(articles("{}\n", MAX)
            .unwrap_err()
            .contains("missing field \"text\""));
        assert!(articles("x", MAX).unwrap_err().contains("not JSON"));
        assert!(
            articles("{\"id\":1,\"text\":\"a\"}\n{\"id\":1,\"text\":\"b\"}", MAX)
                .unwrap_err()
                .contains("unique")
        );
    }
}
