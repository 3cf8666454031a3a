import { CarrierError, type Message } from '@carrier/core';
import { expect } from 'vitest';
import type { CaseContext, ContractCase } from '../case.js';
import { type DeliveryLog, observingFactory } from '../counting-transport.js';
import { freshName, gate } from '../support.js';

const theme = 'failure behaviour';

/** The release case, for an unordered or an ordered group. */
function releaseKeepsAttempt(ordered: boolean): ContractCase {
  return {
    name: ordered
      ? 'a delivery given back by close() of an ordered member keeps its attempt when a new member gets it'
      : 'a delivery given back by close() keeps its attempt when a new member gets it',
    theme,
    // an ordered group gives back at its place in the queue (single active consumer, a FIFO
    // message group): the broker's count must still not be charged
    needs: ordered ? ['url', 'perKeyOrder'] : ['url'],
    run: (context) => runRelease(context, ordered),
  };
}

async function runRelease(
  { carrier, carrierWrapped, until, options: { releaseChargesAttempt } }: CaseContext,
  ordered: boolean,
): Promise<void> {
  const log: DeliveryLog = { received: [], settled: [] };
  const c = await carrierWrapped((f) => observingFactory(f, log));
  const topic = freshName('release-attempt');
  const hold = gate();
  const started: string[] = [];
  const sub = await c.subscribe(topic, { group: 'g', concurrency: 1, prefetch: 4, ordered }, async (m) => {
    started.push(m.id);
    await hold.promise;
  });
  const ids = (
    await c.publishBatch(
      topic,
      Array.from({ length: 4 }, (_, i) => ({ body: i })),
    )
  ).map((r) => r.id);
  await until(
    () => started.length >= 1 && log.received.length >= 2,
    'one handler running and a second delivery waiting behind it',
  );
  const closing = sub.close();
  hold.open();
  await closing;
  const released = log.settled.filter((s) => s.kind === 'release').map((s) => s.id);
  expect(released.length, 'deliveries given back by close()').toBeGreaterThanOrEqual(1);
  const c2 = await carrier();
  const later: Message[] = [];
  await c2.subscribe(topic, { group: 'g', concurrency: 4, ordered }, (m) => {
    later.push(m);
  });
  await until(
    () => new Set([...started, ...later.map((m) => m.id)]).size >= ids.length,
    'every message handled by one member or the next',
  );
  const releasedAttempt = releaseChargesAttempt ? 2 : 1;
  for (const id of released) {
    const again = later.find((m) => m.id === id);
    expect(again, `released message ${id} delivered to the next member`).toBeDefined();
    expect(again!.attempt, `attempt of released message ${id}`).toBe(releasedAttempt);
  }
  expect(
    later.filter((m) => !released.includes(m.id) && m.attempt !== 1).map((m) => `${m.id}@${m.attempt}`),
    'messages not released delivered with a charged attempt',
  ).toEqual([]);
}

export const releaseKeepsAttemptUnordered = releaseKeepsAttempt(false);
export const releaseKeepsAttemptOrdered = releaseKeepsAttempt(true);

