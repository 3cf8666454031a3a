import net from 'node:net';

// A loopback TCP proxy for network-fault tests: put it between a client and a broker, then switch
// what the "network" does at runtime.
//
//   import { startProxy } from '../src/proxy.js';
//   const proxy = await startProxy('127.0.0.1:5672');       // or { host, port }
//   const url = proxy.rewrite('amqp://guest:guest@127.0.0.1:5672');   // same URL, proxy's port
//   proxy.setMode('blackhole');   // silent: connections stay open, no byte passes, no FIN, no RST
//   proxy.setMode('pass');        // traffic flows again (held bytes are delivered, like TCP would)
//   proxy.setMode('reset');       // every connection is reset (RST); new ones are reset at once
//   proxy.resetAfter(50_000);     // once 50 kB more went client → target: reset every connection, once
//   await proxy.close();          // stops listening and destroys every connection
//
// Modes:
// - `pass`: bytes flow both ways; a FIN or RST on one side is passed to the other.
// - `blackhole`: like a network that drops every packet while both hosts stay up. Existing
//   connections stay open; bytes from either side are held in the proxy (in order) and delivered
//   if the mode goes back to `pass`, as TCP retransmits would. A FIN or RST from one side is held
//   too and passed on at `pass` (but counted: see `openConnections`). New
//   connections are accepted (the client's connect succeeds) and held; the proxy connects them to
//   the target only once the mode is `pass`.
// - `reset`: every open connection is destroyed with RST on both sides; new connections are
//   accepted and reset at once (the client sees ECONNRESET, never a silent hang).
//
// A silent server (accepts TCP, never answers) is a proxy started in `blackhole` mode with any
// target: `await startProxy('127.0.0.1:9', { mode: 'blackhole' })`.

export type ProxyMode = 'pass' | 'blackhole' | 'reset';

export interface ProxyTarget {
  host: string;
  port: number;
}

export interface TcpProxy {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The port the proxy listens on. */
  readonly port: number;
  /** `127.0.0.1:<port>`: the address clients should use. */
  readonly address: string;
  /** The current mode. */
  readonly mode: ProxyMode;
  /** Where connections go (for the next connection made in `pass`). */
  readonly target: ProxyTarget;
  /** Connections accepted so far (all modes). */
  readonly accepted: number;
  /**
   * Client connections open right now: accepted and not closed or reset by the client (a client's
   * close is seen also while blackholed, though not passed on).
   */
  readonly openConnections: number;
  /** Bytes passed on from clients to the target so far (`pass` mode). */
  readonly bytesUp: number;
  /** How many times every open connection was reset (by `setMode('reset')` or {@link resetAfter}). */
  readonly resets: number;
  /**
   * Arms a one-shot reset: once `bytes` more bytes have been passed on from clients to the target,
   * the first `bytes` of them are delivered and every open connection is reset (RST, both sides),
   * e.g. in the middle of a large publish. The mode does not change: new connections pass. A new
   * call replaces an armed one.
   */
  resetAfter(bytes: number): void;
  /** Switches the mode; takes effect on existing connections at once. */
  setMode(mode: ProxyMode): void;
  /** Changes the target of connections made from now on (existing ones keep theirs). */
  setTarget(target: ProxyTarget | string): void;
  /**
   * The same URL with its (first) `host:port` replaced by the proxy's address, e.g.
   * `amqp://guest:guest@127.0.0.1:5672/vh?heartbeat=1` → `amqp://guest:guest@127.0.0.1:<proxy port>/vh?heartbeat=1`.
   */
  rewrite(url: string): string;
  /** Stops listening and destroys every connection (RST). Idempotent. */
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** Mode at start (default `pass`). */
  mode?: ProxyMode;
  /** Port to listen on (default: a free one). */
  port?: number;
}

