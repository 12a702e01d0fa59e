"""Confluent's Python client on transit's secured cluster, with the librdkafka properties file
the Rust side uses (argv[1]): reads the records transit wrote to argv[2], then writes as many to
argv[3], and prints one JSON line of what it did. Secrets stay in the file: nothing is printed
but counts."""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer


def load(path):
    conf = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith(("#", "!")):
                key, value = line.split("=", 1)
                conf[key.strip()] = value.strip()
    # transit's own settings are not librdkafka's.
    return {k: v for k, v in conf.items() if not k.startswith("transit.")}


def main():
    conf = load(sys.argv[1])
    source, sink, expected = sys.argv[2], sys.argv[3], int(sys.argv[4])
    consumer = Consumer({**conf, "group.id": "python-" + source, "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed"})
    consumer.subscribe([source])
    values = []
    deadline = time.monotonic() + 60
    while len(values) < expected and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        values.append(message.value().decode())
    consumer.close()
    producer = Producer({**conf, "enable.idempotence": True, "acks": "all"})
    failed = []
    for value in values:
        producer.produce(sink, key=b"python", value=("python saw " + value).encode(),
                         on_delivery=lambda err, _msg: err and failed.append(str(err)))
    left = producer.flush(60)
    print(json.dumps({"read": len(values), "values": sorted(values), "written": len(values) - left - len(failed),
                      "failed": failed}))


if __name__ == "__main__":
    main()
