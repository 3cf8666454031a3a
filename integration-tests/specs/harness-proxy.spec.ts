import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { rewriteUrl, startProxy, type TcpProxy, urlAddress } from '../src/proxy.js';

// The loopback TCP proxy of src/proxy.ts against a local echo server (no broker).

interface Echo {
  port: number;
  /** Connections the echo server accepted. */
  accepted: () => number;
  /** Sockets on the server side whose peer sent FIN / that saw an error. */
  ended: () => number;
  errors: () => number;
  /** Bytes the echo server read. */
  bytes: () => number;
  close: () => Promise<void>;
}

async function echoServer(): Promise<Echo> {
  let accepted = 0;
  let ended = 0;
  let errors = 0;
  let bytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted += 1;
    sockets.add(s);
    s.on('data', (d) => {
      bytes += d.length;
      s.write(d);
    });
    s.on('end', () => {
      ended += 1;
      s.end();
    });
    s.on('error', () => {
      errors += 1;
    });
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    ended: () => ended,
    errors: () => errors,
    bytes: () => bytes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Client {
  socket: net.Socket;
  received: () => string;
  ended: () => boolean;
  error: () => NodeJS.ErrnoException | undefined;
  closed: () => boolean;
}

function client(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    let received = '';
    let ended = false;
    let closed = false;
    let error: NodeJS.ErrnoException | undefined;
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      received += d;
    });
    socket.on('end', () => {
      ended = true;
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', (e) => {
      error = e;
    });
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => received,
        ended: () => ended,
        error: () => error,
        closed: () => closed,
      }),
    );
    socket.once('error', reject);
  });
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** How long a test watches a silent connection to see that nothing comes through. */
const QUIET_MS = 300;

