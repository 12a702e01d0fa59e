//! The CTA data as the simulation sees it, with its quirks.

use transit_core::model::{LineId, StationId};
use transit_core::network::cta;
use transit_core::network::{parse_station_rows, Network};

#[test]
fn the_three_lines_of_the_embedded_data() {
    let network = Network::embedded().unwrap();
    let sizes: Vec<(LineId, usize)> = network.lines().map(|l| (l.id(), l.len())).collect();
    assert_eq!(sizes, [(cta::BLUE, 33), (cta::RED, 33), (cta::GREEN, 28)]);
    for line in network.lines() {
        let orders: Vec<u32> = line.stations().iter().map(|s| s.order).collect();
        assert_eq!(orders, (0..line.len() as u32).collect::<Vec<_>>());
        assert!(line.stations().iter().all(|s| s.line == line.id()));
        // No two stations of a line look alike on a board.
        let mut names: Vec<&str> = line.stations().iter().map(|s| s.name.as_str()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "{} line", line.id());
    }
    let blue = network.line(cta::BLUE).unwrap();
    let name = |id| {
        blue.stations()
            .iter()
            .find(|s| s.id == StationId(id))
            .map(|s| s.name.clone())
    };
    // Named by their branch, as CTA does; names that already say it are left as they are.
    assert_eq!(name(40750).as_deref(), Some("Harlem (O'Hare Branch)"));
    assert_eq!(name(40980).as_deref(), Some("Harlem (Forest Park Branch)"));
    assert_eq!(name(40670).as_deref(), Some("Western/O'Hare Branch"));
    assert_eq!(name(40890).as_deref(), Some("O'Hare"));
}

#[test]
fn rows_on_none_of_the_lines_are_counted_and_left_out() {
    let network = Network::embedded().unwrap();
    assert_eq!(network.report().off_line_rows, 42);
    let on_lines: usize = network.lines().map(|l| l.len() * 2).sum();
    assert_eq!(on_lines + 42, 230);
    // Belmont 41320 has Red rows and Brown-only rows: only the Red ones count.
    let red = network.line(cta::RED).unwrap();
    assert_eq!(
        red.stations()
            .iter()
            .filter(|s| s.id == StationId(41320))
            .count(),
        1
    );
}

#[test]
fn the_misspelt_duplicate_name_is_reconciled_by_the_stop_names() {
    let network = Network::embedded().unwrap();
    let station = network
        .line(cta::RED)
        .unwrap()
        .stations()
        .iter()
        .find(|s| s.id == StationId(40450))
        .unwrap();
    assert_eq!(station.name, "95th/Dan Ryan");
    let conflicts = &network.report().name_conflicts;
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].2, vec!["95th/Ran Ryan".to_string()]);
    assert!(network
        .report()
        .notes()
        .iter()
        .any(|n| n.contains("95th/Ran Ryan")));
}

#[test]
fn a_station_on_two_lines_is_on_both() {
    let network = Network::embedded().unwrap();
    for (line, id, order) in [
        (cta::BLUE, 40380, 16),
        (cta::GREEN, 40380, 14),
        (cta::RED, 41400, 23),
        (cta::GREEN, 41400, 18),
    ] {
        let station = network.line(line).unwrap().station(order).unwrap();
        assert_eq!(station.id, StationId(id), "{line} order {order}");
    }
}

const HEADER: &str = "stop_id,direction_id,stop_name,station_name,station_descriptive_name,station_id,order,red,blue,green\n";

fn network(rows: &str) -> Result<Network, String> {
    let rows = parse_station_rows("test.csv", format!("{HEADER}{rows}").as_bytes())
        .map_err(|e| e.to_string())?;
    Network::from_rows(rows).map_err(|e| e.to_string())
}

/// Two stations on each line, so only the row under test is wrong.
const GOOD: &str = "\
1,N,A (n),A,A,100,0,TRUE,FALSE,FALSE
2,S,A (s),A,A,100,0,TRUE,FALSE,FALSE
3,N,B (n),B,B,101,1,TRUE,FALSE,FALSE
4,S,B (s),B,B,101,1,TRUE,FALSE,FALSE
5,N,C (n),C,C,102,0,FALSE,TRUE,FALSE
6,S,C (s),C,C,102,0,FALSE,TRUE,FALSE
7,N,D (n),D,D,103,1,FALSE,TRUE,FALSE
8,S,D (s),D,D,103,1,FALSE,TRUE,FALSE
9,N,E (n),E,E,104,0,FALSE,FALSE,TRUE
10,S,E (s),E,E,104,0,FALSE,FALSE,TRUE
11,N,F (n),F,F,105,1,FALSE,FALSE,TRUE
12,S,F (s),F,F,105,1,FALSE,FALSE,TRUE
";

#[test]
fn a_small_valid_network_builds() {
    let network = network(GOOD).unwrap();
    assert_eq!(network.line(cta::RED).unwrap().len(), 2);
}

#[test]
fn rows_on_several_lines_are_reported_and_left_out() {
    let network = network(&format!("{GOOD}13,N,G,G,G,106,2,TRUE,TRUE,FALSE\n")).unwrap();
    assert_eq!(network.report().multi_line_stops, vec![13]);
    assert!(network
        .report()
        .notes()
        .iter()
        .any(|n| n.contains("several")));
}

#[test]
fn bad_networks_say_what_is_wrong() {
    let one_row = format!("{GOOD}13,N,G,G,G,106,2,TRUE,FALSE,FALSE\n");
    assert!(network(&one_row)
        .unwrap_err()
        .contains("station 106 has 1 rows on the red line"));
    let duplicate_order =
        format!("{GOOD}13,N,G,G,G,106,1,TRUE,FALSE,FALSE\n14,S,G,G,G,106,1,TRUE,FALSE,FALSE\n");
    assert!(network(&duplicate_order)
        .unwrap_err()
        .contains("share order 1"));
    let short_line: String = GOOD.lines().take(10).map(|l| format!("{l}\n")).collect();
    assert!(network(&short_line)
        .unwrap_err()
        .contains("the green line has 1 station"));
    let bad_number = format!("{GOOD}13,N,G,G,G,x106,2,TRUE,FALSE,FALSE\n");
    assert_eq!(
        network(&bad_number).unwrap_err(),
        r#"test.csv line 14: station_id "x106" is not a number"#
    );
    let too_big = format!("{GOOD}13,N,G,G,G,3000000000,2,TRUE,FALSE,FALSE\n");
    assert!(network(&too_big).unwrap_err().contains("too large"));
}

#[test]
fn loading_a_missing_file_names_it() {
    let error = Network::from_path(std::path::Path::new("/no/such/stations.csv")).unwrap_err();
    assert!(
        error.to_string().contains("/no/such/stations.csv"),
        "{error}"
    );
}
