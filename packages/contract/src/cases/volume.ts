import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { duplicates, freshName } from '../support.js';

const theme = 'volume';

export const volume: ContractCase = {
  name: 'volume: thousands of messages through several members, nothing lost, duplicates counted',
  theme,
  needs: ['fullProfile'],
  timeouts: 20,
  async run({ carrier, sizes, note, timeoutMs }) {
    const members = 4;
    const count = sizes.volume;
    const topic = freshName('volume');
    const connections = await Promise.all(Array.from({ length: members }, () => carrier()));
    await connections[0]!.declare(topic, ['g']);
    const handled: string[] = [];
    const started = performance.now();
    await Promise.all(
      connections.map((c) =>
        c.subscribe(topic, { group: 'g', concurrency: 16, prefetch: 64 }, (m) => {
          handled.push(m.id);
        }),
      ),
    );
    const ids: string[] = [];
    const chunk = 250;
    for (let i = 0; i < count; i += chunk) {
      const batch = await connections[i % members]!.publishBatch(
        topic,
        Array.from({ length: Math.min(chunk, count - i) }, (_, j) => ({
          body: { n: i + j },
          key: `k${(i + j) % 50}`,
        })),
      );
      ids.push(...batch.map((r) => r.id));
    }
    const published = performance.now();
    const unique = () => new Set(handled).size;
    // a deadline proportional to the volume: every `timeoutMs` at least one more tenth arrives
    let last = -1;
    while (unique() < count) {
      if (unique() === last)
        throw new Error(`stalled at ${unique()} of ${count} messages for ${timeoutMs} ms`);
      last = unique();
      const target = Math.min(count, last + count / 10);
      const deadline = Date.now() + timeoutMs;
      while (unique() < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const seen = new Set(handled);
    const missing = ids.filter((id) => !seen.has(id));
    expect(missing.length, 'messages lost').toBe(0);
    const dup = duplicates(handled);
    await note(
      `${count} messages in ${seconds.toFixed(1)} s (published in ${((published - started) / 1000).toFixed(1)} s); ${dup.size} handled more than once`,
    );
  },
};
