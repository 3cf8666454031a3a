import type { Carrier } from '@carrier/core';
import { CarrierError, scrub, urlSecrets } from '@carrier/core';
import pg from 'pg';
import { lockName, notifyChannel, type ResolvedNames, resolveNames } from './names.js';
import { PartitionWorker, type WorkerContext } from './partition-worker.js';
import { claimOrder, fairShare, OUTBOX_PARTITIONS } from './partitions.js';
import { Limiter, type OutboxRow } from './publish-rows.js';

/** Options of {@link OutboxRelay}. Give `pool` or `connectionString`. */
export interface OutboxRelayOptions {
  /** Pool to take the relay's one session connection from (held until `close()`). */
  pool?: pg.Pool | undefined;
  /** PostgreSQL URL to open the relay's session connection with (when no `pool`). */
  connectionString?: string | undefined;
  /** Where to publish. The relay never closes it. */
  carrier: Carrier;
  /** Schema of the outbox table. Default `carrier`. */
  schema?: string | undefined;
  /** Outbox table. Default `outbox`. */
  outboxTable?: string | undefined;
  /** Dead-letter table of the outbox. Default `<outboxTable>_dead_letter` (see `TableNames`). */
  deadLetterTable?: string | undefined;
  /** Rows read per partition at a time (bounds memory: at most 16 batches). Default 100. */
  batchSize?: number | undefined;
  /** Re-check an idle partition this often, in ms, when no notification came. Default 500. */
  pollIntervalMs?: number | undefined;
  /** Recount the relays and take or give back partitions this often, in ms. Default 1000. */
  rebalanceIntervalMs?: number | undefined;
  /** Broker publishes in flight at most, across partitions. Default 64. */
  maxInFlight?: number | undefined;
  /** First pause after a failure (publish, query, lost session), in ms; doubles up to 10 s. Default 500. */
  retryDelayMs?: number | undefined;
  /**
   * Longest wait of `close()` for the publishes under way, in ms. Default 10 000. After it, close
   * abandons them: their rows are not deleted (published again later: at-least-once), the session
   * is ended (its locks released with it) and `close()` resolves.
   */
  closeTimeoutMs?: number | undefined;
  /** Receives every problem the relay works around (failed publishes, lost session): `CarrierError`. */
  onError?: ((error: CarrierError) => void) | undefined;
}

/** What a relay has done so far (`relay.stats()`). */
export interface OutboxRelayStats {
  /** Rows published and confirmed by the broker since `start()`. */
  readonly published: number;
  /** Failures reported through `onError` (dead-lettered rows included). */
  readonly errors: number;
  /** Rows moved to the dead-letter table since `start()` (the broker can never accept them). */
  readonly deadLettered: number;
  /** Batch reads (one per partition visit). */
  readonly fetches: number;
  /** Partitions this relay holds now. */
  readonly partitions: readonly number[];
  /** Relays sharing the outbox at the last count (this one included). */
  readonly members: number;
  /** Milliseconds from `outbox.publish` (the row's `published_at`) to the broker's confirmation of the last row; absent before the first. */
  readonly lastLagMs?: number | undefined;
  /** PostgreSQL backend process id of the relay's session (`pg_backend_pid()`), absent without one. */
  readonly sessionPid?: number | undefined;
  /** True between `start()` and `close()`. */
  readonly running: boolean;
}

type State = 'new' | 'running' | 'closing' | 'closed';

/** One session connection: holds the member and partition locks and LISTENs. */
interface Session {
  readonly client: pg.ClientBase;
  alive: boolean;
  pid?: number;
  /** The last query queued on the session (queries run one after the other). */
  queue: Promise<void>;
  readonly end: (error?: Error) => Promise<void>;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new CarrierError('INVALID_ARGUMENT', `${name} must be a positive integer, not ${String(value)}`);
  }
  return value;
}

