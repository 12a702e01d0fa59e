//! Robust estimates of a run or dwell time from the recent observations of it: exponentially
//! weighted quantiles over a bounded window, with the timetable's value as a prior.
//!
//! Why quantiles and not a mean: one train held five minutes by a door fault is one
//! observation of 300 s among run times of 90 s; a mean would move every prediction on the
//! segment for the next dozen trains, the median hardly moves. Why a window with weights
//! falling by recency: the world changes through the day (a slow zone, a crowded hour), and
//! the last trains over a segment say more about the next than the morning's did. Why a
//! prior: the first train of the day over a segment has nothing seen to go by, and the
//! timetable is what the agency believed; as observations come, it weighs less and less.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// How estimates weigh what was seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnConfig {
    /// Observations kept per key (the newest).
    pub window: usize,
    /// The weight of each observation relative to the next newer one (0 < decay ≤ 1).
    pub decay: f64,
    /// The timetable prior's weight, against 1 for the newest observation.
    pub prior_weight: f64,
    /// The prior's spread, as a share of its value: the timetable is a belief, not a fact.
    pub prior_spread: f64,
}

impl Default for LearnConfig {
    fn default() -> Self {
        Self {
            window: 24,
            decay: 0.9,
            prior_weight: 1.0,
            prior_spread: 0.15,
        }
    }
}

/// One observed duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// When it was observed (the arrival that ended it), milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// How long it took, seconds.
    pub value_s: f32,
}

impl Observation {
    /// Whether it is a duration the predictor learns (0 to 2 h) at an instant in range.
    pub fn is_sane(&self) -> bool {
        crate::sane_ms(self.at_ms) && (0.0..=7_200.0).contains(&self.value_s)
    }
}

/// The newest observations of one quantity, at most [`LearnConfig::window`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    observations: VecDeque<Observation>,
}

impl Window {
    /// Adds `observation`, dropping the oldest beyond `limit`.
    pub fn push(&mut self, observation: Observation, limit: usize) {
        self.observations.push_back(observation);
        while self.observations.len() > limit.max(1) {
            self.observations.pop_front();
        }
    }

    /// How many it holds.
    pub fn len(&self) -> usize {
        self.observations.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.observations.is_empty()
    }

    /// Whether every observation is of a duration the predictor learns (0 to 2 h) at an
    /// instant in range: what a window read back from the bus must be.
    pub fn is_sane(&self) -> bool {
        self.observations.iter().all(Observation::is_sane)
    }

    /// The observations, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Observation> {
        self.observations.iter()
    }
}

/// An estimated duration and how far it strays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The weighted median, seconds.
    pub median_s: f64,
    /// The spread: (90th − 10th percentile) / 2.56, which is the standard deviation for a
    /// normal distribution, robust to the odd outlier. Seconds.
    pub sigma_s: f64,
    /// Observations it rests on (the prior not counted).
    pub observations: usize,
}

/// The estimate of a quantity from `windows` (each with a weight factor: 1 for the key
/// itself, less for a neighbour consulted because the key has seen little) and the timetable's
/// `prior_s`.
///
/// ```
/// use transit_predict::estimate::{estimate, LearnConfig, Observation, Window};
///
/// let config = LearnConfig::default();
/// let mut window = Window::default();
/// for (i, value_s) in [100.0, 104.0, 98.0, 400.0, 102.0].into_iter().enumerate() {
///     window.push(Observation { at_ms: i as i64 * 60_000, value_s }, config.window);
/// }
/// // The timetable says 90 s; the trains say about 100 s, one held five minutes.
/// let estimate = estimate([(&window, 1.0)], 90.0, &config);
/// assert!((98.0..=104.0).contains(&estimate.median_s), "{estimate:?}");
/// ```
pub fn estimate<'a>(
    windows: impl IntoIterator<Item = (&'a Window, f64)>,
    prior_s: f64,
    config: &LearnConfig,
) -> Estimate {
    let mut seen: Vec<(i64, f32, f64)> = windows
        .into_iter()
        .flat_map(|(window, factor)| window.iter().map(move |o| (o.at_ms, o.value_s, factor)))
        .collect();
    // Newest first: the weight falls with the rank, however the windows interleave.
    seen.sort_by_key(|o| std::cmp::Reverse(o.0));
    seen.truncate(config.window.max(1));
    let observations = seen.len();
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(observations + 3);
    let mut weight = 1.0;
    for (_, value, factor) in &seen {
        points.push((f64::from(*value), weight * factor));
        weight *= config.decay;
    }
    let prior = prior_s.max(0.0);
    let spread = prior * config.prior_spread;
    let w = config.prior_weight;
    points.push((prior - spread, w / 4.0));
    points.push((prior, w / 2.0));
    points.push((prior + spread, w / 4.0));
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let median_s = quantile(&points, 0.5);
    let sigma_s = ((quantile(&points, 0.9) - quantile(&points, 0.1)) / 2.56).max(0.0);
    Estimate {
        median_s,
        sigma_s,
        observations,
    }
}

