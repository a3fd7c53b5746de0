//! `chatload-mock` binary: parse flags, load the config, serve until
//! Ctrl-C or SIGTERM.

use anyhow::Context;
use chatload_mock::MockConfig;
use clap::Parser;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

/// Stateful mock of the Inbenta Agent Chat API (local use only).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// YAML config (default: the built-in demo world).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed for every random choice (overrides the config's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Per-app rate limit, RPS[:BURST] (e.g. 50:10): each app's requests
    /// beyond it get 429 with `Retry-After` (overrides the config's
    /// `rate_limit`).
    #[arg(long, value_name = "RPS[:BURST]", value_parser = chatload_mock::RateLimitConfig::parse)]
    rate_limit: Option<chatload_mock::RateLimitConfig>,
    #[command(flatten)]
    tls: chatload_mock::tls::TlsArgs,
    #[command(flatten)]
    caps: chatload_mock::caps::CapArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = match &cli.config {
        Some(path) => MockConfig::from_yaml_file(path)?,
        None => MockConfig::default(),
    };
    if let Some(seed) = cli.seed {
        config.seed = seed;
    }
    if let Some(limit) = cli.rate_limit {
        config.rate_limit = Some(limit);
    }
    cli.tls.apply(&mut config.tls);
    cli.caps.apply(&mut config);
    config.validate_caps().map_err(anyhow::Error::msg)?;
    let tls = chatload_mock::load_tls(&config)?;
    let shutdown = shutdown_signal();
    let addr = SocketAddr::new(cli.bind, cli.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        base_url = %format!("{scheme}://{local}/v1"),
        admin_url = %format!("{scheme}://{local}/__mock"),
        ca_cert = ?config.tls.as_ref().and_then(|t| t.ca_out.as_deref()),
        apps = config.apps.len(),
        seed = config.seed,
        "chatload-mock listening"
    );
    chatload_mock::serve_with_tls(listener, config, tls, shutdown)
        .await
        .context("serving")?;
    tracing::info!("chatload-mock stopped");
    Ok(())
}

/// A future that completes on Ctrl-C or (on Unix) SIGTERM. The handlers
/// are installed here, before the mock announces its address, so a signal
/// sent right after start-up stops it gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            () = term => {}
        }
    }
}
