//! The three real feeds re-dated for a date of 2026 their calendars do not cover: the date
//! simulated runs the trips of the date taken, every date of the range runs, weeks later, what
//! it ran, and every file but the calendar files and `feed_info.txt` is copied as stored.

use std::io::{Cursor, Read};

use chrono::{Datelike, Duration, NaiveDate};
use transit_gtfs_reader::{redate_zip, Feed, ReadOptions, Redate};

use crate::{date, feed_path};

fn services_on(feed: &Feed, on: NaiveDate) -> Vec<&str> {
    let mut ids: Vec<&str> = feed
        .services()
        .iter()
        .filter(|s| s.runs_on(on))
        .map(|s| &*s.id)
        .collect();
    ids.sort_unstable();
    ids
}

fn check(name: &str, simulated: NaiveDate) {
    let path = feed_path(name);
    let options = ReadOptions::all_route_types();
    let before = Feed::read(&path, &options).unwrap();
    let taken = before.service_date(simulated).unwrap();
    assert!(taken.is_substitute(), "{taken}");
    let redate = Redate::new(taken.taken, simulated);
    assert_eq!(redate.shift_days() % 7, 0);
    let input = std::fs::read(&path).unwrap();
    let output = redate_zip(Cursor::new(input.clone()), Cursor::new(Vec::new()), &redate)
        .unwrap()
        .into_inner();
    let after = Feed::from_zip_bytes(output.clone(), &options).unwrap();

    let now = after.service_date(simulated).unwrap();
    assert!(!now.is_substitute(), "{name}: {now}");
    assert_eq!(after.trips_on(simulated), before.trips_on(taken.taken));
    let (first, last) = before.calendar_range().unwrap();
    let shift = Duration::days(redate.shift_days());
    assert_eq!(after.calendar_range(), Some((first + shift, last + shift)));
    let mut d = first;
    while d <= last {
        assert_eq!((d + shift).weekday(), d.weekday());
        assert_eq!(
            services_on(&after, d + shift),
            services_on(&before, d),
            "{d}"
        );
        d += Duration::days(1);
    }

    let mut a = zip::ZipArchive::new(Cursor::new(&input)).unwrap();
    let mut b = zip::ZipArchive::new(Cursor::new(&output)).unwrap();
    assert_eq!(a.len(), b.len());
    let mut rewritten = 0;
    for i in 0..a.len() {
        let (mut x, mut y) = (a.by_index_raw(i).unwrap(), b.by_index_raw(i).unwrap());
        let entry = x.name().unwrap().into_owned();
        assert_eq!(entry, y.name().unwrap());
        if ["calendar.txt", "calendar_dates.txt", "feed_info.txt"].contains(&entry.as_str()) {
            rewritten += 1;
            assert_eq!(x.size(), y.size(), "{entry}: only digits change");
        } else {
            // The compressed bytes as stored, not read again.
            let (mut stored, mut served) = (Vec::new(), Vec::new());
            x.read_to_end(&mut stored).unwrap();
            y.read_to_end(&mut served).unwrap();
            assert!(stored == served, "{entry}");
            assert_eq!((x.crc32(), x.compression()), (y.crc32(), y.compression()));
        }
    }
    assert!(rewritten >= 1);
    eprintln!(
        "{name}: {simulated} runs {} of its {} trips, the service of {} ({} days on); {} bytes \
         served for {} read",
        after.trips_on(simulated).len(),
        after.trips().len(),
        taken.taken,
        redate.shift_days(),
        output.len(),
        input.len()
    );
}

#[test]
fn nyc_re_dated_for_a_wednesday_of_2026() {
    check("nyc_subway_gtfs.zip", date(2026, 12, 9));
}

#[test]
fn sample_gtfs_feed_re_dated_for_a_monday_of_2026() {
    check("sample-gtfs-feed.zip", date(2026, 12, 7));
}

#[test]
fn gtfs_kit_sample_re_dated_for_a_saturday_of_2026() {
    check("sample_gtfs.zip", date(2026, 12, 12));
}
