import { randomBytes } from 'node:crypto';
import { createTransport as kafkaTransport } from '@carrier/adapter-kafka';
import { createTransport as natsTransport } from '@carrier/adapter-nats';
import { createTransport as rabbitTransport } from '@carrier/adapter-rabbitmq';
import { createTransport as sqsTransport } from '@carrier/adapter-sqs';
import { freshName } from '@carrier/contract';
import { type Carrier, connect, createMemoryTransport, type TransportFactory } from '@carrier/core';
import { parseCarrierUrl } from '@carrier/core/kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { buildCli } from './cli-support.js';
import { capturingConsole, doctorOutput, Exposure, failure } from './secrets-support.js';

// No secret in anything a user or operator sees, on every transport: a password, token or secret
// key given in the URL (or, for SQS, the environment) is used in failing connects, failing
// publishes, the carrier's and the transport's String()/inspect, every error (message, stack,
// cause chain, JSON, inspect), the console output of all of it (adapter logs: kafkajs at debug)
// and `carrier doctor`'s output; Exposure.expectNone fails naming each text that holds it.
// Refused logins against brokers with real authentication are in kafka.auth.spec.ts and
// sqs.auth.spec.ts (the same checks); RabbitMQ refuses a wrong password here (guest's).

const secret = (what: string) => `${what}-S3cr3t-${randomBytes(6).toString('hex')}`;
const hostOf = (url: string) => new URL(url).host;

interface Case {
  /** The adapter's factory: its own errors (before core scrubs them) and transports are checked too. */
  readonly factory: TransportFactory;
  /** URLs holding `s` whose connect fails. */
  readonly failing: (s: string) => string[];
  /** A URL holding `s` that connects (its transport is inspected too), and a publish that fails. */
  readonly connected?: {
    readonly url: (s: string) => string;
    readonly failingPublish: (c: Carrier) => Promise<unknown>;
  };
  /** The URL `carrier doctor` is run with. */
  readonly doctor: (s: string) => string;
  /** Where the secret goes besides the URL (SQS: the environment). */
  readonly env?: (s: string) => Record<string, string>;
}

const CASES: Record<string, () => Case> = {
  memory: () => ({
    factory: createMemoryTransport,
    failing: (s) => [
      `memory://app:${s}@leaks?maxMessageBytes=nope`,
      `memory://${s}@leaks?connectTimeoutMs=-1`,
    ],
    connected: {
      url: (s) => `memory://app:${s}@${freshName('leaks')}?maxMessageBytes=64`,
      failingPublish: (c) => c.publish(freshName('t'), 'x'.repeat(1_000)),
    },
    doctor: (s) => `memory://app:${s}@${freshName('leaks')}`,
  }),
  kafka: () => {
    const broker = hostOf(inject('brokers').kafka);
    return {
      factory: kafkaTransport,
      failing: (s) => [
        // SASL against a listener without it, TLS against a plain listener, nothing listening
        `kafka://alice:${s}@${broker}?sasl=scram-sha-512&logLevel=debug&connectTimeoutMs=2500`,
        `kafkas://alice:${s}@${broker}?sasl=plain&logLevel=debug&connectTimeoutMs=2500`,
        `kafka://alice:${s}@127.0.0.1:1?sasl=plain&logLevel=debug&connectTimeoutMs=2500`,
      ],
      doctor: (s) => `kafka://alice:${s}@${broker}?sasl=scram-sha-512&connectTimeoutMs=2500`,
    };
  },
  rabbitmq: () => {
    const broker = hostOf(inject('brokers').rabbitmq);
    return {
      factory: rabbitTransport,
      failing: (s) => [
        `amqp://guest:${s}@${broker}`,
        `amqp://carrier-nobody:${s}@${broker}?connectTimeoutMs=2500`,
        `amqps://guest:${s}@${broker}?connectTimeoutMs=2500`,
        `amqp://guest:${s}@127.0.0.1:1?connectTimeoutMs=2500`,
      ],
      doctor: (s) => `amqp://guest:${s}@${broker}`,
    };
  },
  nats: () => {
    const broker = hostOf(inject('brokers').nats);
    return {
      factory: natsTransport,
      failing: (s) => [`nats://app:${s}@127.0.0.1:1?connectTimeoutMs=2500`, `nats://${s}@127.0.0.1:1`],
      // the shared server has no authentication: it accepts any token, so the carrier connects
      connected: {
        url: (s) => `nats://${s}@${broker}`,
        failingPublish: async (c) => {
          await c.close();
          return c.publish(freshName('t'), 'x');
        },
      },
      doctor: (s) => `nats://app:${s}@${broker}`,
    };
  },
  sqs: () => {
    const url = inject('brokers').sqs;
    return {
      factory: sqsTransport,
      failing: (s) => [
        `sqs://AKIAEXAMPLE:${s}@${hostOf(url)}`,
        `sqs://127.0.0.1:1?region=us-east-1&connectTimeoutMs=2500`,
      ],
      // moto (without IAM mode) accepts any key: the secret key is in the environment
      connected: {
        url: () => `${url}&provision=false`,
        failingPublish: (c) => c.publish(freshName('missing'), 'x'),
      },
      doctor: () => url.replace(/:\d+/, ':1'),
      env: (s) => ({ AWS_SECRET_ACCESS_KEY: s }),
    };
  },
};

beforeAll(async () => {
  await buildCli();
});

const savedEnv = { ...process.env };
afterAll(() => {
  process.env.AWS_SECRET_ACCESS_KEY = savedEnv.AWS_SECRET_ACCESS_KEY;
});

describe('no secret in errors, logs, toString/inspect or CLI output', () => {
  for (const [name, make] of Object.entries(CASES)) {
    it(`on ${name}`, async () => {
      const c = make();
      const s = secret(name);
      Object.assign(process.env, c.env?.(s) ?? {});
      const exposure = new Exposure();
      await capturingConsole(exposure, name, async () => {
        for (const url of c.failing(s)) {
          const label = url.replace(s, '<secret>');
          exposure.addError(`connect ${label}`, await failure(() => connect(url)));
          // the adapter alone (core checks connectTimeoutMs itself: the adapter may accept the URL)
          await c.factory(parseCarrierUrl(url), { connectTimeoutMs: 4_000, onError: () => {} }).then(
            (t) => t.close(),
            (e: unknown) => exposure.addError(`adapter factory ${label}`, e),
          );
        }
        if (c.connected) await connectedChecks(exposure, c, s);
      });
      await doctorOutput(exposure, c.doctor(s), `${name} doctor`);
      // the checks saw the texts: doctor printed its (redacted) URL
      expect(exposure.texts.some((t) => t.text.includes('carrier doctor'))).toBe(true);
      exposure.expectNone([s]);
    });
  }
});

async function connectedChecks(exposure: Exposure, c: Case, s: string) {
  const connected = c.connected;
  if (!connected) return;
  const url = connected.url(s);
  const reported: Error[] = [];
  // a generous deadline: the shared brokers serve every spec running in parallel
  const carrier = await connect(url, { connectTimeoutMs: 30_000, onError: (e) => reported.push(e) });
  try {
    exposure.addObject('carrier', carrier);
    exposure.addError('failing publish', await failure(() => connected.failingPublish(carrier)));
  } finally {
    await carrier.close();
  }
  for (const [i, e] of reported.entries()) exposure.addError(`onError ${i}`, e);
  const transport = await c.factory(parseCarrierUrl(url), { connectTimeoutMs: 30_000, onError: () => {} });
  try {
    exposure.addObject('transport', transport);
  } finally {
    await transport.close();
  }
}
