import net from 'node:net';
import tls from 'node:tls';
import { freshName, waitFor } from '@carrier/contract';
import { CarrierError, connect, type Message } from '@carrier/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { createPki, type Pki } from '../src/pki.js';
import { buildCli } from './cli-support.js';
import { capturingConsole, doctorOutput, Exposure, failure } from './secrets-support.js';

// SQS with credentials the emulator checks: a moto of this spec's own, switched to its IAM mode
// (POST /moto-api/reset-auth, the runtime form of INITIAL_NO_AUTH_ACTION_COUNT): from then on
// moto looks the access key up among its IAM users, recomputes the SigV4 signature with that
// user's secret key, and evaluates the user's IAM policies. The user and its access key are made
// through moto's IAM API before auth is switched on. What moto does not check: see
// docs/brokers/sqs.md ("Credentials and TLS"). TLS: moto's `--ssl` serves an ad-hoc certificate
// nobody can verify (and the harness probes moto over http), so a TLS terminator with a
// certificate of a throwaway CA sits in front of it (as in rabbitmq.tls.spec.ts), proving the
// client side: https with `caFile`.

const REFUSAL_BOUND_MS = 5_000;

let moto: PrivateBroker;
let pki: Pki;
let terminator: tls.Server;
let tlsPort: number;
let key: { id: string; secret: string };
/** A user moto knows, with no policy: every action is denied. */
let deniedKey: { id: string; secret: string };
const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

function motoEndpoint(): string {
  return `http://127.0.0.1:${moto.ports.http}`;
}

/** One IAM query-API call, before auth is on (moto routes by the credential scope; no signature is checked yet). */
async function iam(action: string, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: '2010-05-08', ...params });
  const response = await fetch(`${motoEndpoint()}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization:
        'AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x',
    },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`IAM ${action}: ${response.status} ${text}`);
  return text;
}

function xmlValue(xml: string, tag: string): string {
  const value = new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml)?.[1];
  if (!value) throw new Error(`no ${tag} in ${xml}`);
  return value;
}

beforeAll(async () => {
  await buildCli();
  moto = await privateBroker('sqs');
  await iam('CreateUser', { UserName: 'carrier-app' });
  const created = await iam('CreateAccessKey', { UserName: 'carrier-app' });
  key = { id: xmlValue(created, 'AccessKeyId'), secret: xmlValue(created, 'SecretAccessKey') };
  await iam('PutUserPolicy', {
    UserName: 'carrier-app',
    PolicyName: 'all',
    PolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['sqs:*', 'sns:*'], Resource: '*' }],
    }),
  });
  await iam('CreateUser', { UserName: 'carrier-denied' });
  const denied = await iam('CreateAccessKey', { UserName: 'carrier-denied' });
  deniedKey = { id: xmlValue(denied, 'AccessKeyId'), secret: xmlValue(denied, 'SecretAccessKey') };
  const reset = await fetch(`${motoEndpoint()}/moto-api/reset-auth`, { method: 'POST', body: '0' });
  expect(reset.status).toBe(200);
  pki = createPki();
  const server = pki.server('moto');
  terminator = tls.createServer({ key: server.key, cert: server.cert }, (clear) => {
    const upstream = net.connect(moto.ports.http ?? 0, '127.0.0.1');
    clear.on('error', () => upstream.destroy());
    upstream.on('error', () => clear.destroy());
    clear.pipe(upstream).pipe(clear);
  });
  await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
  tlsPort = (terminator.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => terminator?.close(resolve));
  await moto?.dispose();
  pki?.remove();
});

function useCredentials(id: string, secret: string): void {
  process.env.AWS_ACCESS_KEY_ID = id;
  process.env.AWS_SECRET_ACCESS_KEY = secret;
}

afterEach(() => {
  useCredentials(savedEnv.id ?? '', savedEnv.secret ?? '');
});

async function refusal(url: string): Promise<{ error: CarrierError; ms: number }> {
  const started = Date.now();
  const error = await connect(url, { connectTimeoutMs: 20_000 }).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CarrierError);
  return { error: error as CarrierError, ms: Date.now() - started };
}

const plainUrl = () => `sqs://127.0.0.1:${moto.ports.http}?region=us-east-1`;

describe('sqs with credentials moto checks (IAM mode)', () => {
  it('publishes and consumes with a known access key and its secret key', async () => {
    useCredentials(key.id, key.secret);
    const c = await connect(plainUrl());
    try {
      const topic = freshName('sqs-auth');
      const got: Message[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m);
      });
      const { id } = await c.publish(topic, { signed: true });
      await waitFor(() => got.some((m) => m.id === id), 30_000, 'the signed message');
    } finally {
      await c.close();
    }
  });

  for (const [what, id, secretKey] of [
    ['an unknown access key', 'AKIAUNKNOWN000000000', 'whatever-secret-key-value'],
    ['a wrong secret key', () => key.id, 'wrong-secret-key-value-123'],
    ['a user without any permission (AccessDenied)', () => deniedKey.id, () => deniedKey.secret],
  ] as const) {
    it(`refuses ${what} with AUTH_FAILED within ${REFUSAL_BOUND_MS} ms, without the secret key`, async () => {
      const accessKey = typeof id === 'string' ? id : id();
      const secret = typeof secretKey === 'string' ? secretKey : secretKey();
      useCredentials(accessKey, secret);
      const { error, ms } = await refusal(plainUrl());
      expect(error.code, error.message).toBe('AUTH_FAILED');
      expect(error.message).toContain('the credentials were refused');
      expect(`${error.message}\n${error.stack}\n${JSON.stringify(error)}`).not.toContain(secret);
      expect(ms).toBeLessThan(REFUSAL_BOUND_MS);
    });
  }
});

