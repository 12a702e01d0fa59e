#!/usr/bin/env python3
"""A seed-style Python producer of train arrivals: the peer transit's Kafka benchmark measures
itself against.

As the original project's producers did, every arrival is a dict turned into Avro and handed to
Confluent's client one at a time: fastavro's ``schemaless_writer`` writes the key
(``station_key.avsc``) and the value (``arrival.avsc``) in the Confluent wire format (magic byte
0, the 4-byte schema id, the Avro body), and ``confluent_kafka.Producer.produce`` sends them,
``poll(0)`` after each to serve delivery reports, ``flush()`` at the end. The producer settings
are the ones transit's side gets (``-X key=value``, e.g. ``acks=all``,
``enable.idempotence=true``, ``partitioner=murmur2_random``, ``linger.ms``, ``batch.size``).

    python produce_arrivals.py --brokers 127.0.0.1:9092 --topic arrivals \\
        --arrivals arrivals.jsonl --key-schema-id 1 --value-schema-id 2 \\
        -X acks=all -X enable.idempotence=true -X linger.ms=5 [--broker-pid PID]

``--arrivals`` holds one JSON object a line, ``{"timestamp_ms": .., "value": {..}}`` with the
value in ``arrival.avsc``'s field names and symbols (``cargo bench --bench kafka_throughput``
writes it from transit's simulation, so both sides send the same arrivals). Without it,
``--count`` synthetic arrivals are made up.

The file is read before the clock starts. Timed: from the first record encoded to the last one
acknowledged (``flush``). Printed last, on one line, as JSON: records delivered and failed,
seconds, this process's CPU seconds (all threads: Python's and librdkafka's), the main thread's
(where the GIL-bound encoding and ``produce`` calls run), CPU per thread name, and the broker
JVM's CPU seconds over the same window when ``--broker-pid`` names it (from
``/proc/<pid>/stat``).
"""

import argparse
import io
import json
import os
import resource
import struct
import sys
import time
from pathlib import Path

import confluent_kafka
from confluent_kafka import Producer, libversion
from fastavro import parse_schema, schemaless_writer

SCHEMAS = Path(__file__).resolve().parents[3] / "transit-core" / "schemas"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load_schema(name):
    with open(SCHEMAS / name, encoding="utf-8") as f:
        return parse_schema(json.load(f))


def confluent(schema, schema_id, datum):
    """The Confluent wire format: magic byte, schema id, Avro body."""
    out = io.BytesIO()
    out.write(struct.pack(">bI", 0, schema_id))
    schemaless_writer(out, schema, datum)
    return out.getvalue()


def read_arrivals(path):
    with open(path, encoding="utf-8") as f:
        return [(line["timestamp_ms"], line["value"]) for line in map(json.loads, f)]


def synthetic_arrivals(count):
    now = int(time.time() * 1000)
    lines = ["blue", "red", "green"]
    out = []
    for i in range(count):
        out.append(
            (
                now - count + i,
                {
                    "station_id": 40000 + i % 300,
                    "train_id": "%s%03d" % (("BL", "RD", "GN")[i % 3], i % 10),
                    "direction": "ab"[i % 2],
                    "line": lines[i % 3],
                    "train_status": "in_service",
                    "prev_station_id": 40000 + (i + 1) % 300,
                    "prev_direction": "ab"[i % 2],
                    "route_id": ("Blue", "Red", "G")[i % 3],
                },
            )
        )
    return out


def process_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        with open("/proc/%s/stat" % pid, encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def thread_ticks():
    """CPU ticks of each of this process's threads, by thread id: (name, ticks)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/stat" % tid, encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat.rsplit(")", 1)[1].split()
        out[tid] = (name, int(fields[11]) + int(fields[12]))
    return out


def load_average():
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--arrivals", help="JSON lines of arrivals (else --count synthetic ones)")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--key-schema-id", type=int, default=1)
    parser.add_argument("--value-schema-id", type=int, default=2)
    parser.add_argument("-X", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--broker-pid", type=int, default=os.environ.get("KAFKA_PID"))
    args = parser.parse_args()

    key_schema = load_schema("station_key.avsc")
    value_schema = load_schema("arrival.avsc")
    arrivals = read_arrivals(args.arrivals) if args.arrivals else synthetic_arrivals(args.count)

    config = {"bootstrap.servers": args.brokers}
    for setting in args.settings:
        key, _, value = setting.partition("=")
        config[key.strip()] = value.strip()
    failed = []
    delivered = [0]

    def on_delivery(error, _message):
        if error is None:
            delivered[0] += 1
        else:
            failed.append(str(error))

    config["on_delivery"] = on_delivery
    producer = Producer(config)
    # Connected and the topic's metadata known before the clock starts, as on transit's side.
    producer.list_topics(args.topic, timeout=30)
    topic = args.topic

    broker_before = process_ticks(args.broker_pid) if args.broker_pid else None
    threads_before = thread_ticks()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    main_before = time.thread_time()
    started = time.perf_counter()

    for timestamp_ms, value in arrivals:
        key = confluent(key_schema, args.key_schema_id, {"station_id": value["station_id"]})
        value = confluent(value_schema, args.value_schema_id, value)
        while True:
            try:
                producer.produce(topic, value=value, key=key, timestamp=timestamp_ms)
                break
            except BufferError:
                # librdkafka's queue is full: wait for deliveries to free room.
                producer.poll(0.001)
        producer.poll(0)
    remaining = producer.flush(120)

    seconds = time.perf_counter() - started
    main_cpu = time.thread_time() - main_before
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    threads_after = thread_ticks()
    broker_after = process_ticks(args.broker_pid) if args.broker_pid else None

    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (
        usage_after.ru_stime - usage_before.ru_stime
    )
    threads = {}
    for tid, (name, ticks) in threads_after.items():
        before = threads_before.get(tid, (name, 0))[1]
        threads[name] = threads.get(name, 0.0) + (ticks - before) / CLOCK_TICKS
    result = {
        "records": len(arrivals),
        "delivered": delivered[0],
        "failed": len(failed),
        "first_error": failed[0] if failed else None,
        "unflushed": remaining,
        "seconds": seconds,
        "rate": delivered[0] / seconds if seconds > 0 else 0.0,
        "cpu_seconds": cpu,
        "main_thread_cpu_seconds": main_cpu,
        "threads": {name: round(v, 3) for name, v in threads.items()},
        "broker_cpu_seconds": (
            (broker_after - broker_before) / CLOCK_TICKS
            if broker_before is not None and broker_after is not None
            else None
        ),
        "load": load_average(),
        "client": "confluent-kafka %s (librdkafka %s)" % (confluent_kafka.__version__, libversion()[0]),
    }
    print(
        "python peer: %d of %d delivered in %.3f s: %.0f records/s, cpu %.2f s (main thread %.2f s)"
        % (delivered[0], len(arrivals), seconds, result["rate"], cpu, main_cpu),
        file=sys.stderr,
    )
    print(json.dumps(result))
    return 0 if delivered[0] == len(arrivals) and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