describe('loopback TCP proxy', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const setup = async (): Promise<{ echo: Echo; proxy: TcpProxy }> => {
    const echo = await echoServer();
    cleanup.push(echo.close);
    const proxy = await startProxy({ host: '127.0.0.1', port: echo.port });
    cleanup.push(proxy.close);
    return { echo, proxy };
  };

  it('pass: forwards bytes both ways and passes a FIN on', async () => {
    const { echo, proxy } = await setup();
    const c = await client(proxy.port);
    cleanup.push(() => void c.socket.destroy());
    c.socket.write('hello');
    await until('the echo', () => c.received() === 'hello');
    const big = 'x'.repeat(4 * 1024 * 1024);
    c.socket.write(big);
    await until('4 MiB echoed', () => c.received().length === 5 + big.length, 20_000);
    c.socket.end();
    await until('the FIN at the server', () => echo.ended() === 1);
    await until('the server FIN back at the client', () => c.ended());
    await until('the connection gone from the proxy', () => proxy.openConnections === 0);
  });

  it('blackhole: an open connection goes silent (no data, no FIN, no RST) and resumes at pass with nothing lost', async () => {
    const { echo, proxy } = await setup();
    const c = await client(proxy.port);
    cleanup.push(() => void c.socket.destroy());
    c.socket.write('a');
    await until('the first echo', () => c.received() === 'a');

    proxy.setMode('blackhole');
    c.socket.write('b');
    await delay(QUIET_MS);
    expect(c.received()).toBe('a');
    expect(c.ended() || c.closed() || c.error() !== undefined).toBe(false);

    // a FIN from the client is held as well: the server sees nothing
    c.socket.write('c');
    c.socket.end();
    await delay(QUIET_MS);
    expect(echo.ended()).toBe(0);
    expect(c.received()).toBe('a');

    proxy.setMode('pass');
    await until('the held bytes echoed', () => c.received() === 'abc');
    await until('the held FIN delivered', () => echo.ended() === 1 && c.ended());
    expect(echo.errors()).toBe(0);
  });

  it('blackhole: a new connection is accepted but never reaches the target until pass', async () => {
    const { echo, proxy } = await setup();
    proxy.setMode('blackhole');
    const c = await client(proxy.port);
    cleanup.push(() => void c.socket.destroy());
    c.socket.write('hi');
    await delay(QUIET_MS);
    expect(echo.accepted()).toBe(0);
    expect(c.received()).toBe('');
    expect(c.closed()).toBe(false);
    expect(proxy.openConnections).toBe(1);

    proxy.setMode('pass');
    await until('the echo after pass', () => c.received() === 'hi');
    expect(echo.accepted()).toBe(1);
  });

  it('blackhole: a client that gives up is no longer counted open, and the target sees nothing until pass', async () => {
    const { echo, proxy } = await setup();
    const c = await client(proxy.port);
    await until('the proxy connection', () => proxy.openConnections === 1 && echo.accepted() === 1);
    proxy.setMode('blackhole');
    c.socket.destroy();
    await until('the client close seen by the proxy', () => proxy.openConnections === 0);
    await delay(QUIET_MS);
    expect(echo.ended() + echo.errors()).toBe(0);
    proxy.setMode('pass');
    await until('the close passed on', () => echo.ended() + echo.errors() === 1);
  });

  it('blackhole: a server that closes meanwhile is seen by the client only at pass', async () => {
    const { proxy } = await setup();
    // a server that closes every connection after its first byte
    const closer = net.createServer((s) => s.once('data', () => s.end('bye')));
    await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => closer.close(() => resolve())));
    proxy.setTarget(`127.0.0.1:${(closer.address() as net.AddressInfo).port}`);
    const c = await client(proxy.port);
    cleanup.push(() => void c.socket.destroy());
    await until('the proxy connection', () => proxy.openConnections === 1);
    proxy.setMode('blackhole');
    c.socket.write('x');
    await delay(QUIET_MS);
    expect(c.received()).toBe('');
    expect(c.ended()).toBe(false);
    proxy.setMode('pass');
    await until('bye and FIN', () => c.received() === 'bye' && c.ended());
  });

  it('reset: open connections get an RST and new ones are reset at once', async () => {
    const { echo, proxy } = await setup();
    const c = await client(proxy.port);
    cleanup.push(() => void c.socket.destroy());
    c.socket.write('a');
    await until('the echo', () => c.received() === 'a');

    proxy.setMode('reset');
    await until('the reset at the client', () => c.closed());
    expect(c.error()?.code).toBe('ECONNRESET');
    expect(c.ended()).toBe(false);
    await until('the reset at the server', () => echo.errors() === 1);
    expect(proxy.openConnections).toBe(0);

    // a new connection: accepted by the kernel, then reset (never a hang)
    // (the RST can come before or after the client sees its connect complete)
    const code = await client(proxy.port).then(
      async (fresh) => {
        await until('the reset of a new connection', () => fresh.closed());
        return fresh.error()?.code;
      },
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(code).toBe('ECONNRESET');
    expect(echo.accepted()).toBe(1);

    proxy.setMode('pass');
    const again = await client(proxy.port);
    cleanup.push(() => void again.socket.destroy());
    again.socket.write('back');
    await until('the echo after reset', () => again.received() === 'back');
  });

  it('resetAfter: passes the first N bytes on, then resets every connection once; new connections pass', async () => {
    const { echo, proxy } = await setup();
    const a = await client(proxy.port);
    const b = await client(proxy.port);
    cleanup.push(
      () => void a.socket.destroy(),
      () => void b.socket.destroy(),
    );
    a.socket.write('hello');
    await until('the echo', () => a.received() === 'hello');
    expect(proxy.bytesUp).toBe(5);

    proxy.resetAfter(10);
    a.socket.write('x'.repeat(25));
    await until('the reset at the client', () => a.closed());
    expect(a.error()?.code).toBe('ECONNRESET');
    // every connection, also the idle one
    await until('the reset of the other connection', () => b.closed());
    expect(b.error()?.code).toBe('ECONNRESET');
    expect(proxy.resets).toBe(1);
    expect(proxy.bytesUp).toBe(15);
    expect(echo.bytes()).toBeLessThanOrEqual(15);
    expect(proxy.mode).toBe('pass');

    // one-shot: a new connection passes, and more bytes do not reset it
    const c = await client(proxy.port);
    cleanup.push(() => void c.socket.destroy());
    c.socket.write('y'.repeat(100));
    await until('the echo after the reset', () => c.received().length === 100);
    await delay(QUIET_MS);
    expect(c.closed()).toBe(false);
    expect(proxy.resets).toBe(1);
  });

  it('close: resets every connection, also held ones, and stops listening', async () => {
    const { proxy } = await setup();
    const a = await client(proxy.port);
    proxy.setMode('blackhole');
    const b = await client(proxy.port);
    await until('two connections', () => proxy.openConnections === 2);
    await proxy.close();
    await until('both closed', () => a.closed() && b.closed());
    expect(a.error()?.code).toBe('ECONNRESET');
    await expect(client(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.close(); // idempotent
  });

  it('a target that refuses: the client connection is reset', async () => {
    const { echo, proxy } = await setup();
    await echo.close();
    const c = await client(proxy.port);
    await until('the reset', () => c.closed());
    expect(c.error()?.code).toBe('ECONNRESET');
  });

  it('rewrites URLs to go through the proxy', async () => {
    expect(urlAddress('amqp://guest:guest@127.0.0.1:5672/vh?heartbeat=1')).toEqual({
      host: '127.0.0.1',
      port: 5672,
    });
    expect(urlAddress('kafka://127.0.0.1:9092,127.0.0.1:9093')).toEqual({ host: '127.0.0.1', port: 9092 });
    expect(rewriteUrl('amqp://guest:guest@127.0.0.1:5672/vh?heartbeat=1', '127.0.0.1:1')).toBe(
      'amqp://guest:guest@127.0.0.1:1/vh?heartbeat=1',
    );
    expect(rewriteUrl('sqs://127.0.0.1:4566?region=us-east-1', '127.0.0.1:1')).toBe(
      'sqs://127.0.0.1:1?region=us-east-1',
    );
    expect(rewriteUrl('nats://127.0.0.1:4222', '127.0.0.1:1')).toBe('nats://127.0.0.1:1');
  });
});
