//! Re-dating: every service runs on the shifted date what it ran on the source date, only the
//! dates' digits change in the calendar files, and every other file is copied as stored.

use std::io::{Cursor, Read};

use chrono::{Datelike, Duration, NaiveDate};

use super::{redate_table, redate_zip, Redate};
use crate::tests::{minimal, with, zip, Files};
use crate::{Feed, GtfsError, ReadOptions};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn redated(files: &Files, redate: &Redate) -> Vec<u8> {
    redate_zip(Cursor::new(zip(files)), Cursor::new(Vec::new()), redate)
        .unwrap()
        .into_inner()
}

fn entry(zip_bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
    let mut file = archive.by_name(name).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    Some(bytes)
}

fn text(zip_bytes: &[u8], name: &str) -> String {
    String::from_utf8(entry(zip_bytes, name).unwrap()).unwrap()
}

fn services_on(feed: &Feed, date: NaiveDate) -> Vec<String> {
    let mut ids: Vec<String> = feed
        .services()
        .iter()
        .filter(|s| s.runs_on(date))
        .map(|s| s.id.to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_shift_is_the_nearest_whole_number_of_weeks() {
    // A Sunday of NYC's feed taken for a Sunday two years on: 99 weeks.
    let r = Redate::new(date(2025, 1, 12), date(2026, 12, 6));
    assert_eq!(r.shift_days(), 693);
    assert_eq!(r.residual_days(), 0);
    assert_eq!(r.shift(date(2024, 12, 15)), Some(date(2026, 11, 8)));
    // Backwards, and a weekday off either way.
    assert_eq!(
        Redate::new(date(2025, 1, 12), date(2024, 1, 14)).shift_days(),
        -364
    );
    let off = Redate::new(date(2025, 1, 13), date(2025, 1, 24));
    assert_eq!((off.shift_days(), off.residual_days()), (14, -3));
    let off = Redate::new(date(2025, 1, 13), date(2025, 1, 23));
    assert_eq!((off.shift_days(), off.residual_days()), (7, 3));
    assert!(Redate::new(date(2025, 1, 13), date(2025, 1, 13)).is_identity());
}

#[test]
fn every_service_runs_on_each_shifted_date_what_it_ran_on_the_original() {
    let files = minimal();
    let redate = Redate::new(date(2025, 1, 15), date(2026, 12, 9));
    let shift = redate.shift_days();
    let before = Feed::from_zip_bytes(zip(&files), &ReadOptions::all_route_types()).unwrap();
    let after =
        Feed::from_zip_bytes(redated(&files, &redate), &ReadOptions::all_route_types()).unwrap();
    let (first, last) = before.calendar_range().unwrap();
    assert_eq!(
        after.calendar_range(),
        Some((first + Duration::days(shift), last + Duration::days(shift)))
    );
    let mut d = first - Duration::days(7);
    while d <= last + Duration::days(7) {
        let moved = d + Duration::days(shift);
        assert_eq!(moved.weekday(), d.weekday());
        assert_eq!(services_on(&after, moved), services_on(&before, d), "{d}");
        d += Duration::days(1);
    }
    // The holiday exception (20250120: weekend service on a Monday) moved with its week.
    assert_eq!(
        text(&redated(&files, &redate), "calendar_dates.txt"),
        "service_id,date,exception_type\nWK,20261214,2\nWE,20261214,1\n"
    );
    // The date simulated runs the source date's trips.
    assert_eq!(
        after.trips_on(redate.simulated),
        before.trips_on(redate.source)
    );
}

#[test]
fn only_the_dates_digits_change_bom_crlf_quotes_and_columns_kept() {
    let calendar = "\u{feff}service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,\"start_date\",end_date,extra\r\n\
                    \"WK, main\",1,1,1,1,1,0,0,\"20250106\", 20250131 ,\"a \"\"quoted\"\", field\"\r\n\
                    \r\n\
                    WE,0,0,0,0,0,1,1,20250106,20250131,\"multi\r\nline\"\r\n\
                    ab\"c,0,0,0,0,0,1,1,20250106,20250131,x\"y\r\n";
    let redate = Redate::new(date(2025, 1, 6), date(2025, 1, 20));
    let out = redate_table(
        "calendar.txt",
        calendar.as_bytes(),
        &["start_date", "end_date"],
        &redate,
        None,
    )
    .unwrap();
    let expected = calendar
        .replace("20250106", "20250120")
        .replace("20250131", "20250214");
    assert_eq!(String::from_utf8(out).unwrap(), expected);

    // feed_info: both dates moved, an empty one left empty, other columns as they were.
    let info = "feed_publisher_name,feed_start_date,feed_end_date,feed_version\nX,20250106,,\"v1, 20250106\"\n";
    let out = redate_table(
        "feed_info.txt",
        info.as_bytes(),
        &["feed_start_date", "feed_end_date"],
        &redate,
        None,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "feed_publisher_name,feed_start_date,feed_end_date,feed_version\nX,20250120,,\"v1, 20250106\"\n"
    );
    // No date columns at all (feed_info without them): unchanged.
    let bare = "feed_publisher_name,feed_publisher_url,feed_lang\r\nX,https://x.example,en";
    let out = redate_table(
        "feed_info.txt",
        bare.as_bytes(),
        &["feed_start_date", "feed_end_date"],
        &redate,
        None,
    )
    .unwrap();
    assert_eq!(out, bare.as_bytes());
}

#[test]
fn the_zip_keeps_every_other_file_as_stored_and_feed_info_is_moved() {
    let files = with(
        minimal(),
        "feed_info.txt",
        "feed_publisher_name,feed_publisher_url,feed_lang,feed_start_date,feed_end_date\n\
         P,https://p.example,en,20250106,20250131\n",
    );
    let input = zip(&files);
    let redate = Redate::new(date(2025, 1, 15), date(2025, 3, 5));
    let output = redated(&files, &redate);
    assert_eq!(
        text(&output, "feed_info.txt"),
        "feed_publisher_name,feed_publisher_url,feed_lang,feed_start_date,feed_end_date\n\
         P,https://p.example,en,20250224,20250321\n"
    );
    let mut a = zip::ZipArchive::new(Cursor::new(&input)).unwrap();
    let mut b = zip::ZipArchive::new(Cursor::new(&output)).unwrap();
    let names: Vec<String> = a.file_names().map(|n| n.unwrap().into_owned()).collect();
    let names_b: Vec<String> = b.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(names_b, names);
    for name in &names {
        let (x, y) = (a.by_name(name).unwrap(), b.by_name(name).unwrap());
        if !["calendar.txt", "calendar_dates.txt", "feed_info.txt"].contains(&&**name) {
            assert_eq!(
                (x.crc32(), x.compressed_size(), x.compression()),
                (y.crc32(), y.compressed_size(), y.compression()),
                "{name}"
            );
        }
    }
}

#[test]
fn a_feed_zipped_inside_a_folder_is_re_dated_there() {
    let files: Vec<(String, Vec<u8>)> = minimal()
        .into_iter()
        .map(|(name, bytes)| (format!("feed/{name}"), bytes))
        .collect();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in &files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, bytes).unwrap();
    }
    let input = w.finish().unwrap().into_inner();
    let redate = Redate::new(date(2025, 1, 15), date(2025, 1, 22));
    let output = redate_zip(Cursor::new(input), Cursor::new(Vec::new()), &redate)
        .unwrap()
        .into_inner();
    assert!(text(&output, "feed/calendar.txt").contains("20250113,20250207"));
}

