import type { Side } from '../side.js';

/** A raw client to compare Carrier with, on one broker. */
export interface RawClient {
  readonly side: Side;
  /** What exactly the raw side does (client, version, durability settings). */
  readonly reference: string;
  /** Appended to figure names for a second reference (`.vs-platformatic`); none for the main one. */
  readonly suffix?: string;
}

/** The broker's own performance tool, as a ceiling for publish throughput. */
export interface CeilingResult {
  readonly tool: string;
  readonly msgsPerS: number;
  readonly mbPerS: number;
  readonly detail: string;
}

/** What a broker module exports. */
export interface BrokerModule {
  /** The raw clients, connected to `url`; the first is the main reference. */
  rawClients(url: string, skip: ReadonlySet<string>): Promise<RawClient[]>;
  /** The broker's perf tool, or a reason it is not available here. */
  ceiling?(
    url: string,
    settings: { messages: number; size: number; batch: number },
  ): Promise<CeilingResult | string>;
  /** Notes on what limits this broker's figures. */
  readonly notes: string;
}
