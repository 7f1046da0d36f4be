//! Themes over time: how many of each period's dated passages fall in each theme, as
//! BERTopic's topics-over-time shows, for collections whose documents carry a `date`.
//!
//! A passage's date is its document's `date` field when that starts with an ISO date (`2025`,
//! `2025-02`, `2025-02-10`, `2025-02-10T08:30:00Z`) or is a year as a number; other passages
//! are counted as undated. Periods run without gaps from the first date to the last, so that
//! a quiet year shows as zero rather than vanishing from the chart.

use serde::Serialize;

use crate::error::Result;

/// How long a period is; `auto`, `month`, `quarter` or `year` on the command line and over HTTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Period {
    /// Months up to three years of dates, quarters up to ten years, years beyond.
    #[default]
    Auto,
    Month,
    Quarter,
    Year,
}

impl crate::util::choice::Choice for Period {
    const CHOICES: &'static [(Self, &'static str, &'static str)] = &[
        (
            Period::Auto,
            "auto",
            "Months up to three years of dates, quarters up to ten years, years beyond",
        ),
        (Period::Month, "month", "Calendar months"),
        (Period::Quarter, "quarter", "Calendar quarters"),
        (Period::Year, "year", "Calendar years"),
    ];
}

crate::util::choice::impl_display_and_from_str!(Period, "period");

impl Period {
    /// A period as a request names it.
    pub fn parse(s: &str) -> Result<Self> {
        s.parse()
    }
}

/// Up to this many months of dates are shown by month, up to this many quarters by quarter.
const AUTO_MONTHS: u32 = 36;
const AUTO_QUARTERS: u32 = 40;
/// More periods than this (dates spread over centuries, or a stray `0001`) are refused in
/// favour of a longer period, so the table stays readable and bounded.
const MAX_PERIODS: u32 = 400;

/// Theme prevalence by period.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverTime {
    /// "month", "quarter" or "year".
    pub period: &'static str,
    /// Period names in order: `2025`, `2025-Q1` or `2025-03`.
    pub periods: Vec<String>,
    /// Dated passages in each period.
    pub totals: Vec<usize>,
    /// Passages of each theme (in theme order) in each period.
    pub counts: Vec<Vec<usize>>,
    /// Passages without a usable date (or, by month or quarter, with only a year).
    pub undated: usize,
}

/// A date as (year, month), the month 0 when the date gives only a year.
fn parse(date: &serde_json::Value) -> Option<(u32, u32)> {
    let s = match date {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|d| d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')))
    };
    let year = digits(0..4).filter(|y| (1000..=9999).contains(y))?;
    // `2025`, or `2025-…`: anything else after four digits is not an ISO date (`20250210`).
    if b.len() > 4 && b[4] != b'-' {
        return None;
    }
    let month = if b.len() >= 7 {
        match digits(5..7) {
            Some(m) if (1..=12).contains(&m) && b.get(7).is_none_or(|c| !c.is_ascii_digit()) => m,
            _ => return None,
        }
    } else {
        0
    };
    Some((year, month))
}

/// Index of a date's period counted from year 0, and the period's name.
fn period_of(p: Period, (y, m): (u32, u32)) -> u32 {
    match p {
        Period::Month => y * 12 + (m - 1),
        Period::Quarter => y * 4 + (m - 1) / 3,
        _ => y,
    }
}

fn name_of(p: Period, i: u32) -> String {
    match p {
        Period::Month => format!("{}-{:02}", i / 12, i % 12 + 1),
        Period::Quarter => format!("{}-Q{}", i / 4, i % 4 + 1),
        _ => i.to_string(),
    }
}

