import { describe, expect, it } from 'vitest';
import { Carrier } from './carrier.js';
import { CarrierError } from './errors.js';
import type { Message } from './message.js';
import { NativeToken } from './native.js';
import { FakeTransport } from './testing/fake-transport.js';
import { waitFor } from './testing/wait.js';
import type { Delivery } from './transport.js';

interface Client {
  readonly url: string;
}
const connection = new NativeToken<Client, 'connection'>('fake', 'connection', 'the fake client');
const subscription = new NativeToken<{ queue: string }, 'subscription'>('fake', 'subscription', 'its queue');
const message = new NativeToken<{ tag: number }, 'message'>('fake', 'message', 'the raw record');
const otherBroker = new NativeToken<Client, 'connection'>('kafka', 'connection', 'another client');

function codeOf(call: () => unknown): string | undefined {
  try {
    call();
  } catch (e) {
    return e instanceof CarrierError ? e.code : String(e);
  }
  return undefined;
}

/** A fake transport that answers the three tokens above. */
function answering(): FakeTransport {
  const transport = new FakeTransport();
  const client: Client = { url: 'fake://' };
  transport.native = (token) => (token === connection ? connection.wrap(client) : undefined);
  const subscribe = transport.subscribe.bind(transport);
  transport.subscribe = async (topic, group, options, sink) => {
    const sub = await subscribe(topic, group, options, (d: Delivery) =>
      sink({ ...d, native: (t) => (t === message ? message.wrap({ tag: 7 }) : undefined) }),
    );
    return {
      ...sub,
      native: (t) => (t === subscription ? subscription.wrap({ queue: `${group}-q` }) : undefined),
    };
  };
  return transport;
}

describe('native access (as)', () => {
  it('gives each typed native object its transport answers, on the connection, a subscription and a message', async () => {
    const carrier = new Carrier(answering(), () => {});
    expect(carrier.as(connection).url).toBe('fake://');
    const got: Message[] = [];
    const sub = await carrier.subscribe('t', { group: 'g' }, (m) => {
      got.push(m);
    });
    expect(sub.as(subscription).queue).toBe('g-q');
    const transport = answering();
    const c2 = new Carrier(transport, () => {});
    await c2.subscribe('t', { group: 'g' }, (m) => {
      got.push(m);
    });
    transport.deliver('x');
    await waitFor(() => got.length === 1);
    expect(got[0]!.as(message).tag).toBe(7);
  });

  it("throws UNSUPPORTED for another transport's token, an unanswered token, or a transport without native access", async () => {
    const carrier = new Carrier(answering(), () => {});
    expect(codeOf(() => carrier.as(otherBroker))).toBe('UNSUPPORTED');
    const plain = new Carrier(new FakeTransport(), () => {});
    expect(codeOf(() => plain.as(connection))).toBe('UNSUPPORTED');
    const sub = await plain.subscribe('t', { group: 'g' }, () => {});
    expect(codeOf(() => sub.as(subscription))).toBe('UNSUPPORTED');
    const forged = new NativeToken<Client, 'connection'>('fake', 'connection', 'same name, other token');
    expect(codeOf(() => carrier.as(forged))).toBe('UNSUPPORTED');
  });

  it('an answer opens only with the token that made it', () => {
    const answer = connection.wrap({ url: 'a' });
    expect(connection.unwrap(answer)?.url).toBe('a');
    expect(otherBroker.unwrap(answer)).toBeUndefined();
    expect(connection.unwrap(undefined)).toBeUndefined();
  });
});
