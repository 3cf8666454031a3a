import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freshName, waitFor } from '@carrier/contract';
import { CarrierError, connect, type Message } from '@carrier/core';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfiguredNats, natsWithConfig } from '../src/nats-config.js';
import { type CertFiles, createPki, type Pki } from '../src/pki.js';
import { expectNoSecrets, refusal, textsOf } from '../src/secrets.js';

// NATS authentication and TLS on nats-servers of this file's own, each run with a configuration
// file (src/nats-config.ts) and stopped in afterAll: user/password and NKey on one server, a token
// over TLS (server certificate only) on a second, mutual TLS (`verify: true`) on a third. A
// throwaway CA (src/pki.ts) issues the certificates; a second CA plays the stranger.

/** Longest a refused connect may take (connectTimeoutMs is 20 s in these URLs): one handshake per server. */
const REFUSAL_BOUND_MS = 5_000;

const password = `pw-${randomBytes(12).toString('hex')}`;
const token = `tok-${randomBytes(12).toString('hex')}`;
/** URL-special characters, a space and non-ASCII (not `"` or `\\`: the server's quoted string). */
const specialPassword = `a@b:c/d%e#f?g h&x=1+ünï🔑-${randomBytes(4).toString('hex')}`;
const user = nkeys.createUser();
const stranger = nkeys.createUser();
const seed = new TextDecoder().decode(user.getSeed());
const strangerSeed = new TextDecoder().decode(stranger.getSeed());

let pki: Pki;
let otherCa: Pki;
let client: CertFiles;
let untrusted: CertFiles;
let users: ConfiguredNats | undefined;
let tokenTls: ConfiguredNats | undefined;
let mtls: ConfiguredNats | undefined;
let seedFile: string;
let strangerSeedFile: string;

