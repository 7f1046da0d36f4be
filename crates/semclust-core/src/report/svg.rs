//! The map of the themes as SVG: each passage of the map's sample (all of them up to
//! [`MAP_POINTS`]; see [`map_sample`]) a point at its 2-D position, one colour per theme, the
//! theme numbers at the middle of their points. Each point's `<title>` names it (browsers show
//! it on hover); the HTML report shows its text beside the map.

use std::fmt::Write;

use super::{colour, escape};
use crate::cluster::{KScore, OverTime, Themes};

/// Most points drawn: above this a stratified sample (see [`map_sample`]), so that the report
/// stays a few megabytes at 100,000 passages.
pub const MAP_POINTS: usize = 3000;

pub const WIDTH: f32 = 760.0;
pub const HEIGHT: f32 = 500.0;
const MARGIN: f32 = 36.0;

/// The passages the map draws (indices into `themes.passages`, in order): all of them up to
/// [`MAP_POINTS`]; above, each theme in proportion to its size (at least 20 points, or all of a
/// smaller theme), its representatives always, the rest evenly spaced in reading order.
pub fn map_sample(themes: &Themes) -> Vec<usize> {
    let n = themes.passages.len();
    if n <= MAP_POINTS {
        return (0..n).collect();
    }
    let mut keep = vec![false; n];
    let index: std::collections::HashMap<&str, usize> = themes
        .passages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    for t in &themes.themes {
        let members: Vec<usize> = (0..n)
            .filter(|&i| themes.passages[i].theme == t.id)
            .collect();
        let quota = ((members.len() * MAP_POINTS) / n)
            .max(20)
            .min(members.len());
        for r in &t.representatives {
            if let Some(&i) = index.get(r.id.as_str()) {
                keep[i] = true;
            }
        }
        for j in 0..quota {
            keep[members[j * members.len() / quota]] = true;
        }
    }
    (0..n).filter(|&i| keep[i]).collect()
}

