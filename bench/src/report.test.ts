import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { figure, figureLine, formatValue, table, writeResults } from './report.js';

describe('report', () => {
  const f = figure(
    {
      broker: 'kafka',
      figure: 'publish-batch.msgs_per_s',
      unit: 'msg/s',
      higherIsBetter: true,
      reference: 'kafkajs',
    },
    [9000, 8000, 8500],
    [10000, 10000, 10000],
  );

  it('prints the machine-readable line scripts parse', () => {
    expect(figureLine(f)).toBe('kafka publish-batch.msgs_per_s carrier=8500 raw=10000 ratio=0.850');
    expect(f.pairedRatio).toBe(0.85);
    expect(figureLine(f)).toMatch(/^\S+ \S+ carrier=\S+ raw=\S+ ratio=\S+$/);
  });

  it('formats values with 4 significant digits', () => {
    expect(formatValue(12345.6)).toBe('12346');
    expect(formatValue(1.23456)).toBe('1.235');
    expect(formatValue(0)).toBe('0');
  });

  it('marks figures below 0.9x in the table', () => {
    const text = table([f]);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('0.85 !');
  });

  it('ratio is the ratio of the medians, the paired ratio the median of per-round ratios', () => {
    const drift = figure(
      { broker: 'memory', figure: 'x', unit: 'msg/s', higherIsBetter: true, reference: 'r' },
      [100, 10, 50],
      [100, 10, 200],
    );
    expect(drift.ratio).toBe(0.5);
    expect(drift.pairedRatio).toBe(1);
  });

  it('names the results file after the date and the broker, otel:<broker> as otel-<broker>', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
    try {
      const info = {
        startedAt: '2026-12-01T10:00:00.000Z',
        command: 'npm run bench -- --broker otel:nats',
        node: 'v22',
        machine: { cpus: 2, cpuModel: 'x', memoryGiB: 8, loadavg: [0, 0, 0] },
        options: {},
      };
      const file = writeResults(dir, 'otel:nats', info, [f], undefined);
      expect(path.basename(file)).toBe('2026-12-01-otel-nats.json');
      expect(JSON.parse(readFileSync(file, 'utf8')).broker).toBe('otel:nats');
      expect(path.basename(writeResults(dir, 'kafka', info, [f], undefined))).toBe('2026-12-01-kafka.json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
