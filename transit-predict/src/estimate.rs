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
//!
//! Why some observations are bounds: a vehicle ahead of time eases off and comes at its
//! scheduled arrival, and one ahead of its scheduled departure waits for it, so what it took
//! says only that the run (or the dwell) takes no longer than that. Such an observation is
//! *censored*: the weighted distribution is estimated as Kaplan and Meier's estimator does
//! for censored durations (turned round, since these bound from above), so that a segment
//! the timetable pads is learnt from the vehicles that had to run it flat out, without the
//! on-time vehicles' eased runs pulling the estimate back to the timetable.

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
            decay: 0.6,
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
    /// Whether it is only a bound: the quantity took no longer than `value_s` (the vehicle
    /// eased off to its schedule, or waited for it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub censored: bool,
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
///     let observation = Observation { at_ms: i as i64 * 60_000, value_s, censored: false };
///     window.push(observation, config.window);
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
    let mut seen: Vec<(i64, f32, f64, bool)> = windows
        .into_iter()
        .flat_map(|(window, factor)| {
            window
                .iter()
                .map(move |o| (o.at_ms, o.value_s, factor, o.censored))
        })
        .collect();
    // Newest first: the weight falls with the rank, however the windows interleave.
    seen.sort_by_key(|o| std::cmp::Reverse(o.0));
    seen.truncate(config.window.max(1));
    let observations = seen.len();
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(observations + 3);
    let mut bounds: Vec<(f64, f64)> = Vec::new();
    let mut weight = 1.0;
    for (_, value, factor, censored) in &seen {
        if *censored {
            bounds.push((f64::from(*value), weight * factor));
        } else {
            points.push((f64::from(*value), weight * factor));
        }
        weight *= config.decay;
    }
    let prior = prior_s.max(0.0);
    let spread = prior * config.prior_spread;
    let w = config.prior_weight;
    points.push((prior - spread, w / 4.0));
    points.push((prior, w / 2.0));
    points.push((prior + spread, w / 4.0));
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !bounds.is_empty() {
        points = uncensored(points, bounds);
    }
    let median_s = quantile(&points, 0.5);
    let sigma_s = ((quantile(&points, 0.9) - quantile(&points, 0.1)) / 2.56).max(0.0);
    Estimate {
        median_s,
        sigma_s,
        observations,
    }
}

/// The weighted distribution of durations seen exactly (`points`, sorted by value) and bounded
/// from above (`bounds`: took no longer than the value), as masses at the exact values, sorted
/// by value: Kaplan and Meier's estimator turned round. Going down from the longest, each
/// exact value takes its share of what is left among everything that may lie at or below it;
/// a bound above it has no say there, since it may lie anywhere under its value.
fn uncensored(points: Vec<(f64, f64)>, mut bounds: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Weight at or below each exact value: the exact ones up to it and the bounds up to it.
    let mut masses = Vec::with_capacity(points.len() + 1);
    let mut left = 1.0;
    let mut exact_below: f64 = points.iter().map(|p| p.1).sum();
    let mut bounds_below: f64 = bounds.iter().map(|b| b.1).sum();
    let mut b = bounds.len();
    let mut i = points.len();
    while i > 0 {
        let value = points[i - 1].0;
        // The bounds above this value are out of the risk set.
        while b > 0 && bounds[b - 1].0 > value {
            bounds_below -= bounds[b - 1].1;
            b -= 1;
        }
        let mut here = 0.0;
        while i > 0 && points[i - 1].0 == value {
            here += points[i - 1].1;
            i -= 1;
        }
        let at_risk = exact_below + bounds_below;
        if at_risk > 0.0 && here > 0.0 {
            let mass = left * here / at_risk;
            masses.push((value, mass));
            left -= mass;
        }
        exact_below -= here;
    }
    // What lies below every exact value: the bounds down there say where at most.
    if left > 1e-12 {
        if let Some(lowest) = bounds.first() {
            masses.push((lowest.0, left));
        }
    }
    masses.reverse();
    masses.sort_by(|a, b| a.0.total_cmp(&b.0));
    masses
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
                    censored: false,
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
    fn bounds_do_not_pull_the_estimate_up_to_them() {
        let config = LearnConfig::default();
        // A padded segment: scheduled 120 s, late trains run it in 100 s, trains on time ease
        // off and take the 120 s (which says only "no longer than 120 s").
        let mut window = Window::default();
        for i in 0..20 {
            window.push(
                Observation {
                    at_ms: i * 1_000,
                    value_s: if i % 3 == 0 { 100.0 } else { 120.0 },
                    censored: i % 3 != 0,
                },
                64,
            );
        }
        let bounded = estimate([(&window, 1.0)], 120.0, &config);
        assert!((99.0..=104.0).contains(&bounded.median_s), "{bounded:?}");
        // Taken at their word, the eased runs would say the timetable.
        let mut naive = Window::default();
        for o in window.iter() {
            naive.push(
                Observation {
                    censored: false,
                    ..*o
                },
                64,
            );
        }
        assert_eq!(estimate([(&naive, 1.0)], 120.0, &config).median_s, 120.0);
        // A bound below the exact values changes nothing above it.
        let mut slow = window.clone();
        slow.push(
            Observation {
                at_ms: 100_000,
                value_s: 50.0,
                censored: true,
            },
            64,
        );
        let with_low_bound = estimate([(&slow, 1.0)], 120.0, &config);
        assert!(with_low_bound.median_s >= 99.0, "{with_low_bound:?}");
    }

    #[test]
    fn the_window_is_bounded() {
        let mut window = Window::default();
        for i in 0..100 {
            window.push(
                Observation {
                    at_ms: i,
                    value_s: 1.0,
                    censored: false,
                },
                24,
            );
        }
        assert_eq!(window.len(), 24);
        assert_eq!(window.iter().next().map(|o| o.at_ms), Some(76));
    }
}
