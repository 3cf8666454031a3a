import { expect, it } from 'vitest';
import { codecFigures } from './codec-bench.js';
import { parseOptions } from './main.js';

it('--broker codecs is taken only when named, not in all', () => {
  expect(parseOptions(['--broker', 'codecs'], {}).brokers).toEqual(['codecs']);
  expect(parseOptions(['--broker', 'all'], {}).brokers).not.toContain('codecs');
});

it('measures encode, decode and body size of avro, protobuf and json-schema against jsonCodec', async () => {
  const options = parseOptions(['--broker', 'codecs', '--messages', '50', '--rounds', '1'], {});
  const figures = await codecFigures(options);
  expect(figures.map((f) => f.figure)).toEqual(
    ['avro', 'protobuf', 'json-schema'].flatMap((c) => [
      `${c}.encode.ns_per_msg`,
      `${c}.decode.ns_per_msg`,
      `${c}.body.bytes`,
    ]),
  );
  for (const f of figures) {
    expect(f.broker).toBe('codecs');
    expect(f.carrier.median, f.figure).toBeGreaterThan(0);
    expect(f.raw.median, f.figure).toBeGreaterThan(0);
    expect(Number.isFinite(f.ratio), f.figure).toBe(true);
  }
  // the binary formats are smaller than JSON; JSON Schema is JSON plus the 5-byte frame
  const size = (name: string) => figures.find((f) => f.figure === `${name}.body.bytes`)!;
  expect(size('avro').carrier.median).toBeLessThan(size('avro').raw.median);
  expect(size('protobuf').carrier.median).toBeLessThan(size('protobuf').raw.median);
  expect(size('json-schema').carrier.median).toBe(size('json-schema').raw.median + 5);
});
