import { CarrierError } from '@carrier/core';
import { parseCarrierUrl } from '@carrier/core/kit';
import { describe, expect, it } from 'vitest';
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
