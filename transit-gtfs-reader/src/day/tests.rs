//! The conversion on small feeds built here: frequencies, blocks, pairing at terminals,
//! colours, the date taken and its start.

use chrono::TimeZone;
use transit_core::model::{LineId, Rgb as CoreRgb};
use transit_core::network::service_day::{ServiceDay, TripIndex};

use super::{route_colours, ServiceDayOptions, DEFAULT_MIN_LAYOVER_S};
use crate::model::Rgb;
use crate::tests::{date, minimal, read, with, zip, Files};
use crate::{Feed, ReadOptions};

fn hms(h: u32, m: u32, s: u32) -> u32 {
    h * 3600 + m * 60 + s
}

/// The trip ids of each vehicle, by vehicle id.
fn runs(day: &ServiceDay) -> Vec<(String, Vec<String>)> {
    day.vehicles
        .iter()
        .map(|v| {
            let trips = v
                .trips
                .iter()
                .map(|t| day.trips[t.0 as usize].trip_id.clone())
                .collect();
            (v.id.clone(), trips)
        })
        .collect()
}

fn owned(runs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    runs.iter()
        .map(|(v, trips)| (v.to_string(), trips.iter().map(|t| t.to_string()).collect()))
        .collect()
}

#[test]
fn frequencies_are_expanded_into_instances_of_one_block() {
    let feed = read(&minimal()).expect("reads");
    // A Wednesday: T1 (weekdays) runs every 600 s from 06:00 to 09:00, exactly.
    let day = feed.service_day(date(2025, 1, 8)).expect("a day");
    assert_eq!(day.date, date(2025, 1, 8));
    assert_eq!(day.timezone, "America/Chicago");
    assert_eq!(day.trips.len(), 18);
    let starts: Vec<u32> = day
        .trips
        .iter()
        .map(|t| t.frequency_start_s.expect("an instance"))
        .collect();
    let expected: Vec<u32> = (0..18).map(|k| hms(6, 0, 0) + 600 * k).collect();
    assert_eq!(starts, expected);
    // The pattern: 30 s dwell at P1 (the instance starts at the departure), the interpolated
    // stop, 10 min to P3.
    let first = &day.trips[0];
    let times: Vec<(u32, u32)> = first
        .stops
        .iter()
        .map(|s| (s.arrival_s, s.departure_s))
        .collect();
    assert_eq!(
        times,
        [
            (hms(5, 59, 30), hms(6, 0, 0)),
            (hms(6, 4, 45), hms(6, 4, 45)),
            (hms(6, 9, 30), hms(6, 9, 30))
        ]
    );
    assert_eq!(first.trip_id, "T1");
    assert_eq!(first.route, LineId::new("R1").expect("id"));
    assert_eq!(first.shape_id.as_deref(), Some("SH"));
    assert_eq!(first.direction_id, Some(0));
    // Block BL: each instance ends before the next leaves, so one vehicle runs them all.
    assert_eq!(day.vehicles.len(), 1);
    assert_eq!(day.vehicles[0].id, "BL");
    assert_eq!(
        day.vehicles[0].trips,
        (0..18).map(TripIndex).collect::<Vec<_>>()
    );
    // Only the routes whose trips were read (the bus is not rail) come.
    let ids: Vec<&str> = day.routes.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["R1"]);
    // Every stop, with its parent.
    assert_eq!(day.stops.len(), 4);
    assert_eq!(day.stops[1].id, "P1");
    assert_eq!(day.stops[1].parent.map(|p| p.0), Some(0));
    assert_eq!(day.stops[1].location, Some((41.0, -87.0)));
}

