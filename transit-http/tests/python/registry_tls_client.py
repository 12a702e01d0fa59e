"""Reads every subject's schemas from a schema registry over HTTPS with basic auth, with
Confluent's Python client and only its documented settings: `url`, `basic.auth.user.info` and
`ssl.ca.location` (the Python client takes no `basic.auth.credentials.source`: user info is
its only basic-auth source).

Usage: registry_tls_client.py URL CA_FILE, with `user:password` in REGISTRY_USER_INFO (kept
out of the command line). Prints one JSON object: {subject: {"version", "id", "schema"}}, or
with --expect-refusal the status code of the refusal.
"""

import json
import os
import sys

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError


def main():
    url, ca = sys.argv[1], sys.argv[2]
    client = SchemaRegistryClient(
        {
            "url": url,
            "basic.auth.user.info": os.environ["REGISTRY_USER_INFO"],
            "ssl.ca.location": ca,
        }
    )
    if "--expect-refusal" in sys.argv:
        try:
            client.get_subjects()
        except SchemaRegistryError as error:
            print(json.dumps({"status": error.http_status_code, "code": error.error_code}))
            return
        sys.exit("the registry let a wrong password in")
    report = {}
    for subject in client.get_subjects():
        latest = client.get_latest_version(subject)
        # By id too, as a consumer decoding a record does.
        by_id = client.get_schema(latest.schema_id)
        assert by_id.schema_str == latest.schema.schema_str, subject
        report[subject] = {
            "version": latest.version,
            "id": latest.schema_id,
            "schema": latest.schema.schema_str,
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
