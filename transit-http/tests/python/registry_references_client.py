"""Schema references with Confluent's Python client against a schema registry: registers a
schema that uses a type another subject defines (`Schema(..., references=[SchemaReference])`),
reads it back by id and by version, looks it up, lists what references the referenced version,
is refused deleting it, and writes then reads a record with Confluent's Avro serializer and
deserializer (which resolve the references themselves).

Usage: registry_references_client.py URL. Prints one JSON object with what it saw.
"""

import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

ADDRESS = json.dumps(
    {
        "type": "record",
        "name": "Address",
        "namespace": "org.example",
        "fields": [{"name": "street", "type": "string"}],
    }
)
PERSON = json.dumps(
    {
        "type": "record",
        "name": "Person",
        "namespace": "org.example",
        "fields": [{"name": "name", "type": "string"}, {"name": "home", "type": "Address"}],
    }
)


def references_of(schema):
    return [
        {"name": r.name, "subject": r.subject, "version": r.version}
        for r in (schema.references or [])
    ]


def main():
    url = sys.argv[1]
    client = SchemaRegistryClient({"url": url})
    address_id = client.register_schema("address", Schema(ADDRESS, "AVRO"))
    person = Schema(
        PERSON,
        "AVRO",
        references=[SchemaReference("org.example.Address", "address", 1)],
    )
    person_id = client.register_schema("person-value", person)

    # A fresh client, so nothing comes from the first one's cache.
    reader = SchemaRegistryClient({"url": url})
    by_id = reader.get_schema(person_id)
    by_version = reader.get_version("person-value", 1)
    looked_up = reader.lookup_schema("person-value", person)
    referenced_by = reader.get_referenced_by("address", 1)
    try:
        reader.delete_version("address", 1)
        refusal = None
    except SchemaRegistryError as error:
        refusal = {"status": error.http_status_code, "code": error.error_code}

    serializer = AvroSerializer(client, person, conf={"auto.register.schemas": False, "use.latest.version": True})
    context = SerializationContext("person", MessageField.VALUE)
    value = {"name": "Ada", "home": {"street": "W Madison St"}}
    record = serializer(value, context)
    decoded = AvroDeserializer(SchemaRegistryClient({"url": url}))(record, context)

    print(
        json.dumps(
            {
                "address_id": address_id,
                "person_id": person_id,
                "by_id": {"schema": by_id.schema_str, "references": references_of(by_id)},
                "by_version": {
                    "id": by_version.schema_id,
                    "version": by_version.version,
                    "references": references_of(by_version.schema),
                },
                "looked_up": {"id": looked_up.schema_id, "version": looked_up.version},
                "referenced_by": referenced_by,
                "delete_refused": refusal,
                "record_schema_id": int.from_bytes(record[1:5], "big"),
                "decoded": decoded,
            }
        )
    )


if __name__ == "__main__":
    main()
