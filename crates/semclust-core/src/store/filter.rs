//! Metadata filters: `--where KEY=VALUE`, `--since DATE`, `--until DATE` on search, related
//! passages and themes, over the documents' metadata (front matter, JSONL fields, a web page's
//! `<meta>`s) that every passage carries.

use crate::corpus::Meta;
use crate::error::{Error, Result};

/// Which passages a search or a theme run considers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Each field equals its value: a string as written, a number or boolean as JSON writes it,
    /// a list when it holds the value (`tags=soil`). Keys are lower case, as stored.
    pub equals: Vec<(String, String)>,
    /// The `date` field on or after this date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`).
    pub since: Option<String>,
    /// The `date` field on or before this date (a month or a year includes all of it).
    pub until: Option<String>,
}

/// Why a date of the right shape (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, digits checked) names no
/// day of the calendar: month 00 or 13, 30 February, 31 April.
fn impossible(d: &str) -> Option<String> {
    let num = |r: std::ops::Range<usize>| d.get(r).and_then(|s| s.parse::<u32>().ok());
    let year = num(0..4)?;
    let month = num(5..7)?;
    if !(1..=12).contains(&month) {
        return Some(format!("there is no month {month:02} (01 to 12)"));
    }
    let day = num(8..10)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (!(1..=days).contains(&day))
        .then(|| format!("month {month:02} of {year} has days 01 to {days}"))
}

impl Filter {
    /// A filter from its parts as users write them; `field` names where a bad part came from
    /// (`where`, `since`, `until`).
    pub fn new(wheres: &[String], since: Option<&str>, until: Option<&str>) -> Result<Self> {
        let mut equals = Vec::with_capacity(wheres.len());
        for w in wheres {
            let (k, v) = w.split_once('=').ok_or_else(|| {
                Error::invalid(
                    "where",
                    format!("'{w}': expected KEY=VALUE, e.g. lang=de or tags=soil"),
                )
            })?;
            let k = k.trim().to_lowercase();
            if k.is_empty() {
                return Err(Error::invalid("where", format!("'{w}': the key is empty")));
            }
            // `language` is stored as `lang`, as the readers do.
            let k = if k == "language" {
                "lang".to_string()
            } else {
                k
            };
            equals.push((k, v.trim().to_string()));
        }
        let date = |field: &'static str, d: Option<&str>| -> Result<Option<String>> {
            let Some(d) = d.map(str::trim) else {
                return Ok(None);
            };
            let ok = matches!(d.len(), 4 | 7 | 10)
                && d.chars().enumerate().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if !ok {
                return Err(Error::invalid(
                    field,
                    format!("'{d}': expected a date as YYYY, YYYY-MM or YYYY-MM-DD"),
                ));
            }
            if let Some(why) = impossible(d) {
                return Err(Error::invalid(field, format!("'{d}': {why}")));
            }
            Ok(Some(d.to_string()))
        };
        Ok(Self {
            equals,
            since: date("since", since)?,
            until: date("until", until)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.equals.is_empty() && self.since.is_none() && self.until.is_none()
    }

    /// Whether a passage with this metadata passes. Without a `date`, a passage fails any date
    /// bound.
    pub fn matches(&self, meta: &Meta) -> bool {
        let scalar = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        for (k, want) in &self.equals {
            let ok = match meta.get(k) {
                Some(serde_json::Value::Array(items)) => {
                    items.iter().any(|i| scalar(i).as_deref() == Some(want))
                }
                Some(v) => scalar(v).as_deref() == Some(want),
                None => false,
            };
            if !ok {
                return false;
            }
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(date) = meta.get("date").and_then(scalar) else {
            return false;
        };
        // ISO dates order as strings; a bound of a month or a year compares that much of the
        // date, so that `--until 2025-02` keeps 2025-02-28.
        if let Some(s) = &self.since {
            if date.as_str() < s.as_str() {
                return false;
            }
        }
        if let Some(u) = &self.until {
            let head: String = date.chars().take(u.len()).collect();
            if head.as_str() > u.as_str() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: serde_json::Value) -> Meta {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn fields_lists_and_dates() {
        let m = meta(
            serde_json::json!({"lang": "de", "tags": ["soil", "water"], "year": 2025, "date": "2025-02-10"}),
        );
        let f = |w: &[&str], s: Option<&str>, u: Option<&str>| {
            let w: Vec<String> = w.iter().map(|x| x.to_string()).collect();
            Filter::new(&w, s, u).unwrap().matches(&m)
        };
        assert!(f(&["lang=de"], None, None));
        assert!(f(&["Language = de"], None, None));
        assert!(!f(&["lang=es"], None, None));
        assert!(f(&["tags=soil", "year=2025"], None, None));
        assert!(!f(&["author=x"], None, None));
        assert!(f(&[], Some("2025-02"), Some("2025-02")));
        assert!(f(&[], Some("2025-02-10"), Some("2025")));
        assert!(!f(&[], Some("2025-02-11"), None));
        assert!(!f(&[], None, Some("2025-01")));
        assert!(!Filter::new(&[], Some("2025"), None)
            .unwrap()
            .matches(&Meta::new()));
        assert!(Filter::new(&["lang".into()], None, None).is_err());
        assert!(Filter::new(&[], Some("10/02/2025"), None).is_err());
    }

    /// Days that are not in the calendar are refused, with the reason (they used to give no
    /// hit, or the whole year, in silence).
    #[test]
    fn impossible_dates_are_refused() {
        for (d, why) in [
            ("2025-13", "no month 13"),
            ("2025-00", "no month 00"),
            ("2025-02-30", "days 01 to 28"),
            ("2024-02-30", "days 01 to 29"),
            ("1900-02-29", "days 01 to 28"),
            ("2025-04-31", "days 01 to 30"),
            ("2025-01-00", "days 01 to 31"),
            ("2025-1", "expected a date"),
        ] {
            for (s, u) in [(Some(d), None), (None, Some(d))] {
                let e = Filter::new(&[], s, u).unwrap_err().to_string();
                assert!(e.contains(why), "{d}: {e}");
            }
        }
        for d in ["2024-02-29", "2000-02-29", "2025-12-31", "2025-01", "2025"] {
            assert!(Filter::new(&[], Some(d), Some(d)).is_ok(), "{d}");
        }
    }
}
