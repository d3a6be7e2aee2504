//! The web page's part of the history, on both backends: stored checks (owner, renderings,
//! newest first), batch owners, results links and their revocation. SQLite on a temp file;
//! PostgreSQL from Debian started by the test (`#[ignore]`d, run by .ci/run).

use std::path::PathBuf;
use std::sync::Arc;

use checktls_batch::store::{ResultLink, Store, StoredCheck};
use checktls_lab::postgres::{Postgres, PostgresConfig};
use time::macros::datetime;

async fn case(store: Arc<dyn Store>) {
    let t0 = datetime!(2026-11-22 12:00 UTC);
    let mut a = StoredCheck::new("a".repeat(32).as_str(), "alice", "tls13.test", t0);
    a.score = Some(114);
    a.level = "detail".into();
    a.html = "<p>114</p>".into();
    a.text = "Confidence Factor: 114\n".into();
    a.json = "{\"score\":114}".into();
    a.xml = "<CheckTLS/>".into();
    store.put_check(&a).await.expect("put");
    let mut b = StoredCheck::new(
        "b".repeat(32).as_str(),
        "alice",
        "plain.test",
        t0 + time::Duration::minutes(1),
    );
    b.score = None;
    store.put_check(&b).await.expect("put");
    let c = StoredCheck::new("c".repeat(32).as_str(), "bob", "x.test", t0);
    store.put_check(&c).await.expect("put");
    assert_eq!(
        store.stored_check(&a.id).await.expect("get"),
        Some(a.clone())
    );
    assert_eq!(store.stored_check("nope").await.expect("get"), None);
    let listed = store.checks("alice", 10).await.expect("list");
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [b.id.as_str(), a.id.as_str()], "alice's, newest first");
    assert_eq!(listed[1].score, Some(114));
    assert_eq!(store.checks("alice", 1).await.expect("list").len(), 1);
    // Replacing keeps one row.
    a.score = Some(112);
    store.put_check(&a).await.expect("replace");
    assert_eq!(
        store
            .stored_check(&a.id)
            .await
            .expect("get")
            .and_then(|c| c.score),
        Some(112)
    );
    assert_eq!(store.checks("alice", 10).await.expect("list").len(), 2);

    let xml = r#"<BatchTest TestType="receiver"><Target>a.example</Target></BatchTest>"#;
    let id = store.put_batch(None, xml, t0).await.expect("batch");
    assert_eq!(store.batch_owner(id).await.expect("owner"), None);
    store.set_batch_owner(id, "alice").await.expect("owner");
    assert_eq!(
        store.batch_owner(id).await.expect("owner").as_deref(),
        Some("alice")
    );

    let l1 = ResultLink::new(&"1".repeat(32), id, 7, "csv", "alice", t0);
    let l2 = ResultLink::new(
        &"2".repeat(32),
        id,
        8,
        "json",
        "alice",
        t0 + time::Duration::minutes(5),
    );
    store.put_link(&l1).await.expect("link");
    store.put_link(&l2).await.expect("link");
    assert!(store.put_link(&l1).await.is_err(), "a token is unique");
    assert_eq!(store.link(&l1.token).await.expect("get"), Some(l1.clone()));
    let all = store.links(id).await.expect("links");
    assert_eq!(all, vec![l2.clone(), l1.clone()], "newest first");
    assert!(store.revoke_link(&l1.token).await.expect("revoke"));
    assert!(!store.revoke_link(&"9".repeat(32)).await.expect("revoke"));
    assert!(
        store
            .link(&l1.token)
            .await
            .expect("get")
            .is_some_and(|l| l.revoked)
    );
    assert!(
        store
            .link(&l2.token)
            .await
            .expect("get")
            .is_some_and(|l| !l.revoked)
    );
    assert!(store.links(id + 1).await.expect("links").is_empty());
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("checktls-web-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_checks_owners_and_links() {
    let d = temp("sqlite");
    let store = checktls_batch::store::open(d.join("h.db").to_str().expect("path"))
        .await
        .expect("open");
    case(store).await;
    let _ = std::fs::remove_dir_all(&d);
}

/// Needs root (initdb runs as `nobody`) and the Debian package postgresql: run by .ci/run.
#[test]
#[ignore = "needs root and PostgreSQL from Debian; run by .ci/run"]
fn postgres_keeps_checks_owners_and_links() {
    let pg = Postgres::start(PostgresConfig::new("127.0.0.1".parse().expect("ip")))
        .expect("PostgreSQL starts (Debian package postgresql)");
    pg.create_database("web").expect("database");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = checktls_batch::store::open(&pg.url("web"))
            .await
            .expect("open");
        case(store).await;
    });
    drop(runtime);
    drop(pg);
}
