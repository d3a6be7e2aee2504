//! `checktls batch check` and `checktls batch run`: the built command against the embedded lab
//! (started in this test process; the command reaches it through --nameserver, --port,
//! --dnssec-anchor and --ca-file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use checktls_lab::pki::pem_encode;
use checktls_lab::scenario::Scenario;

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "checktls-batch-command-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        Self { dir }
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, content).expect("write");
        p
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn checktls(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args(args)
        .output()
        .expect("the command runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `batch run FILE` against the lab, with the environment options pointing at it.
fn run_on_lab(lab: &Scenario, files: &Files, batch: &Path, extra: &[&str]) -> Output {
    let anchor = files.write("anchor.txt", lab.trust_anchor());
    let ca = files.write("ca.pem", &pem_encode("CERTIFICATE", lab.root_ca()));
    let dns = lab.dns_addr().to_string();
    let port = lab.smtp_port().to_string();
    let mut args = vec![
        "batch",
        "run",
        batch.to_str().expect("path"),
        "--allow-private-addresses",
        "--nameserver",
        &dns,
        "--port",
        &port,
        "--timeout",
        "5",
        "--dnssec-anchor",
        anchor.to_str().expect("path"),
        "--ca-file",
        ca.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    checktls(&args)
}

#[test]
fn check_accepts_a_good_file_and_names_line_and_column_of_a_mistake() {
    let files = Files::new("check");
    let good = files.write(
        "good.xml",
        r#"<BatchTest TestType="receiver"><Target Count="2">a.example</Target></BatchTest>"#,
    );
    let out = checktls(&["batch", "check", good.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok: 1 target(s), 2 test(s)"));

    let bad = files.write(
        "bad.xml",
        "<BatchTest TestType=\"receiver\">\n  <Target>a.example</Target>\n  <Targte>b.example</Targte>\n</BatchTest>\n",
    );
    let out = checktls(&["batch", "check", bad.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.xml:3:3:"), "{err}");
    assert!(err.contains("Targte"), "{err}");

    let out = checktls(&["batch", "check", "/nonexistent/batch.xml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_prints_the_grades_writes_the_results_file_and_exits_by_the_total() {
    let lab = Scenario::start().await.expect("lab");
    let files = Files::new("run");
    let results = files.dir.join("results");
    let batch = files.write(
        "lab.xml",
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="lab">
  <Target>tls13.test</Target>
  <Target>expired.test</Target>
  <Total Function="average"/>
  <Delivery><To>File</To><Format>csv</Format></Delivery>
</BatchTest>"#,
    );
    let out = tokio::task::block_in_place(|| {
        run_on_lab(
            &lab,
            &files,
            &batch,
            &[
                "--format",
                "text",
                "--deliver",
                "--results-dir",
                results.to_str().expect("path"),
            ],
        )
    });
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("114 tls13.test"), "{stdout}");
    assert!(stdout.contains("112 expired.test"), "{stdout}");
    let written: Vec<_> = std::fs::read_dir(&results)
        .expect("results dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let name = written[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("lab-") && name.ends_with(".csv"), "{name}");
    let csv = std::fs::read_to_string(&written[0]).expect("csv");
    assert!(csv.contains("tls13.test") && csv.contains("114"), "{csv}");

    // A host without STARTTLS pulls the average under 90: exit 1.
    let failing = files.write(
        "failing.xml",
        r#"<BatchTest TestType="receiver"><Target>tls13.test</Target><Target>plain.test</Target></BatchTest>"#,
    );
    let out = tokio::task::block_in_place(|| run_on_lab(&lab, &files, &failing, &[]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("114 tls13.test"));

    // Nothing testable (the password's variable is not set): exit 3.
    let nothing = files.write(
        "nothing.xml",
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1"><Target AuthUser="u" ct:AuthPassEnv="CHECKTLS_BATCH_COMMAND_UNSET_PASSWORD">tls13.test</Target></BatchTest>"#,
    );
    let out = tokio::task::block_in_place(|| run_on_lab(&lab, &files, &nothing, &[]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));

    // A Host that is no host: a bad file, refused where it is written (exit 2).
    let bad_host = files.write(
        "bad-host.xml",
        r#"<BatchTest TestType="receiver"><Target Host="mx..test">tls13.test</Target></BatchTest>"#,
    );
    let out = tokio::task::block_in_place(|| run_on_lab(&lab, &files, &bad_host, &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(":1:46:"),
        "{}",
        text(&out.stderr)
    );

    // An email delivery without a relay is reported, and the run is not a success.
    let mail = files.write(
        "mail.xml",
        r#"<BatchTest TestType="receiver"><Target>tls13.test</Target>
  <Delivery><To>noc@lab.test</To><Format>text</Format></Delivery></BatchTest>"#,
    );
    let out = tokio::task::block_in_place(|| run_on_lab(&lab, &files, &mail, &["--deliver"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no relay given"),
        "{}",
        text(&out.stderr)
    );
}

/// The options the library checks before any test are refused by the command with exit code 2
/// and the reason, before a single DNS question or connection: an unknown cipher suite name, a
/// TLS version rustls does not speak. (A name server on a closed loopback port would make any
/// attempt to test time out instead.)
#[test]
fn options_that_cannot_be_are_refused_before_any_test() {
    let out = checktls(&[
        "receiver",
        "example.test",
        "--nameserver",
        "127.0.0.1:9",
        "--cipher-suites",
        "TLS_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA265",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unknown cipher suite \"TLS_AES_128_GCM_SHA265\""),
        "{}",
        text(&out.stderr)
    );
    let out = checktls(&["receiver", "example.test", "--tls-versions", "1.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("\"1.1\" is not 1.2 or 1.3"),
        "{}",
        text(&out.stderr)
    );
    // One TLS mode: TLS on connect has no STARTTLS to compel.
    let out = checktls(&["receiver", "example.test", "--direct-tls", "--compel-tls"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
    // The certificate-name choice, on both commands, by its names only.
    for command in [
        &["receiver", "example.test"][..],
        &["batch", "run", "x.xml"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--cert-names", "domain"]);
        let out = checktls(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("one of mx-host, mx-host-or-domain"),
            "{}",
            text(&out.stderr)
        );
    }
    // A bad target says where it goes wrong.
    let out = checktls(&["receiver", "user@[192.0.2.1]"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("at character 5: a domain after '@'"),
        "{}",
        text(&out.stderr)
    );
}
