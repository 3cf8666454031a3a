// The PostgreSQL server of the integration specs.

/**
 * The URL of the PostgreSQL server the specs use: `CARRIER_TEST_POSTGRES_URL`.
 *
 * @throws Error when it is not set, naming the variable.
 */
export function postgresUrl(): string {
  const url = process.env.CARRIER_TEST_POSTGRES_URL;
  if (!url) {
    throw new Error(
      'CARRIER_TEST_POSTGRES_URL is not set: the inbox and outbox specs need a PostgreSQL server ' +
        '(e.g. CARRIER_TEST_POSTGRES_URL=postgres://user@127.0.0.1:5432/postgres)',
    );
  }
  return url;
}
