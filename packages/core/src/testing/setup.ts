import { afterEach } from 'vitest';
import { Carrier } from '../carrier.js';
import { FakeTransport } from './fake-transport.js';

/**
 * A carrier over a fresh {@link FakeTransport} for one test; every carrier made this way is closed
 * after each test of the file that calls this. `errors` collects what goes to `onError` (or is the
 * `onError` itself).
 */
export function fakeCarriers(): (errors?: Error[] | ((error: Error) => void)) => {
  transport: FakeTransport;
  carrier: Carrier;
} {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  return (errors = []) => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, Array.isArray(errors) ? (e) => errors.push(e) : errors);
    open.push(carrier);
    return { transport, carrier };
  };
}
