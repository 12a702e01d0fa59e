//! The compact model a feed is read into: tables of records that refer to one another by
//! index, ids kept once each, and all stop times in one flat vector.

use std::fmt;

use chrono::NaiveDate;
use chrono_tz::Tz;

macro_rules! index {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The position in its table.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index!(
    /// An agency: a position in [`Feed::agencies`](crate::Feed::agencies).
    AgencyIdx
);
index!(
    /// A route: a position in [`Feed::routes`](crate::Feed::routes).
    RouteIdx
);
index!(
    /// A stop, platform or station: a position in [`Feed::stops`](crate::Feed::stops).
    StopIdx
);
index!(
    /// A trip: a position in [`Feed::trips`](crate::Feed::trips).
    TripIdx
);
index!(
    /// A service (calendar): a position in [`Feed::services`](crate::Feed::services).
    ServiceIdx
);
index!(
    /// A shape: a position in [`Feed::shapes`](crate::Feed::shapes).
    ShapeIdx
);
index!(
    /// A block (the trips one vehicle runs in turn), named by
    /// [`Feed::block_id`](crate::Feed::block_id).
    BlockIdx
);

/// An agency (`agency.txt`).
#[derive(Debug, Clone)]
pub struct Agency {
    /// `agency_id`, absent in a single-agency feed that leaves it out.
    pub id: Option<Box<str>>,
    /// `agency_name`.
    pub name: Box<str>,
    /// `agency_timezone`: the zone its stop times are local to.
    pub timezone: Tz,
}

/// A colour of `routes.txt`, three bytes red, green, blue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub [u8; 3]);

impl fmt::Display for Rgb {
    /// Six upper-case hex digits, as GTFS writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "{r:02X}{g:02X}{b:02X}")
    }
}

/// A route (`routes.txt`).
#[derive(Debug, Clone)]
pub struct Route {
    /// `route_id`.
    pub id: Box<str>,
    /// The agency running it.
    pub agency: AgencyIdx,
    /// `route_short_name`.
    pub short_name: Option<Box<str>>,
    /// `route_long_name`.
    pub long_name: Option<Box<str>>,
    /// `route_type` (0 tram, 1 subway, 2 rail, 3 bus, ... or an extended type).
    pub route_type: u16,
    /// `route_color`.
    pub color: Option<Rgb>,
    /// `route_text_color`.
    pub text_color: Option<Rgb>,
}

/// What a record of `stops.txt` is (`location_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationType {
    /// 0 or empty: a stop or platform, where vehicles stop.
    Platform,
    /// 1: a station holding platforms.
    Station,
    /// 2: an entrance or exit of a station.
    Entrance,
    /// 3: a generic node of a station's pathways.
    GenericNode,
    /// 4: a boarding area of a platform.
    BoardingArea,
}

/// A stop, platform, station, entrance, node or boarding area (`stops.txt`).
#[derive(Debug, Clone)]
pub struct Stop {
    /// `stop_id`.
    pub id: Box<str>,
    /// `stop_code`.
    pub code: Option<Box<str>>,
    /// `stop_name`.
    pub name: Option<Box<str>>,
    /// `stop_lat` (optional for nodes and boarding areas).
    pub lat: Option<f64>,
    /// `stop_lon`.
    pub lon: Option<f64>,
    /// `location_type`.
    pub location_type: LocationType,
    /// `parent_station`: the station of a platform, entrance or node, the platform of a
    /// boarding area.
    pub parent: Option<StopIdx>,
    /// `stop_timezone`, when it differs from the agency's.
    pub timezone: Option<Tz>,
}

/// A trip (`trips.txt`).
#[derive(Debug, Clone)]
pub struct Trip {
    /// `trip_id`.
    pub id: Box<str>,
    /// Its route.
    pub route: RouteIdx,
    /// The days it runs.
    pub service: ServiceIdx,
    /// `direction_id` (0 or 1).
    pub direction: Option<u8>,
    /// `trip_headsign`.
    pub headsign: Option<Box<str>>,
    /// Its shape, if the feed has one for it.
    pub shape: Option<ShapeIdx>,
    /// `block_id`: the trips one vehicle runs in turn.
    pub block: Option<BlockIdx>,
    /// Where its stop times start in [`Feed::stop_times`](crate::Feed::stop_times).
    pub(crate) first_stop_time: u32,
    /// How many stop times it has.
    pub(crate) stop_time_count: u32,
}

/// A call of a trip at a stop (`stop_times.txt`), 20 bytes: the table that dominates a feed.
///
/// Times are seconds since the service day's noon minus 12 hours (midnight except on
/// daylight-saving days), and may pass 24:00:00 for trips running after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopTime {
    /// The trip.
    pub trip: TripIdx,
    /// The stop: a platform in a feed with stations, though some feeds (sample-gtfs-feed
    /// among them) name the station itself, which is accepted.
    pub stop: StopIdx,
    /// `stop_sequence`.
    pub sequence: u32,
    /// `arrival_time` (when the feed left it out, interpolated between the timed stops around
    /// it by `shape_dist_traveled` where the feed gives it, else by position).
    pub arrival: u32,
    /// `departure_time`, at or after `arrival`.
    pub departure: u32,
}

/// A service: the days a set of trips runs (`calendar.txt` and `calendar_dates.txt`).
#[derive(Debug, Clone)]
pub struct Service {
    /// `service_id`.
    pub id: Box<str>,
    /// The weekdays it runs, bit 0 Monday to bit 6 Sunday (none without a `calendar.txt`
    /// record).
    pub weekdays: u8,
    /// `start_date` and `end_date`, inclusive (none without a `calendar.txt` record).
    pub range: Option<(NaiveDate, NaiveDate)>,
    /// Dates added by `calendar_dates.txt` (`exception_type` 1), sorted.
    pub added: Vec<NaiveDate>,
    /// Dates removed by `calendar_dates.txt` (`exception_type` 2), sorted.
    pub removed: Vec<NaiveDate>,
}

/// A trip run at a headway (`frequencies.txt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frequency {
    /// The trip whose stop times give the pattern (offsets from its first departure).
    pub trip: TripIdx,
    /// `start_time`, seconds as in [`StopTime`].
    pub start: u32,
    /// `end_time`.
    pub end: u32,
    /// `headway_secs`.
    pub headway_secs: u32,
    /// `exact_times` 1: departures exactly every headway from `start` (schedule based);
    /// 0: the headway is only the interval aimed at.
    pub exact_times: bool,
}

/// A point of a shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapePoint {
    /// `shape_pt_lat`.
    pub lat: f64,
    /// `shape_pt_lon`.
    pub lon: f64,
    /// `shape_dist_traveled`.
    pub dist_traveled: Option<f64>,
}

/// A shape (`shapes.txt`): the path a vehicle follows, its points in sequence order.
#[derive(Debug, Clone)]
pub struct Shape {
    /// `shape_id`.
    pub id: Box<str>,
    /// Its points, sorted by `shape_pt_sequence`.
    pub points: Vec<ShapePoint>,
}
