import { describe, expect, it } from 'vitest';
import { isCarrierError } from './errors.js';
import { createMemoryTransport } from './memory/memory-transport.js';
import { prepareRequest, Requester, replyWire } from './request.js';
import { waitFor } from './testing/wait.js';
import type { WireMessage } from './transport.js';

const memory = (name: string) => createMemoryTransport(new URL(`memory://${name}`), { onError: () => {} });

function requestWire(replyTo: string, prepared: ReturnType<typeof prepareRequest>): WireMessage {
  return {
    id: 'r',
    headers: {},
    contentType: 'text/plain',
    body: new Uint8Array(),
    publishedAt: new Date(),
    metadata: prepared.metadata(replyTo),
  };
}

describe('Requester', () => {
  it('forgets a request that timed out, and drops its late reply without keeping anything', async () => {
    const transport = await memory('requester-late');
    const requester = new Requester(transport);
    const prepared = prepareRequest({ timeoutMs: 50 });
    let address = '';
    const error = await requester
      .run(
        't',
        prepared,
        (a) => {
          address = a;
          return requestWire(a, prepared);
        },
        async () => {},
      )
      .catch((e: unknown) => e);
    expect(isCarrierError(error, 'TIMEOUT')).toBe(true);
    expect(requester.waiting).toBe(0);
    await transport.reply!(address, replyWire(transport, prepared.metadata(address), 'late'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(requester.waiting).toBe(0);
    await requester.close();
    await transport.close();
  });

  it('rejects waiting requests with CLOSED on close and refuses new ones', async () => {
    const transport = await memory('requester-close');
    const requester = new Requester(transport);
    const prepared = prepareRequest({ timeoutMs: 10_000 });
    const waiting = requester.run(
      't',
      prepared,
      (a) => requestWire(a, prepared),
      async () => {},
    );
    await waitFor(() => requester.waiting === 1);
    await requester.close();
    await expect(waiting).rejects.toMatchObject({ code: 'CLOSED' });
    expect(requester.waiting).toBe(0);
    await expect(
      requester.run(
        't',
        prepared,
        (a) => requestWire(a, prepared),
        async () => {},
      ),
    ).rejects.toMatchObject({ code: 'CLOSED' });
    await transport.close();
  });

  it('refuses a bad timeoutMs and metadata that request sets itself', () => {
    for (const timeoutMs of [0, -1, 1.5, 2 ** 31, Number.NaN])
      expect(() => prepareRequest({ timeoutMs })).toThrow(/timeoutMs/);
    expect(() => prepareRequest({ metadata: { correlationId: 'x' } })).toThrow(/correlationId/);
    expect(prepareRequest({}).timeoutMs).toBe(30_000);
  });
});

describe('serving requests', () => {
  it('skips an expired request unless the subscription forwards requests (serveRequests: false)', async () => {
    const { connect } = await import('./connect.js');
    const carrier = await connect('memory://serve-requests');
    try {
      const served: string[] = [];
      const forwarded: string[] = [];
      await carrier.subscribe('t', { group: 'server' }, (m) => {
        served.push(m.id);
      });
      await carrier.subscribe('t', { group: 'bridge', serveRequests: false }, (m) => {
        forwarded.push(m.id);
      });
      const metadata = { replyTo: 'nowhere', correlationId: 'c', deadline: new Date(Date.now() - 1) };
      await carrier.publish('t', 'expired', { id: 'expired', metadata });
      await carrier.publish('t', 'plain', { id: 'plain' });
      await waitFor(() => served.includes('plain') && forwarded.length === 2);
      expect(served).toEqual(['plain']);
      expect(forwarded.sort()).toEqual(['expired', 'plain']);
    } finally {
      await carrier.close();
    }
  });
});