#[test]
fn a_source_of_another_weekday_gives_the_simulated_date_exactly_its_services() {
    let files = minimal();
    let before = Feed::from_zip_bytes(zip(&files), &ReadOptions::all_route_types()).unwrap();
    // --service-date a Monday (weekday service), simulated on a Saturday, and the other way
    // round; the Monday holiday of calendar_dates too.
    for (source, simulated) in [
        (date(2025, 1, 13), date(2026, 12, 12)),
        (date(2025, 1, 11), date(2026, 12, 7)),
        (date(2025, 1, 20), date(2026, 12, 9)),
        (date(2025, 1, 15), date(2025, 1, 18)),
    ] {
        let redate = Redate::new(source, simulated);
        assert_ne!(redate.residual_days(), 0);
        let output = redated(&files, &redate);
        let after = Feed::from_zip_bytes(output.clone(), &ReadOptions::all_route_types()).unwrap();
        assert_eq!(
            services_on(&after, simulated),
            services_on(&before, source),
            "{source} for {simulated}"
        );
        assert_eq!(after.trips_on(simulated), before.trips_on(source));
        // Every other date is the shifted feed's: a week later is the simulated weekday's own.
        let week_on = simulated + Duration::days(7);
        assert_eq!(
            services_on(&after, week_on),
            services_on(&before, week_on - Duration::days(redate.shift_days())),
        );
        // No (service_id, date) twice.
        let dates = text(&output, "calendar_dates.txt");
        let mut keys: Vec<(&str, &str)> = dates
            .lines()
            .skip(1)
            .map(|l| {
                let mut f = l.split(',');
                (f.next().unwrap(), f.next().unwrap())
            })
            .collect();
        let count = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), count, "{dates}");
    }
    // Without calendar_dates.txt, one is added for the exceptions, CRLF files keep CRLF.
    let files = crate::tests::minimal()
        .into_iter()
        .filter(|(name, _)| *name != "calendar_dates.txt")
        .collect::<Files>();
    let redate = Redate::new(date(2025, 1, 13), date(2025, 1, 18));
    let output = redated(&files, &redate);
    assert_eq!(
        text(&output, "calendar_dates.txt"),
        "service_id,date,exception_type\nWE,20250118,2\nWK,20250118,1\n"
    );
    let crlf = "service_id,date,exception_type,extra\r\nWK,20250120,2,x\r\nWE,20250111,1,y";
    let files = with(files, "calendar_dates.txt", crlf);
    let output = redated(&files, &redate);
    assert_eq!(
        text(&output, "calendar_dates.txt"),
        "service_id,date,exception_type,extra\r\nWK,20250127,2,x\r\nWE,20250118,2,\r\nWK,20250118,1,\r\n"
    );
}

