import { type Carrier, CarrierError, type Message } from '@carrier/core';
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

/** One handler run of the member-churn case. */
interface Run {
  member: string;
  id: string;
  attempt: number;
  start: number;
  end?: number;
  leaseLost?: boolean;
}

/** The handler runs of the member-churn case, each a workload of `workloadMs`. */
class RunLog {
  readonly runs: Run[] = [];

  constructor(private readonly workloadMs: number) {}

  /** The handler of member `name`. */
  handler(name: string): (m: Message) => Promise<void> {
    return async (m) => {
      const run: Run = { member: name, id: m.id, attempt: m.attempt, start: performance.now() };
      this.runs.push(run);
      await new Promise((resolve) => setTimeout(resolve, this.workloadMs)); // the workload
      run.leaseLost = m.signal.aborted;
      run.end = performance.now();
    };
  }

  /** Whether every run started so far has finished. */
  get finished(): boolean {
    return this.runs.every((r) => r.end !== undefined);
  }

  timeline(): string {
    return this.runs
      .map(
        (r) =>
          `${r.member}#${r.attempt} ${Math.round(r.start)}–${r.end === undefined ? '…' : Math.round(r.end)}${r.leaseLost ? ' (lease lost)' : ''}`,
      )
      .join(', ');
  }

  /** The runs of message `id` in start order, asserting that none started before the previous ended. */
  sequentialRunsOf(id: string, context: string): Run[] {
    const ofMessage = this.runs.filter((r) => r.id === id).sort((x, y) => x.start - y.start);
    for (let i = 1; i < ofMessage.length; i++) {
      expect(
        ofMessage[i]!.start,
        `run ${i + 1} starts after run ${i} ended: ${context}`,
      ).toBeGreaterThanOrEqual(ofMessage[i - 1]!.end!);
    }
    return ofMessage;
  }
}

/**
 * Member B subscribes, and closes when `leaveAt` resolves, whether or not its subscribe resolved
 * (on Kafka the join completes only once the rebalance it started is over, which A's running
 * handler holds up). Resolves with whether B had joined when it left.
 */
async function joinThenLeave(
  b: Carrier,
  topic: string,
  handler: (m: Message) => Promise<void>,
  leaveAt: Promise<unknown>,
): Promise<boolean> {
  let joined = false;
  const subscribing = b.subscribe(topic, { group: 'g', concurrency: 1 }, handler).then(
    () => {
      joined = true;
    },
    (error: unknown) => error,
  );
  await leaveAt;
  const joinedWhenLeft = joined;
  await b.close();
  const outcome = await subscribing;
  if (outcome !== undefined) {
    // The only acceptable failure: the subscribe was cut short by B's close.
    expect(outcome).toBeInstanceOf(CarrierError);
    expect((outcome as CarrierError).code).toBe('CLOSED');
  }
  return joinedWhenLeft;
}

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
      carrierWrapped((f) => observingFactory(f, log), { onError: (error) => errors.push(String(error)) });
    const runs = new RunLog(HANDLER_MS);
    const a = await member();
    const topic = freshName('member-churn');
    await a.declare(topic, ['g']);
    const { id } = await a.publish(topic, { work: 'long' }, { key: 'churn-key' });
    await a.subscribe(topic, { group: 'g', concurrency: 1 }, runs.handler('A'));
    await until(() => runs.runs.length >= 1, 'member A to start handling the message');
    const aStart = runs.runs[0]!.start;
    const atOffset = (ms: number) =>
      new Promise((resolve) => setTimeout(resolve, Math.max(0, aStart + ms - performance.now())));
    await atOffset(JOIN_AFTER_MS);
    const leaving = atOffset(JOIN_AFTER_MS + LEAVE_AFTER_MS).then(() => ({
      at: performance.now(),
      aRunning: runs.runs[0]!.end === undefined,
    }));
    const bJoined = await joinThenLeave(await member(), topic, runs.handler('B'), leaving);
    const left = await leaving;
    await until(() => runs.finished, 'every handler run to finish');
    // No further run may start within a settle window after the last one finished.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await until(() => runs.finished, 'runs started in the settle window to finish');
    const context = `runs ${runs.timeline()}; B ${bJoined ? 'joined and ' : 'left before its subscribe resolved, '}left at ${Math.round(left.at)}; settled ${JSON.stringify(log.settled)}; errors ${JSON.stringify(errors)}`;
    const ofMessage = runs.sequentialRunsOf(id, context);
    expect(ofMessage.length, `handler runs of the message: ${context}`).toBe(1);
    expect(left.aRunning, `A's handler still running when B left: ${context}`).toBe(true);
    expect(ofMessage[0]!.member, context).toBe('A');
    expect(ofMessage[0]!.leaseLost, `member A lost its lease: ${context}`).toBe(false);
    expect(
      log.settled.filter((s) => s.id === id),
      `settlements of the message: ${context}`,
    ).toEqual([{ id, kind: 'ack' }]);
  },
};