export const memberChurn: ContractCase = {
  name: 'a member joining and leaving during a long handler never causes concurrent handling of one message',
  theme,
  needs: ['url'],
  async run({ carrierWrapped, until }) {
    // Member A handles the one message for HANDLER_MS (its workload, below every broker's lease
    // renewal margin: the adapters renew the lease while a handler runs). Meanwhile member B
    // joins the group and leaves again, which rebalances the group on Kafka. The message must
    // never be handled by two members at once, and here it must be handled once and acked once.
    const HANDLER_MS = 4_000;
    const JOIN_AFTER_MS = 500;
    const LEAVE_AFTER_MS = 1_500;
    const SETTLE_MS = 2_000;
    const log: DeliveryLog = { received: [], settled: [] };
    const errors: string[] = [];
    const member = () =>
      carrierWrapped((f) => observingFactory(f, log), {
        onError: (error) => {
          errors.push(String(error));
        },
      });
    const runs: Array<{
      member: string;
      id: string;
      attempt: number;
      start: number;
      end?: number;
      leaseLost?: boolean;
    }> = [];
    const handler = (name: string) => async (m: Message) => {
      const run: (typeof runs)[number] = {
        member: name,
        id: m.id,
        attempt: m.attempt,
        start: performance.now(),
      };
      runs.push(run);
      await new Promise((resolve) => setTimeout(resolve, HANDLER_MS)); // the workload
      run.leaseLost = m.signal.aborted;
      run.end = performance.now();
    };
    const a = await member();
    const topic = freshName('member-churn');
    await a.declare(topic, ['g']);
    const { id } = await a.publish(topic, { work: 'long' }, { key: 'churn-key' });
    await a.subscribe(topic, { group: 'g', concurrency: 1 }, handler('A'));
    await until(() => runs.length >= 1, 'member A to start handling the message');
    const aStart = runs[0]!.start;
    const atOffset = (ms: number) =>
      new Promise((resolve) => setTimeout(resolve, Math.max(0, aStart + ms - performance.now())));
    await atOffset(JOIN_AFTER_MS);
    const b = await member();
    // B leaves at a fixed time whether or not its subscribe has resolved: on Kafka the join
    // completes only once the rebalance it started is over, which A's running handler holds up.
    let bJoined = false;
    const bSubscribing = b.subscribe(topic, { group: 'g', concurrency: 1 }, handler('B')).then(
      () => {
        bJoined = true;
      },
      (error: unknown) => error,
    );
    await atOffset(JOIN_AFTER_MS + LEAVE_AFTER_MS);
    const bLeftAt = performance.now();
    const aRunningWhenBLeft = runs[0]!.end === undefined;
    const bJoinedWhenLeft = bJoined;
    await b.close();
    const bOutcome = await bSubscribing;
    if (bOutcome !== undefined) {
      // The only acceptable failure: the subscribe was cut short by B's close.
      expect(bOutcome).toBeInstanceOf(CarrierError);
      expect((bOutcome as CarrierError).code).toBe('CLOSED');
    }
    await until(() => runs.every((r) => r.end !== undefined), 'every handler run to finish');
    // No further run may start within a settle window after the last one finished.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await until(() => runs.every((r) => r.end !== undefined), 'runs started in the settle window to finish');
    const timeline = runs.map(
      (r) =>
        `${r.member}#${r.attempt} ${Math.round(r.start)}–${r.end === undefined ? '…' : Math.round(r.end)}${r.leaseLost ? ' (lease lost)' : ''}`,
    );
    const context = `runs ${timeline.join(', ')}; B ${bJoinedWhenLeft ? 'joined and ' : 'left before its subscribe resolved, '}left at ${Math.round(bLeftAt)}; settled ${JSON.stringify(log.settled)}; errors ${JSON.stringify(errors)}`;
    const ofMessage = runs.filter((r) => r.id === id).sort((x, y) => x.start - y.start);
    for (let i = 1; i < ofMessage.length; i++) {
      expect(
        ofMessage[i]!.start,
        `run ${i + 1} starts after run ${i} ended: ${context}`,
      ).toBeGreaterThanOrEqual(ofMessage[i - 1]!.end!);
    }
    expect(ofMessage.length, `handler runs of the message: ${context}`).toBe(1);
    expect(aRunningWhenBLeft, `A's handler still running when B left: ${context}`).toBe(true);
    expect(ofMessage[0]!.member, context).toBe('A');
    expect(ofMessage[0]!.leaseLost, `member A lost its lease: ${context}`).toBe(false);
    expect(
      log.settled.filter((s) => s.id === id),
      `settlements of the message: ${context}`,
    ).toEqual([{ id, kind: 'ack' }]);
  },
};
