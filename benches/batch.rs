//! The Batch language's cost: parsing a 10,000-target batch, evaluating its results and
//! rendering them.
//!
//! `cargo bench --bench batch`

use std::hint::black_box;

use checktls::batch::eval::BatchResult;
use checktls::batch::format::render;
use checktls::batch::model::{Format, Selection};
use checktls::batch::report::{MxRow, Outcome, TargetReport};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A batch of `n` targets: a DEFAULT with a Suppress, then addresses, domains and IP
/// addresses with CheckTLS's and this project's attributes.
fn batch_xml(n: usize) -> String {
    let mut xml = String::from(
        "<BatchTest TestType=\"receiver\" xmlns:ct=\"urn:checktls-rs:batch:1\" ct:Name=\"bench\">\n  <Target SMTPTimeOut=\"30\"><Suppress Function=\"minimum\" Test=\"ge\" Value=\"114\"/>DEFAULT</Target>\n",
    );
    for i in 0..n {
        match i % 3 {
            0 => xml.push_str(&format!(
                "  <Target SNI=\"us-smtp-inbound-{}.example.com\">198.51.{}.{}</Target>\n",
                i % 7,
                (i / 256) % 256,
                i % 256
            )),
            1 => xml.push_str(&format!("  <Target ct:Quick=\"true\">user{i}@domain{i}.example</Target>\n")),
            _ => xml.push_str(&format!(
                "  <Target Port=\"587\"><Suppress Function=\"minimum\" Test=\"ge\" Value=\"30\" ct:Field=\"mx.cert_days_to_expiry\"/>domain{i}.example</Target>\n"
            )),
        }
    }
    xml.push_str("  <Total Function=\"average\"/>\n  <Delivery><To>noc@example.com</To><Format>text</Format></Delivery>\n</BatchTest>\n");
    xml
}

fn bench(c: &mut Criterion) {
    let xml = batch_xml(10_000);
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("parse 10,000 targets", |b| {
        b.iter(|| checktls::batch::parse(black_box(&xml)).map(|b| b.targets.len()))
    });
    group.finish();

    let batch = checktls::batch::parse(&xml).expect("the bench batch parses");
    let outcomes: Vec<Vec<Outcome>> = batch
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let score = if i % 10 == 0 { 112 } else { 114 };
            let mut r = TargetReport::graded(t.text.clone(), score);
            r.mx.push(MxRow::passing("mx.example.com", None, score));
            vec![Outcome::Tested(r)]
        })
        .collect();
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("evaluate 10,000 results", |b| {
        b.iter(|| BatchResult::evaluate(black_box(&batch), outcomes.clone()))
    });
    let result = BatchResult::evaluate(&batch, outcomes.clone());
    for format in [Format::Text, Format::XmlMatrix, Format::Json] {
        group.bench_function(format!("render 10,000 results as {format}"), |b| {
            b.iter(|| render(black_box(&result), format, &Selection::all()).len())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
