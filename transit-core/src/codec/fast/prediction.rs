//! Hand-written Avro writers and readers for the records of predictions: each arrival
//! re-predicts a vehicle's stops up to 30 minutes ahead by four methods, so the prediction
//! table and the stream of its changes carry many times the arrivals' records. They follow
//! `prediction.avsc`, `prediction_key.avsc`, `accuracy.avsc` and the processors' changelog
//! entries (`processor_state.avsc`, `processor_state_key.avsc`: the scorer keeps one per
//! current prediction) field by field; tests check
//! their bytes against apache-avro's for arbitrary values.

use super::{write, Reader};
use crate::event::{
    AccuracyEvent, PredictionEvent, PredictionKey, ProcessorState, ProcessorStateKey,
};

/// Room for the numbers and the strings' lengths of a prediction: 16 fields of at most 10
/// bytes and two union branches, beyond the shared room.
const NUMBERS: usize = 200;

/// An Avro `int` from a `u32`; `None` if it does not fit (the serde writer reports it).
fn int(value: u32) -> Option<i64> {
    i32::try_from(value).ok().map(i64::from)
}

/// An Avro `long` from a `u64`; `None` if it does not fit.
fn long(value: u64) -> Option<i64> {
    i64::try_from(value).ok()
}

/// `PredictionEvent`: vehicle_id, stop_id, method, route_id, trip_id, start_date (strings),
/// start_time `["null", "string"]`, direction_id `["null", "int"]`, stop_sequence int, the
/// three times (long), uncertainty_s `["null", "int"]`, issued_at long, source_partition int,
/// source_offset long.
pub(crate) fn prediction(event: &PredictionEvent, buf: &mut Vec<u8>) -> bool {
    let (Some(sequence), Some(partition), Some(offset)) = (
        int(event.stop_sequence),
        int(event.source_partition),
        long(event.source_offset),
    ) else {
        return false;
    };
    let strings = [
        event.vehicle_id.as_bytes(),
        event.stop_id.as_bytes(),
        event.method.as_bytes(),
        event.route_id.as_bytes(),
        event.trip_id.as_bytes(),
        event.start_date.as_bytes(),
    ];
    let start_time = event.start_time.as_deref().map(str::as_bytes);
    let text: usize =
        strings.iter().map(|s| s.len()).sum::<usize>() + start_time.map_or(0, <[u8]>::len);
    write(
        buf,
        |out| {
            for s in strings {
                out.bytes(s);
            }
            out.optional_bytes(start_time);
            out.optional_long(event.direction_id.map(i64::from));
            out.long(sequence);
            out.long(event.predicted_arrival_time);
            out.long(event.predicted_departure_time);
            out.long(event.scheduled_arrival_time);
            out.optional_long(event.uncertainty_s.map(i64::from));
            out.long(event.issued_at);
            out.long(partition);
            out.long(offset);
        },
        text + NUMBERS,
    )
}

/// `PredictionKey`: vehicle_id, stop_id, method (strings).
pub(crate) fn prediction_key(key: &PredictionKey, buf: &mut Vec<u8>) -> bool {
    let strings = [
        key.vehicle_id.as_bytes(),
        key.stop_id.as_bytes(),
        key.method.as_bytes(),
    ];
    write(
        buf,
        |out| {
            for s in strings {
                out.bytes(s);
            }
        },
        strings.iter().map(|s| s.len()).sum(),
    )
}

/// `AccuracyEvent`: route_id string, hour int, bucket, method (strings), partition int, then
/// scored, accurate, abs_error_sum_s, expired, late, never, updated_at (long).
pub(crate) fn accuracy(event: &AccuracyEvent, buf: &mut Vec<u8>) -> bool {
    let counts = [
        event.scored,
        event.accurate,
        event.abs_error_sum_s,
        event.expired,
        event.late,
        event.never,
    ];
    let mut longs = [0i64; 6];
    for (slot, count) in longs.iter_mut().zip(counts) {
        match long(count) {
            Some(value) => *slot = value,
            None => return false,
        }
    }
    let Some(partition) = int(event.partition) else {
        return false;
    };
    let (route, bucket, method) = (
        event.route_id.as_bytes(),
        event.bucket.as_bytes(),
        event.method.as_bytes(),
    );
    write(
        buf,
        |out| {
            out.bytes(route);
            out.long(i64::from(event.hour));
            out.bytes(bucket);
            out.bytes(method);
            out.long(partition);
            for value in longs {
                out.long(value);
            }
            out.long(event.updated_at);
        },
        route.len() + bucket.len() + method.len() + NUMBERS,
    )
}

/// `ProcessorStateKey`: partition int, kind, id (strings).
pub(crate) fn processor_state_key(key: &ProcessorStateKey, buf: &mut Vec<u8>) -> bool {
    let Some(partition) = int(key.partition) else {
        return false;
    };
    let (kind, id) = (key.kind.as_bytes(), key.id.as_bytes());
    write(
        buf,
        |out| {
            out.long(partition);
            out.bytes(kind);
            out.bytes(id);
        },
        kind.len() + id.len(),
    )
}

