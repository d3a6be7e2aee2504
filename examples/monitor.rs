//! The monitor service in a few lines: a history with two stored batches (one run each, on a
//! scripted executor), the monitor on loopback, and its answers as an outside monitor sees
//! them.
//!
//! ```sh
//! cargo run --example monitor               # prints each answer and exits
//! cargo run --example monitor -- --serve    # serves ten minutes; try the printed curl commands
//! ```
//!
//! The command does the same with real receiver tests:
//! `CHECKTLS_MONITOR_TOKEN=... checktls batch serve --db history.db --listen 127.0.0.1:8025`.

use std::sync::Arc;

use checktls::batch::delivery::DeliveryConfig;
use checktls::batch::history::SqliteStore;
use checktls::batch::monitor::{MonitorConfig, serve};
use checktls::batch::run::RunOptions;
use checktls::batch::scripted::ScriptedExecutor;
use checktls::batch::service::run_stored;
use checktls::batch::store::Store;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "example-token";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory()?);
    let results = std::env::temp_dir().join("checktls-monitor-example");
    let config = DeliveryConfig::new(&results, "checktls@example.invalid");
    let mut ids = Vec::new();
    for (name, grade) in [("partners", 114), ("suppliers", 60)] {
        let xml = format!(
            r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="{name}"><Target>{name}.example</Target></BatchTest>"#
        );
        let id = store
            .put_batch(None, &xml, OffsetDateTime::now_utc())
            .await?;
        let executor = ScriptedExecutor::new().graded(&format!("{name}.example"), grade);
        let mailer = checktls::mailer::SmtpMailer::new(checktls::mailer::Relay::new(
            "unused.invalid",
            "127.0.0.1:9".parse()?,
        ));
        run_stored(
            &*store,
            id,
            None,
            &executor,
            &mailer,
            &config,
            &RunOptions::default(),
            OffsetDateTime::now_utc,
        )
        .await?;
        ids.push(id);
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let monitor = MonitorConfig::new(TOKEN).ok_or("empty token")?;
    tokio::spawn(serve(listener, store.clone(), monitor));

    for id in &ids {
        for format in ["ok", "xml", "json"] {
            let path = format!("/monitor/{id}?check_age=60&min_total=90&format={format}");
            println!("GET {path}\n{}", get(addr, &path).await?);
        }
    }
    if std::env::args().any(|a| a == "--serve") {
        println!(
            "curl -H 'Authorization: Bearer {TOKEN}' 'http://{addr}/monitor/{}?check_age=60'",
            ids[0]
        );
        println!("curl -H 'Authorization: Bearer {TOKEN}' http://{addr}/metrics");
        println!("serving for ten minutes");
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
    Ok(())
}

async fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await?;
    Ok(answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(answer))
}
