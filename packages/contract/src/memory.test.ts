import { describeTransportContract } from './runner.js';

describeTransportContract({
  name: 'memory',
  url: 'memory://contract',
  capabilities: { fanOut: true, competingConsumers: true, perKeyOrder: true, redrive: true, replay: false },
  publishWithoutGroup: 'dropped',
});
