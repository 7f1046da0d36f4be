//! The map of the themes as SVG: each passage of the map's sample (all of them up to
//! [`MAP_POINTS`]; see [`map_sample`]) a point at its 2-D position, one colour per theme, the
//! theme numbers at the middle of their points. Each point's `<title>` names it (browsers show
//! it on hover); the HTML report shows its text beside the map.

use std::fmt::Write;

use super::{colour, escape};
use crate::cluster::{KScore, Themes};

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
