//! Riders for a feed without ridership: how many board and alight each time a vehicle stops,
//! from the timetable's own density (the model is stated in the [module docs](super)).

use rand::Rng;
use rand_distr::{Binomial, Distribution, Poisson};
use rustc_hash::FxHashMap;
use transit_core::model::LineId;
use transit_core::network::service_day::ServiceDay;
use transit_core::network::{DataError, DayType, Ridership};

/// Hours a service day's scheduled times may span (GTFS times run past 24:00, up to 47:59).
const HOURS: usize = 48;

/// The stated riders model's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct RidersModel {
    /// Riders boarding a bus at a stop, on average over the stops it serves, at an hour of
    /// average demand on a weekday.
    pub bus_load: f64,
    /// The same for a train.
    pub rail_load: f64,
    /// The per-departure load on a Saturday, relative to a weekday.
    pub saturday: f64,
    /// The same on a Sunday.
    pub sunday: f64,
    /// The share of a day's riders in each hour 0-23 (summing to 1).
    pub hour_shares: [f64; 24],
}

impl RidersModel {
    /// The stated numbers with the CTA's hourly curve (`ridership_curve.csv`).
    pub fn embedded() -> Result<Self, DataError> {
        Ok(Self::with_curve(&Ridership::embedded()?))
    }

    /// The stated numbers with the hourly curve of `ridership`.
    pub fn with_curve(ridership: &Ridership) -> Self {
        Self {
            bus_load: 4.0,
            rail_load: 20.0,
            saturday: 0.75,
            sunday: 0.65,
            hour_shares: std::array::from_fn(|hour| ridership.hour_share(hour as u32)),
        }
    }

    /// Expected riders boarding one departure at `hour` (of the service day, 0-47).
    pub fn load(&self, rail: bool, hour: usize, day: DayType) -> f64 {
        let base = if rail { self.rail_load } else { self.bus_load };
        let day = match day {
            DayType::Weekday => 1.0,
            DayType::Saturday => self.saturday,
            DayType::Sunday => self.sunday,
        };
        // The timetable already runs more departures in the peaks, so a departure's load rises
        // only with the square root of the hour's demand relative to an even day.
        let peak = (24.0 * self.hour_shares[hour % 24]).max(0.0).sqrt();
        base * day * peak
    }
}

/// Where riders wait: a stop, for one route.
type WaitKey = (u32, LineId);

/// The riders waiting at each stop for each route, and the draws of who boards and alights.
#[derive(Debug, Clone)]
pub(crate) struct Riders {
    model: RidersModel,
    day: DayType,
    /// Each stop time's wait key (`u32::MAX` at a trip's last stop, where nobody boards),
    /// flattened: trip `t`'s stops start at `offsets[t]`.
    offsets: Vec<u32>,
    keys: Vec<u32>,
    /// Each stop time's expected alightings, by the same index.
    expected_alightings: Vec<f32>,
    /// Scheduled departures of each wait key by hour of the service day.
    departures: Vec<[u16; HOURS]>,
    /// When a vehicle last left each wait key's stop (riders arriving since wait for the next).
    last_departure: Vec<Option<u32>>,
}

/// Who got on and off at one stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exchange {
    pub boarded: u32,
    pub alighted: u32,
    /// The riders a departure here boards on average (the load the timetable's run times
    /// are taken to allow for).
    pub expected_boarded: f64,
    /// The riders who get off here on average.
    pub expected_alighted: f64,
    /// Riders coming to wait here per second (0 where nobody boards).
    pub rate_per_s: f64,
}

