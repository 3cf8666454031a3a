import { type Carrier, CarrierError, connect } from '@carrier/core';
import { expect } from 'vitest';
import { expectClean, History, type Report, report } from '../src/history/index.js';
import { type Proxied, waitUntil } from './network-faults-support.js';

// Kafka publishing through the proxy of src/proxy.ts while it resets every connection, several
// times over on one publisher connection; then a group declared before the first publish reads the
// topic and must find every publish that resolved. Used by specs/kafka.publish-resets.spec.ts and
// soak/kafka.publish-resets.soak.spec.ts.
//
// What it catches: kafkajs' idempotent producer rolls a partition's sequence number back when a
// produce request fails (also when the broker stored it and only the answer was lost) and retries
// after a pause; a concurrent send (or a retry moved to another partition) reusing that number was
// answered by the broker as a duplicate of the stored batch: success, but never stored.
//
// Publishes and the reading group's handler calls are recorded in a History (src/history/): its
// report must show nothing lost (resolved but not in the topic) and nothing phantom.

/** Codes a publish may reject with when its connection is reset. */
const FAULT_CODES = ['CONNECTION', 'TIMEOUT', 'PUBLISH_FAILED'];

export interface ResetCyclesResult {
  published: number;
  resolved: number;
  rejected: number;
  /** The history checked: publishes with their outcome, the reading group `check`. */
  report: Report;
}

/**
 * `cycles` times: 4 concurrent publishers through `b.through` until 20 publishes resolved, then the
 * proxy resets every connection for 1.5 s, then passes again until 10 more resolved. Asserts that no
 * publish hangs, every rejection is a coded CarrierError (PUBLISH_FAILED naming its message), and
 * every resolved publish is in the topic.
 */
export async function publishThroughResets(b: Proxied, cycles: number): Promise<ResetCyclesResult> {
  const topic = `resets-${Date.now().toString(36)}-${Math.random().toString(16).slice(2, 8)}`;
  let publisher: Carrier | undefined;
  let reader: Carrier | undefined;
  const outcomes = new Map<string, 'ok' | Error>();
  const history = new History({ groups: ['check'] });
  b.proxy.setMode('pass');
  try {
    reader = await connect(b.direct);
    // the reading group exists before anything is published, so it starts at the topic's start
    await reader.declare(topic, ['check']);
    publisher = await connect(b.through, { onError: () => {} });
    let n = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      let phase: 'before' | 'reset' | 'after' = 'before';
      let okBefore = 0;
      let okAfter = 0;
      const deadline = Date.now() + 60_000;
      const network = (async () => {
        await waitUntil('20 publishes before the reset', () => okBefore >= 20, 30_000);
        phase = 'reset';
        b.proxy.setMode('reset');
        await new Promise((r) => setTimeout(r, 1_500));
        phase = 'after';
        b.proxy.setMode('pass');
      })();
      network.catch(() => {});
      const worker = async () => {
        while (Date.now() < deadline && !(phase === 'after' && okAfter >= 10)) {
          const id = `c${cycle}-m${n++}`;
          const started = phase;
          let timer: NodeJS.Timeout | undefined;
          try {
            await history.track([{ id }], () =>
              Promise.race([
                publisher!.publish(topic, { id }, { id }),
                new Promise<never>((_, reject) => {
                  timer = setTimeout(
                    () => reject(new Error(`publish ${id} still pending after 30 s`)),
                    30_000,
                  );
                }),
              ]),
            );
            outcomes.set(id, 'ok');
            if (started === 'after') okAfter++;
            else if (phase === 'before') okBefore++;
          } catch (err) {
            outcomes.set(id, err as Error);
          } finally {
            clearTimeout(timer);
          }
          if (phase === 'reset') await new Promise((r) => setTimeout(r, 50));
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      await network;
      expect(okAfter, `cycle ${cycle}: publishes resolved after the reset ended`).toBeGreaterThanOrEqual(10);
    }

    const resolved = [...outcomes].filter(([, o]) => o === 'ok').map(([id]) => id);
    const rejected = [...outcomes].filter(([, o]) => o !== 'ok') as [string, Error][];
    const bad = rejected.filter(
      ([id, e]) =>
        !(e instanceof CarrierError) ||
        !FAULT_CODES.includes(e.code) ||
        (e.code === 'PUBLISH_FAILED' && !e.failures?.some((f) => f.id === id)),
    );
    expect(
      bad.map(([id, e]) => `${id}: ${String(e)}`),
      'rejections that are not a coded CarrierError naming the message',
    ).toEqual([]);

    // the group declared before the first publish reads the topic from its start
    const seen = new Set<string>();
    const sub = await reader.subscribe(topic, { group: 'check', concurrency: 8 }, (m) => {
      history.handled({ group: 'check', member: 'reader', id: m.id, attempt: m.attempt });
      seen.add(m.id);
    });
    try {
      await waitUntil(
        'every resolved publish in the topic',
        () => resolved.every((id) => seen.has(id)),
        30_000,
      ).catch(() => {});
    } finally {
      await sub.close();
    }
    expect(
      resolved.filter((id) => !seen.has(id)),
      `resolved publishes not in the topic (${resolved.length} resolved, ${rejected.length} rejected, ${seen.size} ids read back)`,
    ).toEqual([]);
    const r = report(history);
    expectClean(r, { order: false });
    return { published: outcomes.size, resolved: resolved.length, rejected: rejected.length, report: r };
  } finally {
    b.proxy.setMode('pass');
    await publisher?.close().catch(() => {});
    await reader?.close().catch(() => {});
  }
}