#[test]
fn a_bad_date_is_refused_naming_the_file_line_and_field() {
    let calendar =
        "service_id,monday,start_date,end_date\nA,1,20250101,20250131\nB,1,2025-01-01,20250131\n";
    let error = redate_table(
        "calendar.txt",
        calendar.as_bytes(),
        &["start_date", "end_date"],
        &Redate::new(date(2025, 1, 1), date(2025, 1, 8)),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(&error, GtfsError::Field { file: "calendar.txt", line: 3, field, .. } if field == "start_date"),
        "{error}"
    );
    let not_zip = redate_zip(
        Cursor::new(b"not a zip".to_vec()),
        Cursor::new(Vec::new()),
        &Redate::new(date(2025, 1, 1), date(2025, 1, 8)),
    );
    assert!(matches!(not_zip, Err(GtfsError::NotZip { .. })));
}

#[test]
fn a_feed_of_calendar_dates_alone_is_re_dated_date_by_date() {
    let files = crate::tests::minimal()
        .into_iter()
        .filter(|(name, _)| *name != "calendar.txt")
        .collect::<Files>();
    let files = with(
        files,
        "calendar_dates.txt",
        "service_id,date,exception_type\nWK,20250113,1\nWK,20250114,1\nWE,20250118,1\n",
    );
    let before = Feed::from_zip_bytes(zip(&files), &ReadOptions::all_route_types()).unwrap();
    let redate = Redate::new(date(2025, 1, 14), date(2026, 12, 8));
    let after =
        Feed::from_zip_bytes(redated(&files, &redate), &ReadOptions::all_route_types()).unwrap();
    assert_eq!(
        after.trips_on(redate.simulated),
        before.trips_on(redate.source)
    );
    assert!(!after.trips_on(redate.simulated).is_empty());
    for d in [date(2025, 1, 13), date(2025, 1, 18), date(2025, 1, 19)] {
        let moved = redate.shift(d).unwrap();
        assert_eq!(services_on(&after, moved), services_on(&before, d), "{d}");
    }
}
