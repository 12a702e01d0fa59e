"""Measuring and checking helpers of scripts/bench-counter-peer.sh (run with the venv of
scripts/python.sh: confluent-kafka and fastavro).

  end-offsets  --bootstrap B --topic T                  the topic's record count (sum of end offsets)
  run          --bootstrap B --topic T --group G --table T --format F --log F [--timeout S]
               [--broker-pid P] [--schemas DIR] -- CMD...
               starts CMD, times it until group G's committed offsets reach the end of T and its
               count table adds up to T's records, stops it with SIGTERM, prints one JSON line
               of figures
  table        --bootstrap B --topic T --format transit|streams --out F [--schemas DIR]
               reads a table topic to its end (read_committed), latest value per key, into
               JSON {"station_id:line": count}
  compare      A.json B.json [--entries N]          prints whether the tables are equal, and how not
"""

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import time

from confluent_kafka import Consumer, TopicPartition
import fastavro

POLL_SECONDS = 0.05


def consumer(bootstrap, group="bench-counter-peer-reader", isolation="read_committed"):
    """A consumer that only reads: it never subscribes, so it never joins `group`."""
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
    })


def partitions(client, topic):
    meta = client.list_topics(topic, timeout=10).topics[topic]
    if meta.error is not None:
        raise SystemExit(f"topic {topic}: {meta.error}")
    return sorted(meta.partitions)


def end_offsets(client, topic):
    return {p: client.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions(client, topic)}


def cmd_end_offsets(args):
    client = consumer(args.bootstrap)
    try:
        print(sum(end_offsets(client, args.topic).values()))
    finally:
        client.close()


