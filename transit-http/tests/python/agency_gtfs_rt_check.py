"""GTFS-realtime of any agency's simulated day, decoded by MobilityData's official Python
bindings (gtfs-realtime-bindings, PyPI), every id checked against the static feed the same
server serves (the input feed itself).

    python agency_gtfs_rt_check.py http://127.0.0.1:3000 [--now-within SECONDS]

Every trip a feed names must run in the static feed on its start_date (calendar.txt and
calendar_dates.txt), as a trip planner matches a trip update to an active trip.

With --predicted, the trip updates are the predictor's: every arrival and departure states its
uncertainty (seconds, not negative), and on a trip of its own schedule its delay is its time
less the static feed's stop time (arrival_time or departure_time, from noon minus 12 hours of
its start_date in the agency's timezone), as the GTFS-realtime reference requires of both.

A trip update whose trip is CANCELED (a trip the simulation dropped) names a trip of the static
feed running on its start_date, as any other, and has no stop time updates; no trip instance is
both CANCELED and predicted in one feed.

With --now-within, every timestamp (the headers', the vehicles', the trip updates') must be
within SECONDS of this machine's clock (a live run). Prints a JSON summary on success; exits
non-zero, naming the first id or rule broken, on failure.
"""

import csv
import datetime
import io
import json
import math
import sys
import time
import urllib.request
import zipfile
import zoneinfo

from google.transit import gtfs_realtime_pb2

TD = gtfs_realtime_pb2.TripDescriptor
STU = gtfs_realtime_pb2.TripUpdate.StopTimeUpdate


def get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        if response.status != 200:
            sys.exit(f"{url}: HTTP {response.status}")
        return response.headers.get("Content-Type", ""), response.read()


def table(archive, name):
    if name not in archive.namelist():
        return []
    with archive.open(name) as f:
        return list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8-sig")))


def seconds(hms):
    h, m, s = (int(x) for x in hms.strip().split(":"))
    return h * 3600 + m * 60 + s


