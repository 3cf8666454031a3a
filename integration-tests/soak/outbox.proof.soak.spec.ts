import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { type ProofBroker, runOutboxProof } from '../specs/outbox-proof-support.js';

// The outbox proof at full size on every broker (opt-in, `npm run soak -- outbox`): 10,000
// transactions, 10 % rolled back, relay killed -9 twice, broker restarted once (not SQS: moto keeps
// nothing across a restart). See specs/outbox-proof-support.ts.

const TOTAL = 10_000;
/** moto handles 10–20 messages/s end to end on a 2-core machine: SQS gets the longest budget. */
const BUDGET_MS: Readonly<Record<ProofBroker, number>> = {
  nats: 600_000,
  kafka: 900_000,
  rabbitmq: 900_000,
  sqs: 1_800_000,
};

const children = new Set<ChildProcess>();
const cleanups = new Set<() => Promise<void>>();

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const cleanup of [...cleanups].reverse()) await cleanup().catch(() => undefined);
}, 120_000);

describe.each(['nats', 'kafka', 'rabbitmq', 'sqs'] as const)('outbox proof on %s (soak)', (broker) => {
  it(
    '10,000 transactions: none lost, none phantom, per-key order, duplicates counted',
    async () => {
      try {
        const result = await runOutboxProof({
          broker,
          total: TOTAL,
          budgetMs: BUDGET_MS[broker],
          children,
          cleanups,
          ...(broker === 'sqs'
            ? { noBrokerRestart: 'moto keeps everything in memory: a restarted moto_server has no queues' }
            : {}),
        });
        expect(result.missing).toEqual([]);
        expect(result.rolledBackDelivered).toEqual([]);
        expect(result.orderViolations).toEqual([]);
        expect(result.outboxRowsLeft).toBe(0);
        expect(result.orderRows).toBe(result.committed);
      } finally {
        for (const c of children) c.kill('SIGKILL');
        for (const cleanup of [...cleanups].reverse()) await cleanup().catch(() => undefined);
        cleanups.clear();
      }
    },
    BUDGET_MS[broker] + 120_000,
  );
});
