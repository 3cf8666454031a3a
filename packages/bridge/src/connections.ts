import { type Carrier, type ConnectOptions, connect, type TransportFactory } from '@carrier/core';

/** Transport factories to use instead of resolving the URL schemes (third-party transports, tests). */
export interface TransportOverrides {
  /** Factory for the source URL. */
  readonly from?: TransportFactory | undefined;
  /** Factory for the target URL. */
  readonly to?: TransportFactory | undefined;
}

/**
 * Connect to the source and the target; if the second connection fails the first is closed
 * again, so a failed start leaves nothing open.
 */
export async function connectBoth(
  from: string,
  to: string,
  onError: (error: Error) => void,
  transports: TransportOverrides = {},
  telemetry?: ConnectOptions['telemetry'],
): Promise<{ source: Carrier; target: Carrier }> {
  const source = await connect(from, { onError, transport: transports.from, telemetry });
  try {
    const target = await connect(to, { onError, transport: transports.to, telemetry });
    return { source, target };
  } catch (error) {
    await source.close().catch(() => undefined);
    throw error;
  }
}
