import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freshName, waitFor } from '@carrier/contract';
import { CarrierError, connect, type Message } from '@carrier/core';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { rabbitmqServer } from '../src/install.js';
import { readRecord } from '../src/local.js';
import { type CertFiles, createPki, type Pki } from '../src/pki.js';
import { expectNoSecrets, refusal, textsOf } from '../src/secrets.js';

// RabbitMQ's own TLS listener and its access control, on a RabbitMQ of this file's own
// (privateBroker: its ports, node name and dirs; stopped in afterAll): a throwaway CA (src/pki.ts)
// issues the server certificate and the client certificates. The listener requires a client
// certificate (`fail_if_no_peer_cert`), and accepts two logins over it: EXTERNAL (the user is the
// certificate's CN, plugin rabbitmq_auth_mechanism_ssl) and PLAIN (user and password). Users,
// vhosts and permissions come from a definitions file: `app` and the certificate user may use
// vhost `app` only. TLS without a client certificate is rabbitmq.tls.spec.ts.

const CERT_USER = 'carrier-cert-user';
/** Longest a refused connect may take (connectTimeoutMs is 20 s in these URLs): one handshake. */
const REFUSAL_BOUND_MS = 5_000;

let pki: Pki;
let stranger: Pki;
let rabbit: PrivateBroker | undefined;
let tlsPort: number;
let certUser: CertFiles;
let unknownUser: CertFiles;
let untrusted: CertFiles;
const password = `pw-${randomBytes(12).toString('hex')}`;
const rotated = `pw-rotated-${randomBytes(12).toString('hex')}`;
/** Every character a URL treats specially, a space, and non-ASCII (amqplib alone decoded it as Latin-1). */
const specialPassword = `a@b:c/d%e#f?g h&x=1+ünï🔑-${randomBytes(4).toString('hex')}`;

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt ‖ sha256(salt ‖ password)), 4-byte salt. */
function passwordHash(plain: string): string {
  const salt = randomBytes(4);
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(plain, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

function definitions(): object {
  const user = (name: string, plain: string | undefined, tags: string[] = []) => ({
    name,
    password_hash: plain === undefined ? '' : passwordHash(plain),
    hashing_algorithm: 'rabbit_password_hashing_sha256',
    tags,
  });
  const all = (u: string, vhost: string) => ({ user: u, vhost, configure: '.*', write: '.*', read: '.*' });
  return {
    users: [
      user('guest', 'guest', ['administrator']),
      user('app', password),
      user('special', specialPassword),
      user('rotating', password),
      user(CERT_USER, undefined),
    ],
    vhosts: [{ name: '/' }, { name: 'app' }, { name: 'other' }],
    permissions: [
      all('guest', '/'),
      all('app', 'app'),
      all('rotating', 'app'),
      all(CERT_USER, 'app'),
      all('special', 'app'),
    ],
  };
}

beforeAll(async () => {
  pki = createPki();
  stranger = createPki();
  const server = pki.server('rabbitmq');
  certUser = pki.client(CERT_USER);
  unknownUser = pki.client('nobody-here');
  untrusted = stranger.client(CERT_USER);
  const defs = path.join(pki.dir, 'definitions.json');
  writeFileSync(defs, JSON.stringify(definitions()));
  tlsPort = await getPort({ host: '127.0.0.1' });
  rabbit = await privateBroker('rabbitmq', {
    rabbitmq: {
      plugins: ['rabbitmq_auth_mechanism_ssl'],
      config: [
        `listeners.ssl.default = 127.0.0.1:${tlsPort}`,
        `ssl_options.cacertfile = ${pki.ca.certFile}`,
        `ssl_options.certfile = ${server.certFile}`,
        `ssl_options.keyfile = ${server.keyFile}`,
        'ssl_options.verify = verify_peer',
        'ssl_options.fail_if_no_peer_cert = true',
        'auth_mechanisms.1 = PLAIN',
        'auth_mechanisms.2 = EXTERNAL',
        'ssl_cert_login_from = common_name',
        `load_definitions = ${defs}`,
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await rabbit?.dispose();
  pki?.remove();
  stranger?.remove();
});

/** An amqps:// URL of the TLS listener; `query` adds to the CA file and a 20 s connect deadline. */
function url(userinfo: string, vhost: string, query: Record<string, string>): string {
  const q = new URLSearchParams({ caFile: pki.ca.certFile, connectTimeoutMs: '20000', ...query });
  return `amqps://${userinfo}localhost:${tlsPort}/${vhost}?${q}`;
}

/** rabbitmqctl against the private node (its node name, cookie home and epmd port). */
function rabbitmqctl(...args: string[]): void {
  const record = readRecord(path.join(rabbit!.dir, 'rabbitmq.json'));
  const ctl = path.join(path.dirname(rabbitmqServer()!), 'rabbitmqctl');
  const r = spawnSync(ctl, args, {
    env: { ...process.env, ...record.spec.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`rabbitmqctl ${args[0]} failed: ${r.stderr}`);
}

const client = (files: CertFiles) => ({ certFile: files.certFile, keyFile: files.keyFile });
const secrets = () => ({
  password,
  'client key': certUser.key,
  'untrusted client key': untrusted.key,
  'unknown user key': unknownUser.key,
});

async function roundTrip(carrierUrl: string): Promise<void> {
  const c = await connect(carrierUrl);
  try {
    const topic = freshName('auth');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const { id } = await c.publish(topic, { over: 'tls' });
    await waitFor(() => got.length >= 1, 20_000, 'the message over TLS');
    expect(got[0]!.id).toBe(id);
  } finally {
    await c.close();
  }
}

describe('rabbitmq TLS listener with client certificates', () => {
  it('logs in with the client certificate (mechanism=EXTERNAL, user = CN) and moves messages', async () => {
    await roundTrip(url('', 'app', { ...client(certUser), mechanism: 'EXTERNAL' }));
  });

  it('logs in with user and password over mutual TLS, naming the server with servername', async () => {
    const q = new URLSearchParams({ caFile: pki.ca.certFile, servername: 'localhost', ...client(certUser) });
    await roundTrip(`amqps://app:${password}@127.0.0.1:${tlsPort}/app?${q}`);
  });

  it('logs in with a password holding URL-special and non-ASCII characters (percent-encoded)', async () => {
    await roundTrip(url(`special:${encodeURIComponent(specialPassword)}@`, 'app', client(certUser)));
  });

  const refusedCases: [string, () => string, RegExp][] = [
    ['a wrong password', () => url('app:wrong-password-1234@', 'app', client(certUser)), /refused the login/],
    [
      'a user without permission on the vhost',
      () => url(`app:${password}@`, 'other', client(certUser)),
      /refused access to vhost 'other'/,
    ],
    [
      'a certificate whose CN is no user (EXTERNAL)',
      () => url('', 'app', { ...client(unknownUser), mechanism: 'EXTERNAL' }),
      /refused the login/,
    ],
    [
      'a client certificate from a CA the broker does not trust',
      () => url('', 'app', { ...client(untrusted), mechanism: 'EXTERNAL' }),
      /refused the client certificate/,
    ],
    ['no client certificate', () => url(`app:${password}@`, 'app', {}), /refused the client certificate/],
  ];
  for (const [what, carrierUrl, message] of refusedCases) {
    it(`refuses ${what} with AUTH_FAILED, at once, without a secret in any text`, async () => {
      const r = await refusal((onError) => connect(carrierUrl(), { onError }));
      expect(r.error.code, r.error.message).toBe('AUTH_FAILED');
      expect(r.error.message).toMatch(message);
      expect(r.elapsedMs).toBeLessThan(REFUSAL_BOUND_MS);
      expectNoSecrets(r.texts, { ...secrets(), 'wrong password': 'wrong-password-1234' });
    });
  }

  it('reports a refused reconnection to onError as AUTH_FAILED, and keeps trying', async () => {
    const reported: Error[] = [];
    const c = await connect(
      url(`rotating:${password}@`, 'app', { ...client(certUser), reconnectMaxDelay: '500' }),
      {
        onError: (e) => reported.push(e),
      },
    );
    try {
      const topic = freshName('rotate');
      await c.subscribe(topic, { group: 'g' }, () => {});
      await c.publish(topic, 1);
      rabbitmqctl('change_password', 'rotating', rotated);
      rabbitmqctl('close_all_connections', '--vhost', 'app', '--limit', '100', 'password rotated');
      const refused = () => reported.find((e) => e instanceof CarrierError && e.code === 'AUTH_FAILED');
      await waitFor(() => refused() !== undefined, 20_000, 'AUTH_FAILED given to onError');
      expect(refused()!.message).toMatch(/refused the login.*still reconnecting/);
      expect(reported.filter((e) => e instanceof CarrierError && e.code === 'AUTH_FAILED')).toHaveLength(1);
      rabbitmqctl('change_password', 'rotating', password);
      let published = false;
      const deadline = Date.now() + 30_000;
      while (!published && Date.now() < deadline) {
        published = await c.publish(topic, 2).then(
          () => true,
          () => false,
        );
      }
      expect(published).toBe(true);
      expectNoSecrets(reported.flatMap(textsOf), { password, rotated });
    } finally {
      await c.close();
    }
  }, 90_000);

  it('reports a server certificate it does not trust as CONNECTION', async () => {
    const q = new URLSearchParams({ caFile: stranger.ca.certFile, ...client(certUser) });
    const r = await refusal((onError) =>
      connect(`amqps://app:${password}@localhost:${tlsPort}/app?${q}`, { onError }),
    );
    expect(r.error.code).toBe('CONNECTION');
    expect(r.error.message).toMatch(/certificate/i);
    expectNoSecrets(r.texts, secrets());
  });

  it('checks the server certificate against servername', async () => {
    const r = await refusal((onError) =>
      connect(url(`app:${password}@`, 'app', { ...client(certUser), servername: 'elsewhere.example' }), {
        onError,
      }),
    );
    expect(r.error.code).toBe('CONNECTION');
    expect(r.error.message).toMatch(/elsewhere\.example/);
    expectNoSecrets(r.texts, secrets());
  });
});
