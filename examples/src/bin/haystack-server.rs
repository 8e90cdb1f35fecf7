//! The Haystack HTTP API over a versioned store.
//!
//! `cargo run -p examples --bin haystack-server -- --db s3://bucket/carytown.zinc` (or
//! `HAYSTACK_DB=<url>`; `HAYSTACK_TS=<store url>` keeps the series in a separate store). The URL
//! names a dataset (`.../carytown.zinc`) or a store holding exactly one; one that names nothing
//! is an error at start. With `--sample`, an empty dataset is first filled with the sample site.
//!
//! Authentication: `--users FILE` (or `HAYSTACK_USERS`) names a users file of SCRAM-SHA-256
//! stored keys; every op then needs a session (HELLO, SCRAM, BEARER by the Auth chapter).
//! `haystack-server user add NAME --users FILE` adds a user, reading the password from the
//! terminal (or one line of stdin when stdin is not a terminal). Without a users file the
//! server serves without authentication on a loopback address only, and says so in its log;
//! on any other address it refuses to start unless `--insecure-no-auth` is given.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use examples::haystack::auth::{Auth, AuthConfig, Users};
use examples::haystack::{dataset, sample, server};
use haystack_core::auth::scram;

/// Serve the Haystack HTTP API over a versioned store.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Manage the users file instead of serving.
    #[command(subcommand)]
    command: Option<Command>,
    /// The users file (SCRAM-SHA-256 stored keys). Without one the server serves without
    /// authentication, on loopback only.
    #[arg(long, env = "HAYSTACK_USERS", global = true)]
    users: Option<std::path::PathBuf>,
    /// Serve without authentication on a non-loopback address (never do this on a network
    /// you do not trust).
    #[arg(long)]
    insecure_no_auth: bool,
    /// Seconds a bearer token stays valid.
    #[arg(long, env = "HAYSTACK_TOKEN_TTL", default_value_t = 3600)]
    token_ttl: u64,
    /// The dataset to serve: s3://bucket[/prefix]/NAME.zinc or ./dir/NAME.zinc (or a store
    /// holding exactly one dataset).
    #[arg(long, env = "HAYSTACK_DB", default_value = "./haystack-db")]
    db: String,
    /// Store URL of the time series (defaults to the entity store).
    #[arg(long, env = "HAYSTACK_TS")]
    ts: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "HAYSTACK_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Import the generated sample site first when the store is empty.
    #[arg(long)]
    sample: bool,
    /// Seconds a client may take to send a request head, and a kept-alive connection may stay
    /// idle; then the connection is closed.
    #[arg(long, env = "HAYSTACK_HEADER_TIMEOUT", default_value_t = 30)]
    header_timeout: u64,
    /// Seconds a client may take to send its request body (slower senders get 408).
    #[arg(long, env = "HAYSTACK_BODY_TIMEOUT", default_value_t = 30)]
    body_timeout: u64,
    /// Requests parsed and evaluated at once on the blocking pool (default: twice the cores).
    #[arg(long, env = "HAYSTACK_CPU_WORKERS")]
    cpu_workers: Option<std::num::NonZeroUsize>,
    /// Log filter (`info`, `debug`, ...).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    log_level: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Manage users.
    User {
        /// What to do.
        #[command(subcommand)]
        action: UserAction,
    },
}

/// What to do with users.
#[derive(Debug, Subcommand)]
enum UserAction {
    /// Add a user (or replace its password), reading the password from the terminal, or one
    /// line of stdin when stdin is not a terminal.
    Add {
        /// The user name.
        name: String,
        /// PBKDF2 iterations of the stored keys.
        #[arg(long, default_value_t = scram::DEFAULT_ITERATIONS)]
        iterations: u32,
    },
}

fn user_add(path: &std::path::Path, name: &str, iterations: u32) -> Result<(), String> {
    use std::io::IsTerminal as _;
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(format!("bad user name {name:?}"));
    }
    if iterations < scram::MIN_ITERATIONS {
        return Err(format!("use at least {} iterations", scram::MIN_ITERATIONS));
    }
    let password = if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(format!("password for {name}: "))
            .map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("again: ").map_err(|e| e.to_string())?;
        if p != again {
            return Err("the passwords differ".into());
        }
        p
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        return Err("empty password".into());
    }
    let mut users = Users::load_or_empty(path).map_err(|e| e.to_string())?;
    users.add(name, &password, iterations);
    users.save(path).map_err(|e| e.to_string())?;
    eprintln!("added user {name} to {}", path.display());
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(Command::User {
        action: UserAction::Add { name, iterations },
    }) = &args.command
    {
        let Some(path) = &args.users else {
            eprintln!("haystack-server: user add needs --users FILE (or HAYSTACK_USERS)");
            return std::process::ExitCode::FAILURE;
        };
        return match user_add(path, name, *iterations) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("haystack-server: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(args.log_level.as_str())
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haystack-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let auth = match &args.users {
        Some(path) => {
            let users = Users::load(path)?;
            tracing::info!(
                users = users.len(),
                "authentication on: SCRAM-SHA-256 users from {}",
                path.display()
            );
            let config = AuthConfig {
                token_ttl: std::time::Duration::from_secs(args.token_ttl.max(1)),
                ..AuthConfig::default()
            };
            Some(Arc::new(Auth::new(users, config)))
        }
        None if args.addr.ip().is_loopback() => {
            tracing::warn!("serving WITHOUT authentication (no --users file): loopback only");
            None
        }
        None if args.insecure_no_auth => {
            tracing::warn!(addr = %args.addr, "serving WITHOUT authentication on a non-loopback address (--insecure-no-auth)");
            None
        }
        None => {
            return Err(format!(
                "refusing to serve {} without authentication: give --users FILE (add users \
                 with `haystack-server user add NAME --users FILE`), bind a loopback address, \
                 or pass --insecure-no-auth",
                args.addr
            )
            .into());
        }
    };
    let db = dataset::open_for_serving(&args.db, args.ts.as_deref(), args.sample).await?;
    let db = Arc::new(db);
    tracing::info!(dataset = db.name(), "serving {}", args.db);
    if args.sample && !db.exists().await? {
        let dir = tempfile_dir()?;
        let site = sample::write_to(&dir, &sample::generate(time::OffsetDateTime::now_utc()))?;
        let report = db.import(&site.to_string_lossy(), &|_| {}).await?;
        tracing::info!(?report, "imported the sample site");
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut config = server::ServerConfig {
        body_timeout: std::time::Duration::from_secs(args.body_timeout.max(1)),
        ..Default::default()
    };
    if let Some(n) = args.cpu_workers {
        config.cpu_workers = n;
    }
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    // The first line on stdout names the bound address (useful with `--addr 127.0.0.1:0`).
    println!("listening on http://{}/", listener.local_addr()?);
    let app = server::router_with_auth(db, time::OffsetDateTime::now_utc, config, auth);
    let header_timeout = std::time::Duration::from_secs(args.header_timeout.max(1));
    examples::serve::serve(listener, app, header_timeout, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("haystack-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
