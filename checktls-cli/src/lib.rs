//! The `checktls` command's library part: the web application of `checktls serve`.
//!
//! ```text
//!   checktls (library) ── Checker, Run, reports, Batch, fleet, monitor
//!        ▲
//!   checktls-cli
//!     ├── bin `checktls`   receiver, batch, serve, demo (clap; the demo runs checktls-lab)
//!     └── lib `web`        the web page of `checktls serve` (axum), also for tests and embedders
//! ```
//!
//! Programs that embed the receiver test depend on `checktls` alone: it brings no command-line
//! parser, no web framework and no lab. This crate holds what only the command needs.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = checktls::batch::store::open("history.db").await?;
//! let config = checktls_cli::web::WebConfig::new(vec![("admin".into(), "a long random token".into())])
//!     .ok_or("no user")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8025").await?;
//! checktls_cli::web::serve(listener, store, config).await;
//! # Ok(()) }
//! ```

pub mod web;
