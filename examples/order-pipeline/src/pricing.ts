import type { Carrier, Subscription } from '@carrier/core';

/** VAT the pricing service adds, in percent. */
export const VAT_PERCENT = 19;

/** What the pricing service is asked. */
export interface PriceRequest {
  orderId: number;
  net: number;
}

/** What it answers. */
export interface PriceReply {
  orderId: number;
  gross: number;
}

/**
 * The pricing service: answers each request on `topic` (group `pricer`) with the gross price.
 * Request/reply (docs/concepts.md): `msg.reply` answers; a throw would answer `REQUEST_FAILED`.
 */
export function startPricing(carrier: Carrier, topic: string): Promise<Subscription> {
  return carrier.subscribe<PriceRequest>(topic, { group: 'pricer', concurrency: 8 }, async (msg) => {
    if (!(msg.body.net >= 0)) throw new Error(`order ${msg.body.orderId} has no net price`);
    const gross = Math.round(msg.body.net * (100 + VAT_PERCENT)) / 100;
    await msg.reply({ orderId: msg.body.orderId, gross } satisfies PriceReply, {
      headers: { currency: 'EUR' },
    });
  });
}

/** Ask the pricing service for the gross price of `net` (rejects with `TIMEOUT` or `REQUEST_FAILED`). */
export async function priceOf(
  carrier: Carrier,
  topic: string,
  orderId: number,
  net: number,
): Promise<number> {
  const reply = await carrier.request<PriceReply>(topic, { orderId, net } satisfies PriceRequest, {
    timeoutMs: 10_000,
  });
  return reply.body.gross;
}
