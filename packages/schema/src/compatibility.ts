import { CarrierError } from '@carrier/core';
import type { SchemaFormat } from './formats/format.js';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel, type SchemaType } from './registry.js';

/**
 * What a compatibility level asks of a new schema, given the subject's versions (Confluent's
 * semantics): BACKWARD — the new schema reads the data of the latest version; FORWARD — the latest
 * version reads the new schema's data; FULL — both; `_TRANSITIVE` — against every version;
 * NONE — nothing.
 */

/**
 * @throws CarrierError `INVALID_ARGUMENT` when `level` is not a {@link CompatibilityLevel}.
 */
export function checkLevel(level: string): CompatibilityLevel {
  if (!(COMPATIBILITY_LEVELS as readonly string[]).includes(level)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `unknown compatibility level ${JSON.stringify(level)}; one of ${COMPATIBILITY_LEVELS.join(', ')}`,
    );
  }
  return level as CompatibilityLevel;
}

export interface PreviousVersion {
  readonly version: number;
  readonly type: SchemaType;
  /** The parsed schema, when it is of the candidate's type. */
  readonly parsed: unknown;
}

export interface ProblemsInput {
  readonly level: CompatibilityLevel;
  readonly candidate: unknown;
  readonly candidateType: SchemaType;
  readonly format: SchemaFormat<unknown>;
  /** The versions to consider, ascending. */
  readonly previous: readonly PreviousVersion[];
  /** Test against exactly the versions given (an explicit version), whatever the level's transitivity. */
  readonly explicitVersion: boolean;
}

/** Why the candidate may not become the next version; empty when it may. */
export function compatibilityProblems(input: ProblemsInput): string[] {
  const { level, previous } = input;
  if (level === 'NONE' || previous.length === 0) return [];
  const transitive = input.explicitVersion || level.endsWith('_TRANSITIVE');
  const against = transitive ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: string[] = [];
  for (const old of against) {
    if (old.type !== input.candidateType) {
      problems.push(`version ${old.version} is a ${old.type} schema, the new one ${input.candidateType}`);
      continue;
    }
    if (backward) {
      for (const p of input.format.incompatibilities(input.candidate, old.parsed)) {
        problems.push(`the new schema cannot read data written with version ${old.version}: ${p}`);
      }
    }
    if (forward) {
      for (const p of input.format.incompatibilities(old.parsed, input.candidate)) {
        problems.push(`version ${old.version} cannot read data written with the new schema: ${p}`);
      }
    }
  }
  return problems;
}
