import { describe, expect, it } from 'vitest';
import { figure, type RunResults } from './report.js';
import { goalText, renderCurrent, renderHistory, replaceRegions } from './results-doc.js';

const machine = { cpus: 2, cpuModel: 'x', memoryGiB: 8, loadavg: [0, 0, 0] };

function run(at: string, sha: string, coreE2e: [number[], number[], number[]]): RunResults {
  const e2e = figure(
    { broker: 'core', figure: 'e2e.msgs_per_s', unit: 'msg/s', higherIsBetter: true, reference: 'loopback' },
    ...coreE2e,
  );
  const p50 = figure(
    { broker: 'core', figure: 'e2e-steady.p50_ms', unit: 'ms', higherIsBetter: false, reference: 'loopback' },
    [3, 3, 3],
    [1, 1, 1],
  );
  const batch = figure(
    {
      broker: 'core',
      figure: 'publish-batch.mb_per_s',
      unit: 'MB/s',
      higherIsBetter: true,
      reference: 'loopback',
    },
    [1, 1, 1],
    [1, 1, 1],
  );
  return {
    format: 2,
    startedAt: at,
    command: 'npm run bench -- --broker core',
    commit: { sha: sha.padEnd(40, '0'), short: sha, dirty: false },
    node: 'v20',
    machine,
    options: {},
    brokers: {
      core: {
        command: 'npm run bench -- --broker core',
        finishedAt: at,
        loadavg: [],
        figures: [e2e, p50, batch],
      },
    },
  };
}

const older = run('2026-12-01T09:00:00.000Z', 'aaaaaaa', [
  [70, 70, 70],
  [100, 100, 100],
  [100, 100, 100],
]);
const newer = run('2026-12-01T10:00:00.000Z', 'bbbbbbb', [
  [85, 90, 95],
  [100, 100, 100],
  [90, 100, 110],
]);

describe('docs/benchmarks.md tables', () => {
  it('the current table shows the latest run of each figure, its A/A band, noise and goal', () => {
    const text = renderCurrent([newer, older]);
    const e2e = text.split('\n').find((l) => l.startsWith('| core | e2e.msgs_per_s'))!;
    expect(e2e).toBe(
      '| core | e2e.msgs_per_s | msg/s | 90 | 100 | 0.90 | 0.90 | 0.90 (0.86..1.16) | yes | ≥ 0.8: met (bound within noise) | 2026-12-01 10:00 bbbbbbb |',
    );
    const p50 = text.split('\n').find((l) => l.startsWith('| core | e2e-steady.p50_ms'))!;
    expect(p50).toContain('≤ 2: **not met**');
    expect(p50).toContain('| – |');
    expect(text).toContain('- core, run 2026-12-01 10:00 bbbbbbb: `npm run bench -- --broker core`');
    expect(text).not.toContain('aaaaaaa');
  });

  it('how it moved: one line per headline figure per run, oldest first', () => {
    const lines = renderHistory([newer, older]).split('\n');
    const e2e = lines.filter((l) => l.startsWith('| core | e2e.msgs_per_s'));
    expect(e2e).toHaveLength(2);
    expect(e2e[0]).toContain('2026-12-01 09:00 aaaaaaa');
    expect(e2e[0]).toContain('≥ 0.8: **not met**');
    expect(e2e[1]).toContain('≥ 0.8: met (bound within noise)');
    expect(lines.some((l) => l.includes('mb_per_s'))).toBe(false);
    expect(lines.some((l) => l.includes('method changed'))).toBe(false);
  });

  it('marks a figure taken another way than in the run before', () => {
    const other = structuredClone(newer);
    const f = other.brokers.core!.figures[0]!;
    (other.brokers.core as { figures: unknown[] }).figures = [{ ...f, note: 'N2 = 4000' }];
    const e2e = renderHistory([older, other])
      .split('\n')
      .filter((l) => l.startsWith('| core | e2e.msgs_per_s'));
    expect(e2e[0]).not.toContain('method changed');
    expect(e2e[1]).toContain('2026-12-01 10:00 bbbbbbb (method changed)');
  });

  it('goals apply to the first raw client only', () => {
    const f = figure(
      {
        broker: 'kafka',
        figure: 'e2e.msgs_per_s.vs-platformatic',
        unit: 'msg/s',
        higherIsBetter: true,
        reference: 'p',
      },
      [1],
      [2],
    );
    expect(goalText('kafka', f)).toBe('');
  });

  it('replaces only the generated regions and keeps the prose', () => {
    const doc =
      'intro\n<!-- generated:results -->\nold\n<!-- /generated -->\nprose\n<!-- generated:history -->\n<!-- /generated -->\nend\n';
    const out = replaceRegions(doc, { results: 'NEW', history: 'H' });
    expect(out).toBe(
      'intro\n<!-- generated:results -->\nNEW\n<!-- /generated -->\nprose\n<!-- generated:history -->\nH\n<!-- /generated -->\nend\n',
    );
    expect(replaceRegions(out, { results: 'NEW', history: 'H' })).toBe(out);
    expect(() => replaceRegions('no markers', { results: 'x' })).toThrow(/generated:results/);
  });
});
