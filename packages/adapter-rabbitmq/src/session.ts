import type { ChannelModel } from 'amqplib';
import { Publisher } from './producer.js';
import type { ReplyConsumer } from './replies.js';
import { StrayDeliveryFilter } from './stray-frames.js';
import { Topology } from './topology.js';
import type { QueueType } from './url.js';

/**
 * What belongs to one AMQP connection: its publishing channel and its cache of declared topology.
 * A reconnection makes a new session, so everything is declared again on the new connection.
 */
export class Session {
  readonly publisher: Publisher;
  readonly topology: Topology;
  /** Drops deliveries that arrive for consumers of channels already closed (see stray-frames.ts). */
  readonly strays: StrayDeliveryFilter;

  constructor(
    readonly model: ChannelModel,
    queueType: QueueType,
    replies?: ReplyConsumer,
  ) {
    this.strays = new StrayDeliveryFilter(model);
    this.publisher = new Publisher(model, replies);
    this.topology = new Topology(model, queueType);
  }
}
