//! `transit`: the processes of the production pipeline, and tools for the data.
//!
//! The production pipeline is a few processes around Kafka (see `docs/runbook.md`):
//! `transit stations load` (the CTA stations CSV into PostgreSQL), `transit registry` (schema
//! registry + REST Proxy), `transit process` (station processor and turnstile counter; run it
//! twice to scale out), `transit stations source` (the table's rows onto Kafka, as they
//! appear), `transit produce` (the simulation; weather through the REST Proxy) and
//! `transit dashboard`. Each takes flags, `TRANSIT_*` environment
//! variables, and a settings file of `KEY=VALUE` lines (`--config FILE`), in that order of
//! precedence. Each long-running one serves `/healthz`, `/readyz` and `/metrics` for its
//! supervisor and Prometheus on `--metrics-address`.
//!
//! `transit network` shows the three lines as parsed from the CTA data (embedded, or a CSV you
//! pass), with every data quirk it handled. `transit simulate` prints the simulation's events as
//! JSON lines, one per event, without any bus: the same seed always prints the same lines.
//! `transit gtfs export DIR|FILE.zip` writes the static GTFS feed of the simulated network.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use transit::processes::{board, gtfs, processors, producer, registry, stations};
use transit::settings::SimulationArgs;
use transit_sim::{Simulation, TickEvents};

/// mimalloc: the pipeline allocates and frees millions of small records a second, where
/// glibc's allocator spends more time than the encoding itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Live status of Chicago's 'L' trains: tools for the network data and the simulation.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A settings file of `KEY=VALUE` lines (`TRANSIT_KAFKA_BROKERS=...`); flags and the
    /// environment override it.
    #[arg(long, global = true, env = "TRANSIT_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,

    #[command(flatten)]
    log: transit::logging::LogArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the three lines and their stations, and the data quirks handled while parsing.
    Network(NetworkArgs),
    /// Print the simulation's events as JSON lines (no bus): arrivals, turnstile entries, weather.
    Simulate(SimulateArgs),
    /// Serve the schema registry and the REST Proxy, keeping schemas in a Kafka topic.
    Registry(registry::RegistryArgs),
    /// Run the station processor and the turnstile counter (run twice to scale out).
    Process(processors::ProcessorArgs),
    /// Run the simulation's producers against Kafka; weather goes through the REST Proxy.
    /// With --gtfs PATH: any agency's timetabled arrivals instead.
    Produce(Box<producer::ProducerArgs>),
    /// Serve the dashboard, fed by the status read model. With --gtfs PATH: any agency's
    /// board, GTFS-realtime and static feed.
    Dashboard(board::BoardArgs),
    /// The PostgreSQL station table: load it, or publish its rows as they appear.
    #[command(subcommand)]
    Stations(stations::StationsCommand),
    /// Standard feeds of the simulated network: `transit gtfs export DIR|FILE.zip`.
    Gtfs(gtfs::GtfsArgs),
}

#[derive(Debug, clap::Args)]
struct NetworkArgs {
    #[command(flatten)]
    simulation: SimulationArgs,
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    #[command(flatten)]
    simulation: SimulationArgs,

    /// How many ticks to simulate.
    #[arg(long, default_value_t = 30)]
    ticks: u64,
}

fn main() -> ExitCode {
    // The settings file fills the environment before clap reads it, and before any thread.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Err(error) = transit::settings::load_config_file(&args) {
        eprintln!("error: {error:#}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    transit::logging::init(cli.log.log_format);
    let result = match cli.command {
        Command::Network(args) => show_network(&args),
        Command::Simulate(args) => simulate(&args),
        Command::Registry(args) => serve(|shutdown| registry::run(args, shutdown)),
        Command::Process(args) => serve(|shutdown| processors::run(args, shutdown)),
        Command::Produce(args) => serve(|shutdown| producer::run(*args, shutdown)),
        Command::Dashboard(args) => serve(|shutdown| board::run(args, shutdown)),
        Command::Stations(command) => serve(|shutdown| stations::run(command, shutdown)),
        Command::Gtfs(args) => gtfs::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let (status, line) = transit::shutdown::exit_status(&error);
            eprintln!("{line}");
            ExitCode::from(status)
        }
    }
}

/// Runs a long-lived process until it ends or Ctrl+C (see `transit::shutdown`).
fn serve<F, Fut>(process: F) -> anyhow::Result<()>
where
    F: FnOnce(tokio_util::sync::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    transit::shutdown::serve(process)
}

fn show_network(args: &NetworkArgs) -> anyhow::Result<()> {
    let network = args.simulation.network()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in network.lines() {
        writeln!(out, "{} line: {} stations", line.id(), line.len())?;
        for station in line.stations() {
            writeln!(
                out,
                "  {:>3}  {:>5}  {}",
                station.order, station.id, station.name
            )?;
        }
    }
    for note in network.report().notes() {
        writeln!(out, "note: {note}")?;
    }
    out.flush().context("writing to stdout")
}

/// One line of `transit simulate`'s output.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Printed<'a> {
    Arrival {
        time: String,
        #[serde(flatten)]
        event: &'a transit_core::event::ArrivalEvent,
    },
    Turnstile {
        time: String,
        #[serde(flatten)]
        event: &'a transit_core::event::TurnstileEvent,
    },
    Weather {
        time: String,
        #[serde(flatten)]
        event: &'a transit_core::event::WeatherEvent,
    },
}

fn simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let config = args.simulation.sim_config()?;
    let mut sim = Simulation::new(
        args.simulation.network()?,
        args.simulation.ridership()?,
        config,
    )
    .context("setting up the simulation")?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut tick = TickEvents::default();
    for _ in 0..args.ticks {
        sim.step(&mut tick);
        let time = tick.time.to_string();
        let printed = tick
            .arrivals
            .iter()
            .map(|event| Printed::Arrival {
                time: time.clone(),
                event,
            })
            .chain(
                tick.turnstile_entries
                    .iter()
                    .map(|event| Printed::Turnstile {
                        time: time.clone(),
                        event,
                    }),
            )
            .chain(tick.weather.iter().map(|event| Printed::Weather {
                time: time.clone(),
                event,
            }));
        for line in printed {
            serde_json::to_writer(&mut out, &line).context("writing to stdout")?;
            out.write_all(b"\n").context("writing to stdout")?;
        }
    }
    out.flush().context("writing to stdout")
}
