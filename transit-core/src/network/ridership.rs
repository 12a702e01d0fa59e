use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::DataError;
use crate::model::StationId;

/// The CTA's average rides per station by day type (`ridership_seed.csv`), embedded.
pub const EMBEDDED_RIDERSHIP_SEED: &str = include_str!("../../data/ridership_seed.csv");
/// The share of a day's rides in each hour (`ridership_curve.csv`), embedded.
pub const EMBEDDED_RIDERSHIP_CURVE: &str = include_str!("../../data/ridership_curve.csv");

/// How far the hourly shares may sum from 1 before the curve is refused.
const CURVE_TOLERANCE: f64 = 0.02;

/// The CTA's day types for ridership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayType {
    /// Monday to Friday.
    Weekday,
    /// Saturday.
    Saturday,
    /// Sunday. (The CTA's column also covers holidays; the simulation keeps no holiday
    /// calendar, so holidays on weekdays ride as weekdays.)
    Sunday,
}

impl DayType {
    /// The day type of a date.
    pub fn of(date: NaiveDate) -> Self {
        match date.weekday() {
            Weekday::Sat => DayType::Saturday,
            Weekday::Sun => DayType::Sunday,
            _ => DayType::Weekday,
        }
    }
}

#[derive(Debug, Deserialize)]
struct SeedRow {
    station_id: String,
    avg_weekday_rides: String,
    avg_saturday_rides: String,
    #[serde(rename = "avg_sunday-holiday_rides")]
    avg_sunday_rides: String,
}

#[derive(Debug, Deserialize)]
struct CurveRow {
    hour: String,
    ridership_ratio: String,
}

/// Riders per station and day type, and how a day's riders spread over its hours.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridership {
    daily: HashMap<StationId, [f64; 3]>,
    hourly: [f64; 24],
}

fn parse_number(source: &str, line: u64, column: &str, value: &str) -> Result<f64, DataError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| DataError::Row {
            source_name: source.to_string(),
            line,
            message: format!("{column} {value:?} is not a non-negative number"),
        })
}

pub(super) fn rows<'a, T: for<'de> Deserialize<'de> + 'a>(
    source: &'a str,
    reader: impl Read + 'a,
) -> impl Iterator<Item = Result<(u64, T), DataError>> + 'a {
    csv::Reader::from_reader(reader)
        .into_deserialize::<T>()
        .enumerate()
        .map(move |(index, row)| {
            let line = index as u64 + 2;
            row.map(|row| (line, row)).map_err(|error| DataError::Row {
                source_name: source.to_string(),
                line: error.position().map_or(line, |p| p.line()),
                message: error.to_string(),
            })
        })
}

impl Ridership {
    /// The embedded CTA ridership.
    pub fn embedded() -> Result<Self, DataError> {
        Self::from_readers(
            "ridership_seed.csv",
            EMBEDDED_RIDERSHIP_SEED.as_bytes(),
            "ridership_curve.csv",
            EMBEDDED_RIDERSHIP_CURVE.as_bytes(),
        )
    }

    /// Ridership from a seed file and a curve file.
    pub fn from_paths(seed: &Path, curve: &Path) -> Result<Self, DataError> {
        let open = |path: &Path| {
            std::fs::File::open(path).map_err(|source| DataError::Io {
                source_name: path.display().to_string(),
                source,
            })
        };
        Self::from_readers(
            &seed.display().to_string(),
            open(seed)?,
            &curve.display().to_string(),
            open(curve)?,
        )
    }

