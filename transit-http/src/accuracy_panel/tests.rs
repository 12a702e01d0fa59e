//! The panel's table, chart and text alternative, and its `/metrics` families, over a small
//! accuracy table.

use transit_core::accuracy::{AccuracyModel, AccuracySnapshot};
use transit_core::event::AccuracyEvent;

use super::*;

fn row(hour: i32, bucket: &str, method: &str, scored: u64, accurate: u64) -> AccuracyEvent {
    AccuracyEvent {
        route_id: "Blue".into(),
        hour,
        bucket: bucket.into(),
        method: method.into(),
        partition: 0,
        scored,
        accurate,
        abs_error_sum_s: scored * 45,
        expired: 2,
        late: 1,
        never: 1,
        updated_at: 0,
    }
}

fn table() -> AccuracySnapshot {
    let mut model = AccuracyModel::new();
    model.apply(&row(7, "0-3", "learnt", 98, 93));
    model.apply(&row(8, "0-3", "learnt", 48, 40));
    model.apply(&row(7, "6-12", "delay", 1_198, 900));
    model.apply(&row(7, "12-30", "timetable", 18, 9));
    model.snapshot()
}

#[test]
fn the_table_has_every_bucket_and_the_methods_side_by_side() {
    let html = panel(&table(), "Blue", "Blue Line", Level::Three).into_string();
    assert!(html.contains(r#"id="accuracy-Blue""#), "{html}");
    assert!(html.contains(r#"<h3 id="accuracy-Blue-title">Prediction accuracy · Blue Line</h3>"#));
    for bucket in ["0-3 min", "3-6 min", "6-12 min", "12-30 min"] {
        assert!(html.contains(bucket), "{bucket} missing");
    }
    // The method riders are served is told by words, not by colour alone.
    assert!(html.contains("Learnt (served)"));
    for method in ["Timetable + delay", "Timetable", "Latest segment"] {
        assert!(
            html.contains(&format!(r#"<th scope="col">{method}</th>"#)),
            "{method}"
        );
    }
    // 0-3 learnt: 93 + 40 right of 98 + 48 scored and 4 expired.
    assert!(html.contains("88.7 %"), "{html}");
    assert!(html.contains("MAE 45 s · 150 scored"));
    assert!(html.contains("2 late · 2 never"));
    // 6-12 delay: 900 of 1,200; its error is 45 s too.
    assert!(html.contains("75.0 %"));
    assert!(html.contains("1,200 scored"));
    // A pair without samples is a dash, with words for a screen reader.
    assert!(html.contains("no predictions scored"));
}

#[test]
fn the_chart_is_an_svg_image_with_a_text_alternative() {
    let html = panel(&table(), "Blue", "Blue Line", Level::Three).into_string();
    assert!(html.contains(r#"role="img""#));
    assert!(
        html.contains(r#"aria-labelledby="accuracy-Blue-chart-title accuracy-Blue-chart-desc""#)
    );
    assert!(html.contains("<title id=\"accuracy-Blue-chart-title\">"));
    assert!(
        html.contains("from 07:00 to 08:00: between 80.0 % and 93.0 %"),
        "{html}"
    );
    assert!(html.contains("<polyline"));
    assert_eq!(html.matches("<circle").count(), 2, "a point per hour");
    // The same figures as a table.
    assert!(
        html.contains(r#"<th scope="row">07:00</th><td>93.0 %</td><td>100</td>"#),
        "{html}"
    );
    assert!(html.contains(r#"<th scope="row">08:00</th><td>80.0 %</td><td>50</td>"#));
    assert!(!html.contains("<script"), "no script in the panel");
}

#[test]
fn a_route_without_scores_says_so() {
    let html = panel(&table(), "Red", "Red Line", Level::Two).into_string();
    assert!(html.contains("<h2 id=\"accuracy-Red-title\">"));
    assert!(html.contains("No predictions of Red Line scored yet."));
    assert!(!html.contains("<svg"));
    // An id made of a route id keeps only what an id may hold.
    let html = panel(&table(), "A B\"<", "x", Level::Two).into_string();
    assert!(html.contains(r#"id="accuracy-A_B__""#), "{html}");
}

#[test]
fn metrics_carry_the_same_figures() {
    let mut text = String::new();
    metrics(&mut text, &table());
    for needle in [
        "# TYPE transit_predictions_scored_total counter",
        r#"transit_predictions_scored_total{route="Blue",bucket="0-3",method="learnt"} 150"#,
        r#"transit_predictions_accurate_total{route="Blue",bucket="0-3",method="learnt"} 133"#,
        r#"transit_predictions_late_total{route="Blue",bucket="6-12",method="delay"} 1"#,
        r#"transit_predictions_never_total{route="Blue",bucket="0-3",method="learnt"} 2"#,
        r#"transit_prediction_accuracy_ratio{route="Blue",bucket="6-12",method="delay"} 0.75"#,
        r#"transit_prediction_mean_absolute_error_seconds{route="Blue",bucket="12-30",method="timetable"} 45"#,
        r#"transit_prediction_hour_accuracy_ratio{route="Blue",hour="8"} 0.8"#,
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    // Pairs without samples have no sample lines.
    assert!(!text.contains(r#"method="latest_segment""#));
}

#[test]
fn durations_and_counts_read_as_people_write_them() {
    assert_eq!(minutes_seconds(42.4), "42 s");
    assert_eq!(minutes_seconds(65.0), "1:05");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(percent(None), "–");
    assert_eq!(hour_label(25), "25:00");
}
