/**
 * `OTEL_SEMCONV_STABILITY_OPT_IN` for the messaging conventions, read once per `connect`: a
 * comma-separated list, as the semantic conventions' transition plan prescribes
 * (https://github.com/open-telemetry/semantic-conventions/blob/v1.37.0/docs/messaging/README.md).
 * - absent or without a `messaging` entry: the names of the pinned version only
 *   (`messaging.system`, values such as `aws_sqs`);
 * - `messaging`: the newer names only (`messaging.system.name`, values such as `aws.sqs`);
 * - `messaging/dup`: both (for migrating dashboards); it wins over `messaging`.
 */
export interface SemconvStability {
  /** Emit the pinned names (`messaging.system`). */
  readonly pinned: boolean;
  /** Emit the newer names (`messaging.system.name`). */
  readonly newer: boolean;
}

/** Parse the variable's value (`process.env.OTEL_SEMCONV_STABILITY_OPT_IN`). */
export function semconvStability(value: string | undefined): SemconvStability {
  const entries = new Set((value ?? '').split(',').map((s) => s.trim().toLowerCase()));
  if (entries.has('messaging/dup')) return { pinned: true, newer: true };
  if (entries.has('messaging')) return { pinned: false, newer: true };
  return { pinned: true, newer: false };
}

/**
 * The `messaging.system.name` value of a `messaging.system` value: the registry renamed the
 * values holding `_` between two AWS/Azure/GCP words (`aws_sqs` → `aws.sqs`); others are unchanged.
 */
export function newerSystemName(system: string): string {
  const renamed: Record<string, string> = {
    aws_sqs: 'aws.sqs',
    eventgrid: 'azure.eventgrid',
    eventhubs: 'azure.eventhubs',
    servicebus: 'azure.servicebus',
    gcp_pubsub: 'gcp.pubsub',
  };
  return renamed[system] ?? system;
}
