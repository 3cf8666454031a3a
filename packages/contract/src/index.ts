export { describeTransportContract, type TransportContractOptions } from './contract.js';
export { duplicates, freshName, gate, waitFor } from './support.js';
