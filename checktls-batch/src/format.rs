//! The output formats of a batch's results, as CheckTLS names them.
//!
//! ```text
//!   text        114 205.139.110.177                       one line per result shown
//!   csv         114,"205.139.110.177"
//!   pager       Addr,CF,Ans,Con,HELO,TLS,Cert,Sec,From,To   stages as the percent of hosts passing
//!   pager-html  the pager matrix as an HTML table
//!   xml         <CheckTLS test="BatchTestReceiver"><Results><Result><Score/><Target/>
//!   xml-score   <Result><eMailAddress/><ConfidenceFactor/><MXConfidenceFactor/>…<MXCount/>
//!   xml-matrix  <Result>… <MX name= address= preference= port=> stages, SSL, Cert …</MX><Average/>
//!   json        {"batch", "test_type", "results": [...], "total": {...}}   (this project's)
//! ```
//!
//! A target that could not be tested keeps its line: `- example.com (not tested: why)` in
//! text, an empty grade in csv and pager, `<NotTested>` in XML. When the batch has a
//! `<Total>`, every format ends with it. OnlyNode/OnlyField ([`Selection`]) trim the XML and
//! JSON results; each result keeps its target so it can still be told apart. The JSON's schema
//! is `schema/results.schema.json` beside this crate (`json_schema()`, feature `schema`).
//!
//! ```
//! use checktls_batch::eval::BatchResult;
//! use checktls_batch::format::render;
//! use checktls_batch::model::{Format, Selection};
//! use checktls_batch::report::{Outcome, TargetReport};
//! let batch = checktls_batch::parse(r#"<BatchTest TestType="receiver"><Target>205.139.110.177</Target></BatchTest>"#).unwrap();
//! let result = BatchResult::evaluate(&batch, vec![vec![Outcome::Tested(TargetReport::graded("205.139.110.177", 114))]]);
//! assert_eq!(render(&result, Format::Text, &Selection::all()), "114 205.139.110.177\n");
//! assert_eq!(render(&result, Format::Csv, &Selection::all()), "114,\"205.139.110.177\"\n");
//! ```

use std::fmt::Write as _;

use serde_json::json;

use crate::eval::{BatchResult, Line, TotalVerdict};
use crate::model::{Format, Selection};
use crate::report::{MxRow, Outcome, Stage, TargetReport, TlsVersion};

#[cfg(feature = "schema")]
mod schema;
#[cfg(feature = "schema")]
pub use schema::json_schema;

/// Renders the lines shown of a batch result in a format, trimmed by a selection.
pub fn render(result: &BatchResult, format: Format, selection: &Selection) -> String {
    match format {
        Format::Text => text(result),
        Format::Csv => csv(result),
        Format::Pager => pager(result),
        Format::PagerHtml => pager_html(result),
        Format::Xml | Format::XmlScore | Format::XmlMatrix => xml(result, format, selection),
        Format::Json => json_format(result, selection),
    }
}

fn total_number(total: &TotalVerdict) -> String {
    total
        .value
        .map_or_else(|| "none".to_owned(), |v| format!("{v:.6}"))
}

fn text(result: &BatchResult) -> String {
    let mut out = String::new();
    for line in result.lines() {
        match line.outcome {
            Outcome::Tested(r) => {
                let _ = writeln!(out, "{} {}", r.score, line.target.target);
            }
            Outcome::NotTested(n) => {
                let _ = writeln!(
                    out,
                    "- {} (not tested: {})",
                    line.target.target,
                    one_line(&n.reason)
                );
            }
        }
    }
    if result.show_total {
        let _ = writeln!(
            out,
            "Total {} {}",
            result.total.function.name(),
            total_number(&result.total)
        );
    }
    out
}

fn csv(result: &BatchResult) -> String {
    let mut out = String::new();
    for line in result.lines() {
        match line.outcome {
            Outcome::Tested(r) => {
                let _ = writeln!(out, "{},{}", r.score, quoted(&line.target.target));
            }
            Outcome::NotTested(n) => {
                let _ = writeln!(
                    out,
                    ",{},{}",
                    quoted(&line.target.target),
                    quoted(&format!("not tested: {}", one_line(&n.reason)))
                );
            }
        }
    }
    if result.show_total {
        let _ = writeln!(
            out,
            "{},{}",
            total_number(&result.total),
            quoted(&format!("Total {}", result.total.function.name()))
        );
    }
    out
}

