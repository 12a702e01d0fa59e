use rand::Rng;

use transit_core::event::{WeatherEvent, WeatherStatus};

/// Hourly weather: a temperature random walk pulled towards the season's typical value, and a
/// sky that tends to stay as it is.
#[derive(Debug, Clone)]
pub struct WeatherModel {
    temperature: f32,
    status: WeatherStatus,
}

/// Lowest and highest temperature (°F) the walk may reach: Chicago's records, roughly.
const RANGE: (f32, f32) = (-25.0, 105.0);

/// The season's typical temperature (°F) in a month (1-12).
fn seasonal_mode(month: u32) -> f32 {
    match month {
        12 | 1 | 2 => 27.0,
        3..=5 => 50.0,
        6..=8 => 80.0,
        _ => 55.0,
    }
}

/// How likely each status is in a month, in `WeatherStatus::ALL` order.
fn seasonal_weights(month: u32) -> [f32; 5] {
    match month {
        12 | 1 | 2 => [2.0, 2.0, 3.0, 2.0, 3.0],
        3..=5 => [3.0, 3.0, 2.0, 2.0, 3.0],
        6..=8 => [5.0, 3.0, 1.0, 1.0, 2.0],
        _ => [3.0, 3.0, 2.0, 3.0, 2.0],
    }
}

impl WeatherModel {
    /// The weather at the start of a simulation in `month` (1-12).
    pub fn new(month: u32, rng: &mut impl Rng) -> Self {
        let mut model = Self {
            temperature: seasonal_mode(month) + rng.random_range(-10.0..10.0),
            status: WeatherStatus::Cloudy,
        };
        model.status = model.draw_status(month, rng);
        model
    }

    fn draw_status(&self, month: u32, rng: &mut impl Rng) -> WeatherStatus {
        let weights = seasonal_weights(month);
        let total: f32 = weights.iter().sum();
        let mut pick = rng.random_range(0.0..total);
        for (status, weight) in WeatherStatus::ALL.into_iter().zip(weights) {
            if pick < weight {
                return status;
            }
            pick -= weight;
        }
        self.status
    }

    /// The current reading.
    pub fn reading(&self) -> WeatherEvent {
        WeatherEvent {
            temperature: (self.temperature * 10.0).round() / 10.0,
            status: self.status,
        }
    }

    /// Moves the weather on by one hour in `month` and returns the new reading.
    pub fn advance_hour(&mut self, month: u32, rng: &mut impl Rng) -> WeatherEvent {
        let pull = (seasonal_mode(month) - self.temperature) * 0.05;
        let step: f32 = rng.random_range(-3.0..3.0);
        self.temperature = (self.temperature + pull + step).clamp(RANGE.0, RANGE.1);
        if rng.random_bool(0.25) {
            self.status = self.draw_status(month, rng);
        }
        self.reading()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn temperature_stays_in_range_and_varies() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for month in 1..=12 {
            let mut model = WeatherModel::new(month, &mut rng);
            let readings: Vec<_> = (0..24 * 60)
                .map(|_| model.advance_hour(month, &mut rng))
                .collect();
            assert!(readings
                .iter()
                .all(|r| (RANGE.0..=RANGE.1).contains(&r.temperature)));
            let min = readings
                .iter()
                .map(|r| r.temperature)
                .fold(f32::MAX, f32::min);
            let max = readings
                .iter()
                .map(|r| r.temperature)
                .fold(f32::MIN, f32::max);
            assert!(max - min > 5.0, "month {month}: {min}..{max}");
            let mean: f32 =
                readings.iter().map(|r| r.temperature).sum::<f32>() / readings.len() as f32;
            assert!(
                (mean - seasonal_mode(month)).abs() < 20.0,
                "month {month}: mean {mean}"
            );
            let statuses: std::collections::HashSet<_> =
                readings.iter().map(|r| r.status).collect();
            assert!(statuses.len() >= 3, "month {month}: {statuses:?}");
        }
    }
}