/**
 * The publishing half of the transactional outbox: publishes committed outbox rows to a carrier
 * and deletes each only after the broker confirmed it (at-least-once: a crash after the publish
 * and before the delete publishes the row again).
 *
 * - Eligibility: a row is read once its transaction id is below
 *   `pg_snapshot_xmin(pg_current_snapshot())`, i.e. no transaction that could still commit an
 *   older row is open (sequence numbers are given at insert, not commit; PostgreSQL docs,
 *   "Transaction ID and Snapshot Information Functions"). A long-open writing transaction anywhere
 *   in the cluster therefore delays every row.
 * - Order and sharing: rows fall into 16 key-hash partitions. A relay works a partition only while
 *   it holds a session-level advisory lock on it, so a key is published by one relay at a time,
 *   in seq order, one message at a time. Each relay also holds a member lock; every
 *   `rebalanceIntervalMs` it counts the members in `pg_locks` and holds its fair share
 *   (⌈16 / members⌉), giving back the extra partitions after their current batch and taking free
 *   ones. A relay whose session ends (crash, `pg_terminate_backend`) loses its locks with it and
 *   the others take its partitions over.
 * - Wake-up: LISTEN on the outbox's channel (the inserting transaction notifies at commit), and a
 *   poll every `pollIntervalMs` for rows that became eligible without a notification.
 *
 * - Failures: a transient publish failure (connection, timeout, broker refusal) leaves the row
 *   in place and stops its key until the next attempt, after a pause of `retryDelayMs` doubling up
 *   to 10 s (order holds). A permanent one — a `CarrierError` `INVALID_ARGUMENT`, `INVALID_NAME` or
 *   `MESSAGE_TOO_LARGE`, the bridge's rule — can never succeed: the row is moved to the
 *   dead-letter table (`<outboxTable>_dead_letter`, with `error_code`, `reason` and
 *   `dead_lettered_at`) in one statement, reported through `onError` as `PUBLISH_FAILED` (its
 *   cause is the permanent error; core has no dead-letter code) and counted in
 *   `stats().deadLettered`, and the key's next rows are published in order. Move rows back with
 *   `redriveOutboxDeadLetters`.
 *
 * One PostgreSQL connection per relay. A lost session is reported (`CONNECTION`) and replaced
 * after `retryDelayMs`; rows under way may then be published twice, never lost.
 */
