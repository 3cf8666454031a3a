import { type CarrierError, type Message, type NativeScope, NativeToken } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName } from '../support.js';

/** A token of a transport that is not the one under test. */
function foreign<S extends NativeScope>(transport: string, scope: S): NativeToken<{ never: true }, S> {
  return new NativeToken<{ never: true }, S>(`not-${transport}`, scope, 'a foreign test token');
}

export const nativeForeignToken: ContractCase = {
  name: "as() with another transport's token throws UNSUPPORTED on the connection, a subscription and a message",
  theme: 'native access',
  async run({ carrier, until }) {
    const c = await carrier();
    const name = c.transportName;
    const topic = freshName('native');
    const got: Message[] = [];
    const sub = await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    await c.publish(topic, 'x');
    await until(() => got.length >= 1, 'a message');
    const errors: CarrierError[] = [
      await expectCode(() => c.as(foreign(name, 'connection')), 'UNSUPPORTED'),
      await expectCode(() => sub.as(foreign(name, 'subscription')), 'UNSUPPORTED'),
      await expectCode(() => got[0]!.as(foreign(name, 'message')), 'UNSUPPORTED'),
    ];
    expect(errors.map((e) => e.message.includes(`not-${name}`))).toEqual([true, true, true]);
    // a token of the wrong scope is a programming error
    const wrongScope = foreign(name, 'message') as unknown as NativeToken<unknown, 'connection'>;
    await expectCode(() => c.as(wrongScope), 'INVALID_ARGUMENT');
  },
};
