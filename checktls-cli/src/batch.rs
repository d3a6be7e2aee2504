//! `checktls batch check FILE` and `checktls batch run FILE`.
//!
//! ```text
//!   FILE ─► checktls_batch::parse_bytes (errors: FILE:LINE:COLUMN: what was expected; exit 2)
//!        ─► run(ReceiverExecutor over the EnvArgs defaults) ─► progress on a terminal
//!        ─► render (--format, else the first Delivery's, else text) on stdout
//!        ─► --deliver: results files and mail through --relay
//!        ─► exit: 0 the Total passed, 1 it did not (or a delivery failed), 3 nothing tested
//! ```

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use checktls::ReceiverOptions;
use checktls::batch::delivery::{DeliveryConfig, Envelope, Mailer, deliver};
use checktls::batch::eval::Status;
use checktls::batch::format::render;
use checktls::batch::model::{Format, Selection};
use checktls::batch::run::{RunOptions, run};
use checktls::batch::{Batch, Error as BatchError, Limits, parse_bytes};
use checktls::executor::ReceiverExecutor;
use checktls::mailer::{Relay, SmtpMailer};
use checktls::options::AuthCredentials;

use crate::{EnvArgs, read, usage};

#[derive(Subcommand)]
pub(crate) enum BatchCommand {
    /// Validate a Batch file: every error with FILE:LINE:COLUMN and what was expected.
    Check {
        /// The Batch file (XML).
        file: PathBuf,
    },
    /// Run a Batch file (or, with --db, a stored batch by id): test every target, print the
    /// results, optionally deliver them.
    Run(Box<RunArgs>),
    /// Store a batch in the history database (a new one, or replace --id ID); prints its id.
    Add {
        /// The Batch file (XML).
        file: PathBuf,
        /// The history: an SQLite file, or a postgres:// URL.
        #[arg(long)]
        db: String,
        /// Replace this stored batch ("new", the default, adds one).
        #[arg(long, default_value = "new")]
        id: String,
    },
    /// List the stored batches with their schedule and last run.
    List {
        /// The history: an SQLite file, or a postgres:// URL.
        #[arg(long)]
        db: String,
    },
    /// Remove a stored batch (its history is kept).
    Remove {
        /// The batch's id.
        id: i64,
        /// The history: an SQLite file, or a postgres:// URL.
        #[arg(long)]
        db: String,
    },
    /// Save a run as the batch's baseline (default: its last complete run), or re-baseline
    /// one target.
    Baseline {
        /// The batch's id.
        id: i64,
        /// The history: an SQLite file, or a postgres:// URL.
        #[arg(long)]
        db: String,
        /// The run to save (default: the last complete one).
        #[arg(long)]
        run: Option<i64>,
        /// Re-baseline this target only.
        #[arg(long)]
        target: Option<String>,
    },
    /// Queue a run of a stored batch now, for the workers; prints the run's id.
    Queue {
        /// The batch's id.
        id: i64,
        /// The history: an SQLite file, or a postgres:// URL.
        #[arg(long)]
        db: String,
    },
    /// Copy a whole history (batches, runs, results, deliveries, baselines) into an empty one,
    /// e.g. an SQLite file into PostgreSQL.
    Migrate {
        /// The history to read.
        #[arg(long)]
        from: String,
        /// The history to write (empty).
        #[arg(long)]
        to: String,
    },
    /// Queue stored batches when their ct:Schedule is due, work on them (unless
    /// --no-worker), and serve the monitor.
    Serve(Box<crate::service::ServeArgs>),
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The Batch file (XML), or with --db the id of a stored batch.
    pub(crate) file: String,
    /// The history (an SQLite file or a postgres:// URL): run the stored batch FILE names by
    /// its id, and record the run.
    #[arg(long)]
    pub(crate) db: Option<String>,
    /// Output format on stdout: text, csv, pager, pager-html, xml, xml-score, xml-matrix,
    /// json (default: the first Delivery's format, else text).
    #[arg(long, value_parser = parse_format)]
    pub(crate) format: Option<Format>,
    /// Carry out the file's Deliveries (results files, email through --relay). A stored run
    /// always delivers as its ct:Alert says.
    #[arg(long)]
    pub(crate) deliver: bool,
    /// At most this many tests at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    #[command(flatten)]
    pub(crate) delivery: DeliverArgs,
    #[command(flatten)]
    pub(crate) env: EnvArgs,
}

/// Where results go: the results directory and the mail relay.
#[derive(Args)]
pub(crate) struct DeliverArgs {
    /// Where `<To>File</To>` results are written.
    #[arg(long, default_value = "checktls-results")]
    pub(crate) results_dir: PathBuf,
    /// The mail relay for email deliveries, HOST:PORT (STARTTLS and a valid certificate for
    /// HOST are required).
    #[arg(long)]
    pub(crate) relay: Option<String>,
    /// AUTH user at the relay.
    #[arg(long, requires = "relay_pass_env")]
    pub(crate) relay_user: Option<String>,
    /// The environment variable holding the relay password (never given on the command line).
    #[arg(long)]
    pub(crate) relay_pass_env: Option<String>,
    /// AUTH LOGIN instead of PLAIN at the relay.
    #[arg(long)]
    pub(crate) relay_login: bool,
    /// Allow a relay without STARTTLS or with any certificate (a relay on this host only).
    #[arg(long)]
    pub(crate) relay_plaintext: bool,
    /// The sender of results messages.
    #[arg(long, default_value = "checktls@localhost")]
    pub(crate) from: String,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|()| {
        let names: Vec<_> = Format::ALL.iter().map(|(_, n)| *n).collect();
        format!("unknown format {s:?}: expected one of {}", names.join(", "))
    })
}

