//! The feed, built from the network, its platforms and the lines' scheduled timetables (the
//! ones the simulation runs by).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Days, NaiveDate, Weekday};
use transit_core::model::{Direction, LineId};
use transit_core::network::timetable::NominalTimetable;
use transit_core::network::{
    cta, embedded_station_rows, ExpectedRiders, Network, Ridership, Schedule,
};

use crate::model::{
    Agency, Calendar, Feed, FeedInfo, GtfsDate, LocationType, Route, ServiceTime, Stop, StopTime,
    Trip,
};
use crate::platforms::{PlatformLocations, Platforms};
use crate::trips::{has_day, whole_seconds, ScheduledTrips};
use crate::GtfsError;

/// The agency's id, the only agency of the feed.
pub const AGENCY_ID: &str = "CTA";

/// The first day of service by default: the day the simulation starts on by default (Monday
/// 2026-11-02).
fn default_start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or(NaiveDate::MIN)
}

/// What the feed says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedOptions {
    /// The first day of service (`calendar.txt`, `feed_info.txt`).
    pub start_date: NaiveDate,
    /// The last day of service.
    pub end_date: NaiveDate,
    /// `feed_version`.
    pub feed_version: String,
    /// `feed_publisher_url`: whoever serves the feed should put their own; the default is
    /// CTA's page for developers, where the data the simulation is built on comes from, with
    /// its terms.
    pub publisher_url: String,
}

impl Default for FeedOptions {
    /// A year from the simulation's default start (Monday 2026-11-02), versioned by this
    /// crate's version.
    fn default() -> Self {
        let start_date = default_start_date();
        Self {
            start_date,
            end_date: start_date
                .checked_add_days(Days::new(364))
                .unwrap_or(start_date),
            feed_version: format!("transit-gtfs {}", env!("CARGO_PKG_VERSION")),
            publisher_url: "https://www.transitchicago.com/developers/".into(),
        }
    }
}

/// What a feed is made of: the network, its platforms and the lines' timetables.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The three lines, their stations and where they are (the parent stations'
    /// coordinates: [`Network::locations`]).
    pub network: Arc<Network>,
    /// Each station's platform per direction, with its coordinates.
    pub platforms: Platforms,
    /// The scheduled trips, from the lines' timetables.
    pub trips: ScheduledTrips,
}

