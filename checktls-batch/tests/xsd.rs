//! Every example batch validates against BatchTest.xsd (with the extension schema it
//! imports), and the schema refuses what the parser refuses. Uses xmllint from the Debian
//! package libxml2-utils.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn xmllint(file: &Path) -> (bool, String) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(crate_dir().join("schema/BatchTest.xsd"))
        .arg(file)
        .output()
        .expect("xmllint (Debian package libxml2-utils) must be installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every `.xml` batch under `tests/golden`, and every `xml` block of LANGUAGE.md that holds
/// a whole `<BatchTest>`, written to a temporary directory.
fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("tests/golden"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "xml") && !p.to_string_lossy().contains(".expected")
        })
        .collect();
    let language = crate_dir().join("LANGUAGE.md");
    if let Ok(doc) = std::fs::read_to_string(&language) {
        let dir = std::env::temp_dir().join(format!("checktls-batch-xsd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, block) in doc.split("```xml\n").skip(1).enumerate() {
            let body = block.split("```").next().unwrap_or_default();
            if body.trim_start().starts_with("<BatchTest") {
                let path = dir.join(format!("language-{i:02}.xml"));
                std::fs::write(&path, body).unwrap();
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
#[ignore = "interop: needs Debian package libxml2-utils (xmllint); run by .ci/run"]
fn every_example_validates_and_parses() {
    let files = examples();
    assert!(files.len() >= 11, "{files:?}");
    for file in &files {
        let (ok, why) = xmllint(file);
        assert!(ok, "{}: {why}", file.display());
        let xml = std::fs::read_to_string(file).unwrap();
        checktls_batch::parse(&xml).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

#[test]
#[ignore = "interop: needs Debian package libxml2-utils (xmllint); run by .ci/run"]
fn the_schema_refuses_what_the_parser_refuses() {
    let head = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">"#;
    let bad = [
        format!("{head}<Target Prot=\"25\">a.example</Target></BatchTest>"),
        format!("{head}<Target ct:DirectTLS=\"maybe\">a.example</Target></BatchTest>"),
        format!("{head}<Targt>a.example</Targt></BatchTest>"),
        format!("{head}<Target Count=\"0\">a.example</Target></BatchTest>"),
        format!(
            "{head}<Target><Suppress Function=\"median\" Test=\"ge\" Value=\"1\"/>a.example</Target></BatchTest>"
        ),
        format!(
            "{head}<Target><Suppress Function=\"minimum\" Test=\"ge\" Value=\"1\" ct:Field=\"mx.colour\"/>a.example</Target></BatchTest>"
        ),
        format!(
            "{head}<Target>a.example</Target><Delivery><To>File</To><Format>excel</Format></Delivery></BatchTest>"
        ),
        format!("{head}<Target>a.example</Target><Total/></BatchTest>"),
        "<BatchTest TestType=\"thru\"><Target>a.example</Target></BatchTest>".to_owned(),
    ];
    let dir = std::env::temp_dir().join(format!("checktls-batch-xsd-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, xml) in bad.iter().enumerate() {
        assert!(checktls_batch::parse(xml).is_err(), "parser accepted {xml}");
        let path = dir.join(format!("bad-{i}.xml"));
        std::fs::write(&path, xml).unwrap();
        let (ok, _) = xmllint(&path);
        assert!(!ok, "schema accepted {xml}");
    }
}
