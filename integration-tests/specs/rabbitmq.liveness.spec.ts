import { createTransport } from '@carrier/adapter-rabbitmq';
import { afterEach, describe, inject, it } from 'vitest';
import '../src/context.js';
import { startProxy, type TcpProxy, urlAddress } from '../src/proxy.js';
import { expectLeaseLostThenAttempt2 } from './attempt-child-support.js';
import { withParams } from './network-faults-support.js';

// Liveness on RabbitMQ beyond the cross-broker cases of network-faults.spec.ts (silent endpoint at
// connect, silent connection mid-consumption, resets mid-publish): a delivery held on a connection
// that goes silent loses its lease and comes back with attempt 2, on both queue types (quorum
// queues count redeliveries in x-delivery-count, classic queues through the transport's copy).

const direct = () => inject('brokers').rabbitmq;
const proxies: TcpProxy[] = [];

afterEach(async () => {
  await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
});

describe('rabbitmq liveness', () => {
  for (const queueType of ['quorum', 'classic'] as const) {
    it(`a delivery held on a connection that goes silent loses its lease (LEASE_LOST) and comes back with attempt 2 (${queueType})`, {
      timeout: 60_000,
    }, async () => {
      const p = await startProxy(urlAddress(direct()));
      proxies.push(p);
      const t = await createTransport(
        new URL(
          withParams(p.rewrite(direct()), {
            queueType,
            heartbeat: '2',
            connectTimeoutMs: '1500',
            reconnectMaxDelay: '500',
          }),
        ),
        { onError: () => {} },
      );
      const producer = await createTransport(new URL(withParams(direct(), { queueType })), {
        onError: () => {},
      });
      try {
        await expectLeaseLostThenAttempt2(p, t, producer, { prefetch: 1, leaseLostMs: 15_000 });
      } finally {
        await Promise.allSettled([t.close(), producer.close()]);
      }
    });
  }
});
