//! Feeds written by the test: the two daylight-saving days of 2024 in New York, a date out of
//! the calendar that is one, and properties over generated feeds.

use std::io::Write;

use chrono::{Datelike, NaiveDate, TimeZone};
use proptest::prelude::*;
use transit_gtfs_reader::{Feed, ReadOptions};

use crate::{check_day, date};

/// A zip of these files.
fn zip(files: &[(&str, String)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        w.write_all(text.as_bytes()).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// One subway trip through the night in New York, every day of 2024: 00:30, 01:30, 02:30,
/// 03:30 at four stops.
fn night_feed() -> Feed {
    let files = [
        (
            "agency.txt",
            "agency_name,agency_url,agency_timezone\nNYCT,https://a.example,America/New_York\n"
                .to_owned(),
        ),
        (
            "routes.txt",
            "route_id,route_short_name,route_type\nN,N,1\n".to_owned(),
        ),
        (
            "stops.txt",
            "stop_id,stop_name,stop_lat,stop_lon\nA,A,40.7,-74.0\nB,B,40.71,-74.0\n\
             C,C,40.72,-74.0\nD,D,40.73,-74.0\n"
                .to_owned(),
        ),
        (
            "calendar.txt",
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n\
             ALL,1,1,1,1,1,1,1,20240101,20241231\n"
                .to_owned(),
        ),
        (
            "trips.txt",
            "route_id,service_id,trip_id\nN,ALL,night\n".to_owned(),
        ),
        (
            "stop_times.txt",
            "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
             night,00:30:00,00:30:00,A,1\nnight,01:30:00,01:30:00,B,2\n\
             night,02:30:00,02:30:00,C,3\nnight,03:30:00,03:30:00,D,4\n"
                .to_owned(),
        ),
    ];
    Feed::from_zip_bytes(zip(&files), &ReadOptions::default()).expect("reads")
}

/// The Unix times of the night trip's stops on `requested`.
fn night_times(requested: NaiveDate) -> (NaiveDate, Vec<i64>) {
    let day = night_feed().service_day(requested).expect("a day");
    check_day(&day);
    let trip = day.trips.first().expect("the night trip");
    let times = trip.stops.iter().map(|s| day.unix_s(s.arrival_s)).collect();
    (day.date, times)
}

fn new_york(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    chrono_tz::America::New_York
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .earliest()
        .expect("a time")
        .timestamp()
}

#[test]
fn the_days_clocks_change_count_from_noon_minus_twelve_hours() {
    const HOUR: i64 = 3600;
    // An ordinary day: the times are the clock's.
    let (_, times) = night_times(date(2024, 6, 5));
    assert_eq!(times[0], new_york(2024, 6, 5, 0, 30));
    assert_eq!(times[3], new_york(2024, 6, 5, 3, 30));
    // 2024-03-10, clocks go forward at 02:00 EST: the day starts at 23:00 EST the day before,
    // so 03:30 is 03:30 EDT, and each stop is an hour of real time after the one before
    // (00:30 is 23:30 EST on the 9th, as GTFS defines it).
    let (taken, times) = night_times(date(2024, 3, 10));
    assert_eq!(taken, date(2024, 3, 10));
    assert_eq!(times[3], new_york(2024, 3, 10, 3, 30));
    assert_eq!(times[0], new_york(2024, 3, 9, 23, 30));
    assert!(times.windows(2).all(|w| w[1] - w[0] == HOUR));
    // 2024-11-03, clocks go back at 02:00 EDT: the day starts at 01:00 EDT, so 03:30 is
    // 03:30 EST and 01:30 is the second 01:30 (EST).
    let (_, times) = night_times(date(2024, 11, 3));
    assert_eq!(times[3], new_york(2024, 11, 3, 3, 30));
    assert_eq!(
        times[1],
        new_york(2024, 11, 3, 1, 30) + HOUR,
        "the later 01:30"
    );
    assert_eq!(times[0], new_york(2024, 11, 3, 1, 30), "00:30 is 01:30 EDT");
    assert!(times.windows(2).all(|w| w[1] - w[0] == HOUR));
}

#[test]
fn a_substitute_service_runs_on_the_date_simulated_even_when_clocks_change() {
    // 2026-03-08, a Sunday: the calendar ends in 2024, so its last Sunday, 2024-12-29, runs,
    // on 2026-03-08, when clocks go forward.
    let (taken, times) = night_times(date(2026, 3, 8));
    assert_eq!(taken, date(2024, 12, 29));
    assert_eq!(taken.weekday(), chrono::Weekday::Sun);
    assert_eq!(times[3], new_york(2026, 3, 8, 3, 30));
    assert_eq!(times[0], new_york(2026, 3, 7, 23, 30));
}

/// A trip of a generated feed.
#[derive(Debug, Clone)]
struct GenTrip {
    route: usize,
    service: usize,
    block: Option<u8>,
    start: u32,
    /// Run (s) to each next stop, and the dwell (s) there.
    hops: Vec<(u32, u32)>,
    /// Which middle stops have no times (interpolated).
    untimed: Vec<bool>,
    /// `frequencies.txt` rows: start, length, headway, exact_times.
    frequencies: Vec<(u32, u32, u32, bool)>,
    first_platform: usize,
}

#[derive(Debug, Clone)]
struct GenFeed {
    /// Each service's weekdays (bit 0 Monday).
    weekdays: Vec<u8>,
    /// Dates added to and removed from each service (days from the calendar's start).
    added: Vec<Option<u8>>,
    removed: Vec<Option<u8>>,
    route_types: Vec<u16>,
    trips: Vec<GenTrip>,
}

const FIRST: (i32, u32, u32) = (2025, 1, 6);
const PLATFORMS: usize = 6;

fn first_day() -> NaiveDate {
    date(FIRST.0, FIRST.1, FIRST.2)
}

fn gen_trip(routes: usize, services: usize) -> impl Strategy<Value = GenTrip> {
    (
        0..routes,
        0..services,
        prop::option::weighted(0.3, 0u8..3),
        0u32..30 * 3600,
        prop::collection::vec((0u32..900, 0u32..120), 1..5),
        prop::collection::vec(any::<bool>(), 4),
        prop::collection::vec(
            (0u32..26 * 3600, 1u32..4 * 3600, 60u32..3600, any::<bool>()),
            0..3,
        )
        .prop_map(|mut f| {
            // Half the trips run on their own schedule.
            if f.len() == 1 {
                f.clear();
            }
            f
        }),
        0..PLATFORMS,
    )
        .prop_map(
            |(route, service, block, start, hops, untimed, frequencies, first_platform)| GenTrip {
                route,
                service,
                block,
                start,
                hops,
                untimed,
                frequencies,
                first_platform,
            },
        )
}

fn gen_feed() -> impl Strategy<Value = GenFeed> {
    (1usize..3, 1usize..3).prop_flat_map(|(routes, services)| {
        (
            prop::collection::vec(0u8..128, services),
            prop::collection::vec(prop::option::of(0u8..14), services),
            prop::collection::vec(prop::option::of(0u8..14), services),
            prop::collection::vec(prop::sample::select(vec![1u16, 2, 3]), routes),
            prop::collection::vec(gen_trip(routes, services), 1..14),
        )
            .prop_map(|(weekdays, added, removed, route_types, trips)| GenFeed {
                weekdays,
                added,
                removed,
                route_types,
                trips,
            })
    })
}

fn clock(s: u32) -> String {
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

impl GenFeed {
    fn files(&self) -> Vec<(&'static str, String)> {
        let last = first_day() + chrono::Duration::days(13);
        let mut routes = String::from("route_id,route_type\n");
        for (r, t) in self.route_types.iter().enumerate() {
            routes += &format!("R{r},{t}\n");
        }
        // Three stations of two platforms each.
        let mut stops =
            String::from("stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n");
        for s in 0..PLATFORMS / 2 {
            stops += &format!("S{s},S{s},40.{s},-74.0,1,\n");
        }
        for p in 0..PLATFORMS {
            stops += &format!("P{p},P{p},40.{},-74.0,0,S{}\n", p / 2, p / 2);
        }
        let mut calendar = String::from(
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n",
        );
        let mut dates = String::from("service_id,date,exception_type\n");
        for (s, w) in self.weekdays.iter().enumerate() {
            let days: Vec<String> = (0..7).map(|b| ((w >> b) & 1).to_string()).collect();
            calendar += &format!(
                "V{s},{},{},{}\n",
                days.join(","),
                ymd(first_day()),
                ymd(last)
            );
            if let Some(d) = self.added[s] {
                dates += &format!(
                    "V{s},{},1\n",
                    ymd(first_day() + chrono::Duration::days(d.into()))
                );
            }
            if let Some(d) = self.removed[s].filter(|d| Some(*d) != self.added[s]) {
                dates += &format!(
                    "V{s},{},2\n",
                    ymd(first_day() + chrono::Duration::days(d.into()))
                );
            }
        }
        let mut trips = String::from("route_id,service_id,trip_id,block_id\n");
        let mut times = String::from("trip_id,arrival_time,departure_time,stop_id,stop_sequence\n");
        let mut frequencies =
            String::from("trip_id,start_time,end_time,headway_secs,exact_times\n");
        for (i, t) in self.trips.iter().enumerate() {
            let block = t.block.map_or(String::new(), |b| format!("B{b}"));
            trips += &format!("R{},V{},T{i},{block}\n", t.route, t.service);
            let mut at = t.start;
            times += &format!("T{i},{},{},P{},1\n", clock(at), clock(at), t.first_platform);
            for (k, (run, dwell)) in t.hops.iter().enumerate() {
                let arrive = at + run;
                at = arrive + dwell;
                let last = k + 1 == t.hops.len();
                let platform = (t.first_platform + k + 1) % PLATFORMS;
                if !last && t.untimed[k] {
                    times += &format!("T{i},,,P{platform},{}\n", k + 2);
                } else {
                    times += &format!(
                        "T{i},{},{},P{platform},{}\n",
                        clock(arrive),
                        clock(at),
                        k + 2
                    );
                }
            }
            for (start, length, headway, exact) in &t.frequencies {
                frequencies += &format!(
                    "T{i},{},{},{headway},{}\n",
                    clock(*start),
                    clock(start + length),
                    u8::from(*exact)
                );
            }
        }
        vec![
            (
                "agency.txt",
                "agency_name,agency_url,agency_timezone\nA,https://a.example,America/New_York\n"
                    .to_owned(),
            ),
            ("routes.txt", routes),
            ("stops.txt", stops),
            ("calendar.txt", calendar),
            ("calendar_dates.txt", dates),
            ("trips.txt", trips),
            ("stop_times.txt", times),
            ("frequencies.txt", frequencies),
        ]
    }

    /// Whether service `s` runs `day` days after the calendar's start, by the rules written
    /// out here rather than the reader's.
    fn runs(&self, s: usize, day: u8) -> bool {
        if self.added[s] == Some(day) {
            return true;
        }
        if self.removed[s] == Some(day) {
            return false;
        }
        let weekday = (first_day() + chrono::Duration::days(day.into()))
            .weekday()
            .num_days_from_monday();
        self.weekdays[s] & (1 << weekday) != 0
    }

    /// How many times trip `t` runs on the day: once, or once per frequency instance.
    fn expected_runs(&self, t: &GenTrip, day: u8) -> usize {
        if !self.runs(t.service, day) {
            return 0;
        }
        if t.frequencies.is_empty() {
            return 1;
        }
        t.frequencies
            .iter()
            .map(|(_, length, headway, _)| length.div_ceil(*headway) as usize)
            .sum()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_trip_once_times_in_order_no_vehicle_twice(feed in gen_feed(), day in 0u8..14) {
        let read = Feed::from_zip_bytes(zip(&feed.files()), &ReadOptions::all_route_types())
            .expect("a generated feed reads");
        let on = first_day() + chrono::Duration::days(day.into());
        let service = read.service_day(on).expect("a day");
        prop_assert_eq!(service.date, on);
        for (i, t) in feed.trips.iter().enumerate() {
            let id = format!("T{i}");
            let found = service.trips.iter().filter(|s| s.trip_id == id).count();
            prop_assert_eq!(found, feed.expected_runs(t, day), "trip {}", id);
        }
        // Times never decrease, each trip has one vehicle, no vehicle runs two at once.
        check_day(&service);
        // Rail only: the buses' trips are left out, the others the same.
        let rail = Feed::from_zip_bytes(zip(&feed.files()), &ReadOptions::default())
            .expect("reads")
            .service_day(on)
            .expect("a day");
        check_day(&rail);
        let rail_expected: usize = feed
            .trips
            .iter()
            .filter(|t| feed.route_types[t.route] != 3)
            .map(|t| feed.expected_runs(t, day))
            .sum();
        prop_assert_eq!(rail.trips.len(), rail_expected);
    }
}
