import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freshName } from '@carrier/contract';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { interopPython } from '../src/install.js';
import { interopPythonDir } from '../src/paths.js';
import { kafkaBrokers } from '../src/urls.js';

// The other side of the Avro interop: interop/confluent-python/avro_interop.py, Confluent's own
// AvroSerializer / AvroDeserializer (confluent-kafka), against the harness's Kafka and schema
// registry. Proves the tool works (it registers under `<topic>-value`, frames every value with the
// registered id, reads back what it wrote), so that Carrier's interop specs can rely on it.

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
});