/// Theme prevalence by period for passages with these `dates` (their documents' `date` field)
/// and theme `labels` (0-based, `k` themes). `None` when fewer than two periods hold dated
/// passages: there is no trend to show.
pub fn over_time(
    dates: &[Option<&serde_json::Value>],
    labels: &[usize],
    k: usize,
    period: Period,
) -> Option<OverTime> {
    let parsed: Vec<Option<(u32, u32)>> = dates.iter().map(|d| d.and_then(parse)).collect();
    let dated: Vec<(u32, u32)> = parsed.iter().flatten().copied().collect();
    let first_year = dated.iter().map(|d| d.0).min()?;
    let last_year = dated.iter().map(|d| d.0).max()?;
    let with_month: Vec<(u32, u32)> = dated.iter().filter(|d| d.1 > 0).copied().collect();
    let span = |p: Period, ds: &[(u32, u32)]| -> u32 {
        let lo = ds.iter().map(|&d| period_of(p, d)).min().unwrap_or(0);
        let hi = ds.iter().map(|&d| period_of(p, d)).max().unwrap_or(0);
        hi - lo + 1
    };
    let mut chosen = match period {
        Period::Auto => {
            // Finer than a year only when most dates give their month.
            if with_month.len() * 2 < dated.len() {
                Period::Year
            } else if span(Period::Month, &with_month) <= AUTO_MONTHS {
                Period::Month
            } else if span(Period::Quarter, &with_month) <= AUTO_QUARTERS {
                Period::Quarter
            } else {
                Period::Year
            }
        }
        p => p,
    };
    if chosen != Period::Year && span(chosen, &with_month) > MAX_PERIODS {
        chosen = Period::Year;
    }
    if chosen == Period::Year && last_year - first_year + 1 > MAX_PERIODS {
        return None;
    }
    let usable: Vec<(u32, u32)> = if chosen == Period::Year {
        dated
    } else {
        with_month
    };
    let lo = usable.iter().map(|&d| period_of(chosen, d)).min()?;
    let hi = usable.iter().map(|&d| period_of(chosen, d)).max()?;
    let n_periods = (hi - lo + 1) as usize;
    let mut totals = vec![0usize; n_periods];
    let mut counts = vec![vec![0usize; n_periods]; k];
    let mut undated = 0usize;
    for (d, &t) in parsed.iter().zip(labels) {
        match d {
            Some(d) if chosen == Period::Year || d.1 > 0 => {
                let i = (period_of(chosen, *d) - lo) as usize;
                totals[i] += 1;
                counts[t][i] += 1;
            }
            _ => undated += 1,
        }
    }
    if totals.iter().filter(|&&c| c > 0).count() < 2 {
        return None;
    }
    Some(OverTime {
        period: match chosen {
            Period::Month => "month",
            Period::Quarter => "quarter",
            _ => "year",
        },
        periods: (lo..=hi).map(|i| name_of(chosen, i)).collect(),
        totals,
        counts,
        undated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_are_read_as_iso_or_a_year() {
        assert_eq!(parse(&json!("2025-02-10T08:30:00Z")), Some((2025, 2)));
        assert_eq!(parse(&json!("2025-11")), Some((2025, 11)));
        assert_eq!(parse(&json!(" 1999 ")), Some((1999, 0)));
        assert_eq!(parse(&json!(2001)), Some((2001, 0)));
        for bad in [
            "20250210",
            "2025-13-01",
            "2025-1-5",
            "March 2025",
            "0999",
            "",
        ] {
            assert_eq!(parse(&json!(bad)), None, "{bad}");
        }
        assert_eq!(parse(&json!(["2025"])), None);
    }

    #[test]
    fn periods_are_chosen_by_span_and_run_without_gaps() {
        let d = |s: &[&str]| s.iter().map(|x| json!(x)).collect::<Vec<_>>();
        let run = |dates: &[serde_json::Value], p| {
            let refs: Vec<Option<&serde_json::Value>> = dates.iter().map(Some).collect();
            over_time(&refs, &vec![0; dates.len()], 1, p)
        };
        let months = d(&["2024-01-05", "2024-03-01", "2024-03-30"]);
        let o = run(&months, Period::Auto).unwrap();
        assert_eq!((o.period, o.periods.len()), ("month", 3));
        assert_eq!(o.totals, vec![1, 0, 2]);
        let quarters = d(&["2016-02-01", "2024-12-01"]);
        let o = run(&quarters, Period::Auto).unwrap();
        assert_eq!((o.period, o.periods[0].as_str()), ("quarter", "2016-Q1"));
        assert_eq!(o.periods.last().unwrap(), "2024-Q4");
        let years = d(&["1996-02-01", "2024-12-01", "2010"]);
        let o = run(&years, Period::Auto).unwrap();
        assert_eq!((o.period, o.periods.len(), o.undated), ("year", 29, 0));
        // By month, a year-only date has no place: it is counted as undated.
        let o = run(&years, Period::Month).unwrap();
        assert_eq!((o.period, o.undated, o.periods.len()), ("month", 1, 347));
        let o = run(&d(&["1800-01", "2024-05"]), Period::Quarter).unwrap();
        assert_eq!(
            o.period, "year",
            "more than {MAX_PERIODS} quarters: by year"
        );
        let o = run(&d(&["2024-01", "2024-05", "2024"]), Period::Month).unwrap();
        assert_eq!((o.period, o.undated, o.periods.len()), ("month", 1, 5));
        // One period only, or nothing dated: no chart.
        assert!(run(&d(&["2024-01-01", "2024-01-31"]), Period::Auto).is_none());
        assert!(over_time(&[None, None], &[0, 0], 1, Period::Auto).is_none());
    }
}
