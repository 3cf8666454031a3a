import type { Message } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName } from '../support.js';

const theme = 'limits and refusals';

export const invalidNames: ContractCase = {
  name: 'rejects invalid names before touching the broker',
  theme,
  async run({ carrier }) {
    const c = await carrier();
    for (const bad of [
      '',
      'has space',
      'a..b',
      'trailing.',
      '-lead',
      'x'.repeat(101),
      'ünïcode',
      'a/b',
      'a*b',
      'a>b',
    ]) {
      await expectCode(c.publish(bad, 'x'), 'INVALID_NAME');
      await expectCode(
        c.subscribe(bad, { group: 'g' }, () => {}),
        'INVALID_NAME',
      );
      await expectCode(
        c.subscribe('ok-topic', { group: bad }, () => {}),
        'INVALID_NAME',
      );
    }
  },
};

export const sizeLimit: ContractCase = {
  name: 'enforces the declared message size limit with MESSAGE_TOO_LARGE and accepts messages under it',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('size');
    const limit = c.capabilities.maxMessageBytes;
    await expectCode(c.publish(topic, new Uint8Array(limit + 1)), 'MESSAGE_TOO_LARGE');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const big = new Uint8Array(Math.floor(limit * 0.9)).map((_, i) => i % 251);
    await c.publish(topic, big, { headers: { size: String(big.length) } });
    await until(() => got.length >= 1, 'large message');
    expect(Buffer.from(got[0]!.raw).equals(Buffer.from(big))).toBe(true);
  },
};

export const unsupported: ContractCase = {
  name: 'fails with UNSUPPORTED when asked for what the transport cannot do',
  theme,
  async run({ carrier }) {
    const c = await carrier();
    const topic = freshName('unsupported');
    const caps = c.capabilities;
    const maxDelayMs = caps.maxDelayMs + 1;
    await expectCode(
      c.subscribe(
        topic,
        { group: 'g', retry: { maxAttempts: 2, initialDelayMs: maxDelayMs, maxDelayMs } },
        () => {},
      ),
      'UNSUPPORTED',
    );
    if (!caps.perKeyOrder)
      await expectCode(
        c.subscribe(topic, { group: 'g', ordered: true }, () => {}),
        'UNSUPPORTED',
      );
    if (!caps.perKeyOrder) await expectCode(c.declare(topic, ['g'], { ordered: true }), 'UNSUPPORTED');
    if (!caps.fanOut) await expectCode(c.declare(topic, ['a', 'b']), 'UNSUPPORTED');
    if (!caps.replay) {
      await expectCode(c.declare(topic, ['g'], { startFrom: 'earliest' }), 'UNSUPPORTED');
      await expectCode(
        c.subscribe(topic, { group: 'g', startFrom: 'earliest' }, () => {}),
        'UNSUPPORTED',
      );
    }
  },
};
