//! Small feeds built in the test, each bad in one way, and the error each gets.

use std::io::Write;

use chrono::NaiveDate;

use crate::{Feed, GtfsError, LocationType, ReadOptions, Rgb, StopIdx};

pub(crate) type Files = Vec<(&'static str, Vec<u8>)>;

pub(crate) fn minimal() -> Files {
    let files: [(&str, &str); 9] = [
        (
            "agency.txt",
            "agency_id,agency_name,agency_url,agency_timezone\nA,Agency,https://a.example,America/Chicago\n",
        ),
        (
            "routes.txt",
            "route_id,agency_id,route_short_name,route_long_name,route_type,route_color,route_text_color\n\
             R1,A,1,One,1,EE352E,FFFFFF\nB1,A,B,Bus,3,,\n",
        ),
        (
            "stops.txt",
            "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n\
             S,Station,41.0,-87.0,1,\nP1,Platform 1,41.0,-87.0,0,S\nP2,Platform 2,41.01,-87.0,,\n\
             P3,Platform 3,41.02,-87.0,,\n",
        ),
        (
            "calendar.txt",
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n\
             WK,1,1,1,1,1,0,0,20250106,20250131\nWE,0,0,0,0,0,1,1,20250106,20250131\n",
        ),
        (
            "calendar_dates.txt",
            "service_id,date,exception_type\nWK,20250120,2\nWE,20250120,1\n",
        ),
        (
            "trips.txt",
            "route_id,service_id,trip_id,direction_id,shape_id,block_id\n\
             R1,WK,T1,0,SH,BL\nR1,WE,T2,1,,\nB1,WK,BUS1,0,,\n",
        ),
        (
            "stop_times.txt",
            "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
             T1,08:00:00,08:00:30,P1,1\nT1,,,P2,2\nT1,08:10:00,08:10:00,P3,3\n\
             T2,25:10:00,25:11:00,P2,7\nT2,24:59:00,24:59:00,P1,3\n\
             BUS1,08:00:00,08:00:00,P1,1\nBUS1,08:05:00,08:05:00,P2,2\n",
        ),
        (
            "frequencies.txt",
            "trip_id,start_time,end_time,headway_secs,exact_times\n\
             T1,06:00:00,09:00:00,600,1\nT2,10:00:00,11:00:00,300,0\nBUS1,06:00:00,07:00:00,60,\n",
        ),
        (
            "shapes.txt",
            "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\nSH,41.01,-87.0,2\nSH,41.0,-87.0,1\n",
        ),
    ];
    files
        .into_iter()
        .map(|(name, text)| (name, text.as_bytes().to_vec()))
        .collect()
}

pub(crate) fn with(mut files: Files, name: &'static str, content: impl Into<Vec<u8>>) -> Files {
    files.retain(|(n, _)| *n != name);
    files.push((name, content.into()));
    files
}

fn without(mut files: Files, name: &str) -> Files {
    files.retain(|(n, _)| *n != name);
    files
}

pub(crate) fn zip(files: &Files) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        w.write_all(content).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

pub(crate) fn read(files: &Files) -> Result<Feed, GtfsError> {
    Feed::from_zip_bytes(zip(files), &ReadOptions::default())
}

/// The error's file, line and field, and its message.
fn field_error(files: &Files) -> (&'static str, u64, String, String) {
    match read(files) {
        Err(e @ GtfsError::Field { .. }) => {
            let text = e.to_string();
            let GtfsError::Field {
                file, line, field, ..
            } = e
            else {
                unreachable!()
            };
            (file, line, field, text)
        }
        other => panic!("expected an error naming file, line and field, got {other:?}"),
    }
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

#[test]
fn reads_every_table_of_a_small_feed() {
    let feed = read(&minimal()).expect("reads");
    assert_eq!(feed.timezone(), chrono_tz::America::Chicago);
    assert_eq!(feed.routes().len(), 2);
    let r1 = &feed.routes()[feed.route_by_id("R1").expect("R1").index()];
    assert_eq!(r1.color, Some(Rgb([0xEE, 0x35, 0x2E])));
    assert_eq!(r1.color.map(|c| c.to_string()).as_deref(), Some("EE352E"));
    assert_eq!(r1.text_color, Some(Rgb([255, 255, 255])));
    assert_eq!(r1.short_name.as_deref(), Some("1"));
    assert_eq!(r1.route_type, 1);

    let p1 = feed.stop_by_id("P1").expect("P1");
    assert_eq!(feed.stops()[p1.index()].parent, feed.stop_by_id("S"));
    assert_eq!(
        feed.stops()[feed.stop_by_id("S").expect("S").index()].location_type,
        LocationType::Station
    );
    assert_eq!(
        feed.stops()[feed.stop_by_id("P2").expect("P2").index()].location_type,
        LocationType::Platform
    );

    // The bus is not rail: its trip, stop times and frequency are left out.
    assert_eq!(feed.trips().len(), 2);
    assert!(feed.trip_by_id("BUS1").is_none());
    assert_eq!(feed.stop_times().len(), 5);
    assert_eq!(feed.frequencies().len(), 2);

    let t1 = feed.trip_by_id("T1").expect("T1");
    let times: Vec<(u32, u32)> = feed
        .trip_stop_times(t1)
        .iter()
        .map(|st| (st.arrival, st.departure))
        .collect();
    // The untimed middle stop is interpolated between 08:00:30 and 08:10:00.
    assert_eq!(
        times,
        [(28_800, 28_830), (29_115, 29_115), (29_400, 29_400)]
    );
    let trip = &feed.trips()[t1.index()];
    assert_eq!(trip.direction, Some(0));
    assert_eq!(trip.block.and_then(|b| feed.block_id(b)), Some("BL"));
    let shape = &feed.shapes()[trip.shape.expect("shape").index()];
    assert_eq!(&*shape.id, "SH");
    assert_eq!(shape.points.len(), 2);
    assert_eq!(shape.points[0].lat, 41.0, "points sorted by sequence");

    // Times past 24:00, stop times sorted by sequence though written out of order.
    let t2 = feed.trip_by_id("T2").expect("T2");
    let t2_times = feed.trip_stop_times(t2);
    assert_eq!(t2_times[0].sequence, 3);
    assert_eq!(t2_times[0].stop, p1);
    assert_eq!(t2_times[0].arrival, 24 * 3600 + 59 * 60);
    assert_eq!(t2_times[1].departure, 25 * 3600 + 11 * 60);

    let exact: Vec<bool> = feed.frequencies().iter().map(|f| f.exact_times).collect();
    assert_eq!(exact, [true, false]);
    assert_eq!(feed.frequencies()[0].headway_secs, 600);
}

#[test]
fn other_route_types_on_request() {
    let feed =
        Feed::from_zip_bytes(zip(&minimal()), &ReadOptions::all_route_types()).expect("reads");
    assert_eq!(feed.trips().len(), 3);
    assert_eq!(feed.stop_times().len(), 7);
    assert_eq!(feed.frequencies().len(), 3);
    let buses =
        Feed::from_zip_bytes(zip(&minimal()), &ReadOptions::route_types([3])).expect("reads");
    assert_eq!(buses.trips().len(), 1);
    assert!(buses.trip_by_id("BUS1").is_some());
    assert!(
        buses.shapes().is_empty(),
        "only the shapes of the trips kept"
    );
}

#[test]
fn accepts_a_byte_order_mark_crlf_quoted_commas_and_unknown_columns() {
    let stops =
        "\u{feff}parent_station,stop_id,stop_name,extra,stop_lat,stop_lon,location_type\r\n\
                 ,S,\"Station, the big one\",x,41.0,-87.0,1\r\n\
                 S,P1,\"Platform \"\"1\"\"\",y,41.0,-87.0,0\r\n\
                 ,P2,P2,,41.01,-87.0,\r\n,P3,P3,,41.02,-87.0,\r\n";
    let feed = read(&with(minimal(), "stops.txt", stops)).expect("reads");
    let s = &feed.stops()[feed
        .stop_by_id("S")
        .expect("the BOM is not part of stop_id")
        .index()];
    assert_eq!(s.name.as_deref(), Some("Station, the big one"));
    let p1 = &feed.stops()[feed.stop_by_id("P1").expect("P1").index()];
    assert_eq!(p1.name.as_deref(), Some("Platform \"1\""));
    assert_eq!(p1.parent, feed.stop_by_id("S"));
}

#[test]
fn reads_a_folder() {
    let dir = std::env::temp_dir().join(format!("transit-gtfs-reader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, content) in minimal() {
        std::fs::write(dir.join(name), content).expect("write");
    }
    let feed = Feed::read(&dir, &ReadOptions::default());
    let missing = Feed::read(dir.join("nope.zip"), &ReadOptions::default());
    std::fs::remove_dir_all(&dir).expect("clean up");
    assert_eq!(feed.expect("reads").stop_times().len(), 5);
    assert!(matches!(missing, Err(GtfsError::Io { .. })), "{missing:?}");
}

#[test]
fn not_a_zip() {
    let err = Feed::from_zip_bytes(b"route_id,route_type\n".to_vec(), &ReadOptions::default())
        .expect_err("not a zip");
    assert!(matches!(err, GtfsError::NotZip { .. }), "{err:?}");
    assert!(err.to_string().contains("is not a zip archive"), "{err}");
}

#[test]
fn a_missing_required_file() {
    let err = read(&without(minimal(), "stop_times.txt")).expect_err("no stop_times.txt");
    assert!(
        matches!(
            err,
            GtfsError::MissingFile {
                file: "stop_times.txt"
            }
        ),
        "{err:?}"
    );
    let no_calendar = without(without(minimal(), "calendar.txt"), "calendar_dates.txt");
    assert!(matches!(
        read(&no_calendar),
        Err(GtfsError::MissingFile {
            file: "calendar.txt"
        })
    ));
    // calendar_dates.txt alone is a calendar.
    let dates_only = without(minimal(), "calendar.txt");
    let dates_only = with(
        dates_only,
        "calendar_dates.txt",
        "service_id,date,exception_type\nWK,20250120,1\nWE,20250125,1\n",
    );
    let feed = read(&dates_only).expect("reads");
    assert_eq!(feed.trips_on(date(2025, 1, 20)).len(), 1);
}

#[test]
fn a_missing_required_column() {
    let (file, line, field, _) =
        field_error(&with(minimal(), "trips.txt", "route_id,trip_id\nR1,T1\n"));
    assert_eq!((file, line, field.as_str()), ("trips.txt", 1, "service_id"));
}

#[test]
fn a_stop_time_naming_an_unknown_stop() {
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
                 T1,08:00:00,08:00:00,P1,1\nT1,08:05:00,08:05:00,NOPE,2\n";
    let (file, line, field, text) = field_error(&with(minimal(), "stop_times.txt", times));
    assert_eq!(
        (file, line, field.as_str()),
        ("stop_times.txt", 3, "stop_id")
    );
    assert!(text.contains("\"NOPE\""), "{text}");
}

#[test]
fn a_stop_time_naming_an_unknown_trip() {
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
                 T9,08:00:00,08:00:00,P1,1\n";
    let (file, line, field, _) = field_error(&with(minimal(), "stop_times.txt", times));
    assert_eq!(
        (file, line, field.as_str()),
        ("stop_times.txt", 2, "trip_id")
    );
}

#[test]
fn a_time_with_61_minutes() {
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
                 T1,08:00:00,08:00:00,P1,1\nT1,25:61:00,25:61:00,P2,2\n";
    let (file, line, field, text) = field_error(&with(minimal(), "stop_times.txt", times));
    assert_eq!(
        (file, line, field.as_str()),
        ("stop_times.txt", 3, "arrival_time")
    );
    assert!(text.contains("25:61:00"), "{text}");
    for bad in [
        "8:0:00",
        "08:00",
        "08:00:60",
        "-1:00:00",
        "08:00:00:00",
        "ab:cd:ef",
    ] {
        assert_eq!(crate::read::parse_time(bad), None, "{bad}");
    }
    assert_eq!(crate::read::parse_time("8:00:00"), Some(28_800));
    assert_eq!(
        crate::read::parse_time("27:30:05"),
        Some(27 * 3600 + 30 * 60 + 5)
    );
}

#[test]
fn times_going_back_along_a_trip() {
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
                 T1,08:00:00,08:05:00,P1,1\nT1,08:04:00,08:06:00,P2,2\n";
    let err = read(&with(minimal(), "stop_times.txt", times)).expect_err("backwards");
    let text = err.to_string();
    assert!(
        text.contains("stop_times.txt")
            && text.contains("\"T1\"")
            && text.contains(
                "stop_sequence 2 arrives at 08:04:00 before stop_sequence 1 departs at 08:05:00"
            ),
        "{text}"
    );
}

#[test]
fn a_departure_before_its_arrival() {
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
                 T1,08:00:00,07:59:00,P1,1\nT1,08:10:00,08:10:00,P2,2\n";
    let (file, line, field, _) = field_error(&with(minimal(), "stop_times.txt", times));
    assert_eq!(
        (file, line, field.as_str()),
        ("stop_times.txt", 2, "departure_time")
    );
}

#[test]
fn a_parent_station_that_is_a_platform() {
    let stops = "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n\
                 S,Station,41.0,-87.0,1,\nP1,Platform 1,41.0,-87.0,0,S\n\
                 P2,Platform 2,41.01,-87.0,0,P1\nP3,P3,41.02,-87.0,,\n";
    let (file, line, field, text) = field_error(&with(minimal(), "stops.txt", stops));
    assert_eq!(
        (file, line, field.as_str()),
        ("stops.txt", 4, "parent_station")
    );
    assert!(text.contains("\"P1\" is a Platform"), "{text}");
}

#[test]
fn a_circle_of_parents() {
    let stops = "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n\
                 S,Station,41.0,-87.0,1,\nP1,Platform 1,41.0,-87.0,0,P3\n\
                 P2,Platform 2,41.01,-87.0,0,P1\nP3,P3,41.02,-87.0,0,P2\n";
    let (file, line, field, text) = field_error(&with(minimal(), "stops.txt", stops));
    assert_eq!(
        (file, line, field.as_str()),
        ("stops.txt", 3, "parent_station")
    );
    assert!(
        text.contains("circle of parent stations: P1 -> P3 -> P2 -> P1"),
        "{text}"
    );
    let unknown = "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n\
                   P1,Platform 1,41.0,-87.0,0,GONE\nP2,P2,41.0,-87.0,,\nP3,P3,41.0,-87.0,,\n";
    let (_, line, field, _) = field_error(&with(minimal(), "stops.txt", unknown));
    assert_eq!((line, field.as_str()), (2, "parent_station"));
}

#[test]
fn a_line_shorter_than_the_header() {
    // A column the reader does not use (stop_headsign) missing from a line.
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence,stop_headsign\n\
                 T1,08:00:00,08:00:00,P1,1,Up\nT1,08:05:00,08:05:00,P2,2\n";
    let (file, line, field, text) = field_error(&with(minimal(), "stop_times.txt", times));
    assert_eq!(
        (file, line, field.as_str()),
        ("stop_times.txt", 3, "stop_headsign")
    );
    assert!(
        text.contains("the line ends after 5 of the header's 6 fields"),
        "{text}"
    );
}

#[test]
fn a_quote_never_closed() {
    let stops = "stop_id,stop_name,stop_lat,stop_lon\n\
                 P1,\"Platform 1,41.0,-87.0\nP2,P2,41.0,-87.0\nP3,P3,41.0,-87.0\nS,S,41.0,-87.0\n";
    let (file, line, field, text) = field_error(&with(minimal(), "stops.txt", stops));
    assert_eq!((file, line, field.as_str()), ("stops.txt", 2, "stop_lat"));
    assert!(text.contains("never closed"), "{text}");
}

#[test]
fn a_ten_megabyte_field() {
    let mut stops = b"stop_id,stop_name,stop_lat,stop_lon\nP1,".to_vec();
    stops.extend(std::iter::repeat_n(b'x', 10 << 20));
    stops.extend(b",41.0,-87.0\nP2,P2,41.0,-87.0\nP3,P3,41.0,-87.0\nS,S,41.0,-87.0\n");
    let (file, line, field, text) = field_error(&with(minimal(), "stops.txt", stops));
    assert_eq!((file, line, field.as_str()), ("stops.txt", 2, "stop_name"));
    assert!(text.contains("10485760 bytes"), "{text}");
}

#[test]
fn an_endless_line() {
    // 20 MiB without a line end: stopped at 16 MiB, not read to the end.
    let mut stops = b"stop_id,stop_name,stop_lat,stop_lon\nP1,\"".to_vec();
    stops.extend(std::iter::repeat_n(b'x', 20 << 20));
    let (file, line, field, text) = field_error(&with(minimal(), "stops.txt", stops));
    assert_eq!((file, line, field.as_str()), ("stops.txt", 2, "(record)"));
    assert!(text.contains("a line longer than"), "{text}");
}

#[test]
fn non_utf8() {
    let routes = b"route_id,agency_id,route_short_name,route_long_name,route_type\n\
                   R1,A,1,One,1\nB1,A,B,Bus \xe9t\xe9,3\n"
        .to_vec();
    let (file, line, field, text) = field_error(&with(minimal(), "routes.txt", routes));
    assert_eq!(
        (file, line, field.as_str()),
        ("routes.txt", 3, "route_long_name")
    );
    assert!(text.contains("UTF-8"), "{text}");
}

#[test]
fn bad_values_name_their_field() {
    let cases: [(&'static str, &str, u64, &str); 5] = [
        (
            "agency.txt",
            "agency_name,agency_timezone\nX,Mars/Olympus\n",
            2,
            "agency_timezone",
        ),
        (
            "routes.txt",
            "route_id,route_type,route_color\nR1,1,red\nB1,3,\n",
            2,
            "route_color",
        ),
        (
            "calendar.txt",
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n\
             WK,1,1,1,1,1,0,0,2025-01-06,20250131\n",
            2,
            "start_date",
        ),
        (
            "frequencies.txt",
            "trip_id,start_time,end_time,headway_secs,exact_times\nT1,06:00:00,09:00:00,600,2\n",
            2,
            "exact_times",
        ),
        (
            "trips.txt",
            "route_id,service_id,trip_id\nR1,NOSUCH,T1\n",
            2,
            "service_id",
        ),
    ];
    for (name, content, want_line, want_field) in cases {
        let (file, line, field, text) = field_error(&with(minimal(), name, content));
        assert_eq!(
            (file, line, field.as_str()),
            (name, want_line, want_field),
            "{text}"
        );
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // Every prefix of a good feed's files: errors, never a panic.
    for (name, content) in minimal() {
        for cut in 0..content.len() {
            let _ = read(&with(minimal(), name, content[..cut].to_vec()));
        }
    }
    let bytes = zip(&minimal());
    for cut in (0..bytes.len()).step_by(7) {
        let _ = Feed::from_zip_bytes(bytes[..cut].to_vec(), &ReadOptions::default());
    }
}

#[test]
fn service_on_a_date() {
    let feed = read(&minimal()).expect("reads");
    let t1 = feed.trip_by_id("T1").expect("T1");
    let t2 = feed.trip_by_id("T2").expect("T2");
    // A Wednesday in range, a Saturday, and a Monday holiday running the weekend service.
    assert_eq!(feed.trips_on(date(2025, 1, 8)), [t1]);
    assert_eq!(feed.trips_on(date(2025, 1, 11)), [t2]);
    assert_eq!(feed.trips_on(date(2025, 1, 20)), [t2]);
    assert_eq!(
        feed.calendar_range(),
        Some((date(2025, 1, 6), date(2025, 1, 31)))
    );

    let inside = feed.service_date(date(2025, 1, 20)).expect("date");
    assert!(!inside.is_substitute());
    assert_eq!(inside.taken, date(2025, 1, 20));

    // After the calendar: the last Monday in range (2025-01-27).
    let later = feed.service_date(date(2026, 12, 7)).expect("date");
    assert!(later.is_substitute());
    assert_eq!(later.taken, date(2025, 1, 27));
    let said = later.to_string();
    assert!(
        said.contains("2025-01-27") && said.contains("2026-12-07"),
        "{said}"
    );
    // Before it: the first Sunday in range.
    let earlier = feed.service_date(date(2024, 3, 3)).expect("date");
    assert_eq!(earlier.taken, date(2025, 1, 12));
    // The calendar's last Monday has no service at all: the nearest Monday with trips is
    // taken.
    let holiday_last = with(
        minimal(),
        "calendar_dates.txt",
        "service_id,date,exception_type\nWK,20250127,2\nWE,20250127,2\n",
    );
    let feed = read(&holiday_last).expect("reads");
    assert_eq!(
        feed.service_date(date(2026, 12, 7)).expect("date").taken,
        date(2025, 1, 20)
    );
}

#[test]
fn a_service_day_starts_at_noon_minus_twelve_hours() {
    use chrono::TimeZone;
    let tz = chrono_tz::America::Chicago;
    // An ordinary day: midnight.
    let day = crate::service_day_start(tz, date(2025, 1, 8)).expect("start");
    assert_eq!(
        day,
        tz.with_ymd_and_hms(2025, 1, 8, 0, 0, 0)
            .single()
            .expect("t")
    );
    // The day clocks spring forward: an hour before midnight, so 08:00:00 is 08:00 CDT.
    let dst = crate::service_day_start(tz, date(2025, 3, 9)).expect("start");
    let eight = dst + chrono::Duration::seconds(8 * 3600);
    assert_eq!(
        eight,
        tz.with_ymd_and_hms(2025, 3, 9, 8, 0, 0)
            .single()
            .expect("t")
    );
}

#[test]
fn stop_idx_is_a_position() {
    assert_eq!(StopIdx(3).index(), 3);
}

#[test]
fn files_in_a_folder_of_the_zip() {
    let nested: Files = minimal()
        .into_iter()
        .map(|(name, content)| {
            let leaked: &'static str = Box::leak(format!("feed/{name}").into_boxed_str());
            (leaked, content)
        })
        .collect();
    assert_eq!(read(&nested).expect("reads").stop_times().len(), 5);
}

#[test]
fn a_calendar_shorter_than_a_week() {
    let one_day = with(
        without(minimal(), "calendar.txt"),
        "calendar_dates.txt",
        "service_id,date,exception_type\nWK,20250120,1\nWE,20250120,2\n",
    );
    let feed = read(&one_day).expect("reads");
    assert_eq!(
        feed.calendar_range(),
        Some((date(2025, 1, 20), date(2025, 1, 20)))
    );
    // A Wednesday: no Wednesday in the calendar, so its one day.
    let day = feed.service_date(date(2026, 12, 9)).expect("date");
    assert_eq!(day.taken, date(2025, 1, 20));
    assert!(day.is_substitute());
}

#[test]
fn a_stop_sequence_twice() {
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
                 T1,08:00:00,08:00:00,P1,1\nT1,08:10:00,08:10:00,P2,1\n";
    let err = read(&with(minimal(), "stop_times.txt", times)).expect_err("twice");
    let text = err.to_string();
    assert!(
        text.contains("stop_times.txt") && text.contains("stop_sequence 1 appears twice"),
        "{text}"
    );
}

#[test]
fn a_shape_shapes_txt_lacks_and_a_trip_without_stop_times_kept() {
    let err = read(&without(minimal(), "shapes.txt")).expect_err("no shape");
    assert!(
        err.to_string()
            .contains("shape_id \"SH\" is not in shapes.txt"),
        "{err}"
    );
    let times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n\
                 T1,08:00:00,08:00:00,P1,1\nT1,08:10:00,08:10:00,P2,2\n";
    let feed = read(&with(minimal(), "stop_times.txt", times)).expect("T2 has none: a warning");
    let t2 = feed.trip_by_id("T2").expect("T2 kept");
    assert!(feed.trip_stop_times(t2).is_empty());
    assert_eq!(
        feed.trip_stop_times(feed.trip_by_id("T1").expect("T1"))
            .len(),
        2
    );
}

#[test]
fn untimed_stops_are_interpolated_by_distance_where_the_feed_gives_it() {
    // T1 by distance (written out of order, so sorted with its distances); T2's distances go
    // back, so by position.
    let files = with(
        minimal(),
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence,shape_dist_traveled\n\
         T1,,,P2,2,1.0\nT1,08:00:00,08:00:00,P1,1,0\nT1,,,P3,3,3\nT1,08:08:00,08:08:00,P1,4,4.0\n\
         T2,10:00:00,10:00:00,P1,1,\nT2,,,P2,2,\nT2,,,P3,3,\nT2,10:06:00,10:06:00,P1,4,\n",
    );
    let feed = read(&files).expect("reads");
    let arrivals = |id: &str| -> Vec<u32> {
        feed.trip_stop_times(feed.trip_by_id(id).expect("trip"))
            .iter()
            .map(|st| st.arrival)
            .collect()
    };
    let at = |h: u32, m: u32| h * 3600 + m * 60;
    assert_eq!(
        arrivals("T1"),
        [at(8, 0), at(8, 2), at(8, 6), at(8, 8)],
        "by distance"
    );
    assert_eq!(
        arrivals("T2"),
        [at(10, 0), at(10, 2), at(10, 4), at(10, 6)],
        "by position"
    );
    let backwards = with(
        minimal(),
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence,shape_dist_traveled\n\
         T1,08:00:00,08:00:00,P1,1,2\nT1,,,P2,2,1\nT1,08:08:00,08:08:00,P3,3,4\n",
    );
    let feed = read(&backwards).expect("reads");
    let t1 = feed.trip_stop_times(feed.trip_by_id("T1").expect("T1"));
    assert_eq!(t1[1].arrival, at(8, 4), "distances going back: by position");

    let bad = with(
        minimal(),
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence,shape_dist_traveled\n\
         T1,08:00:00,08:00:00,P1,1,-1\n",
    );
    let (file, line, field, _) = field_error(&bad);
    assert_eq!(
        (file, line, field.as_str()),
        ("stop_times.txt", 2, "shape_dist_traveled")
    );
}
