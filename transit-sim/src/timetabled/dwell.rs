//! How long a vehicle stands at a stop for the riders it exchanges (the numbers are stated in
//! the [module docs](super)).

/// Dwell time: a fixed part (doors, stepping off the kerb or the platform's warning) plus a
/// part per rider, capped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DwellModel {
    /// Seconds at a stop however few ride.
    pub base_s: f64,
    /// Seconds per rider boarding.
    pub per_boarding_s: f64,
    /// Seconds per rider alighting.
    pub per_alighting_s: f64,
    /// The longest dwell, seconds (a crowd beyond it is left to the next vehicle's time).
    pub max_s: f64,
}

impl DwellModel {
    /// A bus: one door to board by, paying as they go.
    pub const BUS: DwellModel = DwellModel {
        base_s: 4.0,
        per_boarding_s: 3.0,
        per_alighting_s: 2.0,
        max_s: 120.0,
    };

    /// A train: many doors at once.
    pub const RAIL: DwellModel = DwellModel {
        base_s: 15.0,
        per_boarding_s: 0.25,
        per_alighting_s: 0.2,
        max_s: 90.0,
    };

    /// Seconds standing for `boarded` and `alighted` riders (fractional riders for an
    /// expectation).
    pub fn seconds(&self, boarded: f64, alighted: f64) -> f64 {
        (self.base_s + self.per_boarding_s * boarded + self.per_alighting_s * alighted)
            .min(self.max_s)
            .max(0.0)
    }

    /// The dwell of a stop whose scheduled dwell is `scheduled_s`, for `boarded` and
    /// `alighted` riders where `expected` (boarding, alighting) do on average.
    ///
    /// A timetable that gives one time for arrival and departure (no dwell of its own) folds an
    /// ordinary dwell into its run times: there a vehicle stands only for what exceeds the
    /// dwell of an average exchange. A timetable that gives a dwell keeps it, or the riders'
    /// dwell when longer.
    pub fn dwell_s(
        &self,
        scheduled_s: u32,
        boarded: u32,
        alighted: u32,
        expected: (f64, f64),
    ) -> u32 {
        let riders = self.seconds(f64::from(boarded), f64::from(alighted));
        let allowed = if scheduled_s == 0 {
            self.seconds(expected.0, expected.1)
        } else {
            0.0
        };
        let extra = (riders - allowed).max(0.0).round() as u32;
        scheduled_s.max(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowds_stand_longer_up_to_the_cap() {
        let bus = DwellModel::BUS;
        assert_eq!(
            bus.dwell_s(30, 0, 0, (3.0, 3.0)),
            30,
            "a scheduled dwell is kept"
        );
        assert_eq!(bus.dwell_s(30, 10, 2, (3.0, 3.0)), 38, "4 + 30 + 4");
        assert_eq!(
            bus.dwell_s(0, 3, 3, (3.0, 3.0)),
            0,
            "an average exchange is in the run times"
        );
        assert_eq!(
            bus.dwell_s(0, 13, 3, (3.0, 3.0)),
            30,
            "ten more riders than average"
        );
        assert_eq!(
            bus.dwell_s(0, 1_000, 0, (3.0, 3.0)),
            101,
            "capped at 120 s less the allowance"
        );
        assert!(DwellModel::RAIL.seconds(1_000.0, 1_000.0) <= 90.0);
    }
}
