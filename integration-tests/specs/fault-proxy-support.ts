import { createServer, type Server, Socket } from 'node:net';

// A loopback TCP proxy for liveness specs (NATS, RabbitMQ). Short-term copy-in: the harness
// engineer's `integration-tests/src/proxy.ts` is meant to replace it once committed.
//
// Modes:
// - pass: new connections are forwarded to the target;
// - blackhole: every connection, existing or new, stays open and silent (bytes are read and dropped
//   in both directions, no FIN, no RST), as a half-open network path looks to both ends.
// A connection that was blackholed stays silent when the proxy passes again (its peer must notice
// and reconnect); new connections are forwarded again.

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  silent: boolean;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #mode: 'pass' | 'blackhole' = 'pass';
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  /** Start on 127.0.0.1, an ephemeral port, forwarding to `target` (`host:port`). */
  static async start(target: string): Promise<FaultProxy> {
    const [host, portText] = splitHostPort(target);
    let proxy: FaultProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, host, Number(portText)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new FaultProxy(server, address.port);
    return proxy;
  }

  /** `host:port` of the proxy. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Connections currently open through the proxy. */
  get open(): number {
    return this.#pairs.size;
  }

  private accept(client: Socket, host: string, port: number): void {
    this.accepted++;
    const pair: Pair = { client, upstream: undefined, silent: this.#mode === 'blackhole' };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    const end = () => {
      if (!this.#pairs.delete(pair)) return;
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', end);
    client.on('close', end);
    client.on('data', (chunk) => {
      if (pair.silent) return;
      pair.upstream?.write(chunk);
      this.#countUp(chunk.length);
    });
    if (pair.silent) return; // accepted, never answered
    const upstream = new Socket();
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', end);
    upstream.on('close', end);
    upstream.on('data', (chunk) => {
      if (!pair.silent) client.write(chunk);
    });
    client.pause();
    upstream.connect(port, host, () => client.resume());
  }

  #resetBudget: number | undefined;

  /** Bytes forwarded from clients to the target so far. */
  bytesUp = 0;

  #countUp(bytes: number): void {
    this.bytesUp += bytes;
    if (this.#resetBudget === undefined) return;
    this.#resetBudget -= bytes;
    if (this.#resetBudget <= 0) {
      this.#resetBudget = undefined;
      this.reset();
    }
  }

  /** Reset every connection once `bytes` more bytes went from clients to the target (mid-publish). */
  resetAfter(bytes: number): void {
    this.#resetBudget = bytes;
  }

  /** Silence every connection (existing and new ones), keeping them open. */
  blackhole(): void {
    this.#mode = 'blackhole';
    for (const pair of this.#pairs) pair.silent = true;
  }

  /** Forward new connections again (silenced ones stay silent). */
  pass(): void {
    this.#mode = 'pass';
  }

  /** How many times {@link reset} ran. */
  resets = 0;

  /** Reset (RST) every open connection. */
  reset(): void {
    this.resets++;
    for (const pair of [...this.#pairs]) {
      pair.client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
    }
  }

  async close(): Promise<void> {
    for (const pair of [...this.#pairs]) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function splitHostPort(target: string): [string, string] {
  const at = target.lastIndexOf(':');
  return [target.slice(0, at), target.slice(at + 1)];
}
