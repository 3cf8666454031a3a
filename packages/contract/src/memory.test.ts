import { brokerRestart } from './cases/reconnect.js';
import { describeTransportContract } from './runner.js';

describeTransportContract({
  name: 'memory',
  url: 'memory://contract',
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    redrive: true,
    replay: false,
    lag: true,
  },
  publishWithoutGroup: 'dropped',
  skip: { [brokerRestart.name]: 'no broker to restart: the memory transport lives in the process' },
});
