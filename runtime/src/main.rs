//! The `connectors` command: runs a node (`serve`, `demo`), or talks to a
//! running one over its HTTP API (every other command; see
//! [`connectors::cli`]).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use connectors::cli::config_file::{NodeSettingsFile, CONFIG_OPTION};
use connectors::cli::connector::ConnectorCommand;
use connectors::cli::dead_letters::DeadLetterCommand;
use connectors::cli::logging;
use connectors::cli::module::ModuleCommand;
use connectors::cli::preview::PreviewArgs;
use connectors::cli::serve::{ServeArgs, DEMO_DATA, SERVE_DATA};
use connectors::cli::ClientArgs;
use connectors::node::Node;

/// A WebAssembly-extensible connector runtime for KurrentDB / EventStoreDB.
#[derive(Parser)]
#[command(name = "connectors", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Runs a node: the event store (embedded, or a KurrentDB node with
    /// `--store`), the connectors and the HTTP API.
    Serve(ServeArgs),
    /// Runs an embedded node with a demo connector printing the events that a
    /// demo writer appends. Its data lives in `./demo-data` unless `--data`
    /// says otherwise, apart from the `./data` of `serve`.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Milliseconds between two demo events.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
    },
    /// Lists, shows, creates, applies, enables, disables, resets and
    /// deletes the connectors of a running node.
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Uploads, lists and deletes the WebAssembly components of a running
    /// node.
    Module {
        #[command(subcommand)]
        command: ModuleCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Runs a filter and transform chain over events without creating
    /// anything (the body of `POST /preview` in a file).
    Preview {
        #[command(flatten)]
        preview: PreviewArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Lists the events a connector refused for good.
    DeadLetters {
        #[command(subcommand)]
        command: DeadLetterCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Lists the members of the cluster and the connectors each runs.
    Members {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Prints the completion script for a shell, e.g.
    /// `connectors completions bash > /etc/bash_completion.d/connectors`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs the command; a failure is printed as one line, `error: ` and its
/// causes, and the process exits with status 1.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let cli = parse_command_line()?;
    match cli.command {
        Commands::Serve(args) => {
            logging::init(&args.logs)?;
            let node = Node::start(args.config(SERVE_DATA)).await?;
            node.serve(shutdown_signal()).await
        }
        Commands::Demo { serve, interval_ms } => {
            logging::init(&serve.logs)?;
            let config = serve.config(DEMO_DATA);
            tracing::info!(
                data = %config.data_dir.display(),
                "the demo keeps its connector and events here; `connectors serve` uses {SERVE_DATA} unless given `--data`"
            );
            let node = Node::start(config).await?;
            connectors::demo::start(&node, Duration::from_millis(interval_ms.max(1)))
                .await
                .context("cannot start the demo")?;
            node.serve(shutdown_signal()).await
        }
        Commands::Connector { command, client } => {
            connectors::cli::connector::run(command, &client).await
        }
        Commands::Module { command, client } => {
            connectors::cli::module::run(command, &client).await
        }
        Commands::Preview { preview, client } => {
            connectors::cli::preview::run(preview, &client).await
        }
        Commands::DeadLetters { command, client } => {
            connectors::cli::dead_letters::run(command, &client).await
        }
        Commands::Members { client } => connectors::cli::members::run(&client).await,
        Commands::Completions { shell } => Ok(connectors::cli::completions::print(
            shell,
            &mut Cli::command(),
        )?),
    }
}

/// The command line; for `serve` and `demo` with `--config FILE` (or
/// `CONNECTORS_CONFIG`), parsed again with the file's settings as defaults,
/// under flags and environment variables.
fn parse_command_line() -> anyhow::Result<Cli> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = Cli::command().get_matches_from(&args);
    let settings_file = match matches.subcommand() {
        Some((name @ ("serve" | "demo"), sub)) => sub
            .get_one::<std::path::PathBuf>(CONFIG_OPTION)
            .map(|path| (name.to_owned(), path.clone())),
        _ => None,
    };
    let matches = match settings_file {
        None => matches,
        Some((name, path)) => {
            let file = NodeSettingsFile::read(&path)?;
            let matches = Cli::command()
                .mut_subcommand(&name, |sub| file.apply_as_defaults(sub))
                .get_matches_from(&args);
            if let Some((_, sub)) = matches.subcommand() {
                file.check_ties(sub)?;
            }
            matches
        }
    };
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
