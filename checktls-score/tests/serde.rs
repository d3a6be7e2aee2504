//! The JSON the report embeds.

mod common;

use checktls_score::{
    Adjustment, ConfidenceFactor, HostEvidence, Reason, TargetOptions, TlsVersion, assuredness,
    score_target,
};
use common::{flawless, unreachable};
use serde_json::{Value, json};

#[test]
fn the_confidence_factor_serialises_with_the_four_figures() {
    let cf = score_target(
        &[flawless(TlsVersion::Tls13), unreachable(20)],
        &TargetOptions::default(),
    );
    let v: Value = serde_json::to_value(&cf).unwrap();
    assert_eq!(v["kind"], "confidence");
    assert_eq!(v["score"], json!(cf.score));
    assert_eq!(v["max"], 114);
    assert_eq!(v["percent"], json!(cf.percent));
    assert_eq!(v["best_in_class"], 121);
    let host = &v["hosts"][0];
    assert_eq!(host["band"], "tls13");
    assert_eq!(host["score"], 114);
    assert_eq!(host["address"], "192.0.2.1");
    assert_eq!(
        host["reasons"][0],
        json!({
            "reason": "protocol",
            "version": "TLSv1.3",
            "band": "tls13",
            "floor": 104,
            "ceiling": 121,
            "points": 114,
            "text": "TLSv1.3 negotiated: the TLS 1.3 band, 104–121; a flawless host without \
                     MTA-STS or DANE starts here"
        })
        .as_object()
        .map(|o| {
            // The reason's fields are nested under "reason" by the Adjustment struct.
            let mut reason = o.clone();
            let points = reason.remove("points").unwrap();
            let text = reason.remove("text").unwrap();
            json!({ "reason": reason, "points": points, "text": text })
        })
        .unwrap()
    );
    assert_eq!(
        v["hosts"][1]["reasons"][0]["reason"]["reason"],
        "unreachable"
    );
    assert_eq!(v["reasons"][0]["reason"]["reason"], "share");
    assert_eq!(v["reasons"][0]["reason"]["weight"], 16);

    let back: ConfidenceFactor = serde_json::from_value(v).unwrap();
    assert_eq!(back, cf);
}

#[test]
fn evidence_round_trips_and_defaults_are_not_tested() {
    let host = flawless(TlsVersion::Tls12);
    let text = serde_json::to_string(&host).unwrap();
    let back: HostEvidence = serde_json::from_str(&text).unwrap();
    assert_eq!(back, host);
    let v: Value = serde_json::to_value(&host).unwrap();
    assert_eq!(v["tls"]["version"], "TLSv1.2");
    assert_eq!(v["mta_sts"]["tested"], false);
    assert_eq!(v["dane"]["tested"], false);
    assert_eq!(v["stages"]["rcpt_to"], true);
    assert_eq!(v["stages"]["data"], Value::Null);
}

#[test]
fn adjustments_carry_typed_reasons_and_sentences() {
    let a = Adjustment::new(Reason::NameMismatch, -4);
    assert_eq!(a.text, "the certificate does not carry the MX host name");
    assert_eq!(
        a.to_string(),
        "  -4  the certificate does not carry the MX host name"
    );
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["reason"], json!({ "reason": "name_mismatch" }));
}

#[test]
fn assuredness_serialises() {
    let a = assuredness(&[unreachable(10)], &TargetOptions::default());
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["factor"], 0);
    assert_eq!(
        v["outcome"],
        json!({ "outcome": "not_all_refused", "failed": 1, "hosts": 1 })
    );
    assert_eq!(v["hosts"][0]["verdict"], "unreachable");
}
