"""GTFS-realtime from the dashboard, decoded by MobilityData's official Python bindings
(gtfs-realtime-bindings, PyPI), every id checked against the static feed the same server serves.

    python gtfs_rt_check.py http://127.0.0.1:3000

Prints a JSON summary on success; exits non-zero, naming the first id that is not in the
static feed (or the first inconsistency), on failure.
"""

import csv
import io
import json
import sys
import urllib.request
import zipfile

from google.transit import gtfs_realtime_pb2


def get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        if response.status != 200:
            sys.exit(f"{url}: HTTP {response.status}")
        return response.headers.get("Content-Type", ""), response.read()


def table(archive, name):
    with archive.open(name) as f:
        return list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8-sig")))


def feed(base, path):
    content_type, body = get(base + path)
    if content_type != "application/x-protobuf":
        sys.exit(f"{path}: content type {content_type!r}")
    message = gtfs_realtime_pb2.FeedMessage()
    message.ParseFromString(body)
    if message.header.gtfs_realtime_version != "2.0":
        sys.exit(f"{path}: version {message.header.gtfs_realtime_version!r}")
    if message.header.incrementality != gtfs_realtime_pb2.FeedHeader.FULL_DATASET:
        sys.exit(f"{path}: not a full dataset")
    if message.header.timestamp <= 0:
        sys.exit(f"{path}: no timestamp")
    return message


def main():
    base = sys.argv[1].rstrip("/")
    _, static = get(base + "/gtfs/static.zip")
    archive = zipfile.ZipFile(io.BytesIO(static))
    trips = {t["trip_id"]: t for t in table(archive, "trips.txt")}
    stops = {s["stop_id"]: s for s in table(archive, "stops.txt")}
    routes = {r["route_id"] for r in table(archive, "routes.txt")}
    calls = {}
    for st in table(archive, "stop_times.txt"):
        calls.setdefault(st["trip_id"], {})[int(st["stop_sequence"])] = st["stop_id"]
        if st["stop_sequence"] == "1":
            trips[st["trip_id"]]["start_time"] = st["departure_time"]

    def check_trip(where, trip):
        if trip.route_id not in routes:
            sys.exit(f"{where}: route_id {trip.route_id!r} is not in routes.txt")
        if not trip.HasField("trip_id"):
            return False
        static_trip = trips.get(trip.trip_id)
        if static_trip is None:
            sys.exit(f"{where}: trip_id {trip.trip_id!r} is not in trips.txt")
        if static_trip["route_id"] != trip.route_id:
            sys.exit(f"{where}: {trip.trip_id} runs on {static_trip['route_id']}, not {trip.route_id}")
        if int(static_trip["direction_id"]) != trip.direction_id:
            sys.exit(f"{where}: {trip.trip_id} has direction {static_trip['direction_id']}")
        if static_trip["start_time"] != trip.start_time:
            sys.exit(f"{where}: {trip.trip_id} starts at {static_trip['start_time']}, not {trip.start_time}")
        if len(trip.start_date) != 8 or not trip.start_date.isdigit():
            sys.exit(f"{where}: start_date {trip.start_date!r}")
        return True

    def check_stop(where, trip_id, sequence, stop_id):
        if stop_id not in stops:
            sys.exit(f"{where}: stop_id {stop_id!r} is not in stops.txt")
        if stops[stop_id]["location_type"] not in ("", "0"):
            sys.exit(f"{where}: stop_id {stop_id!r} is a station, not a platform")
        if trip_id and calls[trip_id].get(sequence) != stop_id:
            sys.exit(f"{where}: {trip_id} calls at {calls[trip_id].get(sequence)!r} as stop {sequence}, not {stop_id!r}")

    positions = feed(base, "/gtfs-rt/vehicle-positions")
    vehicles = with_trip = 0
    statuses = set()
    seen_routes = set()
    for entity in positions.entity:
        where = f"vehicle {entity.id}"
        if not entity.HasField("vehicle"):
            sys.exit(f"{where}: no vehicle")
        v = entity.vehicle
        vehicles += 1
        seen_routes.add(v.trip.route_id)
        has_trip = check_trip(where, v.trip)
        with_trip += has_trip
        check_stop(where, v.trip.trip_id if has_trip else None, v.current_stop_sequence, v.stop_id)
        if not (41.6 < v.position.latitude < 42.1 and -88.0 < v.position.longitude < -87.5):
            sys.exit(f"{where}: at {v.position.latitude}, {v.position.longitude}, not in Chicago")
        if not 0 <= v.position.bearing < 360:
            sys.exit(f"{where}: bearing {v.position.bearing}")
        statuses.add(gtfs_realtime_pb2.VehiclePosition.VehicleStopStatus.Name(v.current_status))

    updates = feed(base, "/gtfs-rt/trip-updates")
    trip_updates = stop_time_updates = with_uncertainty = 0
    for entity in updates.entity:
        where = f"trip update {entity.id}"
        if not entity.HasField("trip_update"):
            sys.exit(f"{where}: no trip update")
        u = entity.trip_update
        if not check_trip(where, u.trip):
            sys.exit(f"{where}: no trip_id")
        trip_updates += 1
        last_time = 0
        for s in u.stop_time_update:
            check_stop(where, u.trip.trip_id, s.stop_sequence, s.stop_id)
            # Both times at every stop (the static feed gives both), running forward: the
            # arrival not before the departure from the stop before, the departure not before
            # the arrival (GTFS-realtime's validator rules E022 and E025).
            if not (s.HasField("arrival") and s.HasField("departure")):
                sys.exit(f"{where}: stop {s.stop_sequence} lacks an arrival or a departure")
            if s.arrival.time < last_time:
                sys.exit(f"{where}: arrival times go back at stop {s.stop_sequence}")
            if s.departure.time < s.arrival.time:
                sys.exit(f"{where}: leaves stop {s.stop_sequence} before it arrives")
            last_time = s.departure.time
            for name, event in (("arrival", s.arrival), ("departure", s.departure)):
                if event.HasField("uncertainty"):
                    if event.uncertainty < 0:
                        sys.exit(f"{where}: {name} uncertainty {event.uncertainty} at stop {s.stop_sequence}")
                    with_uncertainty += 1
            stop_time_updates += 1

    # The JSON form, for people, is the same feed.
    _, body = get(base + "/gtfs-rt/vehicle-positions?format=json")
    as_json = json.loads(body)
    if len(as_json.get("entity", [])) != vehicles:
        sys.exit("the JSON form does not have the protobuf's vehicles")

    print(json.dumps({
        "vehicles": vehicles,
        "vehicles_with_trip": with_trip,
        "statuses": sorted(statuses),
        "trip_updates": trip_updates,
        "stop_time_updates": stop_time_updates,
        "times_with_uncertainty": with_uncertainty,
        "routes": sorted(seen_routes),
    }))


if __name__ == "__main__":
    main()
