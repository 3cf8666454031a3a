import { describe, expect, it } from 'vitest';
import { payloadTemplate, pool, readStamp, STAMP_BYTES, stampedPayload } from './side.js';

describe('payloads', () => {
  it('carry their creation time and are valid UTF-8 text of the asked size', () => {
    const before = performance.timeOrigin + performance.now();
    const p = stampedPayload(1024, payloadTemplate(1024));
    const after = performance.timeOrigin + performance.now();
    expect(p.byteLength).toBe(1024);
    expect(readStamp(p)).toBeGreaterThanOrEqual(Math.floor(before));
    expect(readStamp(p)).toBeLessThanOrEqual(after + 1);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(p)).not.toThrow();
    expect(stampedPayload(1, payloadTemplate(1)).byteLength).toBe(STAMP_BYTES);
  });
});

describe('pool', () => {
  it('runs every index once with bounded concurrency', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await pool(20, 3, async (i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setImmediate(r));
      seen.push(i);
      running--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(3);
  });
});
