//! The `chatload` binary: parse the command line, set up logging, run, map the
//! outcome to an exit code. All logic lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    chatload::redact::install_panic_hook();
    let cli = chatload::cli::Cli::parse();
    // `chatload mock` also shows the mock's own info lines (its shutdown counts).
    let default = match cli.command {
        chatload::cli::Command::Mock(_) => "warn,chatload_mock=info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHATLOAD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(chatload::redact::LogWriter)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            chatload::errln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(chatload::app::run(cli)) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            chatload::errln!("error: {}", e.message());
            ExitCode::from(e.exit as u8)
        }
    }
}
