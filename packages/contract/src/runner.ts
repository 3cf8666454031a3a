import {
  type Capabilities,
  type Carrier,
  connect,
  parseCarrierUrl,
  type TransportFactory,
  transportFactoryFor,
} from '@carrier/core';
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

/**
 * Register the conformance suite for one transport with vitest: every case of `contractCases`
 * (or those `only` selects), grouped by theme. Every case opens its own connections, uses fresh
 * topic and group names, waits on conditions with deadlines, and closes what it opened. A case that
 * does not apply (a capability the transport lacks, `skip`, the quick profile, …) is reported as
 * skipped with the reason. With `CARRIER_CONFORMANCE_DIR` set, the results are written there as
 * `<name>.json` for the conformance table.
 */
export function describeTransportContract(
  options: TransportContractOptions,
  cases: readonly ContractCase[] = contractCases,
): void {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const profile = contractProfile(options.profile);
  const skipped = skipReasons(options, cases);
  const open: Carrier[] = [];
  const results: CaseResult[] = [];
  let capabilities: Capabilities | undefined;

  const urlOf = (): string | undefined => (typeof options.url === 'function' ? options.url() : options.url);
  const track = (c: Carrier): Carrier => {
    open.push(c);
    capabilities ??= c.capabilities;
    return c;
  };
  const factoryOf = async (url: string): Promise<TransportFactory> =>
    options.transport ?? (await transportFactoryFor(parseCarrierUrl(url)));
  const carrier = async (): Promise<Carrier> => {
    if (options.connect) return track(await options.connect());
    const url = urlOf();
    if (!url) throw new Error('describeTransportContract needs url or connect');
    return track(await connect(url, options.transport ? { transport: options.transport } : {}));
  };
  const carrierWrapped: CaseContext['carrierWrapped'] = async (wrap, connectOptions) => {
    const url = urlOf();
    if (options.connect || !url) throw new Error('this case needs `url` (declare needs: ["url"])');
    return track(await connect(url, { ...connectOptions, transport: wrap(await factoryOf(url)) }));
  };

  const reasonNotApplicable = async (c: ContractCase): Promise<string | undefined> => {
    for (const need of c.needs ?? []) {
      const reason = await unmet(need);
      if (reason) return reason;
    }
    return undefined;
  };
  const unmet = async (need: CaseNeed): Promise<string | undefined> => {
    switch (need) {
      case 'url':
        return options.connect || !urlOf()
          ? 'needs `url`: the case wraps the transport to watch deliveries and settlements'
          : undefined;
      case 'fullProfile':
        return profile === 'full' ? undefined : `full profile only (${PROFILE_ENV}=full)`;
      case 'publishWithoutGroup':
        return options.publishWithoutGroup
          ? undefined
          : 'the transport declares no outcome for a publish without groups (`publishWithoutGroup`)';
      default: {
        capabilities ??= (await carrier()).capabilities;
        return capabilities[need] ? undefined : `capabilities.${need} is false`;
      }
    }
  };

  describe(`transport contract: ${options.name}`, { timeout: timeoutMs * 4 }, () => {
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((c) => c.close()));
    });
    afterAll(() => {
      writeResults({
        transport: options.name,
        profile,
        finishedAt: new Date().toISOString(),
        cases: results,
      });
    });

    it('skip and only name existing cases', () => {
      const names = new Set(cases.map((c) => c.name));
      const unknown = [...(options.only ?? []), ...Object.keys(skipMap(options.skip))].filter(
        (n) => !names.has(n),
      );
      expect(unknown, 'case names in `only` / `skip` that no case has').toEqual([]);
    });

    for (const theme of themes(cases)) {
      describe(theme, () => {
        for (const c of cases.filter((x) => x.theme === theme)) {
          it(c.name, { timeout: timeoutMs * (c.timeouts ?? 4) }, async (test: TestContext) => {
            const result: CaseResult = { name: c.name, theme: c.theme, status: 'failed' };
            results.push(result);
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
            const context: CaseContext = {
              options,
              profile,
              sizes: PROFILE_SIZES[profile],
              timeoutMs,
              carrier,
              carrierWrapped,
              until: (condition, what) => waitFor(condition, timeoutMs, what),
              skip: (condition, reason) => {
                if (condition) skip(reason);
              },
              note: async (text) => {
                notes.push(text);
                await test.annotate(text);
              },
            };
            const selected = skipped.get(c.name) ?? (await reasonNotApplicable(c));
            if (selected !== undefined) skip(selected);
            await c.run(context);
            result.status = 'passed';
            if (notes.length > 0) result.note = notes.join('; ');
            result.durationMs = Math.round(performance.now() - started);
          });
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