#[test]
fn the_day_starts_on_the_date_simulated_with_a_substitute_service() {
    let feed = read(&minimal()).expect("reads");
    // 2026-03-08, a Sunday, is the day clocks go forward in Chicago; the feed's calendar ends
    // in January 2025, so a Sunday of it runs, on the date simulated.
    let day = feed.service_day(date(2026, 3, 8)).expect("a day");
    assert_eq!(day.requested, date(2026, 3, 8));
    assert_eq!(day.date, date(2025, 1, 26));
    let tz = chrono_tz::America::Chicago;
    let noon = tz
        .with_ymd_and_hms(2026, 3, 8, 12, 0, 0)
        .single()
        .expect("t");
    assert_eq!(day.start_unix_s, noon.timestamp() - 12 * 3600);
    // T2 (weekends) every 300 s from 10:00: 10:00 CDT that day.
    let t2 = &day.trips[0];
    assert_eq!(t2.trip_id, "T2");
    assert_eq!(
        day.unix_s(t2.first_departure_s()),
        tz.with_ymd_and_hms(2026, 3, 8, 10, 0, 0)
            .single()
            .expect("t")
            .timestamp()
    );
    // --service-date: the date chosen, even outside the calendar (no service then).
    let options = ServiceDayOptions {
        service_date: Some(date(2025, 1, 8)),
        ..ServiceDayOptions::default()
    };
    let chosen = feed
        .service_day_with(date(2026, 3, 8), &options)
        .expect("a day");
    assert_eq!(chosen.date, date(2025, 1, 8));
    assert_eq!(chosen.trips.len(), 18);
    assert_eq!(chosen.start_unix_s, day.start_unix_s);
}

