import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/**
 * Every socket one kafkajs client opens (through its `socketFactory`), with when it last received
 * bytes. kafkajs neither closes a connection whose requests time out (a silent peer: no FIN, no
 * RST) nor lets its disconnect return before the requests in flight end; this registry lets the
 * adapter destroy such sockets, so kafkajs sees a connection error and reconnects.
 */
export class SocketRegistry {
  readonly #sockets = new Map<Socket, { readonly broker: string; lastReceived: number }>();
  #refused: Error | undefined;
  #onTlsRefusal: ((error: Error) => void) | undefined;
  readonly #isTlsRefusal: (error: Error) => boolean;

  /**
   * @param tlsRefusal - which socket errors are TLS refusals no retry can mend (reported to
   *   {@link onTlsRefusal} at once, while kafkajs would retry them for seconds).
   */
  constructor(tlsRefusal: (error: Error) => boolean = () => false) {
    this.#isTlsRefusal = tlsRefusal;
  }

  /** Calls `listener` with the first TLS refusal on any socket (see the constructor); replaces the previous. */
  onTlsRefusal(listener: ((error: Error) => void) | undefined): void {
    this.#onTlsRefusal = listener;
  }

  /** The factory to pass to kafkajs (`KafkaConfig.socketFactory`). */
  readonly factory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    // Refused (a connect past its deadline): open nothing. kafkajs' retries of the failed connect
    // keep calling the factory for seconds after the deadline; a socket opened and destroyed at
    // once still reaches the endpoint. kafkajs turns the throw into a KafkaJSConnectionError.
    if (this.#refused) throw this.#refused;
    const socket = ssl
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
      : netConnect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    const entry = { broker: `${host}:${port}`, lastReceived: Date.now() };
    this.#sockets.set(socket, entry);
    socket.on('data', () => {
      entry.lastReceived = Date.now();
    });
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', (error) => {
      if (this.#isTlsRefusal(error)) this.#onTlsRefusal?.(error);
    });
    return socket;
  };

  /**
   * Destroys every socket now and opens none from now on (a connect past its deadline): the factory
   * throws instead. The 'error' makes kafkajs reject the requests in flight at once.
   */
  refuse(reason: Error): void {
    this.#refused = reason;
    for (const socket of this.#sockets.keys()) socket.destroy(reason);
  }

  /**
   * Destroys the sockets to `broker` (`host:port`, as kafkajs names it) that received nothing for
   * `silentMs`; resolves how many. kafkajs then fails their requests as a connection error and
   * reconnects on the next request.
   */
  dropSilent(broker: string, silentMs: number): number {
    const now = Date.now();
    let dropped = 0;
    for (const [socket, entry] of this.#sockets) {
      if (entry.broker !== broker || now - entry.lastReceived < silentMs) continue;
      socket.destroy(new Error(`no answer from ${broker} for ${now - entry.lastReceived} ms`));
      dropped++;
    }
    return dropped;
  }
}