pub(crate) async fn main(command: BatchCommand) -> ExitCode {
    match command {
        BatchCommand::Check { file } => match load(&file) {
            Ok(batch) => {
                println!(
                    "{}: ok: {} target(s), {} test(s), {} delivery(ies)",
                    file.display(),
                    batch.targets.len(),
                    batch.test_count(),
                    batch.deliveries.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => usage(e),
        },
        BatchCommand::Run(a) => run_file(*a).await,
        BatchCommand::Add { file, db, id } => crate::service::add(&file, &db, &id).await,
        BatchCommand::List { db } => crate::service::list(&db).await,
        BatchCommand::Remove { id, db } => crate::service::remove(id, &db).await,
        BatchCommand::Baseline {
            id,
            db,
            run,
            target,
        } => crate::service::baseline(id, &db, run, target.as_deref()).await,
        BatchCommand::Queue { id, db } => crate::service::queue(id, &db).await,
        BatchCommand::Migrate { from, to } => crate::service::migrate(&from, &to).await,
        BatchCommand::Serve(a) => crate::service::serve(*a).await,
    }
}

/// Reads and parses a Batch file; the error names FILE:LINE:COLUMN.
pub(crate) fn load(file: &PathBuf) -> Result<Batch, String> {
    let bytes = read(file)?;
    parse_bytes(&bytes, &Limits::default()).map_err(|e| format!("{}:{e}", file.display()))
}

/// Email deliveries without `--relay`: refused, so the run says what was not sent.
pub(crate) struct NoRelay;

impl Mailer for NoRelay {
    async fn send(&self, _: &Envelope, _: &[u8]) -> Result<(), BatchError> {
        Err(BatchError::Mail {
            temporary: false,
            code: None,
            reason: "no relay given (--relay HOST:PORT)".into(),
        })
    }
}

pub(crate) async fn relay(
    a: &DeliverArgs,
    trust: &checktls::tls::TrustStore,
) -> Result<Option<Relay>, String> {
    let Some(spec) = &a.relay else {
        return Ok(None);
    };
    let name = spec
        .rsplit_once(':')
        .map_or(spec.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let address = tokio::net::lookup_host(spec.as_str())
        .await
        .map_err(|e| format!("--relay {spec}: {e}"))?
        .next()
        .ok_or_else(|| format!("--relay {spec}: no address"))?;
    let mut relay = Relay::new(name, address);
    relay.trust = trust.clone();
    relay.allow_plaintext = a.relay_plaintext;
    if let Some(user) = &a.relay_user {
        let var = a.relay_pass_env.as_deref().unwrap_or_default();
        let password =
            std::env::var(var).map_err(|_| format!("the environment variable {var} is not set"))?;
        relay.auth = Some(AuthCredentials {
            user: user.clone(),
            password,
            login: a.relay_login,
        });
    }
    Ok(Some(relay))
}

async fn run_file(a: RunArgs) -> ExitCode {
    if let Some(db) = a.db.clone() {
        return crate::service::run_id(a, &db).await;
    }
    let batch = match load(&PathBuf::from(&a.file)) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let mut base = ReceiverOptions::default();
    let trust = match a.env.apply(&mut base) {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let relay = match relay(&a.delivery, &trust).await {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let executor = ReceiverExecutor::new(base).trust(trust);
    let mut options = RunOptions::default();
    options.concurrency = a.concurrency.max(1);
    let progress = std::io::stderr().is_terminal();
    let result = run(&batch, &executor, &options, |p| {
        if progress {
            let grade = p
                .outcome
                .score()
                .map_or_else(|| "not tested".to_owned(), |s| s.to_string());
            eprint!("\r\x1b[K[{}/{}] {}: {grade}", p.done, p.total, p.job.text);
            let _ = std::io::stderr().flush();
        }
    })
    .await;
    if progress {
        eprint!("\r\x1b[K");
    }
    let (format, selection) = match (a.format, batch.deliveries.first()) {
        (Some(f), _) => (f, Selection::default()),
        (None, Some(d)) => (d.format, d.selection()),
        (None, None) => (Format::Text, Selection::default()),
    };
    print!("{}", render(&result, format, &selection));

    let mut delivered = true;
    if a.deliver {
        let config = DeliveryConfig::new(&a.delivery.results_dir, &a.delivery.from);
        let now = time::OffsetDateTime::now_utc();
        let reports = match relay {
            Some(r) => deliver(&batch, &result, &config, &SmtpMailer::new(r), now).await,
            None => deliver(&batch, &result, &config, &NoRelay, now).await,
        };
        for r in &reports {
            if !r.sent {
                eprintln!("delivery {}: suppressed, nothing sent", r.index + 1);
            }
            if let Some(file) = &r.file {
                match file {
                    Ok(path) => eprintln!("delivery {}: wrote {}", r.index + 1, path.display()),
                    Err(e) => eprintln!("delivery {}: {e}", r.index + 1),
                }
            }
            if let Some(mail) = &r.mail {
                match mail {
                    Ok(n) => eprintln!("delivery {}: mailed ({n} attempt(s))", r.index + 1),
                    Err(e) => eprintln!("delivery {}: {e}", r.index + 1),
                }
            }
            delivered &= r.ok();
        }
    }
    match result.status() {
        Status::Passed if delivered => ExitCode::SUCCESS,
        Status::Passed | Status::Failed => ExitCode::from(1),
        Status::NothingTested => ExitCode::from(3),
    }
}
