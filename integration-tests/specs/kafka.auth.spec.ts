import { createTransport as kafkaTransport } from '@carrier/adapter-kafka';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Message } from '@carrier/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { createPki, type Pki } from '../src/pki.js';
import { buildCli } from './cli-support.js';
import { capturingConsole, doctorOutput, Exposure, failure } from './secrets-support.js';

// Kafka over TLS with SASL/SCRAM-SHA-512, and mutual TLS, against a broker of this spec's own
// (src/kafka-security.ts: a SASL_SSL listener, an SSL listener requiring client certificates),
// with a throwaway CA. Refusals end connect() at once (no retry loop): AUTH_FAILED for a refused
// login or client certificate, CONNECTION for a broker certificate the client does not trust.

/** How long a refused connect() may take: one TLS handshake and one SASL exchange, no retries. */
const REFUSAL_BOUND_MS = 5_000;
const PASSWORD = `scram-${Math.random().toString(36).slice(2)}-pw`;
const STORE_PASSWORD = 'store-secret';
/** URL-special characters, a space and non-ASCII (not `,` `]` `=` `"`: kafka-storage's --add-scram syntax). */
const SPECIAL_PASSWORD = `a@b:c/d%e#f?g h&x+ünï🔑-${Math.random().toString(36).slice(2)}`;

let pki: Pki;
let otherCa: Pki;
let kafka: PrivateBroker;

beforeAll(async () => {
  await buildCli();
  pki = createPki();
  otherCa = createPki();
  const server = pki.server('kafka', ['kafka.test']);
  kafka = await privateBroker('kafka', {
    kafkaSecurity: {
      keystore: { file: pki.pkcs12(server, 'kafka-server', STORE_PASSWORD), password: STORE_PASSWORD },
      truststore: { file: pki.truststore('kafka-trust', STORE_PASSWORD), password: STORE_PASSWORD },
      scramUsers: [
        { name: 'alice', password: PASSWORD },
        { name: 'bob', password: SPECIAL_PASSWORD },
      ],
    },
  });
});

afterAll(async () => {
  await kafka?.dispose();
  pki?.remove();
  otherCa?.remove();
});

const q = encodeURIComponent;
const saslUrl = (user: string, password: string, extra = `&caFile=${q(pki.ca.certFile)}`) =>
  `kafkas://${q(user)}:${q(password)}@127.0.0.1:${kafka.ports.saslSsl}?sasl=scram-sha-512${extra}`;
function mtlsUrl(client?: { certFile: string; keyFile: string }, extra = ''): string {
  const cert = client ? `&certFile=${q(client.certFile)}&keyFile=${q(client.keyFile)}` : '';
  return `kafkas://127.0.0.1:${kafka.ports.ssl}?caFile=${q(pki.ca.certFile)}${cert}${extra}`;
}

async function roundTrip(url: string): Promise<void> {
  const c: Carrier = await connect(url);
  try {
    const topic = freshName('kafka-auth');
    await c.declare(topic, ['g']);
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const { id } = await c.publish(topic, { over: 'tls' }, { key: 'k' });
    await waitFor(() => got.some((m) => m.id === id), 60_000, 'the message over TLS');
  } finally {
    await c.close();
  }
}

async function refusal(url: string): Promise<{ error: CarrierError; ms: number }> {
  const started = Date.now();
  const error = await connect(url, { connectTimeoutMs: 20_000 }).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  const ms = Date.now() - started;
  expect(error).toBeInstanceOf(CarrierError);
  return { error: error as CarrierError, ms };
}

