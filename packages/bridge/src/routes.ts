import { CarrierError, validateName } from '@carrier/core';

/** One topic moved by a bridge: read from `from` on the source, published to `to` on the target. */
export interface TopicRoute {
  /** Topic name on the source broker. */
  readonly from: string;
  /** Topic name on the target broker (the same name unless renamed). */
  readonly to: string;
}

/**
 * Normalise topic specifications into routes. A string `orders` moves `orders` to `orders`;
 * `orders:orders-v2` renames it on the target (`:` is outside the portable name grammar, so the
 * split is unambiguous). Names are validated with core's portable grammar.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when the list is empty or a source topic appears twice;
 *   `INVALID_NAME` for a name outside the grammar.
 */
export function parseRoutes(topics: readonly (string | TopicRoute)[]): TopicRoute[] {
  if (!Array.isArray(topics) || topics.length === 0) {
    throw new CarrierError('INVALID_ARGUMENT', 'at least one topic is required');
  }
  const routes: TopicRoute[] = [];
  const seen = new Set<string>();
  for (const spec of topics) {
    let route: TopicRoute;
    if (typeof spec === 'string') {
      const parts = spec.split(':');
      if (parts.length > 2)
        throw new CarrierError('INVALID_ARGUMENT', `topic ${JSON.stringify(spec)}: use FROM or FROM:TO`);
      const from = parts[0] ?? '';
      route = { from, to: parts[1] ?? from };
    } else {
      route = { from: spec.from, to: spec.to };
    }
    validateName('topic', route.from);
    validateName('topic', route.to);
    if (seen.has(route.from)) {
      throw new CarrierError('INVALID_ARGUMENT', `topic ${JSON.stringify(route.from)} is listed twice`);
    }
    seen.add(route.from);
    routes.push(route);
  }
  return routes;
}

/** `orders` or `orders → orders-v2`, for progress lines and reports. */
export function describeRoute(route: TopicRoute): string {
  return route.from === route.to ? route.from : `${route.from} → ${route.to}`;
}
