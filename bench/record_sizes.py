"""Average Kafka record size (key + value bytes) per topic, read with confluent-kafka.

    record_sizes.py BOOTSTRAP TOPIC ...

Prints one line per topic: `record_size topic=T records=N key_bytes=K value_bytes=V bytes_per_event=B`.
"""
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition


def sizes(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sluice-bench-sizes",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "receive.message.max.bytes": 1000000000})
    parts = list(c.list_topics(topic, timeout=10).topics[topic].partitions.keys())
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    done, n, kb, vb = set(), 0, 0, 0
    while len(done) < len(parts):
        m = c.poll(5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
                continue
            raise RuntimeError(str(m.error()))
        n += 1
        kb += len(m.key() or b"")
        vb += len(m.value() or b"")
    c.close()
    return n, kb, vb


for t in sys.argv[2:]:
    n, kb, vb = sizes(sys.argv[1], t)
    print(f"record_size topic={t} records={n} key_bytes={kb} value_bytes={vb} "
          f"bytes_per_event={(kb + vb) / max(n, 1):.0f}")