describe('kafka SASL/SCRAM-SHA-512 over TLS', () => {
  it('publishes and consumes as a SCRAM user, trusting the CA given with caFile', async () => {
    await roundTrip(saslUrl('alice', PASSWORD));
  });

  it('logs in with a password holding URL-special and non-ASCII characters (percent-encoded)', async () => {
    await roundTrip(saslUrl('bob', SPECIAL_PASSWORD));
  });

  for (const [what, user, password] of [
    ['a wrong password', 'alice', 'not-the-password'],
    ['an unknown user', 'mallory', PASSWORD],
  ] as const) {
    it(`refuses ${what} with AUTH_FAILED within ${REFUSAL_BOUND_MS} ms, naming the user only`, async () => {
      const { error, ms } = await refusal(saslUrl(user, password));
      expect(error.code, error.message).toBe('AUTH_FAILED');
      expect(error.message).toContain(user);
      expect(error.message).not.toContain(password);
      expect(ms).toBeLessThan(REFUSAL_BOUND_MS);
    });
  }

  it('refuses a broker certificate it does not trust with CONNECTION, at once', async () => {
    const { error, ms } = await refusal(saslUrl('alice', PASSWORD, ''));
    expect(error.code, error.message).toBe('CONNECTION');
    expect(error.message).toMatch(/not trusted/);
    expect(error.message).not.toContain(PASSWORD);
    expect(ms).toBeLessThan(REFUSAL_BOUND_MS);
  });
});

describe('kafka mutual TLS (client certificates)', () => {
  it('publishes and consumes with a client certificate the broker trusts', async () => {
    await roundTrip(mtlsUrl(pki.client('carrier-app')));
  });

  it('verifies the broker certificate against servername', async () => {
    const client = pki.client('carrier-sni');
    await roundTrip(mtlsUrl(client, '&servername=kafka.test'));
    const { error } = await refusal(mtlsUrl(client, '&servername=other.test'));
    expect(error.code, error.message).toBe('CONNECTION');
  });

  for (const [what, client] of [
    ['no client certificate', () => undefined],
    ['a client certificate from another CA', () => otherCa.client('stranger')],
  ] as const) {
    it(`refuses ${what} with AUTH_FAILED within ${REFUSAL_BOUND_MS} ms`, async () => {
      const { error, ms } = await refusal(mtlsUrl(client()));
      expect(error.code, error.message).toBe('AUTH_FAILED');
      expect(error.message).toMatch(/client certificate/);
      expect(ms).toBeLessThan(REFUSAL_BOUND_MS);
    });
  }
});

describe('kafka credentials never shown', () => {
  it('no password or key file content in errors, kafkajs debug logs, inspect or doctor output', async () => {
    const exposure = new Exposure();
    const wrong = 'wrong-password-4711';
    const client = pki.client('carrier-leaks');
    const keyLine = client.key.split('\n')[1] ?? '';
    await capturingConsole(exposure, 'kafka', async () => {
      exposure.addError(
        'wrong password',
        await failure(() => connect(saslUrl('alice', wrong, `&caFile=${q(pki.ca.certFile)}&logLevel=debug`))),
      );
      const url = saslUrl('alice', PASSWORD, `&caFile=${q(pki.ca.certFile)}&logLevel=debug&provisioning=off`);
      const reported: Error[] = [];
      const carrier = await connect(url, { onError: (e) => reported.push(e) });
      try {
        exposure.addObject('carrier', carrier);
        exposure.addError(
          'publish to a missing topic',
          await failure(() => carrier.publish(freshName('missing'), 'x')),
        );
      } finally {
        await carrier.close();
      }
      for (const [i, e] of reported.entries()) exposure.addError(`onError ${i}`, e);
      const transport = await kafkaTransport(new URL(url), { connectTimeoutMs: 20_000, onError: () => {} });
      exposure.addObject('transport', transport);
      await transport.close();
      const mtls = await connect(mtlsUrl(client, '&logLevel=debug'));
      exposure.addObject('mtls carrier', mtls);
      await mtls.close();
      exposure.addError(
        'untrusted client certificate',
        await failure(() => connect(mtlsUrl(otherCa.client('leaks')))),
      );
    });
    const codes = await doctorOutput(exposure, saslUrl('alice', wrong), 'doctor with a wrong password');
    expect(codes).toEqual([3, 3]); // AUTH_FAILED's exit code
    exposure.expectNone([PASSWORD, wrong, keyLine]);
  });
});
