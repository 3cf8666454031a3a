import { describeTransportContract } from '@carrier/contract';
import { createTransport } from './inproc-transport.js';

// The whole conformance suite against this package's transport, exactly as the built-in
// transports run it: the factory is given directly, since core knows no `inproc://` scheme.
describeTransportContract({
  name: 'inproc (examples/custom-transport)',
  url: 'inproc://contract',
  transport: createTransport,
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: false,
    redrive: true,
    replay: false,
    maxMessageBytes: 256 * 1024,
  },
  // publish() finds no group and keeps the message for no one (src/inproc-transport.ts)
  publishWithoutGroup: 'dropped',
});