/// The map of the passages `sample` picks. `embedded` leaves out the XML prologue that a
/// stand-alone file needs.
pub fn map(themes: &Themes, embedded: bool, sample: &[usize]) -> String {
    let pts: Vec<&crate::cluster::PassageTheme> =
        sample.iter().map(|&i| &themes.passages[i]).collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for p in &pts {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.y);
        y1 = y1.max(p.y);
    }
    if pts.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let sx = (WIDTH - 2.0 * MARGIN) / (x1 - x0).max(1e-9);
    let sy = (HEIGHT - 2.0 * MARGIN) / (y1 - y0).max(1e-9);
    let px = |x: f32| MARGIN + (x - x0) * sx;
    // SVG's y grows downwards; the map's grows upwards.
    let py = |y: f32| HEIGHT - MARGIN - (y - y0) * sy;

    let mut s = String::new();
    if !embedded {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" class=\"map\" \
         font-family=\"system-ui, sans-serif\">\n<title>Map of the passages ({}), coloured by \
         theme</title>\n",
        escape(&themes.facts.map_layout)
    );
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fcfcfd\" \
         stroke=\"#e3e5ea\"/>"
    );
    let ev = themes.facts.map_explained_variance;
    let note = if themes.facts.map_layout == "PCA" {
        format!(
            "axis 1: {:.0}% of the variance · axis 2: {:.0}%",
            ev[0] * 100.0,
            ev[1] * 100.0
        )
    } else {
        "t-SNE: close points are neighbours; distances between groups mean little".to_string()
    };
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" fill=\"#777\" text-anchor=\"end\">{note}</text>",
        WIDTH - 8.0,
        HEIGHT - 8.0,
    );
    // Colours by class, one rule per theme, rather than on each of thousands of points.
    s.push_str("<style>.point{fill-opacity:.85;stroke:#fff;stroke-width:1}");
    for t in &themes.themes {
        let _ = write!(s, ".t{}{{fill:{}}}", t.id, colour(t.id));
    }
    s.push_str("</style>\n<g class=\"points\">\n");
    for p in &pts {
        let _ = writeln!(
            s,
            "<circle class=\"point t{t}\" data-id=\"{id}\" data-theme=\"{t}\" cx=\"{:.1}\" \
             cy=\"{:.1}\" r=\"4.5\"><title>{id} · theme {t}</title></circle>",
            px(p.x),
            py(p.y),
            id = escape(&p.id),
            t = p.theme,
        );
    }
    s.push_str("</g>\n");
    // Theme numbers at the mean of their points.
    for t in &themes.themes {
        let members: Vec<_> = themes.passages.iter().filter(|p| p.theme == t.id).collect();
        if members.is_empty() {
            continue;
        }
        let mx = members.iter().map(|p| px(p.x)).sum::<f32>() / members.len() as f32;
        let my = members.iter().map(|p| py(p.y)).sum::<f32>() / members.len() as f32;
        let _ = writeln!(
            s,
            "<g class=\"theme-mark\" pointer-events=\"none\"><circle cx=\"{mx:.1}\" cy=\"{my:.1}\" \
             r=\"11\" fill=\"#fff\" stroke=\"{c}\" stroke-width=\"2.5\"/><text x=\"{mx:.1}\" \
             y=\"{:.1}\" font-size=\"12\" font-weight=\"700\" text-anchor=\"middle\" \
             fill=\"{c}\">{}</text></g>",
            my + 4.0,
            t.id,
            c = colour(t.id)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The choice of k as a chart: the silhouette (left axis) and the inertia (right axis, scaled
/// to the chart) of every k tried, the kept k marked. Inline in the HTML report.
pub fn k_curve(scores: &[KScore], chosen: usize) -> String {
    const W: f32 = 560.0;
    const H: f32 = 220.0;
    const L: f32 = 48.0;
    const R: f32 = 56.0;
    const T: f32 = 16.0;
    const B: f32 = 34.0;
    let mut s = String::new();
    if scores.is_empty() {
        return s;
    }
    let (k0, k1) = (scores[0].k as f32, scores[scores.len() - 1].k as f32);
    let span = |lo: f64, hi: f64| {
        if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        }
    };
    let fold = |f: fn(&KScore) -> f64| {
        let lo = scores.iter().map(f).fold(f64::MAX, f64::min);
        let hi = scores.iter().map(f).fold(f64::MIN, f64::max);
        span(lo, hi)
    };
    let (s_lo, s_hi) = fold(|k| k.silhouette);
    let (w_lo, w_hi) = fold(|k| k.inertia);
    let x = |k: usize| L + (k as f32 - k0) / (k1 - k0).max(1.0) * (W - L - R);
    let y = |v: f64, lo: f64, hi: f64| T + (1.0 - ((v - lo) / (hi - lo)) as f32) * (H - T - B);
    let line = |f: &dyn Fn(&KScore) -> f32| {
        scores
            .iter()
            .map(|k| format!("{:.1},{:.1}", x(k.k), f(k)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" class=\"k-curve\" aria-label=\"silhouette and \
         inertia by k; k = {chosen} kept\">\n\
         <line x1=\"{L}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>\n",
        H - B,
        W - R,
        H - B
    );
    let cx = x(chosen);
    let _ = writeln!(
        s,
        "<line x1=\"{cx:.1}\" y1=\"{T}\" x2=\"{cx:.1}\" y2=\"{}\" stroke=\"#bbb\" \
         stroke-dasharray=\"4 3\"/><text x=\"{cx:.1}\" y=\"{}\" font-size=\"11\" \
         text-anchor=\"middle\">k = {chosen}</text>",
        H - B,
        T - 4.0
    );
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n\
         <polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"5 3\" \
         points=\"{}\"/>",
        line(&|k| y(k.silhouette, s_lo, s_hi)),
        line(&|k| y(k.inertia, w_lo, w_hi))
    );
    for k in scores {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(k.k),
            H - B + 14.0,
            k.k
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"4\" y=\"{}\" font-size=\"11\" fill=\"#1f77b4\">silhouette {s_hi:.3}</text>\
         <text x=\"4\" y=\"{}\" font-size=\"11\" fill=\"#1f77b4\">{s_lo:.3}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#d62728\" text-anchor=\"end\">inertia \
         {w_hi:.1}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#d62728\" \
         text-anchor=\"end\">{w_lo:.1}</text>\n<text x=\"{}\" y=\"{}\" font-size=\"11\" \
         text-anchor=\"middle\">k</text>\n</svg>",
        T + 10.0,
        H - B - 2.0,
        W - 2.0,
        T + 10.0,
        W - 2.0,
        H - B - 2.0,
        (L + W - R) / 2.0,
        H - 4.0
    );
    s
}

/// Themes over time as small multiples: one chart per theme of its share of each period's dated
/// passages, all on the same scale so that the charts compare, and a first chart of the dated
/// passages per period. A period without dated passages breaks the line rather than reading
/// as a share of zero. Points carry `<title>`s (count, total, share) while there are few enough
/// periods to point at; the table beside the charts has every figure.
pub fn over_time(themes: &Themes, ot: &OverTime) -> String {
    const W: f32 = 260.0;
    const H: f32 = 96.0;
    const L: f32 = 6.0;
    const R: f32 = 6.0;
    const T: f32 = 8.0;
    const B: f32 = 18.0;
    const MAX_MARKED: usize = 60;
    let n = ot.periods.len();
    let x = |i: usize| L + i as f32 / (n.max(2) - 1) as f32 * (W - L - R);
    let share = |c: usize, total: usize| (total > 0).then(|| c as f32 / total as f32);
    let top = ot
        .counts
        .iter()
        .flat_map(|row| {
            row.iter()
                .zip(&ot.totals)
                .filter_map(|(&c, &t)| share(c, t))
        })
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let y = |v: f32, hi: f32| T + (1.0 - v / hi) * (H - T - B);
    let axis = |s: &mut String| {
        let _ = write!(
            s,
            "<line x1=\"{L}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\" stroke=\"#bbb\"/>\
             <text x=\"{L}\" y=\"{}\" font-size=\"10\">{}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            W - R,
            H - 5.0,
            escape(&ot.periods[0]),
            W - R,
            H - 5.0,
            escape(&ot.periods[n - 1]),
            b = H - B,
        );
    };
    let mut s = String::from("<div class=\"multiples\">\n");
    // The dated passages per period, as bars.
    let most = ot.totals.iter().copied().max().unwrap_or(1).max(1) as f32;
    let bar = ((W - L - R) / n as f32 * 0.8).max(0.5);
    let _ = write!(
        s,
        "<figure><figcaption>Dated passages per {}</figcaption><svg viewBox=\"0 0 {W} {H}\" \
         role=\"img\" aria-label=\"dated passages per {}, at most {most}\">",
        ot.period, ot.period
    );
    for (i, &c) in ot.totals.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let top_y = y(c as f32, most);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{top_y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"#9aa3b2\">\
             <title>{}: {c}</title></rect>",
            x(i) - bar / 2.0,
            H - B - top_y,
            escape(&ot.periods[i])
        );
    }
    axis(&mut s);
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{most}</text></svg></figure>",
        W - R,
        T + 8.0
    );
    for (t, row) in themes.themes.iter().zip(&ot.counts) {
        let c = colour(t.id);
        let _ = write!(
            s,
            "<figure data-theme=\"{}\"><figcaption title=\"{}\"><span class=\"swatch\" style=\"background:{c}\">\
             </span>{}: {}</figcaption><svg viewBox=\"0 0 {W} {H}\" role=\"img\" \
             aria-label=\"share of theme {} by {}\">",
            t.id,
            escape(&t.label),
            t.id,
            escape(&t.label),
            t.id,
            ot.period
        );
        // Lines between periods that have dated passages.
        let mut segment: Vec<String> = Vec::new();
        let flush = |seg: &mut Vec<String>, s: &mut String| {
            if seg.len() > 1 {
                let _ = write!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.8\" points=\"{}\"/>",
                    seg.join(" ")
                );
            }
            seg.clear();
        };
        for (i, (&k, &total)) in row.iter().zip(&ot.totals).enumerate() {
            match share(k, total) {
                Some(v) => segment.push(format!("{:.1},{:.1}", x(i), y(v, top))),
                None => flush(&mut segment, &mut s),
            }
        }
        flush(&mut segment, &mut s);
        for (i, (&k, &total)) in row.iter().zip(&ot.totals).enumerate() {
            let Some(v) = share(k, total) else { continue };
            if n <= MAX_MARKED {
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.2\" fill=\"{c}\"><title>{}: {k} of \
                     {total} ({:.1}%)</title></circle>",
                    x(i),
                    y(v, top),
                    escape(&ot.periods[i]),
                    100.0 * v
                );
            }
        }
        axis(&mut s);
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{:.0}%</text></svg></figure>",
            W - R,
            T + 8.0,
            100.0 * top
        );
    }
    s.push_str("</div>\n");
    s
}
