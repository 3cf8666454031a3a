import { type Capabilities, type Carrier, connect, type TransportFactory } from '@carrier/core';
import { parseCarrierUrl, transportFactoryFor } from '@carrier/core/kit';
import { EmbeddedRegistry, type SchemaRegistry } from '@carrier/schema';
import { afterAll, afterEach, describe, expect, it, type TestContext } from 'vitest';
import {
  type CaseContext,
  type CaseNeed,
  type ContractCase,
  type ContractProfile,
  PROFILE_SIZES,
  type TransportContractOptions,
} from './case.js';
import { contractCases } from './cases/index.js';
import { type CaseResult, writeResults } from './results.js';
import { waitFor } from './support.js';

/** Environment variable selecting the profile: `quick` (default) or `full`. */
export const PROFILE_ENV = 'CARRIER_CONTRACT_PROFILE';

/** The profile of a run: the option, else `CARRIER_CONTRACT_PROFILE`, else `quick`. */
export function contractProfile(option?: ContractProfile): ContractProfile {
  const value = option ?? process.env[PROFILE_ENV] ?? 'quick';
  if (value !== 'quick' && value !== 'full') {
    throw new Error(`${PROFILE_ENV} must be 'quick' or 'full', not ${JSON.stringify(value)}`);
  }
  return value;
}

/** One suite run on one transport: its connections, capabilities and results. */
class Suite {
  readonly timeoutMs: number;
  readonly profile: ContractProfile;
  readonly open: Carrier[] = [];
  readonly results: CaseResult[] = [];
  #capabilities: Capabilities | undefined;

  constructor(readonly options: TransportContractOptions) {
    this.timeoutMs = options.timeoutMs ?? 20_000;
    this.profile = contractProfile(options.profile);
  }

  #url(): string | undefined {
    const { url } = this.options;
    return typeof url === 'function' ? url() : url;
  }

  #track(c: Carrier): Carrier {
    this.open.push(c);
    this.#capabilities ??= c.capabilities;
    return c;
  }

  readonly carrier: CaseContext['carrier'] = async (connectOptions) => {
    const { connect: custom } = this.options;
    if (custom) return this.#track(await custom());
    const url = this.#url();
    if (!url) throw new Error('describeTransportContract needs url or connect');
    return this.carrierAt(url, connectOptions);
  };

  readonly carrierAt: CaseContext['carrierAt'] = async (url, connectOptions) => {
    const { transport } = this.options;
    return this.#track(await connect(url, { ...connectOptions, ...(transport ? { transport } : {}) }));
  };

  readonly carrierWrapped: CaseContext['carrierWrapped'] = async (wrap, connectOptions) => {
    const url = this.#url();
    if (this.options.connect || !url) throw new Error('this case needs `url` (declare needs: ["url"])');
    const factory: TransportFactory =
      this.options.transport ?? (await transportFactoryFor(parseCarrierUrl(url)));
    return this.#track(await connect(url, { ...connectOptions, transport: wrap(factory) }));
  };

  /** Why `c` does not apply to this transport, or undefined when it does. */
  async notApplicable(c: ContractCase): Promise<string | undefined> {
    for (const need of c.needs ?? []) {
      const reason = await this.#unmet(need);
      if (reason) return reason;
    }
    return undefined;
  }

  async #unmet(need: CaseNeed): Promise<string | undefined> {
    const { options, profile } = this;
    switch (need) {
      case 'url':
        return options.connect || !this.#url()
          ? 'needs `url`: the case wraps the transport to watch deliveries and settlements'
          : undefined;
      case 'connectOptions':
        return options.connect || !this.#url()
          ? 'needs `url`: the case connects with its own options (a custom `connect` ignores them)'
          : undefined;
      case 'fullProfile':
        return profile === 'full' ? undefined : `full profile only (${PROFILE_ENV}=full)`;
      case 'publishWithoutGroup':
        return options.publishWithoutGroup
          ? undefined
          : 'the transport declares no outcome for a publish without groups (`publishWithoutGroup`)';
      case 'restartableBroker':
        if (!options.broker) return 'no private broker to restart (`broker` option)';
        return options.broker.persistsAcrossRestart
          ? undefined
          : 'the broker keeps nothing across a restart (`broker.persistsAcrossRestart: false`)';
      case 'startFromRecorded':
      case 'orderedRecorded': {
        const setting = need === 'startFromRecorded' ? 'startFrom' : 'ordered';
        return options.recordsGroupSettings?.includes(setting)
          ? undefined
          : `the broker does not record a group's ${setting} (\`recordsGroupSettings\`): a different one cannot be detected`;
      }
      case 'delayedPublish':
        this.#capabilities ??= (await this.carrier()).capabilities;
        return (this.#capabilities.maxPublishDelayMs ?? 0) > 0
          ? undefined
          : 'capabilities.maxPublishDelayMs is 0: the transport has no delayed publish';
      default: {
        this.#capabilities ??= (await this.carrier()).capabilities;
        return this.#capabilities[need] ? undefined : `capabilities.${need} is false`;
      }
    }
  }

  /** Run case `c` as vitest test `test`, recording its result; `skipReason` skips it. */
  async run(c: ContractCase, test: TestContext, skipReason: string | undefined): Promise<void> {
    const result: CaseResult = { name: c.name, theme: c.theme, status: 'failed' };
    this.results.push(result);
    const started = performance.now();
    test.onTestFailed(({ task }) => {
      result.status = 'failed';
      result.note = task.result?.errors?.[0]?.message?.split('\n')[0];
      result.durationMs = Math.round(performance.now() - started);
    });
    const skip = (reason: string): never => {
      result.status = 'skipped';
      result.note = reason;
      return test.skip(reason);
    };
    const notes: string[] = [];
    let registry: SchemaRegistry | undefined;
    const context: CaseContext = {
      options: this.options,
      profile: this.profile,
      sizes: PROFILE_SIZES[this.profile],
      timeoutMs: this.timeoutMs,
      carrier: this.carrier,
      carrierAt: this.carrierAt,
      carrierWrapped: this.carrierWrapped,
      schemaRegistry: () => {
        registry ??= this.options.schemaRegistry?.() ?? new EmbeddedRegistry();
        return registry;
      },
      until: (condition, what) => waitFor(condition, this.timeoutMs, what),
      skip: (condition, reason) => {
        if (condition) skip(reason);
      },
      note: async (text) => {
        notes.push(text);
        await test.annotate(text);
      },
    };
    const reason = skipReason ?? (await this.notApplicable(c));
    if (reason !== undefined) skip(reason);
    await c.run(context);
    result.status = 'passed';
    if (notes.length > 0) result.note = notes.join('; ');
    result.durationMs = Math.round(performance.now() - started);
  }
}