/// The percent of rows that passed a stage (0 when there are none).
fn stage_percent(rows: &[MxRow], stage: Stage) -> u64 {
    let n = rows.len() as u64;
    if n == 0 {
        return 0;
    }
    let ok = rows
        .iter()
        .filter(|r| r.stage(stage).is_some_and(|s| s.ok))
        .count() as u64;
    (ok * 100 + n / 2) / n
}

const PAGER_HEADER: [&str; 10] = [
    "Addr", "CF", "Ans", "Con", "HELO", "TLS", "Cert", "Sec", "From", "To",
];

/// The pager cells of one line: address, grade, then the eight stages.
fn pager_cells(line: &Line<'_>) -> Vec<String> {
    let mut cells = vec![line.target.target.clone()];
    match line.outcome {
        Outcome::Tested(r) => {
            cells.push(r.score.to_string());
            cells.extend(
                Stage::RECEIVER
                    .iter()
                    .map(|&s| stage_percent(&r.mx, s).to_string()),
            );
        }
        Outcome::NotTested(_) => cells.extend(std::iter::repeat_n(String::new(), 9)),
    }
    cells
}

fn pager(result: &BatchResult) -> String {
    let mut out = PAGER_HEADER.join(",");
    out.push('\n');
    for line in result.lines() {
        let cells: Vec<String> = pager_cells(&line).iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    if result.show_total {
        let _ = writeln!(
            out,
            "{},{}{}",
            csv_cell(&format!("Total {}", result.total.function.name())),
            total_number(&result.total),
            ",".repeat(8)
        );
    }
    out
}

fn pager_html(result: &BatchResult) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&result.name));
    out.push_str("</head>\n<body>\n<table>\n<tr>");
    for h in PAGER_HEADER {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>\n");
    for line in result.lines() {
        out.push_str("<tr>");
        for cell in pager_cells(&line) {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    if result.show_total {
        let _ = writeln!(
            out,
            "<tr><th>Total {}</th><td>{}</td><td colspan=\"8\"></td></tr>",
            result.total.function.name(),
            total_number(&result.total)
        );
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

/// A small XML tree, so OnlyNode/OnlyField can trim it before it is written.
#[derive(Clone, Debug)]
struct Node {
    name: &'static str,
    attrs: Vec<(&'static str, String)>,
    text: Option<String>,
    children: Vec<Node>,
    /// Kept by every selection (the result's target).
    key: bool,
}

impl Node {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            attrs: Vec::new(),
            text: None,
            children: Vec::new(),
            key: false,
        }
    }

    fn leaf(name: &'static str, text: impl ToString) -> Self {
        Self {
            text: Some(text.to_string()),
            ..Self::new(name)
        }
    }

    fn attr(mut self, name: &'static str, value: impl ToString) -> Self {
        self.attrs.push((name, value.to_string()));
        self
    }

    fn child(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    fn key(mut self) -> Self {
        self.key = true;
        self
    }

    /// The node trimmed to a selection; `None` when nothing in it is kept.
    fn select(&self, selection: &Selection) -> Option<Node> {
        let named = |list: &[String]| list.iter().any(|n| n == self.name);
        if self.key || named(&selection.nodes) {
            return Some(self.clone());
        }
        if self.children.is_empty() {
            return named(&selection.fields).then(|| self.clone());
        }
        let children: Vec<Node> = self
            .children
            .iter()
            .filter_map(|c| c.select(selection))
            .collect();
        (!children.is_empty()).then(|| Node {
            children,
            ..self.clone()
        })
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = "  ".repeat(depth);
        let _ = write!(out, "{indent}<{}", self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}=\"{}\"", escape(v));
        }
        match (&self.text, self.children.is_empty()) {
            (Some(t), true) => {
                let _ = writeln!(out, ">{}</{}>", escape(t), self.name);
            }
            (None, true) => out.push_str("/>\n"),
            (_, false) => {
                out.push_str(">\n");
                for c in &self.children {
                    c.write(out, depth + 1);
                }
                let _ = writeln!(out, "{indent}</{}>", self.name);
            }
        }
    }
}

/// CheckTLS's XML spelling of a version: `TLSv1_3`.
fn xml_version(v: TlsVersion) -> String {
    v.name().replace('.', "_")
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

fn mx_node(row: &MxRow) -> Node {
    let address = row
        .address
        .map_or_else(|| "unresolvable".to_owned(), |a| a.to_string());
    let mut mx = Node::new("MX")
        .attr("exchange", &row.name)
        .attr("name", &row.name)
        .attr("address", address)
        .attr("preference", row.preference)
        .attr("port", row.port)
        .child(Node::leaf("ConfidenceFactor", row.score));
    for s in &row.stages {
        mx = mx.child(
            Node::leaf(s.stage.xml_name(), if s.ok { "OK" } else { "FAIL" }).attr("ms", s.ms),
        );
    }
    if row.tls_version.is_some() || row.cipher.is_some() {
        let mut ssl = Node::new("SSL");
        if let Some(v) = row.tls_version {
            ssl = ssl
                .child(Node::leaf("SSLVersion", xml_version(v)))
                .child(Node::leaf("SSLDeprecated", flag(v < TlsVersion::Tls12)));
        }
        if let Some(c) = &row.cipher {
            ssl = ssl.child(Node::leaf("Cipher", c));
        }
        mx = mx.child(ssl);
    }
    if let Some(c) = row.cert {
        let mut cert = Node::new("Cert")
            .child(Node::leaf("Expired", flag(c.expired)))
            .child(Node::leaf("ChainValid", flag(c.chain_valid)));
        if let Some(m) = c.name_match {
            cert = cert.child(Node::leaf("NameMatch", flag(m)));
        }
        if let Some(d) = c.days_to_expiry {
            cert = cert.child(Node::leaf("DaysToExpiry", d));
        }
        mx = mx.child(cert);
    }
    if let Some(d) = &row.dane {
        mx = mx.child(Node::leaf("DANE", d));
    }
    if let Some(m) = &row.mta_sts {
        mx = mx.child(Node::leaf("MTASTS", m));
    }
    mx
}

fn result_node(line: &Line<'_>, format: Format, multiple_runs: bool) -> Node {
    let mut node = Node::new("Result");
    if multiple_runs {
        node = node.attr("run", line.run);
    }
    let target = &line.target.target;
    let report: &TargetReport = match line.outcome {
        Outcome::Tested(r) => r,
        Outcome::NotTested(n) => {
            let name = if format == Format::Xml {
                "Target"
            } else {
                "eMailAddress"
            };
            return node
                .child(Node::leaf(name, target).key())
                .child(Node::leaf("NotTested", one_line(&n.reason)));
        }
    };
    match format {
        Format::Xml => node
            .child(Node::leaf("Score", report.score))
            .child(Node::leaf("Target", target).key()),
        Format::XmlScore => {
            node = node
                .child(Node::leaf("eMailAddress", target).key())
                .child(Node::leaf("ConfidenceFactor", report.score));
            for row in &report.mx {
                node = node.child(Node::leaf("MXConfidenceFactor", row.score));
            }
            node.child(Node::leaf("MXCount", report.mx.len()))
        }
        _ => {
            node = node
                .child(Node::leaf("eMailAddress", target).key())
                .child(Node::leaf("ConfidenceFactor", report.score))
                .child(Node::leaf("MaxConfidenceFactor", report.max))
                .child(Node::leaf("Percent", report.percent))
                .child(Node::leaf("BestInClass", report.best_in_class))
                .child(Node::leaf("MXCount", report.mx.len()));
            if report.dns_failure {
                node = node.child(Node::leaf("DNSFailure", "1"));
            }
            for row in &report.mx {
                node = node.child(mx_node(row));
            }
            let mut average = Node::new("Average");
            for stage in Stage::RECEIVER {
                average = average.child(Node::leaf(
                    stage.xml_name(),
                    stage_percent(&report.mx, stage),
                ));
            }
            node.child(average)
        }
    }
}

fn xml(result: &BatchResult, format: Format, selection: &Selection) -> String {
    let mut results = Node::new("Results");
    for line in result.lines() {
        let multiple = line.target.runs.len() > 1;
        let node = result_node(&line, format, multiple);
        let kept = if selection.is_all() {
            Some(node)
        } else {
            node.select(selection)
        };
        if let Some(kept) = kept {
            results = results.child(kept);
        }
    }
    let mut root = Node::new("CheckTLS")
        .attr("test", result.test_type.result_name())
        .child(results);
    if result.show_total {
        let t = &result.total;
        root = root.child(
            Node::leaf("Total", total_number(t))
                .attr("function", t.function.name())
                .attr("passed", flag(t.passed)),
        );
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    root.write(&mut out, 0);
    out
}

/// Keeps the selected keys of a JSON value (and `target`, `run`, `outcome` at the top).
fn select_json(
    value: &serde_json::Value,
    selection: &Selection,
    top: bool,
) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    let named = |k: &str, list: &[String]| list.iter().any(|n| n == k);
    match value {
        J::Object(map) => {
            let mut kept = serde_json::Map::new();
            for (k, v) in map {
                let key = top && matches!(k.as_str(), "target" | "run" | "outcome");
                if key || named(k, &selection.nodes) || named(k, &selection.fields) {
                    kept.insert(k.clone(), v.clone());
                } else if let Some(inner) = select_json(v, selection, false) {
                    kept.insert(k.clone(), inner);
                }
            }
            let meaningful = kept
                .keys()
                .any(|k| !(top && matches!(k.as_str(), "target" | "run" | "outcome")));
            (meaningful || top).then_some(J::Object(kept))
        }
        J::Array(items) => {
            let kept: Vec<J> = items
                .iter()
                .filter_map(|v| select_json(v, selection, false))
                .collect();
            (!kept.is_empty()).then_some(J::Array(kept))
        }
        _ => None,
    }
}

fn json_format(result: &BatchResult, selection: &Selection) -> String {
    let results: Vec<serde_json::Value> = result
        .lines()
        .map(|line| {
            let mut v = serde_json::to_value(line.outcome).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.insert("target".to_owned(), json!(line.target.target));
                map.insert("run".to_owned(), json!(line.run));
            }
            if selection.is_all() {
                v
            } else {
                select_json(&v, selection, true).unwrap_or_default()
            }
        })
        .collect();
    let mut doc = json!({
        "batch": result.name,
        "test_type": result.test_type,
        "results": results,
    });
    if result.show_total
        && let Some(map) = doc.as_object_mut()
    {
        map.insert(
            "total".to_owned(),
            serde_json::to_value(&result.total).unwrap_or_default(),
        );
    }
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// XML and HTML escaping of text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell quoted, neutralised (see [`neutral`]), control characters as spaces.
fn quoted(s: &str) -> String {
    format!("\"{}\"", neutral(s).replace('"', "\"\""))
}

fn csv_cell(s: &str) -> String {
    let s = neutral(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A cell a spreadsheet will not run: text starting with `=`, `+`, `-` or `@` (a formula, or
/// a DDE call) gets a leading `'`, unless it is a plain number such as `-3`. Control
/// characters become spaces.
fn neutral(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let risky = clean.starts_with(['=', '+', '-', '@']) && clean.parse::<f64>().is_err();
    if risky { format!("'{clean}") } else { clean }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_neutralised() {
        for formula in ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "=HYPERLINK(\"x\")"] {
            assert!(
                csv_cell(formula).trim_start_matches('"').starts_with('\''),
                "{formula}"
            );
            assert!(quoted(formula).starts_with("\"'"), "{formula}");
        }
        for plain in ["-3", "+4.5", "114", "a.example", "not tested: =x"] {
            assert!(!csv_cell(plain).contains('\''), "{plain}");
        }
        assert_eq!(csv_cell("a\u{7}b\u{1b}"), "a b ");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
