import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { figure, figureLine, formatValue, resultsFileName, table, writeResults } from './report.js';

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

  it('adds the A/A calibration to the line and the table', () => {
    const aa = figure(
      { broker: 'core', figure: 'e2e.msgs_per_s', unit: 'msg/s', higherIsBetter: true, reference: 'r' },
      [95, 100, 105],
      [100, 100, 100],
      [100, 100, 100],
    );
    expect(aa.aa?.values).toEqual([0.95, 1, 1.05]);
    expect(aa.aa?.withinNoise).toBe(true);
    expect(figureLine(aa)).toBe(
      'core e2e.msgs_per_s carrier=100 raw=100 ratio=1.000 paired=1.000 aa=1.000 aa_band=0.95..1.05 noise=yes',
    );
    expect(figureLine(aa)).toMatch(/^\S+ \S+ carrier=\S+ raw=\S+ ratio=\S+( \S+=\S+)*$/);
    expect(table([aa, f])).toContain('1.00 ~');
    expect(f.aa).toBeUndefined();
    const slow = figure(
      { broker: 'core', figure: 'x', unit: 'msg/s', higherIsBetter: true, reference: 'r' },
      [50, 50, 50],
      [100, 100, 100],
      [50, 50, 50],
    );
    expect(slow.aa?.withinNoise).toBe(false);
    expect(figureLine(slow)).toContain('noise=no');
  });

  it('writes one file per run, named after its start and commit', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
    try {
      const info = {
        startedAt: '2026-12-01T10:00:05.123Z',
        command: 'npm run bench -- --broker kafka,nats',
        commit: { sha: '324fc53aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', short: '324fc53', dirty: true },
        node: 'v22',
        machine: { cpus: 2, cpuModel: 'x', memoryGiB: 8, loadavg: [0, 0, 0] },
        options: {},
      };
      const broker = {
        command: 'npm run bench -- --broker kafka',
        finishedAt: '',
        loadavg: [],
        figures: [f],
      };
      const file = writeResults(dir, { format: 2, ...info, brokers: { kafka: broker } });
      expect(path.basename(file)).toBe('2026-12-01T10-00-05Z-324fc53.json');
      const again = writeResults(dir, { format: 2, ...info, brokers: { kafka: broker, nats: broker } });
      expect(again).toBe(file);
      const read = JSON.parse(readFileSync(file, 'utf8'));
      expect(Object.keys(read.brokers)).toEqual(['kafka', 'nats']);
      expect(read.commit.dirty).toBe(true);
      expect(resultsFileName({ startedAt: info.startedAt, commit: undefined })).toBe(
        '2026-12-01T10-00-05Z-nogit.json',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
