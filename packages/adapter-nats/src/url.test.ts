import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CarrierError } from '@carrier/core';
import { parseCarrierUrl } from '@carrier/core/kit';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNatsUrl } from './url.js';

describe('nats URL', () => {
  it('defaults', () => {
    expect(parseNatsUrl(new URL('nats://127.0.0.1:4222'))).toMatchObject({
      servers: ['127.0.0.1:4222'],
      user: undefined,
      token: undefined,
      tls: undefined,
      replicas: 1,
      retention: 'interest',
      ackWaitMs: 10_000,
      maxAckPending: 1_000,
    });
    expect(parseNatsUrl(new URL('nats://h')).servers).toEqual(['h:4222']);
  });

  it('several servers: comma-separated hosts share the port; ?servers= adds host:port entries', () => {
    expect(parseNatsUrl(new URL('nats://a,b,c:4333')).servers).toEqual(['a:4333', 'b:4333', 'c:4333']);
    expect(parseNatsUrl(new URL('nats://a:4222?servers=b:4223,c')).servers).toEqual([
      'a:4222',
      'b:4223',
      'c:4222',
    ]);
  });

  it('refuses a user and password together with a token, and tlsCert without tlsKey (or the reverse)', () => {
    const code = (text: string) => {
      try {
        parseNatsUrl(new URL(text));
        return 'parsed';
      } catch (e) {
        expect(String(e)).not.toContain('s3cret');
        return (e as CarrierError).code;
      }
    };
    expect(code('nats://app:s3cret@h:1?token=tok')).toBe('INVALID_ARGUMENT');
    expect(code('nats://s3cret@h:1?token=tok')).toBe('INVALID_ARGUMENT');
    expect(code('nats://h:1?tlsCert=/nonexistent.pem')).toBe('INVALID_ARGUMENT');
    expect(() => parseNatsUrl(new URL('nats://h:1?tlsKey=/nonexistent.key'))).toThrow(/go together/);
    expect(() => parseNatsUrl(new URL('nats://h:1?tlsCert=/nonexistent.pem'))).toThrow(/go together/);
  });

  it("refuses a tlsKey that is not the tlsCert's key, or a tlsCert holding a key, with INVALID_ARGUMENT naming the files", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nats-tls-'));
    try {
      const file = (name: string) => path.join(dir, name);
      for (const n of ['a', 'b'])
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-keyout',
            file(`${n}.key`),
            '-out',
            file(`${n}.pem`),
            '-days',
            '1',
            '-subj',
            `/CN=${n}`,
          ],
          { stdio: 'ignore' },
        );
      const parse = (q: string) => parseNatsUrl(new URL(`nats://h:1?${q}`));
      expect(
        parse(`tlsCa=${file('b.pem')}&tlsCert=${file('a.pem')}&tlsKey=${file('a.key')}`).tls?.cert,
      ).toBeDefined();
      expect(() => parse(`tlsCert=${file('a.pem')}&tlsKey=${file('b.key')}`)).toThrow(
        /tlsCert .*a\.pem.*key values mismatch/,
      );
      expect(() => parse(`tlsCert=${file('a.key')}&tlsKey=${file('a.key')}`)).toThrow(/no start line/);
      expect(() => parse(`tlsCert=${file('a.key')}&tlsKey=${file('a.key')}`)).not.toThrow(/PRIVATE KEY/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('user/password, token as user-only or ?token=', () => {
    expect(parseNatsUrl(new URL('nats://us%40r:p%3Ass@h:1'))).toMatchObject({
      user: 'us@r',
      pass: 'p:ss',
      token: undefined,
    });
    expect(parseNatsUrl(new URL('nats://s3cret@h:1'))).toMatchObject({ user: undefined, token: 's3cret' });
    expect(parseNatsUrl(new URL('nats://h:1?token=t'))).toMatchObject({ token: 't' });
  });

  it('TLS and layout options', () => {
    const s = parseNatsUrl(
      new URL('nats://h:1?tls=true&replicas=3&retention=limits&ackWaitMs=30000&maxAckPending=50'),
    );
    expect(s).toMatchObject({
      tls: {},
      replicas: 3,
      retention: 'limits',
      ackWaitMs: 30_000,
      maxAckPending: 50,
    });
    expect(parseNatsUrl(new URL('nats://h:1?tlsHandshakeFirst=true')).tls).toEqual({ handshakeFirst: true });
  });

  it('rejects unknown or malformed options without echoing credentials', () => {
    for (const bad of [
      'nats://u:pw@h:1?nope=1',
      'nats://u:pw@h:1?replicas=0',
      'nats://u:pw@h:1?retention=work',
    ]) {
      let error: unknown;
      try {
        parseNatsUrl(new URL(bad));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
      expect((error as CarrierError).message).not.toContain('pw');
    }
  });
});

describe('several host:port pairs in the authority', () => {
  it('reads the pairs core moved to ?hosts=', () => {
    expect(parseNatsUrl(parseCarrierUrl('nats://a:4222,b:4223')).servers).toEqual(['a:4222', 'b:4223']);
  });
});

describe('liveness and deadline options', () => {
  it('defaults: PING every 10 s, 2 missed; connect timeout left to the factory', () => {
    const s = parseNatsUrl(new URL('nats://h'));
    expect(s.pingIntervalMs).toBe(10_000);
    expect(s.maxPingOut).toBe(2);
    expect(s.connectTimeoutMs).toBeUndefined();
  });

  it('reads pingIntervalMs, maxPingOut and connectTimeoutMs', () => {
    const s = parseNatsUrl(new URL('nats://h?pingIntervalMs=2000&maxPingOut=3&connectTimeoutMs=1500'));
    expect([s.pingIntervalMs, s.maxPingOut, s.connectTimeoutMs]).toEqual([2_000, 3, 1_500]);
  });

  it('refuses a PING interval below 100 ms and maxPingOut below 1', () => {
    expect(() => parseNatsUrl(new URL('nats://h?pingIntervalMs=10'))).toThrow(CarrierError);
    expect(() => parseNatsUrl(new URL('nats://h?maxPingOut=0'))).toThrow(CarrierError);
  });
});

describe('nats URL nkeySeedFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'carrier-nkey-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const errorOf = (raw: string): CarrierError => {
    try {
      parseNatsUrl(new URL(raw));
    } catch (e) {
      return e as CarrierError;
    }
    throw new Error(`${raw} was accepted`);
  };

  it('reads the user seed: public key known, seed read again at each call', () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const file = write('user.nk', `${seed}\n`);
    const s = parseNatsUrl(new URL(`nats://h:1?nkeySeedFile=${encodeURIComponent(file)}`));
    expect(s.nkey?.publicKey).toBe(user.getPublicKey());
    expect(new TextDecoder().decode(s.nkey!.seed())).toBe(seed);
    expect(JSON.stringify(s)).not.toContain(seed);
  });

  it('refuses a missing file, a file without a seed, a non-user seed and mixed credentials', () => {
    const account = new TextDecoder().decode(nkeys.createAccount().getSeed());
    const userSeed = new TextDecoder().decode(nkeys.createUser().getSeed());
    const cases: [string, RegExp][] = [
      [`nats://h:1?nkeySeedFile=${path.join(dir, 'missing.nk')}`, /cannot read/],
      [
        `nats://h:1?nkeySeedFile=${write('junk.nk', 'SUnot-a-seed-but-secret-looking')}`,
        /does not hold an NKey seed/,
      ],
      [`nats://h:1?nkeySeedFile=${write('account.nk', account)}`, /not a user's/],
      [`nats://u:p@h:1?nkeySeedFile=${write('user2.nk', userSeed)}`, /not both/],
    ];
    for (const [raw, message] of cases) {
      const error = errorOf(raw);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(message);
      for (const secret of [account, userSeed, 'SUnot-a-seed']) expect(error.message).not.toContain(secret);
    }
  });
});

describe('nats URL options given twice', () => {
  it('refuses a repeated option with INVALID_ARGUMENT naming it, never the URL or the token', () => {
    for (const url of [
      'nats://h:4222?token=s3cret-tok&token=s3cret-tok2',
      'nats://h:4222?retention=limits&retention=interest',
      'nats://h:4222?servers=a:1&servers=b:2',
      'nats://h:4222?hosts=a:1&hosts=b:2',
      'nats://h:4222?tls&tls=false',
    ]) {
      const name = new URL(url).searchParams.keys().next().value!;
      let error: unknown;
      try {
        parseNatsUrl(new URL(url));
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code, url).toBe('INVALID_ARGUMENT');
      expect((error as CarrierError).transport, url).toBe('nats');
      expect((error as Error).message, url).toContain(`"${name}" is given 2 times`);
      expect((error as Error).message, url).not.toContain('s3cret');
    }
    expect(parseNatsUrl(parseCarrierUrl('nats://a:1,b:2?hosts=c:3&servers=d:4')).servers).toEqual([
      'a:1',
      'd:4',
      'b:2',
      'c:3',
    ]);
  });
});

describe('nats enumerated option values and flags', () => {
  it('reads retention in any case and the flags tls and tlsHandshakeFirst as true/false, on/off, yes/no, 1/0 in any case', () => {
    expect(parseNatsUrl(new URL('nats://h?retention=Limits')).retention).toBe('limits');
    expect(parseNatsUrl(new URL('nats://h?retention=INTEREST')).retention).toBe('interest');
    expect(parseNatsUrl(new URL('nats://h?tls=TRUE')).tls).toEqual({});
    expect(parseNatsUrl(new URL('nats://h?tls=on&tlsHandshakeFirst=Yes')).tls).toEqual({
      handshakeFirst: true,
    });
    expect(parseNatsUrl(new URL('nats://h?tls=False')).tls).toBeUndefined();
  });

  it('refuses another value with INVALID_ARGUMENT listing the allowed ones, an empty flag included', () => {
    expect(() => parseNatsUrl(new URL('nats://h?retention=workqueue'))).toThrow(
      'URL option retention must be one of interest, limits (in any case)',
    );
    for (const url of ['nats://h?tls=maybe', 'nats://h?tls', 'nats://h?tlsHandshakeFirst='])
      expect(() => parseNatsUrl(new URL(url)), url).toThrow(
        /must be true or false \(or on\/off, yes\/no, 1\/0/,
      );
  });
});
