//! Front matter (YAML between `---` lines, TOML between `+++` lines) as document metadata.
//!
//! Every key is kept. Keys are lower-cased, `language` is read as `lang`, and `tags` (or
//! `keywords`) given as one comma-separated string become a list, so that the well-known keys
//! (`title`, `date`, `lang`, `url`, `tags`) mean the same whatever tool wrote the file. Dates stay
//! the strings they were written as (`2025-02-10`, `2025-02-10T08:30:00Z`).

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use super::Meta;

/// Bounds on what one front matter may hold: it is read before any limit on passages applies.
const MAX_DEPTH: usize = 16;

pub(crate) fn yaml(src: &str) -> Result<Meta, String> {
    let docs = YamlLoader::load_from_str(src)
        .map_err(|e| format!("the front matter is not valid YAML ({e}); fix it or remove it"))?;
    match docs.into_iter().next() {
        None | Some(Yaml::Null) => Ok(Meta::new()),
        Some(Yaml::Hash(h)) => {
            let mut meta = Meta::new();
            for (k, v) in h {
                meta.insert(yaml_key(&k), yaml_value(v, 0));
            }
            Ok(normalise(meta))
        }
        Some(_) => Err(
            "the front matter is not a YAML mapping (`key: value` lines); fix it or remove it"
                .into(),
        ),
    }
}

pub(crate) fn toml(src: &str) -> Result<Meta, String> {
    let table: toml::Table = src.parse().map_err(|e: toml::de::Error| {
        let msg = e.message().to_string();
        format!("the front matter is not valid TOML ({msg}); fix it or remove it")
    })?;
    let meta = table.into_iter().map(|(k, v)| (k, toml_value(v))).collect();
    Ok(normalise(meta))
}

/// The title a front matter gives, when it gives a non-empty string.
pub(crate) fn title(meta: &Meta) -> Option<String> {
    match meta.get("title")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// Keys lower-cased, `language` read as `lang`, comma-separated `tags`/`keywords` as lists.
pub(crate) fn normalise(meta: Meta) -> Meta {
    let mut out = Meta::new();
    for (k, v) in meta {
        let k = match k.to_lowercase().as_str() {
            "language" => "lang".to_string(),
            other => other.to_string(),
        };
        let v = match (k.as_str(), v) {
            ("tags" | "keywords", Value::String(s)) => Value::Array(
                s.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_string()))
                    .collect(),
            ),
            (_, v) => v,
        };
        // `language` and `lang` both given: the explicit `lang` wins.
        if k == "lang" && out.contains_key("lang") {
            continue;
        }
        out.insert(k, v);
    }
    out
}

fn yaml_key(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

fn yaml_value(v: Yaml, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match v {
        Yaml::String(s) => Value::String(s),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(s)),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(a) => Value::Array(a.into_iter().map(|x| yaml_value(x, depth + 1)).collect()),
        Yaml::Hash(h) => Value::Object(
            h.into_iter()
                .map(|(k, v)| (yaml_key(&k), yaml_value(v, depth + 1)))
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

fn toml_value(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_value).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_value(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keys_are_kept_and_normalised() {
        let m = yaml("Title: Notes\ndate: 2025-02-10\nLanguage: de\ntags: a, b\nrating: 4.5\nextra:\n  x: 1\n")
            .unwrap();
        assert_eq!(m["title"], "Notes");
        assert_eq!(m["date"], "2025-02-10");
        assert_eq!(m["lang"], "de");
        assert_eq!(m["tags"], serde_json::json!(["a", "b"]));
        assert_eq!(m["rating"], 4.5);
        assert_eq!(m["extra"]["x"], 1);
    }

    #[test]
    fn toml_dates_are_strings() {
        let m = toml("title = \"T\"\ndate = 2025-02-10\ntags = [\"x\"]\n").unwrap();
        assert_eq!(m["date"], "2025-02-10");
        assert_eq!(title(&m).as_deref(), Some("T"));
    }

    #[test]
    fn broken_front_matter_is_named() {
        let e = yaml("title: [unclosed\n").unwrap_err();
        assert!(e.starts_with("the front matter is not valid YAML"), "{e}");
        assert!(yaml("- a\n- b\n")
            .unwrap_err()
            .contains("not a YAML mapping"));
    }
}
