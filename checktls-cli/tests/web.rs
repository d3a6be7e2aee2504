//! The web application over HTTP on loopback, against the lab: every door wants a session
//! or a bearer token and every POST its CSRF token; a hostile banner is escaped in the live
//! stream and in the stored report; the stages of slow.test arrive before the test ends; the
//! per-user limits; batches, results links and their revocation; the dashboard says what the
//! monitor says; and `checktls serve --demo` shows results without any network.

mod web_support;

use std::time::{Duration, Instant};

use checktls_lab::smtp::{Posture, SmtpReceiver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use web_support::{ADMIN_TOKEN, BOB_TOKEN, Client, form, request, site};

const WAIT: Duration = Duration::from_secs(20);

fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----checktls-test-boundary";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

const GOOD: &str = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="web lab">
  <Target>tls13.test</Target>
  <Target>expired.test</Target>
</BatchTest>"#;

const BROKEN: &str =
    "<BatchTest TestType=\"receiver\">\n  <Target Prot=\"1\">a.example</Target>\n</BatchTest>\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_wants_a_session_or_a_token_and_every_post_its_csrf() {
    let s = site("doors", 10, 2).await;
    let id = s
        .store
        .put_batch(None, GOOD, time::OffsetDateTime::now_utc())
        .await
        .expect("batch");
    // Without a session: pages send to the login form, everything else is refused.
    let r = request(s.addr, "GET", "/batches", &[], None, WAIT).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=/batches"));
    assert_eq!(
        r.header("content-security-policy"),
        Some(checktls_cli::web::CSP)
    );
    for path in [
        "/checks".to_owned(),
        "/batches".to_owned(),
        format!("/batches/{id}/run"),
        "/logout".to_owned(),
    ] {
        let r = request(
            s.addr,
            "POST",
            &path,
            &[],
            Some(("application/x-www-form-urlencoded", b"target=tls13.test")),
            WAIT,
        )
        .await;
        assert_eq!(r.status, 401, "POST {path} without a session");
    }
    // A wrong bearer token, a right one.
    let bad = request(
        s.addr,
        "GET",
        "/",
        &[("Authorization", "Bearer not-a-token")],
        None,
        WAIT,
    )
    .await;
    assert_eq!(bad.status, 401);
    let good = request(
        s.addr,
        "GET",
        "/",
        &[("Authorization", &format!("Bearer {BOB_TOKEN}"))],
        None,
        WAIT,
    )
    .await;
    assert_eq!(good.status, 200);
    // The login form: a wrong token, a missing nonce.
    let page = request(s.addr, "GET", "/login", &[], None, WAIT).await;
    let nonce = page.csrf().expect("nonce");
    let cookie = format!("checktls_login={nonce}");
    let wrong = request(
        s.addr,
        "POST",
        "/login",
        &[("Cookie", &cookie)],
        Some((
            "application/x-www-form-urlencoded",
            &form(&[("token", "guess"), ("csrf", &nonce)]),
        )),
        WAIT,
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .header("set-cookie")
            .is_none_or(|c| !c.contains("checktls_session"))
    );
    let no_nonce = request(
        s.addr,
        "POST",
        "/login",
        &[],
        Some((
            "application/x-www-form-urlencoded",
            &form(&[("token", ADMIN_TOKEN), ("csrf", &nonce)]),
        )),
        WAIT,
    )
    .await;
    assert_eq!(no_nonce.status, 403, "a login without its nonce cookie");
    // Logged in: every state-changing form without its CSRF token, or with a wrong one, is
    // refused, and so is a request from another origin.
    let c = Client::login(s.addr, ADMIN_TOKEN).await;
    let csrf = c.csrf().await;
    let posts: Vec<(String, Vec<(&str, String)>)> = vec![
        ("/checks".into(), vec![("target", "tls13.test".into())]),
        (format!("/batches/{id}/run"), vec![]),
        (format!("/batches/{id}/baseline"), vec![("run", "1".into())]),
        (
            format!("/batches/{id}/runs/1/links"),
            vec![("format", "csv".into())],
        ),
        (
            format!("/batches/{id}/links/revoke"),
            vec![("token", "0".repeat(32))],
        ),
        ("/logout".into(), vec![]),
    ];
    for (path, fields) in &posts {
        for token in [None, Some("0123456789abcdef0123456789abcdef")] {
            let mut pairs: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Some(t) = token {
                pairs.push(("csrf", t));
            }
            let r = c.post(path, &pairs).await;
            assert_eq!(r.status, 403, "POST {path} with CSRF {token:?}: {}", r.body);
        }
    }
    for (path, xml) in [
        ("/batches".to_owned(), GOOD),
        (format!("/batches/{id}"), GOOD),
    ] {
        let (kind, body) = multipart(&[("csrf", "wrong"), ("xml", xml)]);
        let r = request(
            s.addr,
            "POST",
            &path,
            &[("Cookie", &c.cookie)],
            Some((&kind, &body)),
            WAIT,
        )
        .await;
        assert_eq!(r.status, 403, "upload to {path} with a wrong CSRF token");
    }
    let cross = request(
        s.addr,
        "POST",
        &format!("/batches/{id}/run"),
        &[("Cookie", &c.cookie), ("Origin", "http://evil.example")],
        Some((
            "application/x-www-form-urlencoded",
            &form(&[("csrf", &csrf)]),
        )),
        WAIT,
    )
    .await;
    assert_eq!(cross.status, 403, "a POST from another origin");
    assert!(s.store.runs(id, 10).await.expect("runs").is_empty());
    // With the token, the same POST goes through.
    let ok = c
        .post(&format!("/batches/{id}/run"), &[("csrf", &csrf)])
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(s.store.runs(id, 10).await.expect("runs").len(), 1);
    // The monitor still wants its bearer token (the first user's).
    let m = request(
        s.addr,
        "GET",
        &format!("/monitor/{id}"),
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        None,
        WAIT,
    )
    .await;
    assert_eq!(m.status, 200);
    let m = request(s.addr, "GET", &format!("/monitor/{id}"), &[], None, WAIT).await;
    assert_eq!((m.status, m.body.as_str()), (401, "NOK\n"));
    // Logging out ends the session.
    let out = c.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(c.get("/").await.status, 303);
}

