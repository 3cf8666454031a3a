import net from 'node:net';

// Loopback TCP endpoints for the SQS deadline specs: a server that accepts and never answers, and a
// proxy that can go silent (keeps every connection open, forwards nothing; no FIN, no RST).

/** A TCP server that accepts connections and never writes a byte. */
export interface SilentServer {
  readonly port: number;
  /** Connections currently open (a client that gave up must have closed its socket). */
  open(): number;
  close(): Promise<void>;
}

export async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback proxy to `target` that can pass traffic or go silent. */
export interface SilenceableProxy {
  readonly port: number;
  /** Silent from now on: open connections stop forwarding (kept open), new ones are accepted and ignored. */
  silence(): void;
  /** New connections are forwarded again (silenced ones stay silent until their client drops them). */
  pass(): void;
  /** Resets (RST) every open connection, both sides; new ones are forwarded as before. */
  reset(): void;
  close(): Promise<void>;
}

export async function silenceableProxy(targetHost: string, targetPort: number): Promise<SilenceableProxy> {
  let silent = false;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | undefined; silent: boolean }>();
  const server = net.createServer((client) => {
    const pair = { client, upstream: undefined as net.Socket | undefined, silent };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pairs.delete(pair);
      if (!pair.silent) pair.upstream?.destroy();
    });
    if (pair.silent) {
      client.on('data', () => {});
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      if (!pair.silent) client.destroy();
    });
    client.on('data', (d) => {
      if (!pair.silent) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!pair.silent) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    silence() {
      silent = true;
      for (const p of pairs) p.silent = true;
    },
    pass() {
      silent = false;
    },
    reset() {
      for (const p of pairs) {
        p.silent = true;
        p.client.resetAndDestroy();
        p.upstream?.resetAndDestroy();
      }
    },
    close: async () => {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `sqs://host:port?…` with host and port replaced and `params` set. */
export function sqsUrlVia(
  url: string,
  port: number | undefined,
  params: Record<string, string> = {},
): string {
  const u = new URL(url);
  if (port !== undefined) {
    u.hostname = '127.0.0.1';
    u.port = String(port);
  }
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}
