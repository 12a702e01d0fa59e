#!/usr/bin/env python3
"""Reads transit topics as a third-party Confluent client does: with only the registry's URL.

For each --topic, every partition is read from its low watermark to its high watermark as of
the start (assigned explicitly, nothing committed), with isolation.level=read_committed, and
the key and value of every record are decoded with confluent-kafka's AvroDeserializer over a
SchemaRegistryClient given nothing but the URL: the writer's schema comes from the registry by
the id in each record's Confluent wire-format header.

Prints one JSON line per topic:

    {"topic": ..., "partitions": P, "records": N, "decoded": N, "null_keys": K,
     "tombstones": T, "key_schema_ids": [...], "value_schema_ids": [...],
     "errors": [the first few], "sample": the first decoded value, "sample_key": its key}

(with --sum TOPIC=FIELD, TOPIC's line also has "latest_sum": FIELD summed over the latest
value of each key, e.g. the total of a count table)

and exits 1 if a record failed to decode or a topic is empty or missing (2 on bad arguments).

    python read_topics.py --bootstrap 127.0.0.1:9092 --registry-url http://127.0.0.1:8081 \
        --topic org.chicago.cta.turnstile.entries.v1 --topic org.chicago.cta.weather.readings.v1
"""

import argparse
import json
import os
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

# Errors kept per topic in the report.
MAX_ERRORS = 5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, host:port")
    parser.add_argument("--registry-url", required=True, help="the schema registry's URL")
    parser.add_argument(
        "--registry-ca",
        help="the CA file to trust for an https:// registry (ssl.ca.location); "
        "basic.auth.user.info comes from REGISTRY_USER_INFO when set",
    )
    parser.add_argument("--topic", action="append", required=True, help="a topic (repeatable)")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra librdkafka setting for the consumer (repeatable)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to read one topic at most"
    )
    parser.add_argument(
        "--sum",
        action="append",
        default=[],
        metavar="TOPIC=FIELD",
        help="also report, for TOPIC, the sum of the integer FIELD over the latest value of "
        "each key: a table's total (repeatable)",
    )
    return parser.parse_args()


def settings(pairs, option):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            sys.exit(f"read_topics: {option} wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def schema_id(data):
    """The schema id of Confluent's wire format (magic byte 0, 4-byte big-endian id)."""
    if data is None or len(data) < 5 or data[0] != 0:
        return None
    return struct.unpack(">I", data[1:5])[0]


def describe(error):
    return f"{type(error).__name__}: {error}"


def read_topic(consumer, topic, key_deserializer, value_deserializer, timeout, sum_field):
    report = {
        "topic": topic,
        "partitions": 0,
        "records": 0,
        "decoded": 0,
        "null_keys": 0,
        "tombstones": 0,
        "key_schema_ids": [],
        "value_schema_ids": [],
        "errors": [],
        "sample": None,
        "sample_key": None,
    }
    if sum_field:
        report["latest_sum"] = 0
    latest = {}
    failures = 0

    def fail(message):
        nonlocal failures
        failures += 1
        if len(report["errors"]) < MAX_ERRORS:
            report["errors"].append(message)

    metadata = consumer.list_topics(topic, timeout=30)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        fail(f"topic {topic} is not on the broker: {described.error if described else 'absent'}")
        return report, failures
    partitions = sorted(described.partitions)
    report["partitions"] = len(partitions)

    # The end of each partition as of now; records published later are not read.
    targets = {}
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=30, cached=False
        )
        if high > low:
            targets[partition] = (low, high)
    if not targets:
        return report, failures
    consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in targets.items()])

    key_ids, value_ids = set(), set()
    remaining = set(targets)
    deadline = time.monotonic() + timeout
    while remaining:
        if time.monotonic() > deadline:
            fail(
                f"partitions {sorted(remaining)} of {topic} not read to their end within "
                f"{timeout} s"
            )
            break
        message = consumer.poll(0.5)
        if message is None:
            continue
        partition = message.partition()
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                # The end as a read_committed consumer sees it (the last stable offset).
                remaining.discard(partition)
                continue
            fail(f"consuming {topic}: {message.error()}")
            if message.error().fatal():
                break
            continue
        if partition not in targets:
            continue
        offset = message.offset()
        _, high = targets[partition]
        if offset >= high:
            remaining.discard(partition)
            continue
        if offset >= high - 1:
            remaining.discard(partition)
        report["records"] += 1
        where = f"{topic}[{partition}]@{offset}"
        key, value = message.key(), message.value()
        headers = message.headers()
        try:
            decoded_key = key_deserializer(
                key, SerializationContext(topic, MessageField.KEY, headers)
            )
            decoded_value = value_deserializer(
                value, SerializationContext(topic, MessageField.VALUE, headers)
            )
        except Exception as error:  # noqa: BLE001 - every failure is reported, none hidden
            fail(f"{where}: {describe(error)}")
            continue
        if key is None:
            report["null_keys"] += 1
        else:
            key_ids.add(schema_id(key))
        if value is None:
            report["tombstones"] += 1
        else:
            value_ids.add(schema_id(value))
            if decoded_value is None:
                fail(f"{where}: the value decoded to nothing")
                continue
        report["decoded"] += 1
        if sum_field:
            if value is None:
                latest.pop(key, None)
            elif isinstance(decoded_value, dict) and isinstance(decoded_value.get(sum_field), int):
                latest[key] = decoded_value[sum_field]
            else:
                fail(f"{where}: the value has no integer field {sum_field!r}")
        if report["sample"] is None and decoded_value is not None:
            report["sample"] = decoded_value
            report["sample_key"] = decoded_key
    consumer.unassign()
    if sum_field:
        report["latest_sum"] = sum(latest.values())
    report["key_schema_ids"] = sorted(i for i in key_ids if i is not None)
    report["value_schema_ids"] = sorted(i for i in value_ids if i is not None)
    return report, failures


def main():
    args = parse_args()
    registry_config = {"url": args.registry_url}
    if args.registry_ca:
        registry_config["ssl.ca.location"] = args.registry_ca
    if os.environ.get("REGISTRY_USER_INFO"):
        registry_config["basic.auth.user.info"] = os.environ["REGISTRY_USER_INFO"]
    registry = SchemaRegistryClient(registry_config)
    # No schema given: the writer's schema comes from the registry, by id.
    key_deserializer = AvroDeserializer(registry)
    value_deserializer = AvroDeserializer(registry)
    config = {
        "bootstrap.servers": args.bootstrap,
        # A group of its own, never joined (partitions are assigned) and never committed to.
        "group.id": f"transit-read-topics-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
    }
    config.update(settings(args.config, "--config"))
    sums = settings(args.sum, "--sum")
    consumer = Consumer(config)
    failed = False
    try:
        for topic in args.topic:
            report, failures = read_topic(
                consumer,
                topic,
                key_deserializer,
                value_deserializer,
                args.timeout,
                sums.get(topic),
            )
            if report["records"] == 0:
                report["errors"].append(f"{topic} holds no record")
                failed = True
            if failures or report["decoded"] != report["records"]:
                failed = True
            print(json.dumps(report, default=str, sort_keys=True), flush=True)
    finally:
        consumer.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
