"""Avro over Kafka with Confluent's own serializers: the other side of Carrier's interop specs.

Uses confluent-kafka's AvroSerializer / AvroDeserializer and its schema registry client, so the
bytes on the topic are Confluent's wire format (magic byte 0, 4-byte big-endian schema id, Avro
binary) and the schema is registered the way every Confluent client registers it (subject
`<topic>-value`, TopicNameStrategy).

  avro_interop.py produce --bootstrap H:P --registry URL --topic T --schema FILE --records FILE
      Registers the schema (auto.register.schemas) under `<topic>-value` and produces every record
      of FILE (JSON lines, one record each) in order, keyed by its line number. Prints one JSON line
      per record: {"offset": …, "partition": …, "schemaId": …}.
  avro_interop.py produce … --count N
      Instead of --records: N records {"id": "order-<i>", "qty": <i>} (the schema must accept them).
  avro_interop.py consume --bootstrap H:P --registry URL --topic T --count N [--timeout S]
      Reads the topic from the beginning (a fresh consumer group) until N records have arrived, and
      prints each as a JSON line: {"offset", "partition", "key", "schemaId", "head", "headers",
      "value"}, where value is the record the AvroDeserializer decoded with the writer's schema from
      the registry (given the record's Kafka headers, as a DeserializingConsumer gives them:
      confluent-kafka 2.x looks for a schema id in a `__value_schema_id` header first, then in the
      frame), head the value's first 5 bytes as ints (the raw frame: magic byte, id) and
      headers the record's Kafka headers as text. Exits 1 when fewer than N arrive within --timeout
      seconds (default 30).

URL is the registry's Confluent-compatible base URL (CARRIER_SCHEMA_REGISTRY_URL). Errors go to
stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer


def fail(message: str) -> None:
    print(f"avro_interop: {message}", file=sys.stderr)
    sys.exit(1)


def schema_id(payload: bytes | None) -> int | None:
    """The schema id of a Confluent-framed value (magic byte 0, then the id, big-endian)."""
    if payload is None or len(payload) < 5 or payload[0] != 0:
        return None
    return struct.unpack(">I", payload[1:5])[0]


def to_json(value: Any) -> Any:
    """fastavro decodes bytes/fixed to bytes: show them as lists of ints so that JSON can carry them."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    return value


def produce(args: argparse.Namespace) -> None:
    with open(args.schema, encoding="utf-8") as f:
        schema_str = f.read()
    if args.records:
        with open(args.records, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    elif args.count is not None:
        records = [{"id": f"order-{i}", "qty": i} for i in range(args.count)]
    else:
        fail("produce needs --records FILE or --count N")
        return
    registry = SchemaRegistryClient({"url": args.registry})
    serializer = AvroSerializer(registry, schema_str, conf={"auto.register.schemas": True})
    keys = StringSerializer("utf_8")
    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True, "acks": "all"})
    results: list[dict[str, Any]] = []
    errors: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(str(err))
        else:
            results.append(
                {"offset": msg.offset(), "partition": msg.partition(), "schemaId": schema_id(msg.value())}
            )

    ctx = SerializationContext(args.topic, MessageField.VALUE)
    for i, record in enumerate(records):
        producer.produce(
            args.topic, key=keys(str(i)), value=serializer(record, ctx), on_delivery=delivered
        )
        producer.poll(0)
    remaining = producer.flush(args.timeout)
    if errors:
        fail(f"delivery failed: {errors[0]}")
    if remaining > 0 or len(results) != len(records):
        fail(f"{len(records) - len(results)} of {len(records)} records not delivered in {args.timeout} s")
    for r in results:
        print(json.dumps(r), flush=True)


def consume(args: argparse.Namespace) -> None:
    registry = SchemaRegistryClient({"url": args.registry})
    deserializer = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"avro-interop-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([args.topic])
    seen = 0
    deadline = time.monotonic() + args.timeout
    try:
        while seen < args.count:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"{seen} of {args.count} records arrived in {args.timeout} s")
            msg = consumer.poll(min(left, 1.0))
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            raw = msg.value()
            ctx = SerializationContext(args.topic, MessageField.VALUE, msg.headers())
            key = msg.key()
            print(
                json.dumps(
                    {
                        "offset": msg.offset(),
                        "partition": msg.partition(),
                        "key": key.decode("utf-8", "replace") if key is not None else None,
                        "schemaId": schema_id(raw),
                        "head": list(raw[:5]) if raw is not None else None,
                        "headers": {
                            k: (v.decode("utf-8", "replace") if v is not None else None)
                            for k, v in (msg.headers() or [])
                        },
                        "value": to_json(deserializer(raw, ctx)),
                    }
                ),
                flush=True,
            )
            seen += 1
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("produce", "consume"):
        p = sub.add_parser(name)
        p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, host:port[,…]")
        p.add_argument("--registry", required=True, help="the registry's Confluent-compatible base URL")
        p.add_argument("--topic", required=True)
        p.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    produce_parser = sub.choices["produce"]
    produce_parser.add_argument("--schema", required=True, help="file with the Avro schema (JSON)")
    produce_parser.add_argument("--records", help="file of JSON lines, one record each")
    produce_parser.add_argument("--count", type=int, help="N generated records instead of --records")
    sub.choices["consume"].add_argument("--count", type=int, required=True, help="records to read")
    args = parser.parse_args()
    try:
        produce(args) if args.command == "produce" else consume(args)
    except KafkaException as err:
        fail(str(err))
    except Exception as err:  # a registry or serializer error: say it in one line
        fail(f"{type(err).__name__}: {err}")


if __name__ == "__main__":
    main()
