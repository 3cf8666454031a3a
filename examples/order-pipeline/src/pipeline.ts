import { type Carrier, type DeadLetter, NonRetryableError } from '@carrier/core';
import { priceOf, startPricing } from './pricing.js';

/** An order as the shop publishes it. */
export interface Order {
  id: number;
  customer: string;
  total: number;
  address?: string;
}

/** What each group did, for the summary. */
export interface PipelineReport {
  topic: string;
  published: number;
  /** Orders whose gross total came from the pricing service (request/reply). */
  priced: number;
  invoiced: number[];
  shipped: Array<{ id: number; attempt: number }>;
  shippingFailures: number;
  deadLetters: Array<{ id: number; reason: string; attempts: number }>;
  /** The delayed review reminder: the delay asked for and when it arrived (ms after its publish). */
  reminder: { delayMs: number; arrivedAfterMs: number | undefined };
}

/** Delay of the review reminder the shop schedules after the orders (delayed publish), in ms. */
export const REMINDER_DELAY_MS = 1_500;

/** The shop's orders: every 7th has no address (hopeless), every 5th hits a flaky carrier API. */
export function makeOrders(count: number): Order[] {
  return Array.from({ length: count }, (_, i) => {
    const id = i + 1;
    const order: Order = { id, customer: `customer-${id % 4}`, total: Math.round(id * 12.5 * 100) / 100 };
    if (id % 7 !== 0) order.address = `${id} Harbour Street`;
    return order;
  });
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Run the order pipeline on `carrier`: billing and shipping each get every order; shipping retries
 * transient failures with backoff and dead-letters the orders that can never ship; the dead
 * letters are read back with their reasons; a review reminder is published with a delay. Resolves
 * with what happened.
 */
export async function runPipeline(
  carrier: Carrier,
  topic: string,
  count = 20,
  timeoutMs = 60_000,
): Promise<PipelineReport> {
  const report: PipelineReport = {
    topic,
    published: 0,
    priced: 0,
    invoiced: [],
    shipped: [],
    shippingFailures: 0,
    deadLetters: [],
    reminder: { delayMs: REMINDER_DELAY_MS, arrivedAfterMs: undefined },
  };

  const billing = await carrier.subscribe<Order>(topic, { group: 'billing', concurrency: 4 }, async (msg) => {
    report.invoiced.push(msg.body.id);
  });

  const shipping = await carrier.subscribe<Order>(
    topic,
    { group: 'shipping', concurrency: 4, retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 400 } },
    async (msg) => {
      const order = msg.body;
      if (!order.address) {
        report.shippingFailures++;
        throw new NonRetryableError(`order ${order.id} has no shipping address`);
      }
      if (order.id % 5 === 0 && msg.attempt === 1) {
        report.shippingFailures++;
        throw new Error(`carrier API timed out for order ${order.id}`);
      }
      if (order.id === 13) {
        report.shippingFailures++;
        throw new Error(`warehouse rejects order ${order.id} (attempt ${msg.attempt})`);
      }
      report.shipped.push({ id: order.id, attempt: msg.attempt });
    },
  );

  const dlq = await carrier.deadLetters(topic, 'shipping').subscribe((letter: DeadLetter) => {
    const order = letter.message.body as Order;
    report.deadLetters.push({ id: order.id, reason: letter.reason, attempts: letter.attempts });
  });

  // before billing sees an order, its gross total is asked of the pricing service: request/reply
  const pricing = await startPricing(carrier, `${topic}.pricing`);
  const orders = await Promise.all(
    makeOrders(count).map(async (order) => {
      const total = await priceOf(carrier, `${topic}.pricing`, order.id, order.total);
      report.priced++;
      return { ...order, total };
    }),
  );
  await pricing.close();
  await carrier.publishBatch(
    topic,
    orders.map((order) => ({ body: order, key: order.customer, headers: { source: 'webshop' } })),
  );
  report.published = orders.length;

  // a review reminder that no group may see before REMINDER_DELAY_MS: delayed publish
  let remindedAt = 0;
  const reviews = await carrier.subscribe(`${topic}.reviews`, { group: 'reviews' }, async () => {
    report.reminder.arrivedAfterMs = Date.now() - remindedAt;
  });
  remindedAt = Date.now();
  await carrier.publish(`${topic}.reviews`, { orders: count }, { delayMs: REMINDER_DELAY_MS });

  await until(
    () =>
      report.invoiced.length >= count &&
      report.shipped.length + report.deadLetters.length >= count &&
      report.reminder.arrivedAfterMs !== undefined,
    timeoutMs,
    'billing and shipping to settle every order',
  );
  await Promise.all([billing.close(), shipping.close(), dlq.close(), reviews.close()]);
  return report;
}

/** The human summary printed by the demo. */
export function formatReport(transport: string, report: PipelineReport): string {
  const retried = [...report.shipped]
    .sort((a, b) => a.id - b.id)
    .filter((s) => s.attempt > 1)
    .map((s) => `#${s.id} (attempt ${s.attempt})`);
  const lines = [
    `Carrier order pipeline on ${transport} — topic ${report.topic}`,
    `pricing : ${report.priced} orders priced by request/reply (gross = net + 19 % VAT)`,
    `published ${report.published} orders`,
    `billing : invoiced ${report.invoiced.length} orders`,
    `shipping: shipped ${report.shipped.length} orders, ${report.shippingFailures} failed attempts`,
    `          shipped after a retry: ${retried.join(', ') || 'none'}`,
    `dead letters of shipping (${report.deadLetters.length}):`,
    ...report.deadLetters
      .sort((a, b) => a.id - b.id)
      .map((d) => `  order #${d.id} after ${d.attempts} attempt(s): ${d.reason}`),
    `reviews : the reminder published with delayMs ${report.reminder.delayMs} arrived after ${report.reminder.arrivedAfterMs} ms`,
  ];
  return lines.join('\n');
}