impl Riders {
    /// The riders of `day`, whose trips run on rail where `rail` says.
    pub(crate) fn new(day: &ServiceDay, rail: &[bool], model: RidersModel) -> Self {
        let day_type = DayType::of(day.date);
        let mut index: FxHashMap<WaitKey, u32> = FxHashMap::default();
        let mut offsets = Vec::with_capacity(day.trips.len());
        let mut keys = Vec::new();
        let mut expected_alightings = Vec::new();
        let mut departures: Vec<[u16; HOURS]> = Vec::new();
        for (trip, &rail) in day.trips.iter().zip(rail) {
            offsets.push(keys.len() as u32);
            let last = trip.stops.len().saturating_sub(1);
            // Each stop's boarders leave at any stop ahead with equal chance.
            let mut alighting = 0.0;
            for (seq, stop) in trip.stops.iter().enumerate() {
                expected_alightings.push(alighting as f32);
                if seq < last {
                    let load = model.load(rail, hour_of(stop.departure_s), day_type);
                    alighting += load / (last - seq) as f64;
                }
                if seq == last {
                    keys.push(u32::MAX);
                    continue;
                }
                let next = index.len() as u32;
                let key = *index.entry((stop.stop.0, trip.route)).or_insert(next);
                if key == next {
                    departures.push([0; HOURS]);
                }
                let hour = hour_of(stop.departure_s);
                let count = &mut departures[key as usize][hour];
                *count = count.saturating_add(1);
                keys.push(key);
            }
        }
        let last_departure = vec![None; departures.len()];
        Self {
            model,
            day: day_type,
            offsets,
            keys,
            expected_alightings,
            departures,
            last_departure,
        }
    }

    fn key(&self, trip: usize, seq: usize) -> Option<usize> {
        self.keys
            .get(self.at(trip, seq)?)
            .filter(|key| **key != u32::MAX)
            .map(|key| *key as usize)
    }

    /// The riders leaving and boarding trip `trip`'s vehicle at its stop `seq` of `stops`,
    /// reached at `now`, scheduled to leave at `scheduled_departure_s`, with `on_board`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn exchange(
        &self,
        rng: &mut impl Rng,
        trip: usize,
        seq: usize,
        stops: usize,
        rail: bool,
        now: u32,
        scheduled_departure_s: u32,
        on_board: u32,
    ) -> Exchange {
        // Each rider on board is bound for any of the stops left with equal chance.
        let left = (stops - seq) as f64;
        let alighted = Binomial::new(u64::from(on_board), 1.0 / left)
            .map_or(on_board, |binomial| binomial.sample(rng) as u32);
        let expected_alighted = self
            .at(trip, seq)
            .and_then(|at| self.expected_alightings.get(at))
            .map_or(0.0, |expected| f64::from(*expected));
        let Some(key) = self.key(trip, seq) else {
            return Exchange {
                boarded: 0,
                alighted,
                expected_boarded: 0.0,
                expected_alighted,
                rate_per_s: 0.0,
            };
        };
        let hour = hour_of(scheduled_departure_s);
        let load = self.model.load(rail, hour, self.day);
        // This stop time is counted, so at least one.
        let per_hour = f64::from(self.departures[key][hour].max(1));
        let scheduled_headway = 3_600.0 / per_hour;
        let waited = self.last_departure[key]
            .map_or(scheduled_headway, |left| {
                f64::from(now.saturating_sub(left))
            })
            .min(3_600.0);
        let mean = load * waited / scheduled_headway;
        // Poisson::new refuses a zero mean (a vehicle right behind another).
        let boarded = Poisson::new(mean).map_or(0, |poisson| poisson.sample(rng) as u32);
        Exchange {
            boarded,
            alighted,
            expected_boarded: load,
            expected_alighted,
            rate_per_s: load / scheduled_headway,
        }
    }

    /// A vehicle of trip `trip` leaves its stop `seq` at `now` (decided as it arrives): the
    /// riders there until then board it, and those after wait for the next; but those it left
    /// behind, full, for `left_behind_s` of arrivals, wait for the next too (counted as though
    /// it had left that much earlier).
    pub(crate) fn departed(&mut self, trip: usize, seq: usize, now: u32, left_behind_s: u32) {
        if let Some(key) = self.key(trip, seq) {
            let last = &mut self.last_departure[key];
            let now = now.saturating_sub(left_behind_s);
            *last = Some(last.map_or(now, |before| before.max(now)));
        }
    }
}

impl Riders {
    /// Where trip `trip`'s stop `seq` is in the flattened stop times.
    fn at(&self, trip: usize, seq: usize) -> Option<usize> {
        Some(*self.offsets.get(trip)? as usize + seq)
    }
}

fn hour_of(seconds: u32) -> usize {
    (seconds / 3_600).min(HOURS as u32 - 1) as usize
}