/**
 * Register the conformance suite for one transport with vitest: every case of `cases` (default:
 * all of `contractCases`), grouped by theme. Every case opens its own connections, uses fresh
 * topic and group names, waits on conditions with deadlines, and closes what it opened. A case that
 * does not apply (a capability the transport lacks, `only`/`skip`, the quick profile, …) is
 * reported as skipped with the reason. With `CARRIER_CONFORMANCE_DIR` set, the results are written
 * there as `<name>.json` for the conformance table.
 */
export function describeTransportContract(
  options: TransportContractOptions,
  cases: readonly ContractCase[] = contractCases,
): void {
  const suite = new Suite(options);
  const skipped = skipReasons(options, cases);
  describe(`transport contract: ${options.name}`, { timeout: suite.timeoutMs * 4 }, () => {
    afterEach(async () => {
      await Promise.allSettled(suite.open.splice(0).map((c) => c.close()));
    });
    afterAll(() => {
      const finishedAt = new Date().toISOString();
      writeResults({ transport: options.name, profile: suite.profile, finishedAt, cases: suite.results });
    });
    it('skip and only name existing cases', () => {
      const names = new Set(cases.map((c) => c.name));
      const named = [...(options.only ?? []), ...Object.keys(skipMap(options.skip))];
      expect(
        named.filter((n) => !names.has(n)),
        'case names in `only` / `skip` that no case has',
      ).toEqual([]);
    });
    for (const theme of themes(cases)) {
      describe(theme, () => {
        for (const c of cases.filter((x) => x.theme === theme)) {
          it(c.name, { timeout: suite.timeoutMs * (c.timeouts ?? 4) }, (test: TestContext) =>
            suite.run(c, test, skipped.get(c.name)),
          );
        }
      });
    }
  });
}

/** The themes of `cases`, in order of first appearance. */
function themes(cases: readonly ContractCase[]): string[] {
  return [...new Set(cases.map((c) => c.theme))];
}

/** `skip` as name → reason. */
function skipMap(skip: TransportContractOptions['skip']): Record<string, string> {
  if (skip === undefined) return {};
  if (Array.isArray(skip)) {
    return Object.fromEntries(skip.map((name: string) => [name, "skipped by the transport's spec"]));
  }
  return { ...(skip as Readonly<Record<string, string>>) };
}

/** The reason each case is skipped by `only` / `skip`, by name. */
function skipReasons(options: TransportContractOptions, cases: readonly ContractCase[]): Map<string, string> {
  const reasons = new Map<string, string>();
  const skip = skipMap(options.skip);
  for (const c of cases) {
    if (options.only && !options.only.includes(c.name)) reasons.set(c.name, 'not selected (`only`)');
    else if (skip[c.name] !== undefined) reasons.set(c.name, `skipped for ${options.name}: ${skip[c.name]}`);
  }
  return reasons;
}
