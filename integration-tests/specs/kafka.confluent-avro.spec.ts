import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message } from '@carrier/core';
import { ConfluentRegistryClient, writerSchemaOf } from '@carrier/schema';
import { avroCodec } from '@carrier/schema/avro';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { interopPython } from '../src/install.js';
import { interopPythonDir } from '../src/paths.js';
import { kafkaBrokers } from '../src/urls.js';

// Avro interop in Confluent's wire format between Carrier (avroCodec over ConfluentRegistryClient)
// and Confluent's own AvroSerializer / AvroDeserializer (confluent-kafka for Python,
// interop/confluent-python/avro_interop.py), through the harness's Kafka and real schema registry
// (docs/wire-format.md, "Schema framing"). First the tool itself (it registers under
// `<topic>-value`, frames every value with the registered id, reads back what it wrote), then both
// directions.

const run = promisify(execFile);
const brokers = inject('brokers');
const registry = inject('schemaRegistry');

interface Produced {
  offset: number;
  partition: number;
  schemaId: number;
}
interface Consumed extends Produced {
  key: string | null;
  /** The value's first 5 bytes. */
  head: number[] | null;
  /** The record's Kafka headers, as text. */
  headers: Record<string, string | null>;
  value: unknown;
}

const SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'carrier.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int' },
  ],
});

