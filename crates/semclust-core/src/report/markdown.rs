//! The report as Markdown, with the map as an SVG file beside it.

use std::fmt::Write;

use super::Report;
use crate::util::text::escape_markdown as text;

/// An id as inline code; HTML is not read inside a code span, only a backtick could end it.
fn code(s: &str) -> String {
    if s.contains('`') || s.contains('\n') {
        text(s)
    } else {
        format!("`{s}`")
    }
}

pub fn render(r: &Report<'_>, map_file: &str) -> String {
    let t = r.themes;
    let f = &t.facts;
    let mut s = String::new();
    let shared = super::shared_titles(t);
    let _ = writeln!(s, "# {}\n", text(&r.title));
    let _ = writeln!(
        s,
        "{} · {} ({}, {}-d) · k = {} ({}) · silhouette {:.3} · {} · semclust {}\n",
        text(&r.index),
        f.model,
        f.precision,
        f.dimension,
        f.k,
        f.k_choice,
        f.silhouette,
        r.date,
        r.semclust_version
    );
    let _ = writeln!(
        s,
        "## Map of the themes\n\n![Map of the passages, coloured by theme]({map_file})\n"
    );
    let _ = writeln!(
        s,
        "Each point is a passage, laid out by {} (the first two principal components show \
         {:.1}% and {:.1}% of the variance).\n",
        f.map_layout,
        f.map_explained_variance[0] * 100.0,
        f.map_explained_variance[1] * 100.0
    );
    s.push_str("| theme | label | passages | articles |\n|---|---|---|---|\n");
    for th in &t.themes {
        let _ = writeln!(
            s,
            "| {} | [{}](#theme-{}) | {} | {} |",
            th.id,
            text(&th.label),
            th.id,
            th.size,
            th.spread
        );
    }

    s.push_str("\n## Articles × themes\n\n| article |");
    for th in &t.themes {
        let _ = write!(s, " {} |", th.id);
    }
    s.push_str(" total |\n|---|");
    for _ in &t.themes {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for row in &t.table {
        let _ = write!(
            s,
            "| {} |",
            text(super::article_name(&shared, &row.article, &row.document))
        );
        for &c in &row.counts {
            if c == 0 {
                s.push_str("  |");
            } else {
                let _ = write!(s, " {c} |");
            }
        }
        let _ = writeln!(s, " {} |", row.total);
    }
    s.push_str("| **passages in the theme** |");
    for th in &t.themes {
        let _ = write!(s, " **{}** |", th.size);
    }
    let _ = writeln!(s, " **{}** |", f.passages);

    for th in &t.themes {
        let _ = writeln!(
            s,
            "\n<a id=\"theme-{}\"></a>\n## Theme {}: {}\n\n{} passages · spans {} of {} articles: {}\n",
            th.id,
            th.id,
            text(&th.label),
            th.size,
            th.spread,
            f.articles,
            super::articles_line(&shared, th, text)
        );
        if let Some(line) = super::languages_line(t, th) {
            let _ = writeln!(s, "Languages: {}\n", text(&line));
        }
        s.push_str("**Key terms**\n\n| term | weight | |\n|---|---|---|\n");
        let max = th.terms.first().map(|x| x.weight).unwrap_or(1.0).max(1e-12);
        for term in &th.terms {
            let blocks = ((20.0 * term.weight / max).round() as usize).max(1);
            let _ = writeln!(
                s,
                "| {} | {:.4} | {} |",
                text(&term.shown()),
                term.weight,
                "█".repeat(blocks)
            );
        }
        s.push_str("\n**Representative passages**\n\n");
        for rep in &th.representatives {
            let _ = writeln!(
                s,
                "> {}\n>\n> — *{}* · {} · similarity to the theme's centre {:.3}\n",
                text(&rep.text),
                text(&rep.article),
                code(&rep.id),
                rep.similarity
            );
        }
    }

    if let Some(ot) = &t.over_time {
        let _ = write!(
            s,
            "\n## Themes over time\n\nPassages of each theme per {} (the documents' `date`), with \
             the theme's share of the {}'s dated passages{}.\n\n| {} | dated |",
            ot.period,
            ot.period,
            if ot.undated > 0 {
                format!("; {} passages have no date that places them", ot.undated)
            } else {
                String::new()
            },
            ot.period
        );
        for th in &t.themes {
            let _ = write!(s, " {}: {} |", th.id, text(&th.label));
        }
        let _ = writeln!(s, "\n|---|---|{}", "---|".repeat(t.themes.len()));
        for (i, period) in ot.periods.iter().enumerate() {
            let total = ot.totals[i];
            let _ = write!(s, "| {period} | {total} |");
            for row in &ot.counts {
                match row[i] {
                    0 => s.push_str(" |"),
                    c => {
                        let _ = write!(s, " {c} ({:.0}%) |", 100.0 * c as f64 / total as f64);
                    }
                }
            }
            s.push('\n');
        }
    }

    if let Some(scores) = &t.k_scores {
        s.push_str("\n## Choice of k\n\n| k | silhouette | inertia |\n|---|---|---|\n");
        for k in scores {
            let mark = if k.k == f.k { " ◀ kept" } else { "" };
            let _ = writeln!(
                s,
                "| {} | {:.4}{mark} | {:.2} |",
                k.k, k.silhouette, k.inertia
            );
        }
    }

    let _ = writeln!(
        s,
        "\n## About this run\n\n\
         - Index: {}\n- Model: {} (revision {}), precision {}\n- Passages / articles: {} / {}\n\
         - k: {} ({})\n- Clustering: k-means (k-means++ start, {} restarts, the lowest inertia kept), seed {}\n\
         - Vectors: {}\n\
         - Silhouette: {:.4}; inertia: {:.3}\n\
         - Key terms: class-based TF-IDF over words and word pairs, stop words of {} removed\n\
         - Made: {} by semclust {}",
        text(&r.index),
        f.model,
        f.revision,
        f.precision,
        f.passages,
        f.articles,
        f.k,
        f.k_choice,
        f.restarts,
        f.seed,
        super::vectors_line(f),
        f.silhouette,
        f.inertia,
        f.stop_word_languages.join(", "),
        r.date,
        r.semclust_version
    );
    if f.boilerplate_left_out > 0 {
        let _ = writeln!(
            s,
            "- Boilerplate left out: {} passages whose text is in 5 documents or more",
            f.boilerplate_left_out
        );
    }
    s
}