describe('sqs over https', () => {
  it('connects through TLS, trusting the CA given with caFile', async () => {
    useCredentials(key.id, key.secret);
    const ca = encodeURIComponent(pki.ca.certFile);
    const c = await connect(`sqs://127.0.0.1:${tlsPort}?region=us-east-1&tls=true&caFile=${ca}`);
    try {
      const topic = freshName('sqs-tls');
      const got: Message[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m);
      });
      const { id } = await c.publish(topic, { over: 'https' });
      await waitFor(() => got.some((m) => m.id === id), 30_000, 'the message over https');
    } finally {
      await c.close();
    }
  });

  it('refuses an endpoint certificate it does not trust with CONNECTION', async () => {
    useCredentials(key.id, key.secret);
    const { error } = await refusal(`sqs://127.0.0.1:${tlsPort}?region=us-east-1&tls=true`);
    expect(error.code, error.message).toBe('CONNECTION');
    expect(error.message).toMatch(/certificate/i);
  });
});

describe('sqs secret keys never shown', () => {
  it('no secret key in errors, console output, inspect or doctor output', async () => {
    const exposure = new Exposure();
    const wrong = 'wrong-secret-key-value-4711';
    await capturingConsole(exposure, 'sqs', async () => {
      useCredentials(key.id, wrong);
      exposure.addError('wrong secret key', await failure(() => connect(plainUrl())));
      useCredentials(key.id, key.secret);
      const carrier = await connect(`${plainUrl()}&provision=false`);
      try {
        exposure.addObject('carrier', carrier);
        exposure.addError(
          'publish to a missing topic',
          await failure(() => carrier.publish(freshName('missing'), 'x')),
        );
      } finally {
        await carrier.close();
      }
    });
    useCredentials(key.id, wrong);
    const codes = await doctorOutput(exposure, plainUrl(), 'doctor with a wrong secret key');
    expect(codes).toEqual([3, 3]); // AUTH_FAILED's exit code
    exposure.expectNone([key.secret, wrong]);
  });
});
