import type { Carrier } from '@carrier/core';
import { migrate, Outbox, OutboxRelay, withInbox } from '@carrier/outbox';
import pg from 'pg';
import { makeOrders, type Order } from './pipeline.js';

/** What the outbox variant did, for the summary. */
export interface OutboxReport {
  topic: string;
  schema: string;
  /** Orders written, each in its own transaction with its outbox message. */
  committed: number;
  /** Orders whose transaction was rolled back (payment declined): their message must never arrive. */
  rolledBack: number[];
  /** Orders invoiced by the consumer (through the inbox), in arrival order. */
  invoiced: number[];
  /** Deliveries the inbox acknowledged without running the handler (a duplicate of an order). */
  skippedByInbox: number;
  /** Whether the broker delivered the duplicate at all (brokers that de-duplicate by id drop it). */
  duplicateDelivered: boolean;
  /** From COMMIT returning to the handler running, per order, in ms. */
  latenciesMs: number[];
  /** Rows left in the outbox table once every order is invoiced (the relay deletes confirmed rows). */
  outboxRowsLeft: number;
}

/** Schema of the demo's tables (orders, invoices) and of the outbox and inbox tables. */
export const DEMO_SCHEMA = 'carrier_demo';

async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The order pipeline through PostgreSQL: each order is inserted into `carrier_demo.orders` and its
 * message written to the outbox in the same transaction (`outbox.publish(client, …)`); every
 * sixth order's payment is declined and its transaction rolled back. An `OutboxRelay` publishes
 * the committed messages to `carrier`; the invoicing group consumes them through `withInbox`, so
 * its invoice row and the inbox record commit together. One order's message is then published a
 * second time with the same id (as a relay that crashed before its DELETE would): the inbox
 * acknowledges it without invoicing twice.
 */
export async function runOutboxOrders(
  carrier: Carrier,
  databaseUrl: string,
  topic: string,
  count = 12,
  timeoutMs = 60_000,
): Promise<OutboxReport> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8, connectionTimeoutMillis: 10_000 });
  const schema = DEMO_SCHEMA;
  const q = (name: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
  const run = topic.slice(topic.lastIndexOf('-') + 1);
  const report: OutboxReport = {
    topic,
    schema,
    committed: 0,
    rolledBack: [],
    invoiced: [],
    skippedByInbox: 0,
    duplicateDelivered: false,
    latenciesMs: [],
    outboxRowsLeft: -1,
  };
  const relay = new OutboxRelay({ pool, carrier, schema });
  try {
    await migrate(pool, { schema });
    await pool.query(`CREATE TABLE IF NOT EXISTS ${q('orders')} (
      id text PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    await pool.query(`CREATE TABLE IF NOT EXISTS ${q('invoices')} (
      order_id text PRIMARY KEY, total numeric NOT NULL, invoiced_at timestamptz NOT NULL DEFAULT now())`);

    const committedAt = new Map<number, number>();
    let deliveries = 0;
    const invoice = withInbox<Order>(pool, { group: 'invoicing', schema }, async (msg, client) => {
      await client.query(`INSERT INTO ${q('invoices')} (order_id, total) VALUES ($1, $2)`, [
        `${run}-${msg.body.id}`,
        msg.body.total,
      ]);
      report.invoiced.push(msg.body.id);
      const at = committedAt.get(msg.body.id);
      if (at !== undefined) report.latenciesMs.push(Date.now() - at);
    });
    // every delivery to the group goes through the inbox; those it skips do not invoice
    const invoicing = await carrier.subscribe<Order>(
      topic,
      { group: 'invoicing', concurrency: 4 },
      async (msg) => {
        await invoice(msg);
        deliveries++;
      },
    );
    await relay.start();

    const outbox = new Outbox(carrier, { schema });
    for (const order of makeOrders(count)) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${q('orders')} (id, customer, total) VALUES ($1, $2, $3)`, [
          `${run}-${order.id}`,
          order.customer,
          order.total,
        ]);
        await outbox.publish(client, topic, order, { id: `${run}-order-${order.id}`, key: order.customer });
        if (order.id % 6 === 0) {
          await client.query('ROLLBACK'); // payment declined: no order row, no message
          report.rolledBack.push(order.id);
        } else {
          await client.query('COMMIT');
          committedAt.set(order.id, Date.now());
          report.committed++;
        }
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    }
    await until(
      () => report.invoiced.length >= report.committed,
      timeoutMs,
      'every committed order invoiced',
    );

    // the same message again (same id), as a relay that died between the broker's confirmation
    // and its DELETE would publish it: the inbox acknowledges it without a second invoice
    const first = makeOrders(1)[0]!;
    await carrier.publish(topic, first, { id: `${run}-order-${first.id}`, key: first.customer });
    // (NATS JetStream and SQS FIFO drop a message whose id they saw within their de-duplication
    // window: then the duplicate never arrives)
    report.duplicateDelivered = await until(
      () => deliveries >= report.committed + 1,
      5_000,
      'the duplicate',
    ).then(
      () => true,
      () => false,
    );
    report.skippedByInbox = deliveries - report.invoiced.length;
    await until(
      async () => {
        const left = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${q('outbox')}`);
        report.outboxRowsLeft = Number(left.rows[0]!.n);
        return report.outboxRowsLeft === 0;
      },
      timeoutMs,
      'the relay to delete the confirmed rows',
    );
    await invoicing.close();
    return report;
  } finally {
    await relay.close();
    await pool.end();
  }
}

/** The human summary printed by the demo. */
export function formatOutboxReport(report: OutboxReport): string {
  const sorted = [...report.latenciesMs].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
  return [
    `Orders through PostgreSQL (transactional outbox, schema ${report.schema}) — topic ${report.topic}`,
    `outbox  : ${report.committed} orders committed with their message, ${report.rolledBack.length} rolled back (payment declined: ${report.rolledBack.map((id) => `#${id}`).join(', ')})`,
    `relay   : published every committed message; ${report.outboxRowsLeft} rows left in the outbox`,
    `invoice : ${report.invoiced.length} orders invoiced through the inbox; rolled-back orders invoiced: ${report.invoiced.filter((id) => report.rolledBack.includes(id)).length}`,
    report.duplicateDelivered
      ? `inbox   : a duplicate of order #1 (same id) acknowledged without a second invoice (${report.skippedByInbox} skipped)`
      : `inbox   : a duplicate of order #1 (same id) was dropped by the broker itself (de-duplication by message id)`,
    `latency : COMMIT to handler p50 ${at(50)} ms, max ${sorted.at(-1)} ms`,
  ].join('\n');
}