def cpu_seconds(pid):
    """User + system CPU time of a process and its reaped children, from /proc (0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[0] is state (field 3); utime, stime, cutime, cstime are fields 14..17
    return sum(int(f) for f in fields[11:15]) / ticks


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class TableTail:
    """Follows a count table (read_committed) from its beginning: the counts so far."""

    def __init__(self, bootstrap, topic, decode):
        self.client = consumer(bootstrap)
        self.topic = topic
        self.decode = decode
        self.table = {}
        self.assigned = False

    def poll(self):
        if not self.assigned:
            meta = self.client.list_topics(self.topic, timeout=5).topics.get(self.topic)
            if meta is None or meta.error is not None or not meta.partitions:
                return
            self.client.assign([TopicPartition(self.topic, p, 0) for p in meta.partitions])
            self.assigned = True
        while True:
            messages = self.client.consume(num_messages=10000, timeout=0)
            for message in messages:
                if message.error() is not None:
                    raise SystemExit(f"reading {self.topic}: {message.error()}")
                key, value = self.decode(message.key(), message.value())
                if value is None:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value
            if len(messages) < 10000:
                return

    def total(self):
        return sum(self.table.values())

    def close(self):
        self.client.close()


def cmd_run(args):
    """Times CMD from its launch until it is done with every entry: its group's committed
    offsets reached the end of the entries topic, and its count table (as a read_committed
    reader sees it) adds up to the number of entries. The second condition matters for Kafka
    Streams, whose groupBy goes through a repartition topic: the entries' offsets are committed
    when they are repartitioned, before they are counted."""
    # read_uncommitted: OffsetFetch without require_stable, so the answer is the offsets
    # committed so far (a transaction's offsets count once it commits) rather than a retry
    # while a transaction is open.
    watcher = consumer(args.bootstrap, group=args.group, isolation="read_uncommitted")
    ends = end_offsets(watcher, args.topic)
    total = sum(ends.values())
    tps = [TopicPartition(args.topic, p) for p in sorted(ends)]
    tail = TableTail(args.bootstrap, args.table, decoder(args.format, args.schemas))
    broker_cpu0 = cpu_seconds(args.broker_pid) if args.broker_pid else 0.0
    load_samples = []
    with open(args.log, "ab") as log:
        started = time.monotonic()
        child = subprocess.Popen(args.cmd, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        first_commit = None
        committed_at_first = 0
        offsets_done = None
        table_done = None
        last_load = 0.0
        try:
            while offsets_done is None or table_done is None:
                now = time.monotonic()
                if now - last_load >= 1.0:
                    load_samples.append(loadavg()[0])
                    last_load = now
                if child.poll() is not None:
                    raise SystemExit(f"{args.cmd[0]} exited with {child.returncode} before it "
                                     f"was done; see {args.log}")
                if now - started > args.timeout:
                    raise SystemExit(f"{args.cmd[0]} was not done within {args.timeout}s "
                                     f"(its table counts {tail.total()} of {total} entries); "
                                     f"see {args.log}")
                if offsets_done is None:
                    committed = watcher.committed(tps, timeout=10)
                    positions = {tp.partition: max(tp.offset, 0) for tp in committed}
                    done_so_far = sum(positions.values())
                    if first_commit is None and done_so_far > 0:
                        first_commit = time.monotonic()
                        committed_at_first = done_so_far
                    if all(positions[p] >= end for p, end in ends.items()):
                        offsets_done = time.monotonic()
                if table_done is None:
                    tail.poll()
                    counted = tail.total()
                    if counted > total:
                        raise SystemExit(f"{args.table} counts {counted} entries of {total}")
                    if counted == total:
                        table_done = time.monotonic()
                time.sleep(POLL_SECONDS)
            child_cpu = cpu_seconds(child.pid)
            broker_cpu = (cpu_seconds(args.broker_pid) - broker_cpu0) if args.broker_pid else None
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            watcher.close()
            tail.close()
    done = max(offsets_done, table_done)
    seconds = done - started
    steady = None
    if first_commit is not None and done > first_commit and total > committed_at_first:
        steady = (total - committed_at_first) / (done - first_commit)
    print(json.dumps({
        "entries": total,
        "seconds": round(seconds, 3),
        "entries_per_s": round(total / seconds),
        "offsets_done_s": round(offsets_done - started, 3),
        "table_done_s": round(table_done - started, 3),
        "first_commit_s": round(first_commit - started, 3) if first_commit else None,
        "steady_entries_per_s": round(steady) if steady else None,
        "cpu_s": round(child_cpu, 2),
        "broker_cpu_s": round(broker_cpu, 2) if broker_cpu is not None else None,
        "load1_max": max(load_samples) if load_samples else None,
        "load1_mean": round(sum(load_samples) / len(load_samples), 2) if load_samples else None,
        "exit": child.returncode,
    }))


def read_table(bootstrap, topic, decode):
    client = consumer(bootstrap)
    try:
        ends = end_offsets(client, topic)
        client.assign([TopicPartition(topic, p, 0) for p in ends])
        table = {}
        deadline = time.monotonic() + 120
        idle_since = time.monotonic()
        while True:
            messages = client.consume(num_messages=10000, timeout=0.5)
            for message in messages:
                if message.error() is not None:
                    raise SystemExit(f"reading {topic}: {message.error()}")
                key, value = decode(message.key(), message.value())
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
            if messages:
                idle_since = time.monotonic()
            positions = {tp.partition: tp.offset
                         for tp in client.position([TopicPartition(topic, p) for p in ends])}
            if all(positions[p] >= end for p, end in ends.items()):
                break
            # Past the last record a transaction marker may keep the position one short.
            if time.monotonic() - idle_since > 5 or time.monotonic() > deadline:
                break
        return table
    finally:
        client.close()


def decoder(kind, schemas):
    """(key bytes, value bytes) of a count table -> ("station_id:line", count or None)."""
    if kind == "streams":
        def decode(key, value):
            return key.decode(), (None if value is None else int.from_bytes(value, "big", signed=True))
        return decode
    with open(os.path.join(schemas, "station_line_key.avsc")) as f:
        key_schema = fastavro.parse_schema(json.load(f))
    with open(os.path.join(schemas, "turnstile_count.avsc")) as f:
        value_schema = fastavro.parse_schema(json.load(f))

    def decode(key, value):
        if key[0] != 0 or (value is not None and value[0] != 0):
            raise SystemExit("a count record is not in the Confluent wire format")
        k = fastavro.schemaless_reader(io.BytesIO(key[5:]), key_schema)
        name = f"{k['station_id']}:{k['line']}"
        if value is None:
            return name, None
        v = fastavro.schemaless_reader(io.BytesIO(value[5:]), value_schema)
        if (v["station_id"], v["line"]) != (k["station_id"], k["line"]):
            raise SystemExit(f"count record keyed {name} holds {v}")
        return name, v["entries"]
    return decode


def cmd_table(args):
    table = read_table(args.bootstrap, args.topic, decoder(args.format, args.schemas))
    with open(args.out, "w") as f:
        json.dump(dict(sorted(table.items())), f, indent=0)
    print(f"{len(table)} keys, {sum(table.values())} entries counted")


def cmd_compare(args):
    with open(args.a) as f:
        a = json.load(f)
    with open(args.b) as f:
        b = json.load(f)
    differing = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    totals = f"{len(a)} keys / {sum(a.values())} entries vs {len(b)} keys / {sum(b.values())} entries"
    if args.entries is not None:
        totals += f" (entries topic: {args.entries})"
    if differing:
        print(f"tables equal: NO, {len(differing)} keys differ; {totals}")
        for k in differing[:20]:
            print(f"  {k}: {a.get(k)} vs {b.get(k)}")
        sys.exit(1)
    print(f"tables equal: yes; {totals}")


def main():
    # Stopped from outside: unwind (the counter under test is stopped in a finally block).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("end-offsets")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.set_defaults(run=cmd_end_offsets)
    p = sub.add_parser("run")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--broker-pid", type=int)
    p.add_argument("--table", required=True)
    p.add_argument("--format", choices=["transit", "streams"], required=True)
    p.add_argument("--schemas", default="transit-core/schemas")
    p.add_argument("cmd", nargs="+")
    p.set_defaults(run=cmd_run)
    p = sub.add_parser("table")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--format", choices=["transit", "streams"], required=True)
    p.add_argument("--schemas", default="transit-core/schemas")
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_table)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--entries", type=int)
    p.set_defaults(run=cmd_compare)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
