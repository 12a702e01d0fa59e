//! npm `sample-gtfs-feed` 0.13.0: two agencies in two time zones, a route across a
//! daylight-saving change, frequencies with `exact_times` 0 and 1, stations with entrances,
//! nodes and boarding areas.

use chrono::TimeZone;
use transit_gtfs_reader::{service_day_start, Feed, LocationType, ReadOptions};

use crate::{check_day, date, feed_path};

fn sample(options: &ReadOptions) -> Feed {
    Feed::read(feed_path("sample-gtfs-feed.zip"), options).expect("sample-gtfs-feed reads")
}

#[test]
fn two_agencies_in_two_time_zones() {
    let feed = sample(&ReadOptions::default());
    let zones: Vec<(&str, chrono_tz::Tz)> = feed
        .agencies()
        .iter()
        .map(|a| (a.id.as_deref().unwrap_or(""), a.timezone))
        .collect();
    assert_eq!(
        zones,
        [
            ("FTA", chrono_tz::Europe::Warsaw),
            ("MTA", chrono_tz::Europe::Berlin)
        ]
    );
    let b = &feed.routes()[feed.route_by_id("B").expect("B").index()];
    assert_eq!(
        &*feed.agencies()[b.agency.index()].name,
        "Full Transit Agency"
    );
    assert_eq!(b.color.map(|c| c.to_string()).as_deref(), Some("FF0000"));
}

#[test]
fn frequencies_exact_and_not() {
    let feed = sample(&ReadOptions::default());
    let freq: Vec<(&str, u32, u32, u32, bool)> = feed
        .frequencies()
        .iter()
        .map(|f| {
            (
                &*feed.trips()[f.trip.index()].id,
                f.start,
                f.end,
                f.headway_secs,
                f.exact_times,
            )
        })
        .collect();
    assert_eq!(
        freq,
        [
            (
                "b-downtown-on-working-days",
                8 * 3600,
                8 * 3600 + 59 * 60,
                300,
                true
            ),
            (
                "b-outbound-on-working-days",
                15 * 3600,
                16 * 3600,
                600,
                false
            ),
        ]
    );
}

#[test]
fn rail_by_default_buses_on_request() {
    let rail = sample(&ReadOptions::default());
    // Route A is a bus (3): its two trips and their shapes are left out.
    assert_eq!(rail.trips().len(), 8);
    assert!(rail.trip_by_id("a-downtown-all-day").is_none());
    assert!(rail.shapes().is_empty());
    let all = sample(&ReadOptions::all_route_types());
    assert_eq!(all.trips().len(), 10);
    assert_eq!(all.shapes().len(), 2);
    assert_eq!(all.stop_times().len(), 29);
}

#[test]
fn stations_platforms_and_their_parts() {
    let feed = sample(&ReadOptions::default());
    let stop = |id: &str| &feed.stops()[feed.stop_by_id(id).expect(id).index()];
    assert_eq!(stop("airport").location_type, LocationType::Station);
    assert_eq!(stop("airport-1").parent, feed.stop_by_id("airport"));
    assert_eq!(
        stop("airport-entrance").location_type,
        LocationType::Entrance
    );
    assert_eq!(
        stop("airport-1-access").location_type,
        LocationType::GenericNode
    );
    let boarding = stop("airport-2-boarding");
    assert_eq!(boarding.location_type, LocationType::BoardingArea);
    assert_eq!(boarding.parent, feed.stop_by_id("airport-2"));
    assert_eq!(stop("airport").timezone, Some(chrono_tz::Europe::Berlin));
}

#[test]
fn open_ended_times_and_a_trip_across_the_clock_change() {
    let feed = sample(&ReadOptions::default());
    // The first stop gives only a departure, the last only an arrival.
    let c = feed.trip_by_id("c-outbound-all-day").expect("trip");
    let times = feed.trip_stop_times(c);
    assert_eq!(
        (times[0].arrival, times[0].departure),
        (19 * 3600 + 20 * 60, 19 * 3600 + 20 * 60)
    );
    let last = times[times.len() - 1];
    assert_eq!(last.arrival, last.departure);

    // during-dst-1 runs on Saturday 2019-03-30 from 25:55 to 26:05, across the night clocks
    // went forward in Warsaw: 01:55 CET, then 03:03 CEST.
    let trip = feed.trip_by_id("during-dst-1").expect("trip");
    let service = feed.trips()[trip.index()].service;
    assert!(feed.runs_on(service, date(2019, 3, 30)));
    let tz = chrono_tz::Europe::Warsaw;
    let start = service_day_start(tz, date(2019, 3, 30)).expect("start");
    let at = |secs: u32| start + chrono::Duration::seconds(i64::from(secs));
    let times = feed.trip_stop_times(trip);
    assert_eq!(
        at(times[0].arrival),
        tz.with_ymd_and_hms(2019, 3, 31, 1, 55, 0)
            .single()
            .expect("t")
    );
    assert_eq!(
        at(times[1].arrival),
        tz.with_ymd_and_hms(2019, 3, 31, 3, 3, 0)
            .single()
            .expect("t")
    );
}

