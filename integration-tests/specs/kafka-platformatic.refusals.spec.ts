import { describeKafkaRefusals } from './kafka-refusals-support.js';

// Kafka's refusals of a setting on the @platformatic/kafka driver (`?client=platformatic`), the
// same cases as the kafkajs driver's (kafka.refusals.spec.ts: kafka-refusals-support.ts),
// provisioning=off included.
describeKafkaRefusals('platformatic');
