// TLS and SASL listeners for a private Kafka broker (src/local.ts adds them when LocalOptions
// names a KafkaSecurity): a SASL_SSL listener that logs users in with SCRAM-SHA-512, and an SSL
// listener that requires a client certificate signed by the trusted CA. The PLAINTEXT listener
// stays (the harness's readiness probe and inter-broker traffic use it); CONTROLLER stays plain.
// Broker settings: https://kafka.apache.org/documentation/#security_ssl and
// #security_sasl_scram (KRaft: SCRAM credentials go into the metadata log with
// `kafka-storage format --add-scram`, before the first start).

/** A PKCS#12 store (see `Pki.pkcs12`, `Pki.truststore`) and its password. */
export interface KeyStore {
  readonly file: string;
  readonly password: string;
}

/** What a secured private Kafka broker needs. */
export interface KafkaSecurity {
  /** The broker's certificate and key (PKCS#12). */
  readonly keystore: KeyStore;
  /** The CA the broker trusts for client certificates (PKCS#12). */
  readonly truststore: KeyStore;
  /** SCRAM-SHA-512 users created when the storage is formatted. */
  readonly scramUsers: readonly { readonly name: string; readonly password: string }[];
}

/** Ports of the secured listeners (in the record's `ports` as `saslSsl` and `ssl`). */
export interface KafkaSecurePorts {
  readonly saslSsl: number;
  readonly ssl: number;
}

/** Listener, protocol-map and property lines, and the storage format arguments, for `security`. */
export function kafkaSecurityConfig(
  host: string,
  security: KafkaSecurity,
  ports: KafkaSecurePorts,
): {
  listeners: string;
  protocolMap: string;
  properties: string[];
  formatArgs: string[];
} {
  const listeners = `,SASL_SSL://${host}:${ports.saslSsl},SSL://${host}:${ports.ssl}`;
  return {
    listeners,
    protocolMap: ',SASL_SSL:SASL_SSL,SSL:SSL',
    properties: [
      'sasl.enabled.mechanisms=SCRAM-SHA-512',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${security.keystore.file}`,
      `ssl.keystore.password=${security.keystore.password}`,
      'ssl.truststore.type=PKCS12',
      `ssl.truststore.location=${security.truststore.file}`,
      `ssl.truststore.password=${security.truststore.password}`,
      'listener.name.ssl.ssl.client.auth=required',
      // a failed SASL login is answered after this delay (Kafka's default is 100 ms)
      'connection.failed.authentication.delay.ms=100',
    ],
    formatArgs: security.scramUsers.flatMap((u) => [
      '--add-scram',
      `SCRAM-SHA-512=[name=${u.name},password=${u.password}]`,
    ]),
  };
}
