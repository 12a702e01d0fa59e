#!/usr/bin/env python3
"""Prediction accuracy as a rider's app would measure it: from the GTFS-realtime feeds alone.

Polls a running board's `/gtfs-rt/trip-updates` and `/gtfs-rt/vehicle-positions` (protobuf,
decoded with MobilityData's bindings) and scores what it saw by MBTA's buckets, knowing nothing
of the pipeline's own scorer:

- a sample: every `--sample-every` seconds of the feed's own clock (its header timestamp) from
  `--from` to `--to`, the first trip-updates poll at or after that instant; each stop time
  update with an arrival time is one prediction, its horizon that time less the poll's;
- the truth: when each vehicle reached each stop of its trip, from the vehicle positions: the
  first poll that shows it STOPPED_AT the stop, or already on to a later stop of the same trip,
  taken as the midpoint between that poll and the one before (so polls far closer together than
  the buckets' tolerances, which a poll every `--every` wall seconds at the board's speed gives);
- right if the vehicle came within the bucket's tolerance of the prediction (0-3 min: 1 early
  to 1 late; 3-6: 1.5 to 2; 6-12: 2.5 to 3.5; 12-30: 4 to 6); a vehicle not seen at the stop on
  that trip by the end of polling counts as wrong ("never"), as the scorer counts it;
- beside it, "timetable + delay" as a consumer can compute it from the same feeds: each stop's
  scheduled time (its time less its delay, as the trip updates gave it) plus the vehicle's
  current delay, carried unchanged: how late it reached the latest stop it was seen reaching
  (that arrival, from the positions, less the stop's scheduled time).

It polls until the feed's clock passes `--to` plus 36 minutes (the longest horizon and its
late tolerance), then prints a table. Stops a vehicle had passed before polling began are not
known and their predictions are not scored ("unobserved").

Usage: poll_accuracy.py --url http://127.0.0.1:3000 --from 1796644800 --to 1796647200
"""

import argparse
import json
import sys
import time
import urllib.request

from google.transit import gtfs_realtime_pb2

# MBTA's buckets: (name, from s, to s, early tolerance s, late tolerance s).
BUCKETS = [
    ("0-3 min", 0, 180, 60, 60),
    ("3-6 min", 180, 360, 90, 120),
    ("6-12 min", 360, 720, 150, 210),
    ("12-30 min", 720, 1800, 240, 360),
]
AFTER_S = 1800 + 360


def bucket_of(horizon_s):
    for index, (_, low, high, _, _) in enumerate(BUCKETS):
        if low <= horizon_s < high or (index == len(BUCKETS) - 1 and horizon_s == high):
            return index
    return None


