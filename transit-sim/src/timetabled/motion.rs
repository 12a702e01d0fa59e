//! Rail's safe-working rules: one train at a platform at a time, and trains on a stretch of
//! track between two stops leaving it in the order they entered it (never passing).
//!
//! Buses keep no such rules: they pass one another and share stops.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

/// Which way a platform faces: toward the trip's next stop, or, at a trip's last stop, from
/// its previous one (a terminating train's platform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Toward {
    Next(u32),
    EndFrom(u32),
    /// A trip of one stop.
    Alone,
}

/// A platform: a stop, one way.
pub(crate) type PlatformKey = (u32, Toward);

/// A stretch of track from one stop to the next.
pub(crate) type SegmentKey = (u32, u32);

#[derive(Debug, Clone, Default)]
struct Platform {
    occupant: Option<u32>,
    /// When a train may next enter (after the last one left, plus the clearance).
    free_at: u32,
    /// Trains waiting to enter, in the order they came.
    waiting: VecDeque<u32>,
}

/// What a train asking to enter a platform must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Enter now.
    Enter,
    /// Ask again at this time (the platform is empty but not yet clear).
    RetryAt(u32),
    /// Wait to be woken when the train ahead leaves.
    Wait,
}

/// The platforms and stretches of rail in use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interlocking {
    clearance_s: u32,
    platforms: FxHashMap<PlatformKey, Platform>,
    /// The trains on each stretch, in the order they entered it.
    segments: FxHashMap<SegmentKey, VecDeque<u32>>,
}

impl Interlocking {
    pub(crate) fn new(clearance_s: u32) -> Self {
        Self {
            clearance_s,
            ..Self::default()
        }
    }

    /// A train leaves a stop onto the stretch toward the next.
    pub(crate) fn enter_segment(&mut self, segment: SegmentKey, train: u32) {
        self.segments.entry(segment).or_default().push_back(train);
    }

    /// Whether `train` is the first on its stretch (no train ahead still on it).
    pub(crate) fn first_on_segment(&self, segment: SegmentKey, train: u32) -> bool {
        self.segments
            .get(&segment)
            .and_then(|trains| trains.front())
            .is_none_or(|first| *first == train)
    }

    /// `train`, first on its stretch, has entered the platform at its end: the train now first
    /// on the stretch, if any.
    pub(crate) fn leave_segment(&mut self, segment: SegmentKey, train: u32) -> Option<u32> {
        let trains = self.segments.get_mut(&segment)?;
        if trains.front() == Some(&train) {
            trains.pop_front();
        }
        trains.front().copied()
    }

    /// `train` asks to enter `platform` at `now`.
    pub(crate) fn request(&mut self, platform: PlatformKey, train: u32, now: u32) -> Entry {
        let state = self.platforms.entry(platform).or_default();
        let first = state.waiting.front().is_none_or(|first| *first == train);
        if state.occupant.is_none() && first {
            if state.free_at <= now {
                state.waiting.pop_front();
                state.occupant = Some(train);
                return Entry::Enter;
            }
            if state.waiting.is_empty() {
                state.waiting.push_back(train);
            }
            return Entry::RetryAt(state.free_at);
        }
        if !state.waiting.contains(&train) {
            state.waiting.push_back(train);
        }
        Entry::Wait
    }

    /// `train` leaves `platform` at `now`: the train to wake, and when.
    pub(crate) fn leave_platform(
        &mut self,
        platform: PlatformKey,
        train: u32,
        now: u32,
    ) -> Option<(u32, u32)> {
        let state = self.platforms.get_mut(&platform)?;
        if state.occupant == Some(train) {
            state.occupant = None;
            state.free_at = now.saturating_add(self.clearance_s);
        }
        state.waiting.front().map(|next| (*next, state.free_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_train_at_a_platform_and_the_next_after_the_clearance() {
        let mut rails = Interlocking::new(30);
        let platform = (1, Toward::Next(2));
        assert_eq!(rails.request(platform, 7, 100), Entry::Enter);
        assert_eq!(rails.request(platform, 8, 110), Entry::Wait);
        assert_eq!(rails.request(platform, 9, 115), Entry::Wait);
        assert_eq!(rails.leave_platform(platform, 7, 120), Some((8, 150)));
        assert_eq!(rails.request(platform, 9, 150), Entry::Wait, "8 is first");
        assert_eq!(rails.request(platform, 8, 150), Entry::Enter);
        assert_eq!(rails.leave_platform(platform, 8, 160), Some((9, 190)));
        assert_eq!(rails.request(platform, 9, 170), Entry::RetryAt(190));
        assert_eq!(rails.request(platform, 9, 190), Entry::Enter);
    }

    #[test]
    fn trains_leave_a_stretch_in_the_order_they_entered_it() {
        let mut rails = Interlocking::new(0);
        rails.enter_segment((1, 2), 7);
        rails.enter_segment((1, 2), 8);
        assert!(!rails.first_on_segment((1, 2), 8));
        assert!(rails.first_on_segment((1, 2), 7));
        assert_eq!(rails.leave_segment((1, 2), 7), Some(8));
        assert!(rails.first_on_segment((1, 2), 8));
        assert_eq!(rails.leave_segment((1, 2), 8), None);
    }
}