/// `ProcessorState`: partition int, kind, id, state (strings).
pub(crate) fn processor_state(entry: &ProcessorState, buf: &mut Vec<u8>) -> bool {
    let Some(partition) = int(entry.partition) else {
        return false;
    };
    let (kind, id, state) = (
        entry.kind.as_bytes(),
        entry.id.as_bytes(),
        entry.state.as_bytes(),
    );
    write(
        buf,
        |out| {
            out.long(partition);
            out.bytes(kind);
            out.bytes(id);
            out.bytes(state);
        },
        kind.len() + id.len() + state.len(),
    )
}

impl<'a> Reader<'a> {
    /// An Avro `string`, owned; `None` if it is not UTF-8.
    #[inline(always)]
    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.raw_bytes()?)
            .ok()
            .map(str::to_owned)
    }

    /// An Avro `int` as a `u32`; `None` for a negative one.
    #[inline(always)]
    fn unsigned(&mut self) -> Option<u32> {
        u32::try_from(self.int()?).ok()
    }

    /// An Avro `long` as a `u64`; `None` for a negative one.
    #[inline(always)]
    fn count(&mut self) -> Option<u64> {
        u64::try_from(self.long()?).ok()
    }
}

/// Reads what [`prediction`] writes.
pub(crate) fn read_prediction(body: &[u8]) -> Option<(PredictionEvent, usize)> {
    let mut reader = Reader { body, at: 0 };
    let vehicle_id = reader.string()?;
    let stop_id = reader.string()?;
    let method = reader.string()?;
    let route_id = reader.string()?;
    let trip_id = reader.string()?;
    let start_date = reader.string()?;
    let start_time = if reader.present()? {
        Some(reader.string()?)
    } else {
        None
    };
    let direction_id = reader.optional_int()?;
    let stop_sequence = reader.unsigned()?;
    let predicted_arrival_time = reader.long()?;
    let predicted_departure_time = reader.long()?;
    let scheduled_arrival_time = reader.long()?;
    let uncertainty_s = reader.optional_int()?;
    let issued_at = reader.long()?;
    let source_partition = reader.unsigned()?;
    let source_offset = reader.count()?;
    let event = PredictionEvent {
        vehicle_id,
        stop_id,
        method,
        route_id,
        trip_id,
        start_date,
        start_time,
        direction_id,
        stop_sequence,
        predicted_arrival_time,
        predicted_departure_time,
        scheduled_arrival_time,
        uncertainty_s,
        issued_at,
        source_partition,
        source_offset,
    };
    Some((event, reader.at))
}

/// Reads what [`prediction_key`] writes.
pub(crate) fn read_prediction_key(body: &[u8]) -> Option<(PredictionKey, usize)> {
    let mut reader = Reader { body, at: 0 };
    let vehicle_id = reader.string()?;
    let stop_id = reader.string()?;
    let method = reader.string()?;
    let key = PredictionKey {
        vehicle_id,
        stop_id,
        method,
    };
    Some((key, reader.at))
}

/// Reads what [`accuracy`] writes.
pub(crate) fn read_accuracy(body: &[u8]) -> Option<(AccuracyEvent, usize)> {
    let mut reader = Reader { body, at: 0 };
    let route_id = reader.string()?;
    let hour = reader.int()?;
    let bucket = reader.string()?;
    let method = reader.string()?;
    let partition = reader.unsigned()?;
    let scored = reader.count()?;
    let accurate = reader.count()?;
    let abs_error_sum_s = reader.count()?;
    let expired = reader.count()?;
    let late = reader.count()?;
    let never = reader.count()?;
    let updated_at = reader.long()?;
    let event = AccuracyEvent {
        route_id,
        hour,
        bucket,
        method,
        partition,
        scored,
        accurate,
        abs_error_sum_s,
        expired,
        late,
        never,
        updated_at,
    };
    Some((event, reader.at))
}

/// Reads what [`processor_state_key`] writes.
pub(crate) fn read_processor_state_key(body: &[u8]) -> Option<(ProcessorStateKey, usize)> {
    let mut reader = Reader { body, at: 0 };
    let partition = reader.unsigned()?;
    let kind = reader.string()?;
    let id = reader.string()?;
    Some((
        ProcessorStateKey {
            partition,
            kind,
            id,
        },
        reader.at,
    ))
}

/// Reads what [`processor_state`] writes.
pub(crate) fn read_processor_state(body: &[u8]) -> Option<(ProcessorState, usize)> {
    let mut reader = Reader { body, at: 0 };
    let partition = reader.unsigned()?;
    let kind = reader.string()?;
    let id = reader.string()?;
    let state = reader.string()?;
    let entry = ProcessorState {
        partition,
        kind,
        id,
        state,
    };
    Some((entry, reader.at))
}