beforeAll(async () => {
  pki = createPki();
  otherCa = createPki();
  const server = pki.server('nats');
  client = pki.client('carrier-app');
  untrusted = otherCa.client('carrier-app');
  seedFile = path.join(pki.dir, 'user.nk');
  strangerSeedFile = path.join(pki.dir, 'stranger.nk');
  writeFileSync(seedFile, `${seed}\n`, { mode: 0o600 });
  writeFileSync(strangerSeedFile, `${strangerSeed}\n`, { mode: 0o600 });
  const serverTls = `cert_file: "${server.certFile}"\n  key_file: "${server.keyFile}"`;
  [users, tokenTls, mtls] = await Promise.all([
    natsWithConfig(
      () =>
        `authorization {\n  users: [\n    { user: "app", password: "${password}" }\n    { user: "special", password: "${specialPassword}" }\n    { nkey: "${user.getPublicKey()}" }\n  ]\n}`,
    ),
    natsWithConfig(() => `authorization { token: "${token}" }\ntls {\n  ${serverTls}\n}`),
    natsWithConfig(() => `tls {\n  ${serverTls}\n  ca_file: "${pki.ca.certFile}"\n  verify: true\n}`),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([users?.dispose(), tokenTls?.dispose(), mtls?.dispose()]);
  pki?.remove();
  otherCa?.remove();
});

function url(
  server: ConfiguredNats | undefined,
  userinfo: string,
  query: Record<string, string> = {},
): string {
  const q = new URLSearchParams({ connectTimeoutMs: '20000', ...query });
  return `nats://${userinfo}localhost:${server!.port}?${q}`;
}

const tlsQuery = (ca: Pki, files?: CertFiles) => ({
  tlsCa: ca.ca.certFile,
  ...(files ? { tlsCert: files.certFile, tlsKey: files.keyFile } : {}),
});

const secrets = () => ({
  password,
  token,
  seed,
  'stranger seed': strangerSeed,
  'client key': client.key,
  'untrusted client key': untrusted.key,
});

async function roundTrip(carrierUrl: string): Promise<void> {
  const c = await connect(carrierUrl);
  try {
    const topic = freshName('auth');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const { id } = await c.publish(topic, { over: 'nats' });
    await waitFor(() => got.length >= 1, 20_000, 'the message');
    expect(got[0]!.id).toBe(id);
  } finally {
    await c.close();
  }
}

describe('nats authentication and TLS', () => {
  it('logs in with user and password', async () => {
    await roundTrip(url(users, `app:${password}@`));
  });

  it('logs in with a password holding URL-special and non-ASCII characters (percent-encoded)', async () => {
    await roundTrip(url(users, `special:${encodeURIComponent(specialPassword)}@`));
  });

  it('logs in with an NKey (nkeySeedFile)', async () => {
    await roundTrip(url(users, '', { nkeySeedFile: seedFile }));
  });

  it('logs in with a token over TLS (tlsCa), as ?token= and as nats://token@host', async () => {
    await roundTrip(url(tokenTls, '', { token, ...tlsQuery(pki) }));
    await roundTrip(url(tokenTls, `${token}@`, tlsQuery(pki)));
  });

  it('logs in with a client certificate (verify: true)', async () => {
    await roundTrip(url(mtls, '', tlsQuery(pki, client)));
  });

  const refusedCases: [string, () => string, RegExp][] = [
    ['a wrong password', () => url(users, 'app:wrong-password-1234@'), /refused the login with user "app"/],
    ['no credentials', () => url(users, ''), /refused the login with no credentials/],
    [
      'an NKey the server does not know',
      () => url(users, '', { nkeySeedFile: strangerSeedFile }),
      new RegExp(`refused the login with nkey ${stranger.getPublicKey()}`),
    ],
    [
      'a wrong password, with two servers in the URL',
      () => `${url(users, 'app:wrong-password-1234@')}&servers=127.0.0.1:${users!.port}`,
      /refused the login/,
    ],
    [
      'a bad token (over TLS)',
      () => url(tokenTls, '', { token: 'wrong-token-1234', ...tlsQuery(pki) }),
      /a token/,
    ],
    ['a missing client certificate', () => url(mtls, '', tlsQuery(pki)), /refused the client certificate/],
    [
      'a client certificate from a CA the server does not trust',
      () => url(mtls, '', tlsQuery(pki, untrusted)),
      /refused the client certificate/,
    ],
  ];
  for (const [what, carrierUrl, message] of refusedCases) {
    it(`refuses ${what} with AUTH_FAILED, at once, without a secret in any text`, async () => {
      const r = await refusal((onError) => connect(carrierUrl(), { onError }));
      expect(r.error.code, r.error.message).toBe('AUTH_FAILED');
      expect(r.error.message).toMatch(message);
      expect(r.elapsedMs).toBeLessThan(REFUSAL_BOUND_MS);
      expectNoSecrets(r.texts, {
        ...secrets(),
        'wrong password': 'wrong-password-1234',
        'wrong token': 'wrong-token-1234',
      });
    });
  }

  it('reports a server certificate it does not trust as CONNECTION', async () => {
    const r = await refusal((onError) =>
      connect(url(tokenTls, '', { token, ...tlsQuery(otherCa) }), { onError }),
    );
    expect(r.error.code, r.error.message).toBe('CONNECTION');
    expect(r.error.message).toMatch(/certificate/i);
    expect(r.elapsedMs).toBeLessThan(REFUSAL_BOUND_MS);
    expectNoSecrets(r.texts, secrets());
  });

  it('reports AUTH_FAILED to onError and fails calls with CLOSED when a reconnection is refused', async () => {
    const changed = `pw2-${randomBytes(8).toString('hex')}`;
    const users = (p: string) => () => `authorization { users: [ { user: "app", password: "${p}" } ] }`;
    const server = await natsWithConfig(users(password));
    const reported: Error[] = [];
    try {
      const c = await connect(`nats://app:${password}@127.0.0.1:${server.port}?reconnectWaitMs=100`, {
        onError: (e) => reported.push(e),
      });
      try {
        const topic = freshName('reauth');
        await c.publish(topic, 1);
        // the server disconnects clients its new configuration refuses; nats.js reconnects, is
        // refused twice in a row, and gives up
        server.reconfigure(users(changed));
        const refused = () => reported.find((e) => e instanceof CarrierError && e.code === 'AUTH_FAILED');
        await waitFor(() => refused() !== undefined, 10_000, 'AUTH_FAILED given to onError');
        expect(refused()!.message).toMatch(/refused the login with user "app" while reconnecting/);
        const error = await c.publish(topic, 2).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((error as CarrierError).code).toBe('CLOSED');
        expectNoSecrets([...reported.flatMap(textsOf), ...textsOf(error)], { password, changed });
      } finally {
        await c.close();
      }
    } finally {
      await server.dispose();
    }
  });

  it('finds a secret that leaked (the check itself can fail)', () => {
    const leaked = new Error('outer', { cause: new Error(`inner ${client.key.split('\n')[3]}`) });
    expect(() => expectNoSecrets(textsOf(leaked), { 'client key': client.key })).toThrow(/client key/);
    expect(() => expectNoSecrets(textsOf(new Error(`x${token}x`)), { token })).toThrow(/token/);
  });
});