impl Sources {
    /// The embedded CTA data, and the lines' timetables by CTA's schedule over the run-time
    /// model, with the riders expected at the stations: the timetables the simulation runs
    /// by default.
    pub fn embedded() -> Result<Self, GtfsError> {
        let network = Arc::new(Network::embedded()?);
        let platforms = Platforms::new(
            &network,
            &embedded_station_rows()?,
            network.locations(),
            &PlatformLocations::embedded()?,
        )?;
        let riders = ExpectedRiders::new(&network, &Ridership::embedded()?);
        let schedule = Schedule::embedded()?;
        let timetables = network
            .lines()
            .map(|line| {
                schedule
                    .for_line(line)
                    .and_then(|schedule| {
                        NominalTimetable::for_line(line, schedule, network.locations(), &riders)
                    })
                    .map(|timetable| (line.id(), timetable))
                    .ok_or(GtfsError::NoTimetable { line: line.id() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            network,
            platforms,
            trips: ScheduledTrips::new(timetables)?,
        })
    }
}

/// A line's route id: CTA's own for its lines (as in its GTFS feed and Train Tracker's `rt`),
/// the line's id for any other: [`cta::route_id`], the id the simulation's arrival records
/// carry.
pub fn route_id(line: LineId) -> &'static str {
    cta::route_id(line).as_str()
}

/// The static GTFS feed of `sources`' network and trips: a pure function of its inputs.
///
/// Stations are parent stations (CTA's 4xxxx ids) at the shared station coordinates, their
/// platforms the stops (3xxxx); each line is a route in CTA's colours; each scheduled trip
/// runs terminal to terminal, leaving when the simulation dispatches it and calling at each
/// platform at the nominal run and dwell times, to the second.
pub fn build(sources: &Sources, options: &FeedOptions) -> Result<Feed, GtfsError> {
    if options.end_date < options.start_date {
        return Err(GtfsError::Dates {
            message: format!(
                "the feed ends ({}) before it starts ({})",
                options.end_date, options.start_date
            ),
        });
    }
    let agency = vec![Agency {
        agency_id: AGENCY_ID.into(),
        agency_name: "Chicago Transit Authority (simulated)".into(),
        agency_url: "https://www.transitchicago.com/".into(),
        agency_timezone: "America/Chicago".into(),
        agency_lang: "en".into(),
    }];

    let mut stops = Vec::new();
    let mut seen = HashSet::new();
    // A station on two lines (Clark/Lake, Roosevelt) is one parent of both lines' platforms.
    for station in sources.network.lines().flat_map(|line| line.stations()) {
        if !seen.insert(station.id) {
            continue;
        }
        let (lat, lon) =
            sources
                .network
                .locations()
                .get(station.id)
                .ok_or(GtfsError::NotPlaced {
                    station: station.id,
                })?;
        stops.push(Stop {
            stop_id: station.id.0.to_string(),
            stop_name: station.name.clone(),
            stop_lat: lat,
            stop_lon: lon,
            location_type: LocationType::Station,
            parent_station: None,
        });
    }
    for line in sources.network.line_ids() {
        for platform in sources.platforms.of_line(line) {
            stops.push(Stop {
                stop_id: platform.stop_id.to_string(),
                stop_name: platform.name.clone(),
                stop_lat: platform.location.0,
                stop_lon: platform.location.1,
                location_type: LocationType::Platform,
                parent_station: Some(platform.station.0.to_string()),
            });
        }
    }

    let routes = sources
        .network
        .lines()
        .map(|line| {
            let route = line.route();
            Route {
                route_id: route_id(line.id()).into(),
                agency_id: AGENCY_ID.into(),
                route_short_name: route.short_name.clone(),
                route_long_name: route.long_name.clone(),
                route_type: route.route_type,
                route_color: route.color.to_string(),
                route_text_color: route.text_color.to_string(),
            }
        })
        .collect();

    let mut trips = Vec::with_capacity(sources.trips.trips().len());
    let mut stop_times = Vec::new();
    for scheduled in sources.trips.trips() {
        let line = sources
            .network
            .line(scheduled.line)
            .ok_or(GtfsError::NoTimetable {
                line: scheduled.line,
            })?;
        let n = line.len();
        // Direction A calls at the stations first to last, B last to first.
        let station_at = |k: usize| match scheduled.direction {
            Direction::A => k,
            Direction::B => n - 1 - k,
        };
        let headsign = line.station(station_at(n - 1));
        trips.push(Trip {
            route_id: route_id(scheduled.line).into(),
            service_id: scheduled.service_id.clone(),
            trip_id: scheduled.trip_id.clone(),
            trip_headsign: headsign.map(|s| s.name.clone()).unwrap_or_default(),
            direction_id: scheduled.direction as u8,
        });
        let offsets = &scheduled.stop_offsets;
        if offsets.len() != n {
            return Err(GtfsError::NoTimetable {
                line: scheduled.line,
            });
        }
        for (k, offset) in offsets.iter().enumerate() {
            let platform = sources
                .platforms
                .get(scheduled.line, station_at(k), scheduled.direction)
                .ok_or(GtfsError::NoTimetable {
                    line: scheduled.line,
                })?;
            let time = |ms: i64| {
                u32::try_from(whole_seconds(scheduled.departure_ms + ms))
                    .map(ServiceTime)
                    .map_err(|_| GtfsError::Dates {
                        message: format!("trip {} runs out of a day's range", scheduled.trip_id),
                    })
            };
            stop_times.push(StopTime {
                trip_id: scheduled.trip_id.clone(),
                arrival_time: time(offset.arrival_ms)?,
                departure_time: time(offset.departure_ms)?,
                stop_id: platform.stop_id.to_string(),
                stop_sequence: k as u32 + 1,
                timepoint: 1,
            });
        }
    }

    let start_date = GtfsDate(options.start_date);
    let end_date = GtfsDate(options.end_date);
    let calendar = sources
        .trips
        .services()
        .into_iter()
        .map(|(service_id, days)| {
            let on = |day| u8::from(has_day(days, day));
            Calendar {
                service_id,
                monday: on(Weekday::Mon),
                tuesday: on(Weekday::Tue),
                wednesday: on(Weekday::Wed),
                thursday: on(Weekday::Thu),
                friday: on(Weekday::Fri),
                saturday: on(Weekday::Sat),
                sunday: on(Weekday::Sun),
                start_date,
                end_date,
            }
        })
        .collect();

    let feed_info = FeedInfo {
        feed_publisher_name:
            "transit: a simulation of CTA 'L' service (Blue, Red, Green) from CTA's data".into(),
        feed_publisher_url: options.publisher_url.clone(),
        feed_lang: "en".into(),
        feed_start_date: start_date,
        feed_end_date: end_date,
        feed_version: options.feed_version.clone(),
    };

    Ok(Feed {
        agency,
        stops,
        routes,
        trips,
        stop_times,
        calendar,
        feed_info,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::OnceLock;

    use chrono::Datelike;
    use transit_core::network::{DayType, Schedule};
    use transit_core::time::SimTime;

    use super::*;

    fn sources() -> &'static Sources {
        static SOURCES: OnceLock<Sources> = OnceLock::new();
        SOURCES.get_or_init(|| Sources::embedded().unwrap())
    }

    fn feed() -> &'static Feed {
        static FEED: OnceLock<Feed> = OnceLock::new();
        FEED.get_or_init(|| build(sources(), &FeedOptions::default()).unwrap())
    }

    fn seconds(time: ServiceTime) -> i64 {
        i64::from(time.0)
    }

    /// The feed publishes the timetables the simulation runs by, and its service starts the
    /// day the simulation does.
    #[test]
    fn the_timetables_and_the_first_day_are_the_simulations() {
        use transit_sim::{SimConfig, Simulation};

        let simulation = Simulation::new(
            Arc::clone(&sources().network),
            Arc::new(Ridership::embedded().unwrap()),
            SimConfig::default(),
        )
        .unwrap();
        for line in simulation.lines() {
            assert_eq!(
                line.nominal_timetable(),
                sources().trips.timetable(line.line()),
                "{}",
                line.line()
            );
        }
        assert_eq!(
            Some(FeedOptions::default().start_date),
            SimConfig::default().start.date()
        );
    }

    #[test]
    fn every_reference_resolves() {
        let feed = feed();
        let stops: HashMap<&str, &Stop> =
            feed.stops.iter().map(|s| (s.stop_id.as_str(), s)).collect();
        assert_eq!(stops.len(), feed.stops.len(), "stop ids are unique");
        for stop in &feed.stops {
            match (&stop.location_type, &stop.parent_station) {
                (LocationType::Station, None) => {}
                (LocationType::Platform, Some(parent)) => {
                    let parent = stops[parent.as_str()];
                    assert_eq!(
                        parent.location_type,
                        LocationType::Station,
                        "{}",
                        stop.stop_id
                    );
                }
                other => panic!("{}: {other:?}", stop.stop_id),
            }
        }
        let routes: HashSet<&str> = feed.routes.iter().map(|r| r.route_id.as_str()).collect();
        let services: HashSet<&str> = feed
            .calendar
            .iter()
            .map(|c| c.service_id.as_str())
            .collect();
        let trips: HashSet<&str> = feed.trips.iter().map(|t| t.trip_id.as_str()).collect();
        assert_eq!(trips.len(), feed.trips.len(), "trip ids are unique");
        for trip in &feed.trips {
            assert!(routes.contains(trip.route_id.as_str()), "{}", trip.trip_id);
            assert!(
                services.contains(trip.service_id.as_str()),
                "{}",
                trip.trip_id
            );
        }
        let mut called = HashSet::new();
        for stop_time in &feed.stop_times {
            assert!(trips.contains(stop_time.trip_id.as_str()));
            let stop = stops[stop_time.stop_id.as_str()];
            assert_eq!(
                stop.location_type,
                LocationType::Platform,
                "{}",
                stop.stop_id
            );
            called.insert(stop_time.stop_id.as_str());
        }
        // Every platform is called at, and every station has platforms.
        for stop in &feed.stops {
            match stop.location_type {
                LocationType::Platform => assert!(called.contains(stop.stop_id.as_str())),
                LocationType::Station => assert!(feed
                    .stops
                    .iter()
                    .any(|s| s.parent_station.as_deref() == Some(stop.stop_id.as_str()))),
            }
        }
        // CTA's ids: 92 stations (Clark/Lake and Roosevelt on two lines), 4xxxx; platforms 3xxxx.
        let stations = feed
            .stops
            .iter()
            .filter(|s| s.location_type == LocationType::Station)
            .count();
        assert_eq!(stations, 92);
        assert!(feed.stops.iter().all(|s| match s.location_type {
            LocationType::Station => s.stop_id.starts_with('4'),
            LocationType::Platform => s.stop_id.starts_with('3'),
        } && s.stop_id.len() == 5));
    }

    #[test]
    fn times_run_forward_within_each_trip_from_its_departure() {
        let feed = feed();
        let mut by_trip: BTreeMap<&str, Vec<&StopTime>> = BTreeMap::new();
        for stop_time in &feed.stop_times {
            by_trip
                .entry(&stop_time.trip_id)
                .or_default()
                .push(stop_time);
        }
        assert_eq!(by_trip.len(), feed.trips.len());
        for trip in &feed.trips {
            let line = cta::LINES
                .into_iter()
                .find(|l| route_id(*l) == trip.route_id)
                .unwrap();
            let calls = &by_trip[trip.trip_id.as_str()];
            assert_eq!(
                calls.len(),
                sources().network.line(line).unwrap().len(),
                "{}",
                trip.trip_id
            );
            for (k, call) in calls.iter().enumerate() {
                assert_eq!(call.stop_sequence as usize, k + 1);
                assert!(call.departure_time >= call.arrival_time, "{}", trip.trip_id);
            }
            for pair in calls.windows(2) {
                assert!(
                    pair[1].arrival_time > pair[0].departure_time,
                    "{}",
                    trip.trip_id
                );
            }
            // The id names the departure from the terminal.
            let first = calls[0].departure_time.to_string().replace(':', "");
            assert!(
                trip.trip_id.ends_with(&first),
                "{} leaves {first}",
                trip.trip_id
            );
            // Terminal to terminal: the headsign is where it ends.
            let last = calls[calls.len() - 1];
            let parent = feed
                .stops
                .iter()
                .find(|s| s.stop_id == last.stop_id)
                .unwrap();
            let station = feed
                .stops
                .iter()
                .find(|s| Some(&s.stop_id) == parent.parent_station.as_ref())
                .unwrap();
            assert_eq!(station.stop_name, trip.trip_headsign);
        }
    }

    /// Trips at each line's reference platform, per calendar hour of each day of a week, are
    /// what CTA's schedule gives that hour: the service day's own departures of the hour plus
    /// the previous service day's past midnight (the simulation's rule). The simulation times
    /// a trip to be at the reference station at the scheduled departure, so the arrival there
    /// is what counts.
    #[test]
    fn trips_per_hour_at_the_reference_station_match_the_schedule() {
        let feed = feed();
        let schedule = Schedule::embedded().unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let trips: HashMap<&str, &Trip> =
            feed.trips.iter().map(|t| (t.trip_id.as_str(), t)).collect();
        let runs_on = |service: &str, date: NaiveDate| {
            let c = feed
                .calendar
                .iter()
                .find(|c| c.service_id == service)
                .unwrap();
            [
                c.monday,
                c.tuesday,
                c.wednesday,
                c.thursday,
                c.friday,
                c.saturday,
                c.sunday,
            ][date.weekday().num_days_from_monday() as usize]
                == 1
        };
        for line in sources().network.lines() {
            let color = line.id();
            let timetable = schedule.for_line(line).unwrap();
            for direction in [Direction::A, Direction::B] {
                let platform = sources()
                    .platforms
                    .get(color, timetable.station, direction)
                    .unwrap()
                    .stop_id
                    .to_string();
                // Seconds since the Monday's midnight of each departure there, over the
                // service days Sunday before to Sunday.
                let mut at = Vec::new();
                for day in -1..7i64 {
                    let date = monday
                        .checked_add_signed(chrono::Duration::days(day))
                        .unwrap();
                    for call in feed.stop_times.iter().filter(|s| s.stop_id == platform) {
                        let trip = trips[call.trip_id.as_str()];
                        if trip.direction_id == direction as u8 && runs_on(&trip.service_id, date) {
                            at.push(day * 86_400 + seconds(call.arrival_time));
                        }
                    }
                }
                for day in 0..7i64 {
                    let date = monday
                        .checked_add_signed(chrono::Duration::days(day))
                        .unwrap();
                    let previous = date.pred_opt().unwrap();
                    for hour in 0..24usize {
                        let start = day * 86_400 + hour as i64 * 3600;
                        let found = at
                            .iter()
                            .filter(|s| (start..start + 3600).contains(*s))
                            .count();
                        let scheduled = timetable.departures(direction, DayType::of(date), hour)
                            + timetable.departures(direction, DayType::of(previous), hour + 24);
                        assert_eq!(
                            found,
                            usize::from(scheduled),
                            "{color} {direction} on {date} at {hour}:00"
                        );
                    }
                }
            }
        }
    }

    /// Every departure the simulation schedules, over weeks other than the one the trips were
    /// drawn from, is a trip of the feed leaving at that very second of its service day.
    #[test]
    fn every_departure_of_the_simulation_is_a_trip_leaving_then() {
        let feed = feed();
        let first_stop: HashMap<&str, i64> = feed
            .stop_times
            .iter()
            .filter(|s| s.stop_sequence == 1)
            .map(|s| (s.trip_id.as_str(), seconds(s.departure_time)))
            .collect();
        let from = SimTime::from_naive(
            NaiveDate::from_ymd_opt(2026, 12, 24)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        );
        let to = from.0 + 15 * 86_400_000;
        let mut checked = 0;
        for line in cta::LINES {
            let timetable = sources().trips.timetable(line).unwrap();
            for direction in [Direction::A, Direction::B] {
                for slot in timetable.terminal_departures(direction, from.0, to) {
                    let trip = sources()
                        .trips
                        .trip_of_departure(line, direction, SimTime(slot))
                        .unwrap_or_else(|| panic!("{line} {direction} at {}", SimTime(slot)));
                    let midnight =
                        SimTime::from_naive(trip.start_date.and_hms_opt(0, 0, 0).unwrap()).0;
                    assert_eq!(
                        first_stop[trip.trip_id.as_str()],
                        whole_seconds(slot - midnight),
                        "{}",
                        trip.trip_id
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 4_000, "{checked} departures");
    }

    #[test]
    fn routes_wear_cta_colours_and_the_calendar_spans_the_dates() {
        let feed = feed();
        let colours: Vec<_> = feed
            .routes
            .iter()
            .map(|r| {
                (
                    r.route_id.as_str(),
                    r.route_color.as_str(),
                    r.route_text_color.as_str(),
                )
            })
            .collect();
        assert_eq!(
            colours,
            [
                ("Blue", "00A1DE", "FFFFFF"),
                ("Red", "C60C30", "FFFFFF"),
                ("G", "009B3A", "FFFFFF")
            ]
        );
        let ids: Vec<_> = feed
            .calendar
            .iter()
            .map(|c| c.service_id.as_str())
            .collect();
        assert_eq!(&ids[..1], ["WKDY"]);
        assert!(ids.contains(&"SAT") && ids.contains(&"SUN"));
        let options = FeedOptions::default();
        assert!(feed
            .calendar
            .iter()
            .all(|c| c.start_date == GtfsDate(options.start_date)
                && c.end_date == GtfsDate(options.end_date)));
        let backwards = FeedOptions {
            end_date: options.start_date.pred_opt().unwrap(),
            ..options
        };
        assert!(matches!(
            build(sources(), &backwards),
            Err(GtfsError::Dates { .. })
        ));
    }
}
