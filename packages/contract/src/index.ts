export {
  type CaseContext,
  type CaseNeed,
  type ContractCase,
  type ContractProfile,
  type ContractSizes,
  type GroupSetting,
  PROFILE_SIZES,
  type PublishWithoutGroup,
  type RestartableBroker,
  type TransportContractOptions,
} from './case.js';
export * from './cases/index.js';
export { BINARY, expectCode } from './expect-code.js';
export { type CaseResult, RESULTS_DIR_ENV, resultsFileName, type SuiteResults } from './results.js';
export { contractProfile, describeTransportContract, PROFILE_ENV } from './runner.js';
export { duplicates, freshName, gate, sleep, waitFor } from './support.js';