def main():
    base = sys.argv[1].rstrip("/")
    within = None
    if "--now-within" in sys.argv:
        within = float(sys.argv[sys.argv.index("--now-within") + 1])
    predicted = "--predicted" in sys.argv
    _, static = get(base + "/gtfs/static.zip")
    archive = zipfile.ZipFile(io.BytesIO(static))
    trips = {t["trip_id"]: t for t in table(archive, "trips.txt")}
    stops = {s["stop_id"]: s for s in table(archive, "stops.txt")}
    routes = {r["route_id"] for r in table(archive, "routes.txt")}
    frequencies = {}
    for f in table(archive, "frequencies.txt"):
        frequencies.setdefault(f["trip_id"], []).append(f)
    shapes = {}
    for pt in table(archive, "shapes.txt"):
        shapes.setdefault(pt["shape_id"], []).append(
            (int(pt["shape_pt_sequence"]), float(pt["shape_pt_lat"]), float(pt["shape_pt_lon"])))
    for points in shapes.values():
        points.sort()
    calendar = {c["service_id"].strip(): c for c in table(archive, "calendar.txt")}
    exceptions = {(d["service_id"].strip(), d["date"].strip()): d["exception_type"].strip()
                  for d in table(archive, "calendar_dates.txt")}
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

    def runs_on(service_id, yyyymmdd):
        exception = exceptions.get((service_id, yyyymmdd))
        if exception is not None:
            return exception == "1"
        c = calendar.get(service_id)
        if c is None or not c["start_date"].strip() <= yyyymmdd <= c["end_date"].strip():
            return False
        weekday = datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])).weekday()
        return c[weekdays[weekday]].strip() == "1"

    start_dates = set()
    calls = {}
    scheduled_times = {}
    for st in table(archive, "stop_times.txt"):
        calls.setdefault(st["trip_id"], {})[int(st["stop_sequence"])] = st["stop_id"]
        scheduled_times[(st["trip_id"], int(st["stop_sequence"]))] = (
            st.get("arrival_time", "").strip(), st.get("departure_time", "").strip())
    agencies = table(archive, "agency.txt")
    timezone = zoneinfo.ZoneInfo(agencies[0]["agency_timezone"].strip())

    def service_start(yyyymmdd):
        # GTFS's times count from noon minus 12 hours, local time, of the service date.
        noon = datetime.datetime(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]), 12,
                                 tzinfo=timezone)
        return int(noon.timestamp()) - 12 * 3600

    def check_time(where, t):
        if within is not None and abs(t - time.time()) > within:
            sys.exit(f"{where}: timestamp {t} is {t - time.time():.1f} s from the wall clock")

    def feed(path):
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
        check_time(f"{path} header", message.header.timestamp)
        ids = [e.id for e in message.entity]
        if len(set(ids)) != len(ids):
            sys.exit(f"{path}: entity ids repeat")
        return message

    def check_trip(where, trip, cancelled=False):
        static_trip = trips.get(trip.trip_id)
        if static_trip is None:
            sys.exit(f"{where}: trip_id {trip.trip_id!r} is not in trips.txt")
        if trip.route_id not in routes or static_trip["route_id"] != trip.route_id:
            sys.exit(f"{where}: route_id {trip.route_id!r}, trip runs on {static_trip['route_id']!r}")
        if static_trip.get("direction_id", "") not in ("", str(trip.direction_id)):
            sys.exit(f"{where}: direction_id {trip.direction_id}, not {static_trip['direction_id']}")
        if len(trip.start_date) != 8 or not trip.start_date.isdigit():
            sys.exit(f"{where}: start_date {trip.start_date!r}")
        if not runs_on(static_trip["service_id"].strip(), trip.start_date):
            sys.exit(f"{where}: trip {trip.trip_id} (service {static_trip['service_id']}) does not run "
                     f"on its start_date {trip.start_date} in the static feed's calendar")
        start_dates.add(trip.start_date)
        runs = frequencies.get(trip.trip_id)
        if runs:
            # Frequency-based: start_time required; exact_times=1 on the headway grid and
            # SCHEDULED, exact_times=0 UNSCHEDULED.
            if not trip.HasField("start_time"):
                sys.exit(f"{where}: frequency trip {trip.trip_id} without start_time")
            start = seconds(trip.start_time)
            run = next((f for f in runs if seconds(f["start_time"]) <= start < seconds(f["end_time"])), None)
            if run is None:
                sys.exit(f"{where}: start_time {trip.start_time} in no frequency of {trip.trip_id}")
            exact = run.get("exact_times", "") == "1"
            if exact and (start - seconds(run["start_time"])) % int(run["headway_secs"]):
                sys.exit(f"{where}: start_time {trip.start_time} off the headway")
            expected = TD.CANCELED if cancelled else TD.SCHEDULED if exact else TD.UNSCHEDULED
            if trip.schedule_relationship != expected:
                sys.exit(f"{where}: schedule_relationship {trip.schedule_relationship}")
        else:
            if trip.HasField("start_time"):
                sys.exit(f"{where}: start_time on a trip of its own schedule")
            expected = TD.CANCELED if cancelled else TD.SCHEDULED
            if trip.schedule_relationship != expected:
                sys.exit(f"{where}: schedule_relationship {trip.schedule_relationship}")
        return bool(runs) and trip.schedule_relationship == TD.UNSCHEDULED

    def check_stop(where, trip_id, sequence, stop_id):
        if stop_id not in stops:
            sys.exit(f"{where}: stop_id {stop_id!r} is not in stops.txt")
        if calls[trip_id].get(sequence) != stop_id:
            sys.exit(f"{where}: {trip_id} calls at {calls[trip_id].get(sequence)!r} as stop_sequence {sequence}, not {stop_id!r}")

    def metres_from_shape(shape_id, lat, lon):
        # Equirectangular metres from the nearest segment of the shape (GTFS-realtime
        # validator's E029 flags a vehicle far from its trip's shape).
        k = math.cos(math.radians(lat))
        px, py = lon * k * 111_320, lat * 111_320
        best = float("inf")
        points = [(p[2] * k * 111_320, p[1] * 111_320) for p in shapes[shape_id]]
        for (ax, ay), (bx, by) in zip(points, points[1:]):
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            t = 0 if length2 == 0 else max(0, min(1, ((px - ax) * dx + (py - ay) * dy) / length2))
            best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
        return best

    farthest_from_shape = 0.0
    lats = [float(s["stop_lat"]) for s in stops.values() if s.get("stop_lat")]
    lons = [float(s["stop_lon"]) for s in stops.values() if s.get("stop_lon")]
    positions = feed("/gtfs-rt/vehicle-positions")
    statuses = set()
    seen_routes = set()
    for entity in positions.entity:
        where = f"vehicle {entity.id}"
        if not entity.HasField("vehicle"):
            sys.exit(f"{where}: no vehicle")
        v = entity.vehicle
        if v.vehicle.id != entity.id:
            sys.exit(f"{where}: vehicle id {v.vehicle.id!r}")
        seen_routes.add(v.trip.route_id)
        check_trip(where, v.trip)
        check_stop(where, v.trip.trip_id, v.current_stop_sequence, v.stop_id)
        check_time(where, v.timestamp)
        p = v.position
        if not (min(lats) - 0.01 <= p.latitude <= max(lats) + 0.01 and min(lons) - 0.01 <= p.longitude <= max(lons) + 0.01):
            sys.exit(f"{where}: at {p.latitude}, {p.longitude}, outside the feed's stops")
        shape_id = trips[v.trip.trip_id].get("shape_id", "")
        if shape_id in shapes:
            metres = metres_from_shape(shape_id, p.latitude, p.longitude)
            farthest_from_shape = max(farthest_from_shape, metres)
            if metres > 100:
                sys.exit(f"{where}: {metres:.0f} m from its trip's shape {shape_id}")
        if p.HasField("bearing") and not 0 <= p.bearing < 360:
            sys.exit(f"{where}: bearing {p.bearing}")
        statuses.add(gtfs_realtime_pb2.VehiclePosition.VehicleStopStatus.Name(v.current_status))

    updates = feed("/gtfs-rt/trip-updates")
    now = updates.header.timestamp
    stop_time_updates = 0
    uncertainties = []
    delays_checked = 0
    cancelled, running = set(), set()
    for entity in updates.entity:
        where = f"trip update {entity.id}"
        if not entity.HasField("trip_update"):
            sys.exit(f"{where}: no trip update")
        u = entity.trip_update
        instance = (u.trip.trip_id, u.trip.start_date, u.trip.start_time)
        if u.trip.schedule_relationship == TD.CANCELED:
            check_trip(where, u.trip, cancelled=True)
            check_time(where, u.timestamp)
            if u.stop_time_update:
                sys.exit(f"{where}: a CANCELED trip with stop time updates")
            cancelled.add(instance)
            continue
        running.add(instance)
        unscheduled = check_trip(where, u.trip)
        check_time(where, u.timestamp)
        if not u.stop_time_update:
            sys.exit(f"{where}: no stop time updates")
        if predicted and not u.vehicle.id:
            sys.exit(f"{where}: no vehicle named")
        last_sequence, last_time = -1, now
        for s in u.stop_time_update:
            check_stop(where, u.trip.trip_id, s.stop_sequence, s.stop_id)
            if s.stop_sequence <= last_sequence:
                sys.exit(f"{where}: stop_sequence {s.stop_sequence} not after {last_sequence}")
            last_sequence = s.stop_sequence
            for name in ("arrival", "departure"):
                if not s.HasField(name) or not getattr(s, name).HasField("time"):
                    sys.exit(f"{where}: stop {s.stop_sequence} has no {name} time")
                t = getattr(s, name).time
                # Stops not yet visited are never predicted in the past, and times never go back.
                if t < last_time:
                    sys.exit(f"{where}: {name} at stop {s.stop_sequence} is {t}, before {last_time}")
                last_time = t
                if unscheduled and getattr(s, name).HasField("delay"):
                    sys.exit(f"{where}: a delay on an UNSCHEDULED trip")
                if predicted:
                    event = getattr(s, name)
                    if not event.HasField("uncertainty") or event.uncertainty < 0:
                        sys.exit(f"{where}: {name} at stop {s.stop_sequence} has no uncertainty")
                    uncertainties.append(event.uncertainty)
                    static_time = scheduled_times.get((u.trip.trip_id, s.stop_sequence), ("", ""))
                    static_time = static_time[0 if name == "arrival" else 1]
                    if not unscheduled and u.trip.trip_id not in frequencies and static_time:
                        if not event.HasField("delay"):
                            sys.exit(f"{where}: {name} at stop {s.stop_sequence} has no delay")
                        expected_delay = t - (service_start(u.trip.start_date) + seconds(static_time))
                        if event.delay != expected_delay:
                            sys.exit(f"{where}: {name} delay {event.delay} at stop {s.stop_sequence}, "
                                     f"its time less the static {static_time} is {expected_delay}")
                        delays_checked += 1
            expected = STU.UNSCHEDULED if unscheduled else STU.SCHEDULED
            if s.schedule_relationship != expected:
                sys.exit(f"{where}: stop {s.stop_sequence} schedule_relationship {s.schedule_relationship}")
            stop_time_updates += 1

    if cancelled & running:
        sys.exit(f"trips both CANCELED and predicted: {sorted(cancelled & running)[:3]}")

    _, body = get(base + "/gtfs-rt/trip-updates?format=json")
    if len(json.loads(body).get("entity", [])) != len(updates.entity):
        sys.exit("the JSON form does not have the protobuf's trip updates")

    print(json.dumps({
        "vehicles": len(positions.entity),
        "statuses": sorted(statuses),
        "trip_updates": len(updates.entity),
        "cancelled": len(cancelled),
        "stop_time_updates": stop_time_updates,
        "uncertainties": len(uncertainties),
        "median_uncertainty_s": sorted(uncertainties)[len(uncertainties) // 2] if uncertainties else None,
        "delays_checked": delays_checked,
        "routes": sorted(seen_routes),
        "start_dates": sorted(start_dates),
        "farthest_from_shape_m": round(farthest_from_shape, 1),
        "header_vs_wall_clock_s": round(positions.header.timestamp - time.time(), 1),
    }))


if __name__ == "__main__":
    main()
