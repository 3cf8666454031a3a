import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Lease, Receiver } from './receiver.js';

const receivers: Receiver[] = [];
afterEach(() => {
  for (const r of receivers.splice(0)) r.abort();
});

/** A receiver whose ReceiveMessage answers `answers` in turn, then waits until it is aborted. */
function receiver(answers: Array<() => Promise<unknown>>) {
  const log: string[] = [];
  let inHandOut = false;
  let n = 0;
  const sqs = {
    send: (command: unknown, options?: { abortSignal?: AbortSignal }) => {
      if (!(command instanceof ReceiveMessageCommand)) return Promise.resolve({});
      const answer = answers[n++];
      if (answer) return answer();
      return new Promise((_, reject) =>
        options?.abortSignal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        ),
      );
    },
  } as unknown as SQSClient;
  const r = new Receiver({
    sqs,
    queueUrl: 'http://queue',
    prefetch: 10,
    visibilityTimeoutSeconds: 30,
    waitTimeSeconds: 0,
    shortPoll: false,
    deliver: (lease: Lease) => log.push(`deliver ${lease.message.MessageId} in handOut ${inHandOut}`),
    giveBack: async () => {},
    onError: (e) => log.push(`onError ${e.message}`),
    track: () => () => {},
    onReceive: () => {
      log.push('receive');
      return {
        handOut: <T>(handOut: () => T): T => {
          inHandOut = true;
          try {
            return handOut();
          } finally {
            inHandOut = false;
          }
        },
        end: (count: number, error?: unknown) => log.push(`end ${count}${error ? ' failed' : ''}`),
      };
    },
  });
  receivers.push(r);
  return { r, log };
}

const msg = (id: string) => ({ MessageId: id, ReceiptHandle: `h-${id}`, Body: '' });

describe('Receiver telemetry', () => {
  it('reports each ReceiveMessage: end with its count, then its messages handed over inside handOut; a failed one ends with an error', async () => {
    const { r, log } = receiver([
      async () => ({ Messages: [msg('a'), msg('b')] }),
      async () => {
        throw Object.assign(new Error('refused'), { name: 'InternalError' });
      },
    ]);
    r.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(log.slice(0, 6)).toEqual([
      'receive',
      'end 2',
      'deliver a in handOut true',
      'deliver b in handOut true',
      'receive',
      'end 0 failed',
    ]);
  });
});
