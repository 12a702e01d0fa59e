//! `transit`: inspect the network data and the simulation from the command line.
//!
//! `transit network` shows the three lines as parsed from the CTA data (embedded, or a CSV you
//! pass), with every data quirk it handled. `transit simulate` prints the simulation's events as
//! JSON lines, one per event, without any bus: the same seed always prints the same lines.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use transit::settings::SimulationArgs;
use transit_core::sim::{Simulation, TickEvents};

/// mimalloc: the pipeline allocates and frees millions of small records a second, where
/// glibc's allocator spends more time than the encoding itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Live status of Chicago's 'L' trains: tools for the network data and the simulation.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the three lines and their stations, and the data quirks handled while parsing.
    Network(NetworkArgs),
    /// Print the simulation's events as JSON lines (no bus): arrivals, turnstile entries, weather.
    Simulate(SimulateArgs),
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
    transit::logging::init();
    let result = match Cli::parse().command {
        Command::Network(args) => show_network(&args),
        Command::Simulate(args) => simulate(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn show_network(args: &NetworkArgs) -> anyhow::Result<()> {
    let network = args.simulation.network()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in network.lines() {
        writeln!(out, "{} line: {} stations", line.color(), line.len())?;
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
