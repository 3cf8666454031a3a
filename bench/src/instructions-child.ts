/**
 * Child process of the instructions-per-message figures (instructions.ts), run under valgrind:
 * `node instructions-child.js <memory|core> <carrier|raw> <messages> [<warm-up messages>]` sets up
 * one side as the memory / core bench does, runs the end-to-end loop for the warm-up, then once for
 * `<messages>` messages, closes it and exits. Everything but the loop (Node's start, module loading, connecting, closing) is the same
 * for every message count, so the difference of two counts' instructions is the loop's alone.
 */
import { connect, createMemoryTransport } from '@carrier/core';
import { CarrierSide } from './carrier-side.js';
import { LoopbackTransport } from './loopback-transport.js';
import { endToEnd, type ScenarioSettings } from './measure.js';
import type { Side } from './side.js';
import { TransportSide } from './transport-side.js';

/** The loop's settings: the bench's defaults (1 KiB, batches of 100, prefetch 64, concurrency 16). */
export const INSTRUCTION_SETTINGS: Omit<ScenarioSettings, 'messages'> = {
  size: 1024,
  batch: 100,
  inflight: 16,
  consume: { prefetch: 64, concurrency: 16 },
  maxBacklog: 1000,
  deadlineMs: 600_000,
};

async function side(broker: string, which: string): Promise<Side> {
  const onError = (e: Error) => process.stderr.write(`async error: ${e.message}\n`);
  if (broker === 'memory')
    return which === 'carrier'
      ? new CarrierSide(await connect('memory://instructions', { onError }))
      : new TransportSide(
          'memory-spi',
          await createMemoryTransport(new URL('memory://instructions'), {
            onError,
            connectTimeoutMs: 10_000,
          }),
        );
  if (broker === 'core')
    return which === 'carrier'
      ? new CarrierSide(
          await connect('loopback://', { onError, transport: async () => new LoopbackTransport() }),
        )
      : new TransportSide('loopback-spi', new LoopbackTransport());
  throw new Error(`instructions-child: unknown broker ${broker}`);
}

const [broker = '', which = '', count = '', warm = '0'] = process.argv.slice(2);
const messages = Number(count);
const warmup = Number(warm);
if (!Number.isInteger(messages) || messages < 1) throw new Error(`instructions-child: bad count ${count}`);
if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`instructions-child: bad warm-up ${warm}`);
const s = await side(broker, which);
// the warm-up (the same in every run, so it cancels out of the difference) brings the loop's code to
// its optimized tier before the counted part: the difference is the steady state, not the JIT's work
if (warmup > 0)
  await endToEnd(s, `instructions.${which}.warm`, 'bench', { ...INSTRUCTION_SETTINGS, messages: warmup });
await endToEnd(s, `instructions.${which}`, 'bench', { ...INSTRUCTION_SETTINGS, messages });
await s.close();
process.exit(0);
