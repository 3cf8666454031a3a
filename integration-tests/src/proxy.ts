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
//   await proxy.close();          // stops listening and destroys every connection
//
// Modes:
// - `pass`: bytes flow both ways; a FIN or RST on one side is passed to the other.
// - `blackhole`: like a network that drops every packet while both hosts stay up. Existing
//   connections stay open; nothing is read from either side, so bytes wait in the socket buffers
//   (the sender sees back-pressure, as with TCP retransmits) and are delivered if the mode goes
//   back to `pass`. A FIN or RST from one side is held too and passed on at `pass`. New
//   connections are accepted (the client's connect succeeds) and held; the proxy connects them to
//   the target only once the mode is `pass`.
// - `reset`: every open connection is destroyed with RST on both sides; new connections are
//   accepted and reset at once (the client sees ECONNRESET, never a silent hang).

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
  /** Client connections open right now. */
  readonly openConnections: number;
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

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  /** Upstream is connecting or connected. */
  upstreamStarted: boolean;
  /** Ends/errors seen on one side while blackholed, passed on at `pass`. */
  pendingClientEnd: boolean;
  pendingUpstreamEnd: boolean;
  pendingClientReset: boolean;
  pendingUpstreamReset: boolean;
  /** Back-pressure: the destination of this side asked us to wait. */
  clientBlocked: boolean;
  upstreamBlocked: boolean;
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

  /** Sets each socket's flow from the mode and back-pressure. */
  const flow = (p: Pair) => {
    if (p.done) return;
    const passing = mode === 'pass';
    const upstreamReady = p.upstream !== undefined && !p.upstream.connecting;
    if (passing && upstreamReady && !p.clientBlocked) p.client.resume();
    else p.client.pause();
    if (p.upstream) {
      if (passing && !p.upstreamBlocked) p.upstream.resume();
      else p.upstream.pause();
    }
  };

  /** Applies what happened during a blackhole, now that the mode is `pass`. */
  const release = (p: Pair) => {
    if (p.done) return;
    if (p.pendingClientReset || p.pendingUpstreamReset) {
      finish(p, 'reset');
      return;
    }
    if (!p.upstreamStarted) connectUpstream(p);
    if (p.pendingClientEnd && p.upstream && !p.upstream.connecting) {
      p.pendingClientEnd = false;
      p.upstream.end();
    }
    if (p.pendingUpstreamEnd) {
      p.pendingUpstreamEnd = false;
      p.client.end();
    }
    flow(p);
  };

  const wire = (p: Pair, from: net.Socket, to: () => net.Socket | undefined, side: 'client' | 'upstream') => {
    from.on('data', (chunk: Buffer) => {
      const dest = to();
      if (mode !== 'pass' || !dest || dest.connecting || p.done) {
        // arrived just as the mode changed: keep it for later, in order
        from.unshift(chunk);
        from.pause();
        return;
      }
      if (!dest.write(chunk)) {
        if (side === 'client') p.clientBlocked = true;
        else p.upstreamBlocked = true;
        flow(p);
        dest.once('drain', () => {
          if (side === 'client') p.clientBlocked = false;
          else p.upstreamBlocked = false;
          flow(p);
        });
      }
    });
    from.on('end', () => {
      const dest = to();
      if (mode === 'pass' && dest && !dest.connecting) dest.end();
      else if (side === 'client') p.pendingClientEnd = true;
      else p.pendingUpstreamEnd = true;
      if (p.client.readableEnded && p.upstream?.readableEnded) finish(p, 'destroy');
    });
    from.on('error', () => {
      // ECONNRESET or similar: a reset on one side becomes a reset on the other
      if (mode === 'blackhole') {
        if (side === 'client') p.pendingClientReset = true;
        else p.pendingUpstreamReset = true;
      } else finish(p, 'reset');
    });
    from.on('close', () => {
      if (p.done) return;
      if (mode === 'blackhole') {
        // closed without error after its end: the end is pending already; otherwise hold a reset
        if (!from.readableEnded) {
          if (side === 'client') p.pendingClientReset = true;
          else p.pendingUpstreamReset = true;
        }
        return;
      }
      if (from.readableEnded) {
        // its FIN was passed on; close our side once the other one is done too
        const dest = to();
        if (!dest || dest.destroyed || dest.readableEnded) finish(p, 'destroy');
      } else finish(p, 'reset');
    });
  };

  const connectUpstream = (p: Pair) => {
    p.upstreamStarted = true;
    const up = net.connect({ host: current.host, port: current.port, allowHalfOpen: true });
    up.setNoDelay(true);
    p.upstream = up;
    up.pause();
    up.once('connect', () => {
      if (mode === 'pass') release(p);
      else flow(p);
    });
    wire(p, up, () => p.client, 'upstream');
  };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    accepted += 1;
    client.setNoDelay(true);
    if (closed || mode === 'reset') {
      client.on('error', () => {});
      reset(client);
      return;
    }
    const p: Pair = {
      client,
      upstreamStarted: false,
      pendingClientEnd: false,
      pendingUpstreamEnd: false,
      pendingClientReset: false,
      pendingUpstreamReset: false,
      clientBlocked: false,
      upstreamBlocked: false,
      done: false,
    };
    pairs.add(p);
    wire(p, client, () => p.upstream, 'client');
    if (mode === 'pass') connectUpstream(p);
    flow(p);
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
    get openConnections() {
      return pairs.size;
    },
    setMode(next: ProxyMode) {
      if (closed) throw new Error('proxy: closed');
      mode = next;
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