/// Route R between stations A and B (platforms A1, A2, B1, B2), route Q beside it, weekdays
/// of January 2025 in New York; `blocks` gives each trip's `block_id` (empty for none).
fn terminals(blocks: &[(&str, &str)]) -> Files {
    let block = |trip: &str| {
        blocks
            .iter()
            .find(|(t, _)| *t == trip)
            .map_or("", |(_, b)| *b)
    };
    // trip, route, departure from the first stop, arrival at the last.
    let trips = [
        ("out1", "R", "A1", "B1", "08:00:00", "08:20:00"),
        ("q1", "Q", "A1", "B1", "08:00:00", "08:20:00"),
        ("out2", "R", "A1", "B1", "08:10:00", "08:30:00"),
        ("in1", "R", "B2", "A2", "08:26:00", "08:46:00"),
        ("in2", "R", "B2", "A2", "08:33:00", "08:53:00"),
        ("in3", "R", "B2", "A2", "08:40:00", "09:00:00"),
        ("out3", "R", "A1", "B1", "09:30:00", "09:40:00"),
        ("in4", "R", "B2", "A2", "10:01:00", "10:21:00"),
    ];
    let mut trips_txt = String::from("route_id,service_id,trip_id,block_id\n");
    let mut times = String::from("trip_id,arrival_time,departure_time,stop_id,stop_sequence\n");
    for (trip, route, from, to, leaves, arrives) in trips {
        trips_txt += &format!("{route},WK,{trip},{}\n", block(trip));
        times += &format!(
            "{trip},{leaves},{leaves},{from},1\n{trip},,,M,2\n{trip},{arrives},{arrives},{to},3\n"
        );
    }
    let files: [(&'static str, String); 6] = [
        (
            "agency.txt",
            "agency_name,agency_url,agency_timezone\nAgency,https://a.example,America/New_York\n"
                .into(),
        ),
        (
            "routes.txt",
            "route_id,route_short_name,route_type,route_color,route_text_color\n\
             R,R,1,FFFF00,FFFFFF\nQ,Q,1,,\n"
                .into(),
        ),
        (
            "stops.txt",
            "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n\
             A,Alpha,40.0,-74.0,1,\nA1,,40.0,-74.0,0,A\nA2,,40.0,-74.0,0,A\n\
             B,Beta,40.1,-74.0,1,\nB1,,40.1,-74.0,0,B\nB2,,40.1,-74.0,0,B\nM,Middle,40.05,-74.0,,\n"
                .into(),
        ),
        (
            "calendar.txt",
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n\
             WK,1,1,1,1,1,0,0,20250106,20250131\n"
                .into(),
        ),
        ("trips.txt", trips_txt),
        ("stop_times.txt", times),
    ];
    files
        .into_iter()
        .map(|(name, text)| (name, text.into_bytes()))
        .collect()
}

#[test]
fn runs_are_paired_at_the_terminals_after_the_layover() {
    assert_eq!(DEFAULT_MIN_LAYOVER_S, 320);
    let feed = read(&terminals(&[])).expect("reads");
    let day = feed.service_day(date(2025, 1, 8)).expect("a day");
    // out1 reaches B at 08:20 and takes in1 at 08:26 (from the other platform of the same
    // station); out2, at B at 08:30, is ready at 08:35:20, too late for in2 (08:33), so it
    // takes in3; in2 pulls out new. Route Q never takes R's trips. out3, at B at 09:40, waits
    // at most 15 min past 09:45:20, so in4 at 10:01 is a new vehicle.
    assert_eq!(
        runs(&day),
        owned(&[
            ("R-1", &["out1", "in1"]),
            ("Q-1", &["q1"]),
            ("R-2", &["out2", "in3"]),
            ("R-3", &["in2"]),
            ("R-4", &["out3"]),
            ("R-5", &["in4"]),
        ])
    );
    for (v, vehicle) in day.vehicles.iter().enumerate() {
        for t in &vehicle.trips {
            assert_eq!(day.trips[t.0 as usize].vehicle.0, v as u32);
        }
    }
    // A shorter layover lets out2 take in2.
    let quick = ServiceDayOptions {
        min_layover_s: 120,
        ..ServiceDayOptions::default()
    };
    let day = feed
        .service_day_with(date(2025, 1, 8), &quick)
        .expect("a day");
    assert_eq!(runs(&day)[2], owned(&[("R-2", &["out2", "in2"])])[0]);
    // Unnamed platforms take their station's name; the middle stop interpolated.
    assert_eq!(day.stops[1].name, "Alpha");
    assert_eq!(day.trips[0].stops[1].arrival_s, hms(8, 10, 0));
}

#[test]
fn blocks_chain_their_trips_and_overlaps_are_split() {
    let feed = read(&terminals(&[
        ("out1", "X"),
        ("in2", "X"),
        ("out2", "X"),
        ("in1", "Y"),
    ]))
    .expect("reads");
    let day = feed.service_day(date(2025, 1, 8)).expect("a day");
    // X: out1 (08:00-08:20) then in2 (08:33); out2 (08:10) overlaps out1, so X~2 runs it.
    // in1 is block Y's alone, whatever the terminals would pair; the others are paired.
    assert_eq!(
        runs(&day),
        owned(&[
            ("X", &["out1", "in2"]),
            ("Q-1", &["q1"]),
            ("X~2", &["out2"]),
            ("Y", &["in1"]),
            ("R-1", &["in3"]),
            ("R-2", &["out3"]),
            ("R-3", &["in4"]),
        ])
    );
}

#[test]
fn colours_default_as_gtfs_says_and_text_is_made_readable() {
    let white = CoreRgb::WHITE;
    let black = CoreRgb::BLACK;
    assert_eq!(route_colours("r", None, None), (white, black));
    let red = Rgb([0xEE, 0x35, 0x2E]);
    let navy = Rgb([0x00, 0x00, 0x80]);
    let yellow = Rgb([0xFF, 0xFF, 0x00]);
    // Kept: the default black on NYC's red (5.2:1), white on navy (16:1), black on yellow.
    assert_eq!(route_colours("r", Some(red), None), (CoreRgb(red.0), black));
    assert_eq!(
        route_colours("r", Some(navy), Some(Rgb([255; 3]))),
        (CoreRgb(navy.0), white)
    );
    assert_eq!(
        route_colours("r", Some(yellow), Some(Rgb([0; 3]))),
        (CoreRgb(yellow.0), black)
    );
    // Replaced: white on NYC's red (4.05:1), white on yellow (1.07:1), the default black on
    // navy (1.3:1).
    assert_eq!(
        route_colours("r", Some(red), Some(Rgb([255; 3]))),
        (CoreRgb(red.0), black)
    );
    assert_eq!(
        route_colours("r", Some(yellow), Some(Rgb([255; 3]))),
        (CoreRgb(yellow.0), black)
    );
    assert_eq!(
        route_colours("r", Some(navy), None),
        (CoreRgb(navy.0), white)
    );

    let feed = read(&terminals(&[])).expect("reads");
    let day = feed.service_day(date(2025, 1, 8)).expect("a day");
    let r = day.route(LineId::new("R").expect("id")).expect("R");
    assert_eq!((r.color, r.text_color), (CoreRgb(yellow.0), black));
}

#[test]
fn a_trip_with_one_stop_time_is_left_out() {
    let files = with(
        minimal(),
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
         T1,08:00:00,08:00:30,P1,1\nT2,25:10:00,25:11:00,P2,7\nT2,24:59:00,24:59:00,P1,3\n",
    );
    let feed = read(&files).expect("reads");
    assert!(feed
        .service_day(date(2025, 1, 8))
        .expect("a day")
        .trips
        .is_empty());
    assert_eq!(
        feed.service_day(date(2025, 1, 11))
            .expect("a day")
            .trips
            .len(),
        12
    );
}

#[test]
fn agencies_in_two_zones_each_in_their_own() {
    // GTFS wants one zone; a feed with two gets each trip read in its agency's zone and
    // placed on the first agency's day: 09:00 in Los Angeles is 12:00 in New York.
    let files = with(
        with(
            minimal(),
            "agency.txt",
            "agency_id,agency_name,agency_url,agency_timezone\n\
             A,Agency,https://a.example,America/New_York\nW,West,https://w.example,America/Los_Angeles\n",
        ),
        "routes.txt",
        "route_id,agency_id,route_short_name,route_type\nR1,W,1,1\nB1,A,B,3\n",
    );
    let feed = read(&files).expect("reads");
    let day = feed.service_day(date(2025, 1, 8)).expect("a day");
    assert_eq!(day.timezone, "America/New_York");
    assert_eq!(day.trips[0].first_departure_s(), hms(9, 0, 0));
    assert_eq!(day.trips[0].frequency_start_s, Some(hms(9, 0, 0)));
    let la = chrono_tz::America::Los_Angeles;
    assert_eq!(
        day.unix_s(day.trips[0].first_departure_s()),
        la.with_ymd_and_hms(2025, 1, 8, 6, 0, 0)
            .single()
            .expect("t")
            .timestamp()
    );
}

#[test]
fn every_route_type_on_request() {
    let feed =
        Feed::from_zip_bytes(zip(&minimal()), &ReadOptions::all_route_types()).expect("reads");
    let day = feed.service_day(date(2025, 1, 8)).expect("a day");
    // BUS1 every 60 s from 06:00 to 07:00, exact_times empty (0): 60 instances.
    assert_eq!(day.trips.iter().filter(|t| t.trip_id == "BUS1").count(), 60);
    assert_eq!(day.routes.len(), 2);
}

#[test]
fn stops_keep_the_feeds_stop_sequence_and_instances_their_exact_times() {
    let feed =
        Feed::from_zip_bytes(zip(&minimal()), &ReadOptions::all_route_types()).expect("reads");
    let sequences = |day: &ServiceDay, id: &str| -> Vec<(Vec<u32>, bool)> {
        day.trips
            .iter()
            .filter(|t| t.trip_id == id)
            .map(|t| {
                (
                    t.stops.iter().map(|s| s.stop_sequence).collect(),
                    t.exact_times,
                )
            })
            .collect()
    };
    let wednesday = feed.service_day(date(2025, 1, 8)).expect("a day");
    // T1's instances are on the exact headway; BUS1's `exact_times` is empty, 0.
    let t1 = sequences(&wednesday, "T1");
    assert_eq!(t1.len(), 18);
    assert!(t1.iter().all(|t| *t == (vec![1, 2, 3], true)));
    let bus = sequences(&wednesday, "BUS1");
    assert!(bus.iter().all(|t| *t == (vec![1, 2], false)));
    // T2 (weekends) numbers its stops 3 and 7, listed out of order in the file.
    let saturday = feed.service_day(date(2025, 1, 11)).expect("a day");
    let t2 = sequences(&saturday, "T2");
    assert!(!t2.is_empty());
    assert!(t2.iter().all(|t| *t == (vec![3, 7], false)));
}