/// The `q` quantile of `points` (value, weight), sorted by value.
fn quantile(points: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = points.iter().map(|p| p.1).sum();
    if total <= 0.0 {
        return points.first().map_or(0.0, |p| p.0);
    }
    let target = q * total;
    let mut cumulative = 0.0;
    for (value, weight) in points {
        cumulative += weight;
        if cumulative >= target {
            return *value;
        }
    }
    points.last().map_or(0.0, |p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(values: &[f32]) -> Window {
        let mut window = Window::default();
        for (i, value_s) in values.iter().enumerate() {
            window.push(
                Observation {
                    at_ms: i as i64 * 1_000,
                    value_s: *value_s,
                },
                64,
            );
        }
        window
    }

    #[test]
    fn without_observations_the_prior_rules_with_its_own_spread() {
        let config = LearnConfig::default();
        let estimate = estimate(std::iter::empty(), 120.0, &config);
        assert_eq!(estimate.median_s, 120.0);
        assert_eq!(estimate.observations, 0);
        assert!(
            estimate.sigma_s > 0.0 && estimate.sigma_s < 30.0,
            "{estimate:?}"
        );
    }

    #[test]
    fn observations_outweigh_the_prior() {
        let config = LearnConfig::default();
        let seen = window(&[150.0, 152.0, 149.0, 151.0, 150.0]);
        let estimate = estimate([(&seen, 1.0)], 120.0, &config);
        assert!((149.0..=152.0).contains(&estimate.median_s), "{estimate:?}");
    }

    #[test]
    fn one_outlier_does_not_move_the_median() {
        let config = LearnConfig::default();
        let seen = window(&[100.0, 101.0, 99.0, 100.0, 600.0]);
        let estimate = estimate([(&seen, 1.0)], 100.0, &config);
        assert!((99.0..=101.0).contains(&estimate.median_s), "{estimate:?}");
    }

    #[test]
    fn recent_observations_count_more_than_old_ones() {
        let config = LearnConfig::default();
        // The segment slowed down: ten old runs at 100 s, then six at 180 s.
        let mut values = vec![100.0; 10];
        values.extend([180.0; 6]);
        let seen = window(&values);
        let estimate = estimate([(&seen, 1.0)], 100.0, &config);
        assert_eq!(estimate.median_s, 180.0, "{estimate:?}");
    }

    #[test]
    fn the_spread_follows_what_was_seen() {
        let config = LearnConfig::default();
        let steady = estimate([(&window(&[100.0; 12]), 1.0)], 100.0, &config);
        let erratic = estimate(
            [(
                &window(&[60.0, 140.0, 80.0, 130.0, 70.0, 150.0, 90.0, 120.0]),
                1.0,
            )],
            100.0,
            &config,
        );
        assert!(steady.sigma_s < 5.0, "{steady:?}");
        assert!(erratic.sigma_s > 20.0, "{erratic:?}");
    }

    #[test]
    fn the_window_is_bounded() {
        let mut window = Window::default();
        for i in 0..100 {
            window.push(
                Observation {
                    at_ms: i,
                    value_s: 1.0,
                },
                24,
            );
        }
        assert_eq!(window.len(), 24);
        assert_eq!(window.iter().next().map(|o| o.at_ms), Some(76));
    }
}
