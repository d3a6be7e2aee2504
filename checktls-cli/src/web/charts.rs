//! Line charts drawn on the server as SVG: no script, no CDN, readable offline and on a
//! phone (the SVG scales to its box). Colours are SVG presentation attributes, so the strict
//! Content-Security-Policy (no inline style) holds.
//!
//! ```text
//!   line_chart(id, title, x labels (one per run), series [(name, [(x, y)])], unit)
//!     ─► <figure id><svg viewBox="0 0 640 260" role="img"> axes, grid, one polyline per
//!        series, one <circle class="point"> per value (its <title> tells the value) </svg>
//!        <figcaption> title and legend </figcaption></figure>
//! ```

use std::fmt::Write as _;

use super::html::esc;

/// One line of a chart: its name and its points (x index into the labels, value).
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(usize, f64)>,
}

const COLOURS: [&str; 8] = [
    "#1f4e8c", "#b5461a", "#2b7a3d", "#7a2b7a", "#8c6d1f", "#1f7a8c", "#8c1f3a", "#4d4d4d",
];

const W: f64 = 640.0;
const H: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

/// A line chart; `labels` name the x positions (runs), `unit` follows each value.
pub(crate) fn line_chart(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series],
    unit: &str,
) -> String {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    let mut out = String::new();
    let _ = write!(out, "<figure id=\"{}\" class=\"chart\">", esc(id));
    if values.is_empty() || labels.is_empty() {
        let _ = write!(
            out,
            "<figcaption>{}: nothing to draw yet.</figcaption></figure>",
            esc(title)
        );
        return out;
    }
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    if lo > 0.0 && lo < hi * 0.5 {
        lo = 0.0;
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi += 1.0;
        lo = (lo - 1.0).min(lo);
    }
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = labels.len();
    let x = |i: usize| {
        if n <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * (i as f64) / ((n - 1) as f64)
        }
    };
    let y = |v: f64| TOP + plot_h * (1.0 - (v - lo) / (hi - lo));
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" \
         aria-labelledby=\"{0}-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{0}-title\">{1}</title>",
        esc(id),
        esc(title)
    );
    // Grid and the y axis's labels: five steps.
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let yy = y(v);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#dddddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#333333\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            yy + 4.0,
            trim(v)
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#333333\"/>\
         <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333333\"/>",
        TOP + plot_h,
        TOP + plot_h,
        W - RIGHT,
        TOP + plot_h
    );
    // The x labels: at most about ten.
    let every = n.div_ceil(10).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333333\">{}</text>",
                x(i),
                TOP + plot_h + 16.0,
                esc(l)
            );
        }
    }
    for (si, s) in series.iter().enumerate() {
        let colour = COLOURS
            .get(si % COLOURS.len())
            .copied()
            .unwrap_or("#000000");
        let pts: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v)))
            .collect();
        if pts.len() > 1 {
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                pts.join(" ")
            );
        }
        for (i, v) in s.points.iter().filter(|p| p.1.is_finite()) {
            let label = labels.get(*i).map(String::as_str).unwrap_or("");
            let _ = write!(
                out,
                "<circle class=\"point\" data-series=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\">\
                 <title>{}: {} {}{}</title></circle>",
                esc(&s.name),
                x(*i),
                y(*v),
                esc(&s.name),
                esc(label),
                trim(*v),
                esc(unit)
            );
        }
    }
    out.push_str("</svg><figcaption>");
    let _ = write!(
        out,
        "<strong>{}</strong> <span class=\"legend\">",
        esc(title)
    );
    for (si, s) in series.iter().enumerate() {
        let colour = COLOURS
            .get(si % COLOURS.len())
            .copied()
            .unwrap_or("#000000");
        let _ = write!(
            out,
            "<span><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" fill=\"{colour}\"/></svg> {}</span>",
            esc(&s.name)
        );
    }
    out.push_str("</span></figcaption></figure>");
    out
}

fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_per_value_and_names_escaped() {
        let svg = line_chart(
            "grade",
            "Grade",
            &["run 1".into(), "run 2".into()],
            &[Series {
                name: "<a>".into(),
                points: vec![(0, 114.0), (1, 112.0)],
            }],
            "",
        );
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 2);
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"));
        assert!(svg.contains("<polyline"));
    }

    #[test]
    fn nothing_to_draw_is_said() {
        let svg = line_chart("x", "Days", &[], &[], "days");
        assert!(svg.contains("nothing to draw"));
        assert!(!svg.contains("<svg"));
    }
}
