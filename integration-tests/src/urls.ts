/** Helpers to turn the harness's Carrier URLs into raw-client settings (for specs and probes). */

/** `kafka://h1:p1,h2:p2` → `['h1:p1', 'h2:p2']` */
export function kafkaBrokers(url: string): string[] {
  const rest = url.replace(/^kafka:\/\//, '').split(/[/?]/)[0] ?? '';
  return rest.split(',').filter(Boolean);
}

/** `nats://[user:pass@]h:p` → `['h:p']` (the form @nats-io/transport-node takes; no credentials) */
export function natsServers(url: string): string[] {
  return url
    .replace(/^nats:\/\//, '')
    .replace(/^[^@/?]*@/, '')
    .split(/[/?]/)[0]!
    .split(',')
    .filter(Boolean);
}

/**
 * Connection options for @nats-io/transport-node from a harness URL: the servers plus the URL's
 * login (`nats://user:pass@…`, as the testcontainers NATS module's default `test`/`test`).
 */
export function natsConnectOptions(url: string): { servers: string[]; user?: string; pass?: string } {
  const m = /^nats:\/\/([^:@/?]+):([^@/?]*)@/.exec(url);
  const servers = natsServers(url);
  return m ? { servers, user: decodeURIComponent(m[1]!), pass: decodeURIComponent(m[2]!) } : { servers };
}

/** `sqs://h:p?region=r` → endpoint `http://h:p` and region (default us-east-1). `sqss://` means https. */
export function sqsEndpoint(url: string): { endpoint: string; region: string } {
  const u = new URL(url);
  const protocol = u.protocol === 'sqss:' || u.searchParams.get('tls') === 'true' ? 'https' : 'http';
  return {
    endpoint: `${protocol}://${u.host}`,
    region: u.searchParams.get('region') ?? process.env.AWS_REGION ?? 'us-east-1',
  };
}

/**
 * AWS credentials for the SQS emulator. The harness sets AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to
 * dummy values (the emulators accept anything) unless they are already set.
 */
export function awsCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'carrier-test',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'carrier-test',
  };
}

/** Dummy AWS settings the harness puts into the environment when none are set. */
export function setDummyAwsEnv(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_ACCESS_KEY_ID ??= 'carrier-test';
  env.AWS_SECRET_ACCESS_KEY ??= 'carrier-test';
  env.AWS_REGION ??= 'us-east-1';
  // the SDK's notice that its 2027 releases need Node 22 is noise in every test run
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
