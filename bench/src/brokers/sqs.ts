import type { BrokerModule } from './types.js';

const mod: BrokerModule = {
  notes: 'not written yet',
  async rawClients() {
    throw new Error('the sqs raw client bench is not written yet');
  },
};
export default mod;