export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  readonly #names: ResolvedNames;
  readonly #lock: string;
  readonly #channel: string;
  readonly #secrets: string[];
  readonly #context: WorkerContext;
  readonly #workers = new Map<number, PartitionWorker>();
  readonly #claimStart = Math.floor(Math.random() * OUTBOX_PARTITIONS);
  #state: State = 'new';
  #session: Session | undefined;
  #timer: NodeJS.Timeout | undefined;
  #rebalancing: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  readonly #closeTimeoutMs: number;
  #published = 0;
  #errors = 0;
  #deadLettered = 0;
  #fetches = 0;
  #members = 0;
  #lastLagMs: number | undefined;

  /** @throws CarrierError `INVALID_ARGUMENT` for invalid options (names, sizes, neither pool nor URL). */
  constructor(options: OutboxRelayOptions) {
    if (!options?.carrier) throw new CarrierError('INVALID_ARGUMENT', 'carrier is required');
    if (!options.pool && !options.connectionString) {
      throw new CarrierError('INVALID_ARGUMENT', 'give pool or connectionString');
    }
    this.#options = options;
    this.#names = resolveNames(options);
    this.#lock = lockName(this.#names);
    this.#channel = notifyChannel(this.#names);
    this.#secrets = secretsOf(options.connectionString);
    const table = this.#names.outbox;
    this.#context = {
      carrier: options.carrier,
      limiter: new Limiter(positive('maxInFlight', options.maxInFlight, 64)),
      batchSize: positive('batchSize', options.batchSize, 100),
      pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs, 500),
      retryDelayMs: positive('retryDelayMs', options.retryDelayMs, 500),
      selectSql: `SELECT seq, topic, message_id, key, headers, metadata, content_type, body, published_at
        FROM ${table} WHERE partition = $1 AND xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY seq LIMIT $2`,
      deleteSql: `DELETE FROM ${table} WHERE seq = ANY($1::bigint[])`,
      deadLetterSql: `WITH moved AS (
          DELETE FROM ${table} WHERE seq = $1::bigint
          RETURNING seq, xid, topic, message_id, key, headers, metadata, content_type, body, published_at)
        INSERT INTO ${this.#names.deadLetter}
          (seq, xid, topic, message_id, key, headers, metadata, content_type, body, published_at, error_code, reason)
        SELECT seq, xid, topic, message_id, key, headers, metadata, content_type, body, published_at, $2, $3
          FROM moved
        RETURNING seq`,
      deadLetterTable: this.#names.deadLetter,
      // replaced per session (see #workerContext): a worker only ever uses the session whose lock it works under
      query: () => Promise.reject(new CarrierError('CONNECTION', 'outbox relay: no PostgreSQL session')),
      alive: () => false,
      report: (error) => this.#report(error),
      detail: (cause) => this.#detail(cause),
      confirmed: (row: OutboxRow) => {
        this.#published++;
        this.#lastLagMs = Date.now() - row.published_at.getTime();
      },
      deadLettered: () => {
        this.#deadLettered++;
      },
      fetched: () => {
        this.#fetches++;
      },
    };
    positive('rebalanceIntervalMs', options.rebalanceIntervalMs, 1000);
    this.#closeTimeoutMs = positive('closeTimeoutMs', options.closeTimeoutMs, 10_000);
  }

  /**
   * Open the session, join the relays of this outbox and take a first share of partitions.
   * Resolves once publishing has begun.
   *
   * @throws CarrierError `CONNECTION` when PostgreSQL cannot be reached; `CLOSED` after `close()`;
   *   `INVALID_ARGUMENT` when called twice, or when the outbox table or its dead-letter table does
   *   not exist (run `migrate` first; the relay is closed then).
   */
  async start(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed')
      throw new CarrierError('CLOSED', 'this relay is closed');
    if (this.#state !== 'new') throw new CarrierError('INVALID_ARGUMENT', 'the relay is already started');
    this.#state = 'running';
    try {
      await this.#open();
      await this.#checkTables();
    } catch (error) {
      this.#state = 'closed';
      const session = this.#session;
      this.#session = undefined;
      await session?.end();
      throw error;
    }
    await this.#rebalance();
    const interval = this.#options.rebalanceIntervalMs ?? 1000;
    this.#timer = setInterval(() => {
      this.#rebalancing = this.#rebalancing.then(() => this.#tick());
    }, interval);
  }

  /** Counters and the partitions held now. */
  stats(): OutboxRelayStats {
    return {
      published: this.#published,
      errors: this.#errors,
      deadLettered: this.#deadLettered,
      fetches: this.#fetches,
      partitions: [...this.#workers.keys()].sort((a, b) => a - b),
      members: this.#members,
      lastLagMs: this.#lastLagMs,
      sessionPid: this.#session?.alive ? this.#session.pid : undefined,
      running: this.#state === 'running',
    };
  }

  /**
   * Clean stop: stop reading, let the publishes under way settle (the confirmed rows are deleted,
   * the others stay for the next relay), release the locks and the session (back to the pool, or
   * closed). Idempotent. The carrier stays open. Waits at most `closeTimeoutMs` (default 10 s) for
   * the publishes under way: after it, they are abandoned (their rows stay and are published again
   * later), the session is ended, its locks released with it, and `close()` resolves.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const wasRunning = this.#state === 'running';
      // from here no partition is taken and every chain stops after the publish under way; the
      // workers still delete what the broker confirmed
      this.#state = 'closing';
      if (this.#timer) clearInterval(this.#timer);
      const settled = (async () => {
        await this.#rebalancing.catch(() => {});
        await Promise.allSettled([...this.#workers.values()].map((w) => w.stop()));
        return true;
      })();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.#closeTimeoutMs);
      });
      const finished = await Promise.race([settled, timedOut]);
      clearTimeout(timer);
      this.#workers.clear();
      const session = this.#session;
      this.#session = undefined;
      if (!finished) {
        // publishes still under way are abandoned: ending the session (alive = false first) keeps
        // their rows from being deleted, and PostgreSQL releases the locks with the session
        await session?.end(new Error('outbox relay: close timed out'));
      } else if (wasRunning && session?.alive) {
        let failed: Error | undefined;
        try {
          await session.client.query('UNLISTEN *');
          await session.client.query('SELECT pg_advisory_unlock_all()');
        } catch (error) {
          failed = error instanceof Error ? error : new Error(String(error));
        }
        await session.end(failed);
      } else await session?.end(new Error('session lost'));
      this.#state = 'closed';
    })();
    return this.#closing;
  }

  /** Fail once, clearly, when the outbox or its dead-letter table is missing (not per partition and retry). */
  async #checkTables(): Promise<void> {
    const tables = [this.#names.outbox, this.#names.deadLetter];
    const rows = await this.#query<{ missing: string[] }>(
      'SELECT array_agg(t) FILTER (WHERE to_regclass(t) IS NULL) AS missing FROM unnest($1::text[]) AS t',
      [tables],
    ).catch((error: unknown) => {
      throw this.#connectionError('cannot check the outbox tables', error);
    });
    const missing = rows[0]?.missing ?? null;
    if (missing && missing.length > 0) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `outbox relay: table ${missing.join(', ')} does not exist; run migrate() with the same schema and table names first`,
      );
    }
  }

  async #open(): Promise<void> {
    let client: pg.ClientBase;
    let end: (error?: Error) => Promise<void>;
    try {
      if (this.#options.pool) {
        const pooled = await this.#options.pool.connect();
        client = pooled;
        end = async (error) => pooled.release(error ?? undefined);
      } else {
        const own = new pg.Client({ connectionString: this.#options.connectionString });
        await own.connect().catch(async (error) => {
          await own.end().catch(() => {});
          throw error;
        });
        client = own;
        end = () => own.end().catch(() => {});
      }
    } catch (error) {
      throw this.#connectionError('cannot connect to PostgreSQL', error);
    }
    const lost = (error: Error) => this.#lost(session, error);
    const ended = () => lost(new Error('the connection ended'));
    const notified = (note: pg.Notification) => {
      if (note.channel === this.#channel) for (const worker of this.#workers.values()) worker.wake();
    };
    const session: Session = {
      client,
      alive: true,
      queue: Promise.resolve(),
      end: (error) => {
        session.alive = false;
        client.off('error', lost).off('end', ended).off('notification', notified);
        // a pooled client keeps emitting errors after release: never leave it without a listener
        client.on('error', () => {});
        return end(error);
      },
    };
    client.on('error', lost);
    client.on('end', ended);
    client.on('notification', notified);
    try {
      const joined = await client.query<{ pid: number }>(
        'SELECT pg_backend_pid() AS pid, pg_advisory_lock(hashtext($1), pg_backend_pid())',
        [`${this.#lock}:members`],
      );
      session.pid = joined.rows[0]?.pid;
      await client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`);
    } catch (error) {
      await session.end(error instanceof Error ? error : new Error(String(error)));
      throw this.#connectionError('cannot join the relays', error);
    }
    this.#session = session;
  }

  /** The session failed: its locks are gone; stop its workers and open a new one later. */
  #lost(session: Session, error: Error): void {
    if (!session.alive) return;
    session.alive = false;
    if (this.#state !== 'running') return;
    this.#report(this.#connectionError('the PostgreSQL session was lost; reconnecting', error));
    const workers = [...this.#workers.values()];
    this.#workers.clear();
    for (const worker of workers) void worker.stop();
    void session.end(error).catch(() => {});
    if (this.#session === session) this.#session = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#state !== 'running') return;
    if (!this.#session) {
      try {
        await this.#open();
      } catch (error) {
        this.#report(
          error instanceof CarrierError ? error : this.#connectionError('reconnect failed', error),
        );
        return;
      }
    }
    await this.#rebalance();
  }

  /** Count the members, then give back or take partitions to hold the fair share. */
  async #rebalance(): Promise<void> {
    try {
      const [row] = await this.#query<{ members: number }>(
        `SELECT count(*)::int AS members FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = hashtext($1)::oid
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [`${this.#lock}:members`],
      );
      this.#members = row?.members ?? 1;
      const target = fairShare(this.#members);
      const held = [...this.#workers.keys()];
      for (const partition of held.slice(target)) {
        const worker = this.#workers.get(partition)!;
        await worker.stop();
        this.#workers.delete(partition);
        await this.#query('SELECT pg_advisory_unlock(hashtext($1), $2)', [this.#lock, partition]);
      }
      for (const partition of claimOrder(this.#claimStart)) {
        if (this.#workers.size >= target || this.#state !== 'running') break;
        if (this.#workers.has(partition)) continue;
        const [got] = await this.#query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock(hashtext($1), $2) AS locked',
          [this.#lock, partition],
        );
        if (got?.locked) this.#workers.set(partition, new PartitionWorker(partition, this.#workerContext()));
      }
    } catch (error) {
      if (this.#session?.alive && this.#state === 'running') {
        this.#report(this.#connectionError('rebalancing partitions failed', error));
      }
    }
  }

  /** The worker context bound to the current session: once it is lost, its workers stop. */
  #workerContext(): WorkerContext {
    const session = this.#session;
    return {
      ...this.#context,
      query: (text, values) => this.#query(text, values, session),
      alive: () => session?.alive === true && this.#state === 'running',
    };
  }

  async #query<R>(text: string, values: unknown[], session = this.#session): Promise<R[]> {
    if (!session?.alive) throw new CarrierError('CONNECTION', 'outbox relay: no PostgreSQL session');
    // one query at a time on the session (pg 9 stops queueing them itself)
    const result = session.queue.then(() => session.client.query(text, values));
    session.queue = result.then(
      () => {},
      () => {},
    );
    return (await result).rows as R[];
  }

  #connectionError(what: string, cause: unknown): CarrierError {
    return new CarrierError('CONNECTION', `outbox relay: ${what}: ${this.#detail(cause)}`, { cause });
  }

  #detail(cause: unknown): string {
    return scrub(cause instanceof Error ? cause.message : String(cause), this.#secrets);
  }

  #report(error: CarrierError): void {
    this.#errors++;
    try {
      this.#options.onError?.(error);
    } catch {
      // a failing reporter must not stop the relay
    }
  }
}

function secretsOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    return urlSecrets(new URL(url));
  } catch {
    return [];
  }
}