describe('Confluent Avro interop tool (confluent-kafka, Python)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-avro-interop-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function tool(args: string[]): Promise<unknown[]> {
    const python = interopPython();
    if (!python)
      throw new Error('the Confluent Python client is not installed: run `npm run brokers:install`');
    const common = ['--bootstrap', kafkaBrokers(brokers.kafka).join(','), '--registry', registry];
    const [command, ...rest] = args;
    const { stdout } = await run(
      python,
      [path.join(interopPythonDir, 'avro_interop.py'), command!, ...common, ...rest],
      { timeout: 60_000 },
    );
    return stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as unknown);
  }

  it('produces Avro records registered under <topic>-value and reads them back', async () => {
    const topic = freshName('avro-interop');
    const schemaFile = path.join(dir, `${topic}.avsc`);
    writeFileSync(schemaFile, SCHEMA);

    const produced = (await tool([
      'produce',
      '--topic',
      topic,
      '--schema',
      schemaFile,
      '--count',
      '3',
    ])) as Produced[];
    expect(produced.map((p) => p.offset)).toEqual([0, 1, 2]);

    const latest = await fetch(`${registry}/subjects/${topic}-value/versions/latest`);
    expect(latest.status).toBe(200);
    const { id } = (await latest.json()) as { id: number };
    expect(produced.every((p) => p.schemaId === id)).toBe(true);

    const consumed = (await tool(['consume', '--topic', topic, '--count', '3'])) as Consumed[];
    expect(consumed.map((c) => [c.key, c.schemaId, c.value])).toEqual([
      ['0', id, { id: 'order-0', qty: 0 }],
      ['1', id, { id: 'order-1', qty: 1 }],
      ['2', id, { id: 'order-2', qty: 2 }],
    ]);
  });

  describe('with Carrier', () => {
    const TIMEOUT_MS = 30_000;
    const COUNT = 5;
    const open: Carrier[] = [];
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((c) => c.close()));
    });
    const client = () => new ConfluentRegistryClient({ url: registry });
    async function setLevel(subject: string, compatibility: string): Promise<void> {
      const res = await fetch(`${registry}/config/${subject}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ compatibility }),
      });
      expect(res.status).toBe(200);
    }
    async function latestId(subject: string): Promise<number> {
      const res = await fetch(`${registry}/subjects/${subject}/versions/latest`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { id: number }).id;
    }

    it("Carrier decodes records written by Confluent's AvroSerializer with a newer reader schema, from the framing alone", async () => {
      const topic = freshName('avro-py-to-carrier');
      const schemaFile = path.join(dir, `${topic}.avsc`);
      writeFileSync(schemaFile, SCHEMA);
      // the reader: the writer's schema plus a field with a default (a BACKWARD-compatible v2)
      const reader = JSON.parse(SCHEMA) as { fields: object[] };
      reader.fields.push({ name: 'note', type: 'string', default: 'none' });
      type Order = { id: string; qty: number; note: string };
      const codec = avroCodec<Order>({ registry: client(), schema: reader });

      const carrier = await connect(brokers.kafka);
      open.push(carrier);
      const got: Message<Order>[] = [];
      await carrier.subscribe<Order>(topic, { group: 'g', codec }, (m) => {
        got.push(m);
      });
      const produced = (await tool([
        'produce',
        '--topic',
        topic,
        '--schema',
        schemaFile,
        '--count',
        String(COUNT),
      ])) as Produced[];
      const id = await latestId(`${topic}-value`);
      expect(produced.every((p) => p.schemaId === id)).toBe(true);

      await waitFor(() => got.length >= COUNT, TIMEOUT_MS, `${COUNT} records in Carrier`);
      const sorted = [...got].sort((a, b) => Number(a.key) - Number(b.key));
      // as plain JSON: the decoded records are avsc record instances carrying WRITER_SCHEMA
      expect(sorted.map((m) => JSON.parse(JSON.stringify(m.body)) as unknown)).toEqual(
        Array.from({ length: COUNT }, (_, i) => ({ id: `order-${i}`, qty: i, note: 'none' })),
      );
      for (const m of sorted) {
        // no Carrier headers on a foreign record: the id comes from the body's frame alone, and
        // the decoded body carries it; metadata.schemaId stays unset (metadata is what the
        // producer sent)
        expect(writerSchemaOf(m.body)).toBe(id);
        expect(m.metadata.schemaId).toBeUndefined();
        expect(Array.from(m.raw.subarray(0, 5))).toEqual(frameHead(id));
      }
    });

    it("Confluent's AvroDeserializer reads records Carrier published, with Carrier's headers on them", async () => {
      const topic = freshName('avro-carrier-to-py');
      const subject = `${topic}-value`;
      const schema = {
        type: 'record',
        name: 'Shipment',
        namespace: 'carrier.test',
        fields: [
          { name: 'id', type: 'string' },
          { name: 'qty', type: 'int' },
          { name: 'weight', type: 'double' },
          { name: 'express', type: 'boolean' },
          { name: 'tags', type: { type: 'array', items: 'string' } },
          { name: 'note', type: ['null', 'string'], default: null },
          { name: 'state', type: { type: 'enum', name: 'State', symbols: ['NEW', 'SENT'] } },
        ],
      };
      type Shipment = {
        id: string;
        qty: number;
        weight: number;
        express: boolean;
        tags: string[];
        note: string | null;
        state: 'NEW' | 'SENT';
      };
      const codec = avroCodec<Shipment>({ registry: client(), schema });
      const bodies: Shipment[] = Array.from({ length: COUNT }, (_, i) => ({
        id: `ship-${i}`,
        qty: i,
        weight: i + 0.5,
        express: i % 2 === 0,
        tags: i === 0 ? [] : [`t${i}`, 'naïve ✓'],
        note: i % 2 === 0 ? null : `note ${i}`,
        state: i % 2 === 0 ? 'NEW' : 'SENT',
      }));

      const carrier = await connect(brokers.kafka);
      open.push(carrier);
      await setLevel(subject, 'BACKWARD');
      for (const [i, body] of bodies.entries())
        await carrier.publish(topic, body, { codec, key: String(i), headers: { tenant: 'acme' } });
      const id = await latestId(subject);

      const consumed = (await tool(['consume', '--topic', topic, '--count', String(COUNT)])) as Consumed[];
      const sorted = [...consumed].sort((a, b) => Number(a.key) - Number(b.key));
      expect(sorted.map((c) => c.value)).toEqual(bodies);
      for (const c of sorted) {
        expect(c.schemaId).toBe(id);
        // byte level: magic 0, then the id Carrier registered, big-endian
        expect(c.head).toEqual(frameHead(id));
        // Carrier's own Kafka headers are there and did not disturb Confluent's deserializer
        expect(c.headers).toMatchObject({
          tenant: 'acme',
          'carrier-content-type': 'application/vnd.apache.avro+binary',
          'carrier-meta-schema-id': String(id),
        });
      }
    });
  });
});

/** The first 5 bytes of a Confluent-framed value with schema id `id`. */
function frameHead(id: number): number[] {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(id, 1);
  return Array.from(head);
}
