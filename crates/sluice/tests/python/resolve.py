"""Avro schema resolution, checked independently of any registry's compatibility checker:
each record (Confluent wire format, hex) is read with the schema it was written with as the
writer schema and the registry schema READER_ID as the reader schema (fastavro).

    resolve.py REGISTRY_URL READER_ID HEX ...

Prints a JSON list: {"ok": decoded value} or {"error": message} per record.
"""
import io
import json
import sys
import urllib.request

import fastavro


def schema(registry, sid):
    with urllib.request.urlopen(f"{registry}/schemas/ids/{sid}") as r:
        return fastavro.parse_schema(json.loads(json.loads(r.read())["schema"]))


def main():
    registry, reader_id = sys.argv[1], int(sys.argv[2])
    reader = schema(registry, reader_id)
    out = []
    for h in sys.argv[3:]:
        raw = bytes.fromhex(h)
        writer = schema(registry, int.from_bytes(raw[1:5], "big"))
        try:
            v = fastavro.schemaless_reader(io.BytesIO(raw[5:]), writer, reader)
            out.append({"ok": json.loads(json.dumps(v, default=str))})
        except Exception as e:  # an unresolvable pair of schemas
            out.append({"error": f"{type(e).__name__}: {e}"})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