#[test]
fn service_on_dates() {
    let feed = sample(&ReadOptions::default());
    assert_eq!(
        feed.calendar_range(),
        Some((date(2019, 3, 1), date(2019, 8, 20)))
    );
    let names = |d| -> Vec<String> {
        let mut v: Vec<String> = feed
            .trips_on(d)
            .into_iter()
            .map(|t| feed.trips()[t.index()].id.to_string())
            .collect();
        v.sort();
        v
    };
    // A Thursday: the all-day and working-day trips; 2019-05-01 is a holiday for both.
    assert_eq!(
        names(date(2019, 5, 2)),
        [
            "b-downtown-on-working-days",
            "b-outbound-on-working-days",
            "c-downtown-all-day",
            "c-outbound-all-day"
        ]
    );
    assert!(names(date(2019, 5, 1)).is_empty());
    // A Saturday: all-day (2 trips), on-weekends (3) and on-working-days, which runs
    // Monday to Saturday (2).
    assert_eq!(names(date(2019, 6, 15)).len(), 7);
    let day = feed.service_date(date(2026, 12, 6)).expect("a date");
    assert_eq!(day.taken, date(2019, 8, 18), "the calendar's last Sunday");
}

#[test]
fn a_working_day_with_frequencies_exact_and_not() {
    let feed = sample(&ReadOptions::default());
    // A Thursday.
    let day = feed.service_day(date(2019, 5, 2)).expect("a day");
    check_day(&day);
    assert_eq!(day.timezone, "Europe/Warsaw");
    let starts = |id: &str| -> Vec<Option<u32>> {
        day.trips
            .iter()
            .filter(|t| t.trip_id == id)
            .map(|t| t.frequency_start_s)
            .collect()
    };
    // exact_times 1: every 300 s from 08:00, the last before 08:59.
    let downtown: Vec<Option<u32>> = (0..12).map(|k| Some(8 * 3600 + 300 * k)).collect();
    assert_eq!(starts("b-downtown-on-working-days"), downtown);
    // exact_times 0: the same instances, every 600 s from 15:00, the last before 16:00.
    let outbound: Vec<Option<u32>> = (0..6).map(|k| Some(15 * 3600 + 600 * k)).collect();
    assert_eq!(starts("b-outbound-on-working-days"), outbound);
    assert_eq!(starts("c-downtown-all-day"), [None]);
    assert_eq!(day.trips.len(), 12 + 6 + 2);
    // Each instance keeps the pattern: it leaves the airport at its start (arriving a minute
    // before) and reaches the centre 16 min later.
    let first = day
        .trips
        .iter()
        .find(|t| t.trip_id == "b-downtown-on-working-days")
        .expect("an instance");
    let times: Vec<(u32, u32)> = first
        .stops
        .iter()
        .map(|s| (s.arrival_s, s.departure_s))
        .collect();
    let at = |h: u32, m: u32| h * 3600 + m * 60;
    assert_eq!(
        times,
        [
            (at(7, 59), at(8, 0)),
            (at(8, 6), at(8, 8)),
            (at(8, 16), at(8, 17))
        ]
    );
    // Route B's white text does not read on its red (4:1): black instead. C and D have no
    // colours: white, black text.
    let route = |id: &str| {
        day.route(transit_core::model::LineId::new(id).expect("id"))
            .expect("route")
    };
    let rgb = transit_core::model::Rgb;
    assert_eq!(
        (route("B").color, route("B").text_color),
        (rgb([0xFF, 0, 0]), rgb([0, 0, 0]))
    );
    assert_eq!(
        (route("C").color, route("C").text_color),
        (rgb([0xFF; 3]), rgb([0; 3]))
    );
    // The bus route A is left out with its trips; on request it comes.
    assert!(day.routes.iter().all(|r| r.id.as_str() != "A"));
    let all = sample(&ReadOptions::all_route_types())
        .service_day(date(2019, 5, 2))
        .expect("a day");
    assert_eq!(all.routes.len(), 4);
    assert_eq!(all.trips.len(), 22);
}

#[test]
fn the_night_clocks_go_forward_in_real_seconds_and_two_zones() {
    let feed = sample(&ReadOptions::default());
    let day = feed.service_day(date(2019, 3, 30)).expect("a day");
    check_day(&day);
    let warsaw = chrono_tz::Europe::Warsaw;
    let local = |tz: chrono_tz::Tz, d: u32, h: u32, m: u32| {
        tz.with_ymd_and_hms(2019, 3, d, h, m, 0)
            .single()
            .expect("a time")
            .timestamp()
    };
    assert_eq!(day.start_unix_s, local(warsaw, 30, 0, 0));
    // during-dst-1: 25:55 is 01:55 CET, 26:03 is 03:03 CEST, eight minutes later.
    let dst = day
        .trips
        .iter()
        .find(|t| t.trip_id == "during-dst-1")
        .expect("the DST trip");
    assert_eq!(day.unix_s(dst.stops[0].arrival_s), local(warsaw, 31, 1, 55));
    assert_eq!(day.unix_s(dst.stops[1].arrival_s), local(warsaw, 31, 3, 3));
    assert_eq!(dst.stops[1].arrival_s - dst.stops[0].arrival_s, 8 * 60);
    // Route C is MTA's, in Europe/Berlin: its times are Berlin's (the same clock as Warsaw's).
    let c = day
        .trips
        .iter()
        .find(|t| t.trip_id == "c-downtown-all-day")
        .expect("trip");
    let berlin = chrono_tz::Europe::Berlin;
    assert_eq!(day.unix_s(c.first_departure_s()), local(berlin, 30, 15, 24));
    assert_eq!(day.trips.len(), 3 + 2 + 12 + 6 + 1);
}