    /// Ridership from readers of the two CSVs; the names are used in errors.
    ///
    /// The curve lists hours 0 to 24: hour 24 is midnight again, so its share is added to hour
    /// 0. The shares must then sum to 1 (within 2%); they are scaled to exactly 1 so a day's
    /// expected entries equal the day's riders.
    pub fn from_readers(
        seed_name: &str,
        seed: impl Read,
        curve_name: &str,
        curve: impl Read,
    ) -> Result<Self, DataError> {
        let mut daily = HashMap::new();
        for row in rows::<SeedRow>(seed_name, seed) {
            let (line, row) = row?;
            let id = row
                .station_id
                .trim()
                .parse::<u32>()
                .map_err(|_| DataError::Row {
                    source_name: seed_name.to_string(),
                    line,
                    message: format!("station_id {:?} is not a number", row.station_id),
                })?;
            let rides = [
                parse_number(seed_name, line, "avg_weekday_rides", &row.avg_weekday_rides)?,
                parse_number(
                    seed_name,
                    line,
                    "avg_saturday_rides",
                    &row.avg_saturday_rides,
                )?,
                parse_number(
                    seed_name,
                    line,
                    "avg_sunday-holiday_rides",
                    &row.avg_sunday_rides,
                )?,
            ];
            daily.insert(StationId(id), rides);
        }
        let mut hourly = [0.0; 24];
        for row in rows::<CurveRow>(curve_name, curve) {
            let (line, row) = row?;
            let hour = row
                .hour
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|h| *h <= 24)
                .ok_or_else(|| DataError::Row {
                    source_name: curve_name.to_string(),
                    line,
                    message: format!("hour {:?} is not between 0 and 24", row.hour),
                })?;
            hourly[hour % 24] +=
                parse_number(curve_name, line, "ridership_ratio", &row.ridership_ratio)?;
        }
        let total: f64 = hourly.iter().sum();
        if (total - 1.0).abs() > CURVE_TOLERANCE {
            return Err(DataError::Invalid {
                source_name: curve_name.to_string(),
                message: format!("the hourly shares sum to {total}, not 1"),
            });
        }
        hourly.iter_mut().for_each(|share| *share /= total);
        Ok(Self { daily, hourly })
    }

    /// Average riders entering `station` on a day of this type; 0 for a station without data.
    pub fn daily_riders(&self, station: StationId, day: DayType) -> f64 {
        let index = match day {
            DayType::Weekday => 0,
            DayType::Saturday => 1,
            DayType::Sunday => 2,
        };
        self.daily.get(&station).map_or(0.0, |rides| rides[index])
    }

    /// Whether the seed has a row for `station`.
    pub fn knows(&self, station: StationId) -> bool {
        self.daily.contains_key(&station)
    }

    /// The share of a day's riders entering during `hour` (0-23; others get 0).
    pub fn hour_share(&self, hour: u32) -> f64 {
        self.hourly.get(hour as usize).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_types_follow_the_calendar() {
        let date = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        assert_eq!(DayType::of(date(2)), DayType::Weekday);
        assert_eq!(DayType::of(date(6)), DayType::Weekday);
        assert_eq!(DayType::of(date(7)), DayType::Saturday);
        assert_eq!(DayType::of(date(8)), DayType::Sunday);
    }

    #[test]
    fn hour_shares_sum_to_one_with_hour_24_folded_into_midnight() {
        let ridership = Ridership::embedded().unwrap();
        let total: f64 = (0..24).map(|h| ridership.hour_share(h)).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!((ridership.hour_share(0) - 0.02).abs() < 1e-9);
        assert_eq!(ridership.hour_share(24), 0.0);
    }

    #[test]
    fn riders_by_day_type() {
        let ridership = Ridership::embedded().unwrap();
        let clark_lake = StationId(40380);
        assert!((ridership.daily_riders(clark_lake, DayType::Weekday) - 22811.6).abs() < 1e-9);
        assert!((ridership.daily_riders(clark_lake, DayType::Saturday) - 6901.8).abs() < 1e-9);
        assert!((ridership.daily_riders(clark_lake, DayType::Sunday) - 6233.5).abs() < 1e-9);
        assert_eq!(ridership.daily_riders(StationId(1), DayType::Weekday), 0.0);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let seed = "station_id,stationame,month_beginning,avg_weekday_rides,avg_saturday_rides,avg_sunday-holiday_rides,monthtotal\n1,a,x,1,2,3,4\n2,b,x,-5,2,3,4\n";
        let error = Ridership::from_readers(
            "seed.csv",
            seed.as_bytes(),
            "curve.csv",
            EMBEDDED_RIDERSHIP_CURVE.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"seed.csv line 3: avg_weekday_rides "-5" is not a non-negative number"#
        );
        let curve = "hour,ridership_ratio\n0,0.5\n";
        let error = Ridership::from_readers(
            "seed.csv",
            EMBEDDED_RIDERSHIP_SEED.as_bytes(),
            "curve.csv",
            curve.as_bytes(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("sum to 0.5"), "{error}");
    }
}