/// Reads a test's event stream, noting when each event arrived, until `done`.
async fn timed_events(c: &Client, id: &str) -> Vec<(Instant, String)> {
    let mut tcp = tokio::net::TcpStream::connect(c.addr)
        .await
        .expect("connect");
    let req = format!(
        "GET /checks/{id}/events HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        c.addr, c.cookie
    );
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let mut all = String::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
        all.push_str(&chunk);
        got.push((Instant::now(), chunk));
        if all.contains("event: done") {
            break;
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stages_arrive_before_the_end_and_a_hostile_banner_stays_text() {
    let s = site("live", 10, 2).await;
    let c = Client::login(s.addr, ADMIN_TOKEN).await;
    let csrf = c.csrf().await;
    // slow.test answers MAIL FROM after 3 s: the stages before it are streamed first.
    let id = c.start(&csrf, "slow.test").await.expect("started");
    let events = timed_events(&c, &id).await;
    let at = |needle: &str| {
        events
            .iter()
            .find(|(_, t)| t.contains(needle))
            .map(|(i, _)| *i)
            .unwrap_or_else(|| panic!("no {needle:?} in the stream"))
    };
    let secure = at("data-stage=\"secure\"");
    let done = at("event: done");
    assert!(
        done.duration_since(secure) >= Duration::from_secs(2),
        "the secure stage came {:?} before the end",
        done.duration_since(secure)
    );
    let report = c.finished_json(&id).await;
    assert_eq!(report["confidence_factor"]["score"], 114);
    // A receiver whose banner carries markup and a terminal escape.
    let evil = SmtpReceiver::start(
        "127.0.0.1:0".parse().expect("addr"),
        Posture::plain().banner("mx.evil.test <script>alert(1)</script>\u{1b}[2J"),
    )
    .await
    .expect("receiver");
    let id = c
        .start(&csrf, &evil.addr().to_string())
        .await
        .expect("started");
    let stream = c.events(&id, Duration::from_secs(30)).await;
    assert!(stream.contains("event: done"), "{stream}");
    assert!(
        stream.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J"),
        "the banner, escaped, in the live transcript: {stream}"
    );
    assert!(!stream.contains("<script>") && !stream.contains('\u{1b}'));
    let _ = c.finished_json(&id).await;
    let page = c.get(&format!("/checks/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The only script elements are the page's own.
    assert_eq!(page.body.matches("<script").count(), 1, "{}", page.body);
    assert!(!page.body.contains('\u{1b}'));
    // Another user sees none of it.
    let bob = Client::login(s.addr, BOB_TOKEN).await;
    assert_eq!(bob.get(&format!("/checks/{id}")).await.status, 404);
    assert_eq!(bob.get(&format!("/checks/{id}.json")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_is_held_to_tests_per_minute_and_at_once() {
    let s = site("limits", 3, 1).await;
    // At once: bob's second test while his slow one runs.
    let bob = Client::login(s.addr, BOB_TOKEN).await;
    let bob_csrf = bob.csrf().await;
    let slow = bob.start(&bob_csrf, "slow.test").await.expect("first");
    let refused = bob
        .start(&bob_csrf, "tls13.test")
        .await
        .expect_err("a second test at once");
    assert_eq!(refused.status, 429);
    assert!(refused.body.contains("at once"), "{}", refused.body);
    // Per minute: the admin's fourth test within the minute (each waited for).
    let admin = Client::login(s.addr, ADMIN_TOKEN).await;
    let csrf = admin.csrf().await;
    for _ in 0..3 {
        let id = admin
            .start(&csrf, "plain.test")
            .await
            .expect("within the limit");
        let _ = admin.finished_json(&id).await;
    }
    let refused = admin
        .start(&csrf, "plain.test")
        .await
        .expect_err("a fourth test in a minute");
    assert_eq!(refused.status, 429);
    assert!(refused.body.contains("last minute"), "{}", refused.body);
    let _ = bob.finished_json(&slow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_results_links_and_the_dashboard() {
    let s = site("batches", 10, 2).await;
    let c = Client::login(s.addr, ADMIN_TOKEN).await;
    let csrf = c.csrf().await;
    // A broken batch: its error at LINE:COLUMN, as `checktls batch check` prints it.
    let (kind, body) = multipart(&[("csrf", &csrf), ("xml", BROKEN)]);
    let r = request(
        s.addr,
        "POST",
        "/batches",
        &[("Cookie", &c.cookie)],
        Some((&kind, &body)),
        WAIT,
    )
    .await;
    assert_eq!(r.status, 422);
    let file = s.dir.0.join("batch.xml");
    std::fs::write(&file, BROKEN).expect("file");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args(["batch", "check"])
        .arg(&file)
        .output()
        .expect("batch check");
    let said = String::from_utf8_lossy(&out.stderr);
    let expected = said
        .trim()
        .rsplit_once("batch.xml:")
        .map(|(_, e)| e)
        .expect("the command names the file");
    assert!(expected.starts_with("2:"), "{said}");
    let shown = format!("batch.xml:{expected}")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    assert!(r.body.contains(&shown), "{shown} not in {}", r.body);
    assert!(r.body.contains("<li id=\"line-2\" class=\"bad\">"));
    // A good one, run now, through the worker.
    let (kind, body) = multipart(&[("csrf", &csrf), ("xml", GOOD)]);
    let r = request(
        s.addr,
        "POST",
        "/batches",
        &[("Cookie", &c.cookie)],
        Some((&kind, &body)),
        WAIT,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id: i64 = r
        .header("location")
        .and_then(|l| l.trim_start_matches("/batches/").parse().ok())
        .expect("batch id");
    let r = c
        .post(&format!("/batches/{id}/run"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    let run_path = r.header("location").expect("run page").to_owned();
    let run_id: i64 = run_path
        .rsplit('/')
        .next()
        .and_then(|r| r.parse().ok())
        .expect("run");
    let mut page = c.get(&run_path).await;
    for _ in 0..300 {
        if page.body.contains("id=\"run-status\">complete<") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = c.get(&run_path).await;
    }
    assert!(page.body.contains("id=\"run-total\""), "{}", page.body);
    assert!(page.body.contains("tls13.test") && page.body.contains("id=\"pager\""));
    // A results link works without a session, until its owner revokes it.
    let r = c
        .post(
            &format!("/batches/{id}/runs/{run_id}/links"),
            &[("csrf", &csrf), ("format", "csv")],
        )
        .await;
    assert_eq!(r.status, 303);
    let links = s.store.links(id).await.expect("links");
    assert_eq!(links.len(), 1);
    let token = links[0].token.clone();
    assert_eq!(token.len(), 32);
    let public = request(s.addr, "GET", &format!("/r/{token}"), &[], None, WAIT).await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("114,"), "{}", public.body);
    let bob = Client::login(s.addr, BOB_TOKEN).await;
    let bob_csrf = bob.csrf().await;
    let r = bob
        .post(
            &format!("/batches/{id}/links/revoke"),
            &[("csrf", &bob_csrf), ("token", &token)],
        )
        .await;
    assert_eq!(r.status, 403, "only the owner revokes");
    let r = c
        .post(
            &format!("/batches/{id}/links/revoke"),
            &[("csrf", &csrf), ("token", &token)],
        )
        .await;
    assert_eq!(r.status, 303);
    let gone = request(s.addr, "GET", &format!("/r/{token}"), &[], None, WAIT).await;
    let never = request(
        s.addr,
        "GET",
        &format!("/r/{}", "a".repeat(32)),
        &[],
        None,
        WAIT,
    )
    .await;
    assert_eq!((gone.status, never.status), (404, 404));
    assert_eq!(gone.body, never.body, "a revoked link tells nothing more");
    // The dashboard says what the monitor says.
    let m = request(
        s.addr,
        "GET",
        &format!("/monitor/{id}?format=json"),
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        None,
        WAIT,
    )
    .await;
    let state = serde_json::from_str::<serde_json::Value>(&m.body).expect("json")["state"]
        .as_str()
        .expect("state")
        .to_owned();
    let dash = c.get("/dashboard").await;
    assert!(
        dash.body
            .contains(&format!("data-batch=\"{id}\" data-state=\"{state}\"")),
        "{state}: {}",
        dash.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_shows_results_without_any_network() {
    let dir = web_support::Dir::new("demo");
    let db = dir.0.join("demo.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env("CHECKTLS_MONITOR_TOKEN", ADMIN_TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve --demo");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut addr = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while addr.is_none() && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1))
            && let Some(rest) = line.strip_prefix("web page on http://")
        {
            addr = rest.split('/').next().and_then(|a| a.parse().ok());
        }
    }
    let addr: std::net::SocketAddr = addr.expect("the page's address on stderr");
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let mut state = String::new();
    while Instant::now() < deadline {
        let m = request(
            addr,
            "GET",
            "/monitor/1?format=json",
            &[("Authorization", &bearer)],
            None,
            WAIT,
        )
        .await;
        if m.status == 200 {
            state = serde_json::from_str::<serde_json::Value>(&m.body).expect("json")["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if state != "did_not_run" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let dash = request(
        addr,
        "GET",
        "/dashboard",
        &[("Authorization", &bearer)],
        None,
        WAIT,
    )
    .await;
    let batch = request(
        addr,
        "GET",
        "/batches/1",
        &[("Authorization", &bearer)],
        None,
        WAIT,
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(state, "passed", "the demo batch ran and passed");
    assert!(dash.body.contains("data-state=\"passed\""), "{}", dash.body);
    assert!(batch.body.contains("demo lab") && batch.body.contains("class=\"point\""));
}