def scorer_counts(url):
    """The pipeline's own scorer's counts so far, summed over routes: (bucket, method) ->
    [accurate, scored + expired]."""
    with urllib.request.urlopen(f"{url}/api/accuracy", timeout=10) as answer:
        routes = json.load(answer)["routes"]
    counts = {}
    for route in routes:
        for cell in route["cells"]:
            row = counts.setdefault((cell["bucket"], cell["method"]), [0, 0])
            row[0] += cell["accurate"]
            row[1] += cell["scored"] + cell["expired"]
    return counts


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        feed = gtfs_realtime_pb2.FeedMessage()
        feed.ParseFromString(answer.read())
        return feed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the board, e.g. http://127.0.0.1:3000")
    parser.add_argument("--from", dest="start", type=int, required=True,
                        help="first sample instant, Unix seconds of the feed's clock")
    parser.add_argument("--to", dest="end", type=int, required=True,
                        help="no sample from this instant on")
    parser.add_argument("--every", type=float, default=0.1, help="wall seconds between polls")
    parser.add_argument("--sample-every", type=int, default=30,
                        help="feed seconds between samples (a rider's app polling)")
    parser.add_argument("--deadline", type=float, default=900,
                        help="wall seconds before giving up on the feed's clock")
    parser.add_argument("--scorer", action="store_true",
                        help="also print the pipeline's own scorer's figures (/api/accuracy) "
                             "for the samples it resolved while this polled")
    args = parser.parse_args()

    samples = []  # (vehicle, trip, start_date, seq, predicted_s, naive_s, horizon_s)
    arrived = {}  # (vehicle, trip, start_date, seq) -> feed seconds
    scheduled = {}  # (trip, start_date, seq) -> scheduled arrival, feed seconds
    latest_arrival = {}  # vehicle -> (trip, start_date, seq) it was last seen reaching
    # Per vehicle: (trip, start_date, seq, stopped, feed seconds) at its last poll.
    last_seen = {}
    previous_poll_s = None
    scorer_before = None
    next_sample = args.start
    polls = 0
    began = time.monotonic()
    now_s = 0
    while now_s < args.end + AFTER_S:
        if time.monotonic() - began > args.deadline:
            sys.exit(f"poll_accuracy: the feed's clock did not reach {args.end + AFTER_S} "
                     f"within {args.deadline} s (it is at {now_s})")
        positions = fetch(f"{args.url}/gtfs-rt/vehicle-positions")
        now_s = positions.header.timestamp
        polls += 1
        for entity in positions.entity:
            if not entity.HasField("vehicle") or not entity.vehicle.HasField("trip"):
                continue
            v = entity.vehicle
            vehicle = v.vehicle.id or entity.id
            trip = (v.trip.trip_id, v.trip.start_date)
            seq = v.current_stop_sequence
            stopped = v.current_status == gtfs_realtime_pb2.VehiclePosition.STOPPED_AT
            before = last_seen.get(vehicle)
            if before is not None and previous_poll_s is not None and before[0] == trip:
                # Every stop of the trip it reached since the last poll: the ones it is past,
                # and the one it stands at.
                reached_to = seq if stopped else seq - 1
                reached_from = before[1] + (1 if before[2] else 0)
                at = (previous_poll_s + now_s) / 2
                for s in range(reached_from, reached_to + 1):
                    arrived.setdefault((vehicle, trip[0], trip[1], s), at)
                    latest_arrival[vehicle] = (trip[0], trip[1], s)
            last_seen[vehicle] = (trip, seq, stopped)
        previous_poll_s = now_s

        if next_sample < args.end:
            updates = fetch(f"{args.url}/gtfs-rt/trip-updates")
            seen_s = updates.header.timestamp
            for entity in updates.entity:
                u = entity.trip_update
                for update in u.stop_time_update:
                    if update.HasField("arrival") and update.arrival.HasField("delay"):
                        key = (u.trip.trip_id, u.trip.start_date, update.stop_sequence)
                        scheduled[key] = update.arrival.time - update.arrival.delay
            if seen_s >= next_sample:
                if args.scorer and scorer_before is None:
                    scorer_before = scorer_counts(args.url)
                current_delay = {}
                for vehicle, stop in latest_arrival.items():
                    if stop in scheduled:
                        current_delay[vehicle] = arrived[(vehicle, *stop)] - scheduled[stop]
                for entity in updates.entity:
                    if not entity.HasField("trip_update"):
                        continue
                    u = entity.trip_update
                    if u.trip.schedule_relationship == gtfs_realtime_pb2.TripDescriptor.CANCELED:
                        continue
                    vehicle = u.vehicle.id
                    for update in u.stop_time_update:
                        if not update.HasField("arrival") or not update.arrival.time:
                            continue
                        predicted = update.arrival.time
                        naive = None
                        if update.arrival.HasField("delay") and vehicle in current_delay:
                            naive = round(predicted - update.arrival.delay
                                          + current_delay[vehicle])
                        samples.append((vehicle, u.trip.trip_id, u.trip.start_date,
                                        update.stop_sequence, predicted, naive,
                                        predicted - seen_s, seen_s))
                while next_sample <= seen_s:
                    next_sample += args.sample_every
        time.sleep(args.every)
    scorer_after = scorer_counts(args.url) if args.scorer else None

    # Each sample scored against when its vehicle reached the stop on that trip.
    rows = {}
    unobserved = 0
    for vehicle, trip, date, seq, predicted, naive, horizon, seen_s in samples:
        index = bucket_of(horizon)
        if index is None:
            continue
        came = arrived.get((vehicle, trip, date, seq))
        if came is None:
            # Passed before it was first seen on this trip (or never came): only a stop it was
            # seen approaching, or a trip it was never seen on, is known never to have come.
            seen = last_seen.get(vehicle)
            known = seen is None or seen[0] != (trip, date) or seen[1] <= seq
            if not known:
                unobserved += 1
                continue
        _, _, _, early, late = BUCKETS[index]
        for method, value in (("learnt", predicted), ("timetable + delay", naive)):
            if value is None:
                continue
            row = rows.setdefault((index, method), [0, 0, 0, 0.0])
            row[1] += 1
            if came is None:
                row[2] += 1
                continue
            error = came - value
            row[0] += int(-early <= error <= late)
            row[3] += abs(error)

    print(f"{polls} polls of the vehicle positions, {len(samples)} predictions sampled "
          f"every {args.sample_every} s of the feed's clock from {args.start} to {args.end}; "
          f"{len(arrived)} arrivals seen; {unobserved} samples of stops passed before the "
          f"vehicle was first seen, not scored")
    print(f"{'bucket':<10} | {'learnt (the feed)':^34} | {'timetable + delay (from the feed)':^34}")
    for index, (name, *_rest) in enumerate(BUCKETS):
        cells = []
        for method in ("learnt", "timetable + delay"):
            right, taken, never, abs_error = rows.get((index, method), [0, 0, 0, 0.0])
            if taken == 0:
                cells.append(f"{'-':^34}")
                continue
            came = taken - never
            mae = abs_error / came if came else 0.0
            cells.append(f"{100.0 * right / taken:5.1f} % MAE {mae:4.0f} s n={taken:<6} never {never:<5}")
        print(f"{name:<10} | {cells[0]:^34} | {cells[1]:^34}")

    if scorer_after is not None:
        before = scorer_before or {}
        print("\nthe pipeline's own scorer, the samples it resolved from the first sample to the "
              "end of polling (share right, samples):")
        print(f"{'bucket':<10} | {'learnt':^22} | {'timetable + delay':^22}")
        for name, *_rest in BUCKETS:
            bucket = name.split()[0]
            cells = []
            for method in ("learnt", "delay"):
                right, taken = scorer_after.get((bucket, method), [0, 0])
                right0, taken0 = before.get((bucket, method), [0, 0])
                right, taken = right - right0, taken - taken0
                cells.append(f"{100.0 * right / taken:5.1f} % n={taken}" if taken else "-")
            print(f"{name:<10} | {cells[0]:^22} | {cells[1]:^22}")


if __name__ == "__main__":
    main()
