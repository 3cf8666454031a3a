import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { rewriteUrl, startProxy, type TcpProxy, urlAddress } from '../src/proxy.js';

// A RabbitMQ URL with several hosts (`amqp://u:p@h1:5672,h2:5673/vhost`, the nodes of a cluster):
// the transport connects to the first host that accepts and, after losing its connection, to the
// next one. The hosts here are a closed port and TCP proxies in front of the run's one broker, so
// that a host can "die" (the proxy closes) without disturbing other specs.

const direct = () => inject('brokers').rabbitmq;
const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const carriers: Carrier[] = [];
const proxies: TcpProxy[] = [];

afterEach(async () => {
  await Promise.allSettled(carriers.splice(0).map((c) => c.close()));
  await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
});

/** A local port nothing listens on (bound, then released): connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The run's broker URL with its host list replaced by `hosts` (user info, vhost and query kept). */
const withHosts = (hosts: readonly string[]) => rewriteUrl(direct(), hosts.join(','));
const { host, port } = { ...urlAddress(inject('brokers').rabbitmq) };

/** Publishes one message on a fresh topic and waits until `sub` handled it. */
async function roundTrip(
  pub: Carrier,
  sub: Carrier,
  topic: string,
  group: string,
  id: string,
): Promise<void> {
  const handled: string[] = [];
  const subscription = await sub.subscribe(topic, { group }, (m) => {
    handled.push(m.id);
  });
  await pub.publish(topic, { n: 1 }, { id });
  await waitFor(() => handled.includes(id), 15_000, `${id} handled`);
  await subscription.close();
}

describe('rabbitmq URL with several hosts', () => {
  it('connects to the live host when the first host refuses connections', { timeout: 30_000 }, async () => {
    const dead = await closedPort();
    const url = withHosts([`127.0.0.1:${dead}`, `${host}:${port}`]);
    const carrier = await connect(url);
    carriers.push(carrier);
    const topic = fresh('hosts-first-dead');
    await roundTrip(carrier, carrier, topic, 'g', 'm-1');
  });

  it('fails with CONNECTION naming every host, without the password, when none accepts', {
    timeout: 30_000,
  }, async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const password = new URL(direct()).password;
    let error: unknown;
    try {
      carriers.push(await connect(withHosts([`127.0.0.1:${a}`, `127.0.0.1:${b}`])));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('CONNECTION');
    expect((error as CarrierError).message).toContain(`cannot connect to any of the 2 hosts`);
    expect((error as CarrierError).message).toContain(`127.0.0.1:${a}`);
    expect((error as CarrierError).message).toContain(`127.0.0.1:${b}`);
    expect((error as CarrierError).message).not.toContain(`:${password}@`);
  });

  it('reconnects to the next host when the connected host dies, and consumption resumes there', {
    timeout: 60_000,
  }, async () => {
    const first = await startProxy({ host, port });
    const second = await startProxy({ host, port });
    proxies.push(first, second);
    const lost: CarrierError[] = [];
    const url = `${withHosts([first.address, second.address])}?reconnectMaxDelay=500`;
    const carrier = await connect(url, {
      onError: (e) => {
        if (e instanceof CarrierError) lost.push(e);
      },
    });
    carriers.push(carrier);
    const topic = fresh('hosts-failover');
    const handled: string[] = [];
    await carrier.subscribe(topic, { group: 'g' }, (m) => {
      handled.push(m.id);
    });
    await carrier.publish(topic, { n: 1 }, { id: 'before' });
    await waitFor(() => handled.includes('before'), 15_000, 'the message published before the loss handled');
    expect(first.openConnections).toBeGreaterThan(0);
    expect(second.accepted).toBe(0);

    await first.close(); // the node dies: its connections are reset, its port refuses
    await waitFor(() => lost.some((e) => /lost/.test(e.message)), 15_000, 'the loss reported');
    await carrier.publish(topic, { n: 2 }, { id: 'after' });
    await waitFor(() => handled.includes('after'), 20_000, 'the message published after the loss handled');
    expect(second.openConnections).toBeGreaterThan(0);
  });
});
