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
 */
class DeadlinedTransport extends NodeTransport {
  override async connect(
    hp: { hostname: string; port: number; tlsName: string },
    options: ConnectionOptions,
  ) {
    const timer = setTimeout(() => {
      if (!this.connected)
        this.socket?.destroy(new Error(`no INFO from nats-server within ${options.timeout} ms`));
    }, options.timeout ?? 20_000);
    try {
      return await super.connect(hp, options);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * `connect()` of @nats-io/transport-node with {@link DeadlinedTransport}. (The transport factory is
 * process-wide in nats.js: a later plain `connect()` elsewhere in the process puts the stock one
 * back for dials made after it, which only loses this guard.)
 */
export function connectWithDeadline(options: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new DeadlinedTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(options);
}
