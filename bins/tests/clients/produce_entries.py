#!/usr/bin/env python3
"""Writes turnstile entries as a third-party Confluent producer does.

confluent-kafka's AvroSerializer, over a SchemaRegistryClient given only the registry's URL,
serializes --count entries of one station and line with transit's own schema files (--schema
for the value, --key-schema for the key) and registers them itself (`auto.register.schemas`,
under `<topic>-key` and `<topic>-value`). Entries are keyed as transit keys them: an Avro
StationKey record holding the station id, partitioned with Java's partitioner (murmur2, as
transit's Kafka bus and Kafka's Java clients do), so all entries of a station land in one
partition.

Prints one JSON line:

    {"topic": ..., "requested": N, "delivered": N, "failed": 0, "errors": [...],
     "partitions": [...], "key_schema_id": ..., "value_schema_id": ...}

and exits 1 unless every entry was delivered (2 on bad arguments).

    python produce_entries.py --bootstrap 127.0.0.1:9092 --registry-url http://127.0.0.1:8081 \
        --topic org.chicago.cta.turnstile.entries.v1 --count 500 --station-id 40380 --line blue \
        --schema transit-core/schemas/turnstile.avsc --key-schema transit-core/schemas/station_key.avsc
"""

import argparse
import json
import struct
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

MAX_ERRORS = 5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, host:port")
    parser.add_argument("--registry-url", required=True, help="the schema registry's URL")
    parser.add_argument("--topic", required=True, help="the turnstile-entries topic")
    parser.add_argument("--count", type=int, required=True, help="entries to write")
    parser.add_argument("--station-id", type=int, required=True, help="the station entered")
    parser.add_argument("--line", required=True, help="blue, red or green")
    parser.add_argument("--station-name", default=None, help="its name (default: made up)")
    parser.add_argument(
        "--schema",
        default="transit-core/schemas/turnstile.avsc",
        help="the value's Avro schema file (transit's turnstile.avsc)",
    )
    parser.add_argument(
        "--key-schema",
        default="transit-core/schemas/station_key.avsc",
        help="the key's Avro schema file (transit's station_key.avsc)",
    )
    parser.add_argument(
        "--no-auto-register",
        action="store_true",
        help="look the schemas up instead of registering them",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra librdkafka setting for the producer (repeatable)",
    )
    args = parser.parse_args()
    if args.count < 0:
        parser.error("--count must not be negative")
    return args


def settings(pairs):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            sys.exit(f"produce_entries: --config wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def schema_id(data):
    if data is None or len(data) < 5 or data[0] != 0:
        return None
    return struct.unpack(">I", data[1:5])[0]


def main():
    args = parse_args()
    with open(args.schema, encoding="utf-8") as file:
        value_schema = file.read()
    with open(args.key_schema, encoding="utf-8") as file:
        key_schema = file.read()

    registry = SchemaRegistryClient({"url": args.registry_url})
    conf = {"auto.register.schemas": not args.no_auto_register}
    key_serializer = AvroSerializer(registry, key_schema, conf=conf)
    value_serializer = AvroSerializer(registry, value_schema, conf=conf)

    config = {
        "bootstrap.servers": args.bootstrap,
        # Java's partitioner, as transit's Kafka bus uses: a key lands where transit puts it.
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
    }
    config.update(settings(args.config))
    producer = Producer(config)

    key = {"station_id": args.station_id}
    value = {
        "station_id": args.station_id,
        "station_name": args.station_name or f"Station {args.station_id}",
        "line": args.line,
    }
    key_bytes = key_serializer(key, SerializationContext(args.topic, MessageField.KEY))
    report = {
        "topic": args.topic,
        "requested": args.count,
        "delivered": 0,
        "failed": 0,
        "errors": [],
        "partitions": [],
        "key_schema_id": schema_id(key_bytes),
        "value_schema_id": None,
    }
    partitions = set()

    def delivered(error, message):
        if error is not None:
            report["failed"] += 1
            if len(report["errors"]) < MAX_ERRORS:
                report["errors"].append(str(error))
        else:
            report["delivered"] += 1
            partitions.add(message.partition())

    for _ in range(args.count):
        # Serialized for each entry, as an application does (the schema ids are cached).
        key_bytes = key_serializer(key, SerializationContext(args.topic, MessageField.KEY))
        value_bytes = value_serializer(value, SerializationContext(args.topic, MessageField.VALUE))
        report["value_schema_id"] = schema_id(value_bytes)
        while True:
            try:
                producer.produce(
                    args.topic, key=key_bytes, value=value_bytes, on_delivery=delivered
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60)
    if left:
        report["errors"].append(f"{left} entries still in flight after 60 s")
    report["partitions"] = sorted(partitions)
    print(json.dumps(report, sort_keys=True), flush=True)
    return 0 if report["delivered"] == args.count and not left else 1


if __name__ == "__main__":
    sys.exit(main())
