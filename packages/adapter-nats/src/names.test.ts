import { validateName } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import {
  consumerName,
  deadLetterStream,
  deadLetterSubject,
  escapeName,
  redriveSubject,
  topicStream,
  topicSubject,
  unescapeName,
} from './names.js';

const STREAM_NAME = /^[A-Za-z0-9_-]{1,255}$/; // no '.', '*', '>', whitespace, path separators
const TOKEN = /^[A-Za-z0-9_-]+$/;

describe('name mapping', () => {
  it('escapes . and _ injectively and reversibly', () => {
    const names = [
      'a',
      'a.b',
      'a_b',
      'a_Db',
      'a._b',
      'a_.b',
      'a__b',
      'a.D',
      'DLQ.x',
      'Dx',
      'x-y.z_w',
      'A.B.C',
    ];
    const escaped = names.map(escapeName);
    expect(new Set(escaped).size).toBe(names.length);
    for (const [i, name] of names.entries()) {
      expect(escaped[i]).toMatch(TOKEN);
      expect(unescapeName(escaped[i]!)).toBe(name);
    }
    expect(escapeName('orders.eu_west')).toBe('orders_Deu__west');
  });

  it('never maps two portable names to one stream, consumer or subject', () => {
    const names = [
      'a',
      'a.b',
      'a_b',
      'a_Db',
      'a._b',
      'a_.b',
      'DLQ.x',
      'Dx',
      'DLQ_x',
      'DLQ-x',
      'x',
      'redrive.x.y',
      'x.y',
    ];
    for (const n of names) validateName('topic', n);
    const streams = names.flatMap((n) => [topicStream(n), deadLetterStream(n)]);
    expect(new Set(streams).size).toBe(streams.length);
    for (const s of streams) expect(s).toMatch(STREAM_NAME);
    const subjects = names.flatMap((t) =>
      names.flatMap((g) => [redriveSubject(t, g), deadLetterSubject(t, g)]).concat(topicSubject(t)),
    );
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(new Set(names.map(consumerName)).size).toBe(names.length);
  });

  it('keeps the longest portable names within JetStream limits', () => {
    const worst = `a${'_'.repeat(99)}`;
    validateName('topic', worst);
    expect(topicStream(worst).length).toBeLessThanOrEqual(255);
    expect(deadLetterStream(worst).length).toBeLessThanOrEqual(255);
    expect(consumerName(worst).length).toBeLessThanOrEqual(255);
  });

  it('lays out subjects so topic subjects never overlap redrive or dead-letter subjects', () => {
    expect(topicSubject('orders.eu')).toBe('carrier.orders.eu');
    expect(redriveSubject('orders.eu', 'billing')).toBe('carrier-redrive.orders_Deu.billing');
    expect(deadLetterSubject('orders.eu', 'bill.ing')).toBe('carrier-dlq.orders_Deu.bill_Ding');
    expect(topicStream('orders.eu')).toBe('CARRIER_orders_Deu');
    expect(deadLetterStream('orders.eu')).toBe('CARRIER-DLQ_orders_Deu');
  });

  it('rejects tokens escapeName cannot produce', () => {
    expect(() => unescapeName('a_b')).toThrow();
    expect(() => unescapeName('a_')).toThrow();
  });
});
