//! The read side: the status read model and the dashboard, on one core.
//!
//! - `status/apply_arrivals`: a simulated day's arrivals applied to the read model (each clears
//!   the train's previous platform and takes the new one), with the network's stations known.
//! - `status/apply_counts`: turnstile-count table updates applied to the read model.
//! - `status/snapshot`: the read model turned into the board's snapshot (every station).
//! - `dashboard/render_page`: the whole page (94 stations, three SVG diagrams) rendered.
//! - `dashboard/render_json`: the snapshot as `/api/status` JSON.
//!
//! `cargo bench --bench dashboard` runs them; `cargo test` runs each once.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use transit_core::event::{ArrivalEvent, StationEvent, TurnstileCount};
use transit_core::status::StatusModel;
use transit_sim::{SimConfig, TickEvents};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ticks in a simulated day at the default two-minute tick.
const DAY_TICKS: usize = 720;

struct Day {
    stations: Vec<StationEvent>,
    arrivals: Vec<ArrivalEvent>,
    counts: Vec<TurnstileCount>,
}

/// A simulated day: the network's stations, every arrival, and a count update per station and
/// tick (what the counter publishes).
fn day() -> Day {
    let network = transit_sim::testing::network();
    let mut sim = transit_sim::testing::simulation_of(Arc::clone(&network), SimConfig::default());
    let stations: Vec<StationEvent> = network
        .lines()
        .flat_map(|line| {
            line.stations().iter().map(move |s| StationEvent {
                station_id: s.id,
                station_name: Arc::from(s.name.as_str()),
                order: s.order,
                line: line.id(),
            })
        })
        .collect();
    let mut arrivals = Vec::new();
    let mut counts = Vec::new();
    let mut totals = std::collections::HashMap::new();
    let mut tick = TickEvents::default();
    for (offset, _) in (0..DAY_TICKS).enumerate() {
        sim.step(&mut tick);
        arrivals.extend_from_slice(&tick.arrivals);
        for entry in &tick.turnstile_entries {
            *totals.entry((entry.station_id, entry.line)).or_insert(0u64) += 1;
        }
        for (&(station_id, line), &entries) in &totals {
            counts.push(TurnstileCount {
                station_id,
                line,
                entries,
                source_partition: 0,
                source_offset: offset as u64,
            });
        }
    }
    Day {
        stations,
        arrivals,
        counts,
    }
}

fn model_with_stations(day: &Day) -> StatusModel {
    let network = transit_sim::testing::network();
    let mut model = StatusModel::new(Arc::clone(network.locations()));
    for station in &day.stations {
        model.apply_station(station);
    }
    model
}

fn status(c: &mut Criterion) {
    let day = day();
    let mut group = c.benchmark_group("status");
    group.throughput(Throughput::Elements(day.arrivals.len() as u64));
    group.bench_function("apply_arrivals", |b| {
        let mut model = model_with_stations(&day);
        b.iter(|| {
            for arrival in &day.arrivals {
                model.apply_arrival(arrival);
            }
        })
    });
    group.throughput(Throughput::Elements(day.counts.len() as u64));
    group.bench_function("apply_counts", |b| {
        let mut model = model_with_stations(&day);
        b.iter(|| {
            for count in &day.counts {
                model.apply_count(count);
            }
        })
    });
    let mut model = model_with_stations(&day);
    day.arrivals.iter().for_each(|a| model.apply_arrival(a));
    day.counts.iter().for_each(|c| model.apply_count(c));
    group.throughput(Throughput::Elements(1));
    group.bench_function("snapshot", |b| b.iter(|| model.snapshot()));
    group.finish();

    let snapshot = model.snapshot();
    let mut group = c.benchmark_group("dashboard");
    group.throughput(Throughput::Elements(1));
    group.bench_function("render_page", |b| {
        b.iter(|| transit_http::dashboard::render_page(&snapshot))
    });
    group.bench_function("render_json", |b| {
        b.iter(|| serde_json::to_vec(&snapshot).expect("serialising a snapshot"))
    });
    group.finish();
}

criterion_group!(benches, status);
criterion_main!(benches);