export function parseTarget(target: ProxyTarget | string): ProxyTarget {
  if (typeof target !== 'string') return { host: target.host, port: target.port };
  const i = target.lastIndexOf(':');
  const port = Number(target.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`proxy: target must be host:port, not ${target}`);
  return { host: target.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** The first `host:port` of a URL like `scheme://user:pass@host:port,host2:port2/path?query`. */
export function urlAddress(url: string): ProxyTarget {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^,/?#]+)/i.exec(url);
  if (!m?.[1]) throw new Error('proxy: no host:port in the URL');
  return parseTarget(m[1]);
}

/** Replaces the authority's host list of `url` by `address` (keeps user info, path and query). */
export function rewriteUrl(url: string, address: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)([^/?#]+)(.*)$/is.exec(url);
  if (!m) throw new Error('proxy: not a URL with an authority');
  return `${m[1]}${address}${m[3]}`;
}

type Side = 'client' | 'upstream';

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  /** Bytes read from each side and not yet passed on (blackhole, or the upstream still connecting). */
  held: Record<Side, Buffer[]>;
  /** A FIN read from that side and not yet passed on. */
  pendingEnd: Record<Side, boolean>;
  /** That side was reset or closed without FIN; passed on as a reset at `pass`. */
  pendingReset: Record<Side, boolean>;
  /** The destination of that side's bytes asked us to wait (back-pressure, `pass` only). */
  blocked: Record<Side, boolean>;
  /** The client closed or reset its socket (seen even while blackholed). */
  clientGone: boolean;
  done: boolean;
}

/** Starts a proxy on 127.0.0.1 that forwards to `target`; resolves once it listens. */
export async function startProxy(
  target: ProxyTarget | string,
  options: ProxyOptions = {},
): Promise<TcpProxy> {
  let current = parseTarget(target);
  let mode: ProxyMode = options.mode ?? 'pass';
  let accepted = 0;
  let closed = false;
  let bytesUp = 0;
  let resets = 0;
  /** Bytes still to pass client → target before the armed reset (resetAfter). */
  let resetBudget: number | undefined;
  /** The armed reset fired: its last bytes are being written; nothing more passes client → target. */
  let resetting = false;
  const pairs = new Set<Pair>();

  const reset = (s: net.Socket | undefined) => {
    if (!s || s.destroyed) return;
    try {
      s.resetAndDestroy();
    } catch {
      s.destroy();
    }
  };

  const finish = (p: Pair, how: 'reset' | 'destroy') => {
    if (p.done) return;
    p.done = true;
    pairs.delete(p);
    if (how === 'reset') {
      reset(p.client);
      reset(p.upstream);
    } else {
      p.client.destroy();
      p.upstream?.destroy();
    }
  };

  const socketOf = (p: Pair, side: Side) => (side === 'client' ? p.client : p.upstream);
  const other = (side: Side): Side => (side === 'client' ? 'upstream' : 'client');
  /** The socket bytes from `side` go to, if it can take them now. */
  const ready = (p: Pair, side: Side) => {
    const dest = socketOf(p, other(side));
    return dest && !dest.connecting && !dest.destroyed ? dest : undefined;
  };

  /** Reads from a side unless its destination pushes back (in `pass`); blackholed bytes are held. */
  const flow = (p: Pair) => {
    if (p.done) return;
    for (const side of ['client', 'upstream'] as const) {
      const s = socketOf(p, side);
      if (!s) continue;
      if (mode === 'pass' && p.blocked[side]) s.pause();
      else s.resume();
    }
  };

  const resetAll = () => {
    resetting = false;
    resets += 1;
    for (const p of [...pairs]) finish(p, 'reset');
  };

  const forward = (p: Pair, side: Side, chunk: Buffer) => {
    const dest = ready(p, side);
    if (!dest) return;
    if (side === 'client') {
      if (resetting) return;
      if (resetBudget !== undefined && chunk.length >= resetBudget) {
        const head = chunk.subarray(0, resetBudget);
        resetBudget = undefined;
        resetting = true;
        bytesUp += head.length;
        // the bytes up to the budget reach the target, then every connection is reset
        if (head.length > 0) dest.write(head, () => resetAll());
        else resetAll();
        return;
      }
      if (resetBudget !== undefined) resetBudget -= chunk.length;
      bytesUp += chunk.length;
    }
    if (!dest.write(chunk) && !p.blocked[side]) {
      p.blocked[side] = true;
      flow(p);
      dest.once('drain', () => {
        p.blocked[side] = false;
        flow(p);
      });
    }
  };

  /** In `pass`: delivers what was held, in order, then held FINs; a held reset resets both. */
  const release = (p: Pair) => {
    if (p.done || mode !== 'pass') return;
    if (p.pendingReset.client || p.pendingReset.upstream) {
      finish(p, 'reset');
      return;
    }
    if (!p.upstream) {
      connectUpstream(p);
      return; // released again on connect
    }
    for (const side of ['client', 'upstream'] as const) {
      if (!ready(p, side)) continue;
      for (const chunk of p.held[side].splice(0)) forward(p, side, chunk);
      if (p.pendingEnd[side]) {
        p.pendingEnd[side] = false;
        ready(p, side)?.end();
      }
    }
    flow(p);
  };

  const wire = (p: Pair, from: net.Socket, side: Side) => {
    from.on('data', (chunk: Buffer) => {
      if (p.done) return;
      if (mode === 'pass' && ready(p, side) && p.held[side].length === 0) forward(p, side, chunk);
      else p.held[side].push(chunk);
    });
    from.on('end', () => {
      if (side === 'client') p.clientGone = true;
      const dest = ready(p, side);
      if (mode === 'pass' && dest && p.held[side].length === 0) dest.end();
      else p.pendingEnd[side] = true;
      if (p.client.readableEnded && p.upstream?.readableEnded) finish(p, 'destroy');
    });
    from.on('error', () => {
      if (side === 'client') p.clientGone = true;
      // ECONNRESET or similar: a reset on one side becomes a reset on the other
      if (mode === 'blackhole' && !p.done) p.pendingReset[side] = true;
      else finish(p, 'reset');
    });
    from.on('close', () => {
      if (side === 'client') p.clientGone = true;
      if (p.done) return;
      if (mode === 'blackhole') {
        // closed without a FIN we read: pass it on as a reset at `pass`
        if (!from.readableEnded) p.pendingReset[side] = true;
        return;
      }
      if (!from.readableEnded) finish(p, 'reset');
      else {
        // its FIN was passed on; close our side once the other one is done too
        const dest = socketOf(p, other(side));
        if (!dest || dest.destroyed || dest.readableEnded) finish(p, 'destroy');
      }
    });
  };

  const connectUpstream = (p: Pair) => {
    const up = net.connect({ host: current.host, port: current.port, allowHalfOpen: true });
    up.setNoDelay(true);
    p.upstream = up;
    up.once('connect', () => release(p));
    wire(p, up, 'upstream');
    flow(p);
  };

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    accepted += 1;
    client.setNoDelay(true);
    if (closed || mode === 'reset') {
      client.on('error', () => {});
      reset(client);
      return;
    }
    const p: Pair = {
      client,
      held: { client: [], upstream: [] },
      pendingEnd: { client: false, upstream: false },
      pendingReset: { client: false, upstream: false },
      blocked: { client: false, upstream: false },
      clientGone: false,
      done: false,
    };
    pairs.add(p);
    wire(p, client, 'client');
    if (mode === 'pass') connectUpstream(p);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const address = `127.0.0.1:${port}`;

  return {
    host: '127.0.0.1',
    port,
    address,
    get mode() {
      return mode;
    },
    get target() {
      return { ...current };
    },
    get accepted() {
      return accepted;
    },
    get bytesUp() {
      return bytesUp;
    },
    get resets() {
      return resets;
    },
    resetAfter(bytes: number) {
      if (!Number.isInteger(bytes) || bytes < 0) throw new Error('proxy: resetAfter wants a byte count >= 0');
      resetBudget = bytes;
    },
    get openConnections() {
      let n = 0;
      for (const p of pairs) if (!p.clientGone) n += 1;
      return n;
    },
    setMode(next: ProxyMode) {
      if (closed) throw new Error('proxy: closed');
      mode = next;
      if (next === 'reset') resets += 1;
      for (const p of [...pairs]) {
        if (next === 'reset') finish(p, 'reset');
        else if (next === 'pass') release(p);
        else flow(p);
      }
    },
    setTarget(next: ProxyTarget | string) {
      current = parseTarget(next);
    },
    rewrite(url: string) {
      return rewriteUrl(url, address);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const p of [...pairs]) finish(p, 'reset');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
