"""Reads a Prometheus text page (format 0.0.4) on stdin and checks it with prometheus_client's
parser, the reference Python client's, plus what that parser lets pass: every sample's family
has one # HELP and one # TYPE line before its samples, no family is declared twice, and the page
ends with a newline. Prints the samples as JSON lines {"name", "labels", "value"}; exits non-zero
with the reason on anything wrong."""

import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        fail("the page does not end with a newline")
    declared = {}
    seen_samples = set()
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name = line[2:6], line.split(" ")[2]
            if not NAME.match(name):
                fail(f"line {number}: {name!r} is not a metric name")
            if name in seen_samples:
                fail(f"line {number}: # {kind} {name} after its samples")
            if kind in declared.setdefault(name, set()):
                fail(f"line {number}: # {kind} {name} declared twice")
            declared[name].add(kind)
        elif line.startswith("#") or not line.strip():
            continue
        else:
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            if declared.get(name) != {"HELP", "TYPE"}:
                fail(f"line {number}: sample of {name} without its # HELP and # TYPE")
            seen_samples.add(name)
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and others on a bad line
        fail(f"prometheus_client cannot parse the page: {error!r}")
    for family in families:
        for sample in family.samples:
            value = sample.value
            if isinstance(value, float) and math.isnan(value):
                value = None
            print(json.dumps({"name": sample.name, "labels": sample.labels, "value": value}))


main()
