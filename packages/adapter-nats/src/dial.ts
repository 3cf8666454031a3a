import { isClientCertificateRefusal } from '@carrier/core/kit';
import {
  type ConnectionOptions,
  type NatsConnection,
  NatsConnectionImpl,
  setTransportFactory,
} from '@nats-io/transport-node';
import { NodeTransport, nodeResolveHost } from '@nats-io/transport-node/lib/node_transport.js';

/**
 * nats.js (transport-node 3.4) gives up a dial after `timeout` ms but leaves the socket open when
 * the server accepted TCP and never sent its INFO (a silent endpoint): the socket then lives as long
 * as the peer keeps it, on the first connect and on every reconnection attempt alike. This transport
 * destroys its own socket when its dial has not completed within the same `timeout`.
 *
 * It also reports a client certificate the server refuses: under TLS 1.3 the client's handshake
 * completes before the server checks the client's certificate, and the server's alert (`certificate
 * required`, `unknown ca`) arrives after nats.js considers the socket connected, while it waits for
 * the first PONG; nats.js then waits for its whole `timeout`. `onRefused` hears the alert at once.
 */
class DeadlinedTransport extends NodeTransport {
  constructor(private readonly onRefused: (error: Error) => void) {
    super();
  }

  override async connect(
    hp: { hostname: string; port: number; tlsName: string },
    options: ConnectionOptions,
  ) {
    const timer = setTimeout(() => {
      if (!this.connected)
        this.socket?.destroy(new Error(`no INFO from nats-server within ${options.timeout} ms`));
    }, options.timeout ?? 20_000);
    try {
      await super.connect(hp, options);
    } finally {
      clearTimeout(timer);
    }
    this.socket?.on('error', (error: Error) => {
      if (isClientCertificateRefusal(error)) this.onRefused(error);
    });
  }
}

/**
 * `connect()` of @nats-io/transport-node with {@link DeadlinedTransport}; rejects with the TLS alert
 * as soon as the server refuses the client certificate (the pending nats.js connect is then left
 * to fail by itself, and closed should it ever succeed). (The transport factory is process-wide in
 * nats.js: a later plain `connect()` elsewhere in the process puts the stock one back for dials
 * made after it, which only loses these guards.)
 */
export async function connectWithDeadline(options: ConnectionOptions): Promise<NatsConnection> {
  let refuse: (error: Error) => void = () => {};
  const refused = new Promise<never>((_, reject) => {
    refuse = reject;
  });
  setTransportFactory({ factory: () => new DeadlinedTransport(refuse), dnsResolveFn: nodeResolveHost });
  const connecting = NatsConnectionImpl.connect(options);
  try {
    return await Promise.race([connecting, refused]);
  } catch (error) {
    connecting.then(
      (nc) => nc.close().catch(() => {}),
      () => {},
    );
    throw error;
  } finally {
    refused.catch(() => {});
  }
}
