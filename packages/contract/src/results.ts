import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContractProfile } from './case.js';

/** The outcome of one case on one transport. */
export interface CaseResult {
  readonly name: string;
  readonly theme: string;
  status: 'passed' | 'failed' | 'skipped';
  /** Why it was skipped, the first error of a failure, or what the case reported (duplicates, …). */
  note?: string;
  durationMs?: number;
}

/** The results of one suite run on one transport, as written to `CARRIER_CONFORMANCE_DIR`. */
export interface SuiteResults {
  readonly transport: string;
  readonly profile: ContractProfile;
  readonly finishedAt: string;
  readonly cases: readonly CaseResult[];
}

/** Environment variable naming the directory where each suite run writes `<transport>.json`. */
export const RESULTS_DIR_ENV = 'CARRIER_CONFORMANCE_DIR';

/** File name of a transport's results: its name with anything unsafe replaced by `-`. */
export function resultsFileName(transport: string): string {
  return `${transport.replace(/[^A-Za-z0-9_.=-]+/g, '-').replace(/^-+|-+$/g, '')}.json`;
}

/** Write `results` to `$CARRIER_CONFORMANCE_DIR/<transport>.json` when that variable is set. */
export function writeResults(results: SuiteResults): void {
  const dir = process.env[RESULTS_DIR_ENV];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, resultsFileName(results.transport)), `${JSON.stringify(results, null, 2)}\n`);
}
