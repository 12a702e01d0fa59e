//! The model's sums over partitions and its tombstones (the service on the in-memory bus is
//! tested in `tests/it/accuracy.rs`).

use super::*;

#[allow(clippy::too_many_arguments)]
fn row(
    route: &str,
    hour: i32,
    bucket: &str,
    method: &str,
    partition: u32,
    scored: u64,
    accurate: u64,
    abs_error_sum_s: u64,
    expired: u64,
    late: u64,
) -> AccuracyEvent {
    AccuracyEvent {
        route_id: route.into(),
        hour,
        bucket: bucket.into(),
        method: method.into(),
        partition,
        scored,
        accurate,
        abs_error_sum_s,
        expired,
        late,
        never: expired - late,
        updated_at: 1_000 * i64::from(hour),
    }
}

#[test]
fn partitions_and_hours_are_summed_per_bucket_and_method() {
    let mut model = AccuracyModel::new();
    model.apply(&row("1", 7, "6-12", "learnt", 0, 80, 72, 4_000, 10, 6));
    model.apply(&row("1", 7, "6-12", "learnt", 1, 20, 18, 1_000, 0, 0));
    model.apply(&row("1", 8, "6-12", "learnt", 0, 50, 40, 2_500, 0, 0));
    model.apply(&row("1", 7, "6-12", "delay", 0, 100, 70, 9_000, 10, 10));
    model.apply(&row("2", 7, "0-3", "learnt", 3, 10, 10, 100, 0, 0));
    let snapshot = model.snapshot();
    assert_eq!(snapshot.version, 5);
    assert_eq!(snapshot.updated_at, Some(8_000));
    assert_eq!(snapshot.routes.len(), 2);

    let one = snapshot.route("1").expect("route 1 was scored");
    // Every bucket with every method, zeros where none was scored.
    assert_eq!(one.cells.len(), BUCKETS.len() * METHODS.len());
    assert_eq!(
        one.methods,
        ["learnt", "delay", "timetable", "latest_segment"]
    );
    let learnt = one.cell("6-12", "learnt").expect("a cell");
    assert_eq!(learnt.tally.scored, 150);
    assert_eq!(learnt.tally.accurate, 130);
    assert_eq!(learnt.tally.expired, 10);
    assert_eq!(learnt.tally.late, 6);
    assert_eq!(learnt.tally.never, 4);
    // Expired samples count as wrong: 130 of 160.
    assert_eq!(learnt.accurate_pct, Some(100.0 * 130.0 / 160.0));
    // The error is over the samples matched: 7 500 s over 150.
    assert_eq!(learnt.mae_s, Some(50.0));
    let delay = one.cell("6-12", "delay").expect("a cell");
    assert_eq!(delay.accurate_pct, Some(100.0 * 70.0 / 110.0));
    let empty = one.cell("0-3", "timetable").expect("a cell");
    assert_eq!(empty.tally, Tally::default());
    assert_eq!((empty.accurate_pct, empty.mae_s), (None, None));

    // The chart: the learnt method per hour, over every bucket and partition.
    let hours: Vec<(i32, Option<f64>)> =
        one.hours.iter().map(|h| (h.hour, h.accurate_pct)).collect();
    // Hour 7: 90 accurate of 100 scored and 10 expired.
    assert_eq!(hours, [(7, Some(100.0 * 90.0 / 110.0)), (8, Some(80.0))]);
}

#[test]
fn a_row_replaces_its_key_and_a_tombstone_removes_it() {
    let mut model = AccuracyModel::new();
    let first = row("1", 7, "0-3", "learnt", 0, 10, 5, 100, 0, 0);
    model.apply(&first);
    // The scorer publishes running totals: the newer row is the whole count, not an addition.
    model.apply(&row("1", 7, "0-3", "learnt", 0, 20, 15, 200, 0, 0));
    assert_eq!(model.len(), 1);
    let version = model.version();
    model.apply(&row("1", 7, "0-3", "learnt", 0, 20, 15, 200, 0, 0));
    assert_eq!(
        model.version(),
        version,
        "the same row again changes nothing"
    );
    let snapshot = model.snapshot();
    let cell = snapshot.routes[0].cell("0-3", "learnt").expect("a cell");
    assert_eq!((cell.tally.scored, cell.tally.accurate), (20, 15));

    model.remove(&first.key());
    assert!(model.is_empty());
    assert!(model.snapshot().routes.is_empty());
}

#[test]
fn unknown_buckets_are_left_out_and_unknown_methods_follow_the_known() {
    let mut model = AccuracyModel::new();
    model.apply(&row("1", 7, "30-60", "learnt", 0, 10, 5, 100, 0, 0));
    assert!(model.snapshot().routes.is_empty());
    model.apply(&row("1", 7, "3-6", "kalman", 0, 10, 5, 100, 0, 0));
    let snapshot = model.snapshot();
    let route = &snapshot.routes[0];
    assert_eq!(route.methods.last().map(String::as_str), Some("kalman"));
    assert_eq!(route.cells.len(), BUCKETS.len() * 5);
    assert!(route.hours.is_empty(), "only the learnt method is charted");
    assert_eq!(method_label("kalman"), "kalman");
    assert_eq!(method_label("delay"), "Timetable + delay");
}

#[test]
fn the_snapshot_serialises_with_its_figures() -> Result<(), serde_json::Error> {
    let mut model = AccuracyModel::new();
    model.apply(&row("1", 7, "0-3", "learnt", 0, 4, 3, 120, 0, 0));
    let json = serde_json::to_value(model.snapshot())?;
    let cell = &json["routes"][0]["cells"][0];
    assert_eq!(cell["bucket"], "0-3");
    assert_eq!(cell["method"], "learnt");
    assert_eq!(cell["scored"], 4);
    assert_eq!(cell["accurate_pct"], 75.0);
    assert_eq!(cell["mae_s"], 30.0);
    assert_eq!(json["routes"][0]["hours"][0]["hour"], 7);
    Ok(())
}
