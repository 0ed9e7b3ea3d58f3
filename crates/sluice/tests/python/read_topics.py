"""Reads Kafka topics the way a Python team would: confluent-kafka's Consumer, and for Avro
topics confluent-kafka's AvroDeserializer with a SchemaRegistryClient (fastavro underneath).

    read_topics.py BOOTSTRAP REGISTRY_URL avro:TOPIC|json:TOPIC ...

Prints one JSON object: topic -> [{"offset", "key", "value", "schema_id"}], with values
normalized so both encodings compare: Decimal and float -> their plain string, bytes ->
base64.
"""
import base64
import decimal
import json
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def norm(v):
    if isinstance(v, float):  # JSON numbers are read as Decimal: compare floats as text too
        return str(decimal.Decimal(repr(v)))
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    return v


def read(bootstrap, topic):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "python-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    md = c.list_topics(topic, timeout=10)
    parts = list(md.topics[topic].partitions.keys())
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    done, out = set(), []
    while len(done) < len(parts):
        m = c.poll(5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
                continue
            raise RuntimeError(str(m.error()))
        out.append(m)
    c.close()
    return sorted(out, key=lambda m: (m.partition(), m.offset()))


def main():
    bootstrap, registry = sys.argv[1], sys.argv[2]
    avro = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    result = {}
    for spec in sys.argv[3:]:
        kind, topic = spec.split(":", 1)
        rows = []
        for m in read(bootstrap, topic):
            row = {"offset": m.offset()}
            for field, raw in (("key", m.key()), ("value", m.value())):
                if raw is None:
                    row[field] = None
                elif kind == "avro":
                    ctx = SerializationContext(topic, MessageField.KEY if field == "key" else MessageField.VALUE)
                    row[field] = norm(avro(raw, ctx))
                    row[field + "_schema_id"] = int.from_bytes(raw[1:5], "big")
                else:
                    row[field] = norm(json.loads(raw, parse_float=decimal.Decimal))
            rows.append(row)
        result[topic] = rows
    print(json.dumps(result))


if __name__ == "__main__":
    main()
