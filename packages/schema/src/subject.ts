/**
 * Subject naming: which registry subject a topic's schema is registered under. Carrier's default
 * is Confluent's `TopicNameStrategy` for message values, `<topic>-value`
 * ({@link https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#subject-name-strategy | Subject name strategy}),
 * so Kafka tools and Confluent serializers find the same subject.
 */

/** A fixed subject, or a function of the topic. */
export type SubjectStrategy = string | ((topic: string) => string);

/** Confluent's `TopicNameStrategy` for values: `<topic>-value`. */
export function topicNameStrategy(topic: string): string {
  return `${topic}-value`;
}

/** The subject for `topic` under `strategy` (default {@link topicNameStrategy}). */
export function subjectFor(strategy: SubjectStrategy | undefined, topic: string): string {
  if (strategy === undefined) return topicNameStrategy(topic);
  return typeof strategy === 'string' ? strategy : strategy(topic);
}
