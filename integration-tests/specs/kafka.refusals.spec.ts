import { describeKafkaRefusals } from './kafka-refusals-support.js';

// Kafka's refusals of a setting on the kafkajs driver (the same cases as
// kafka-platformatic.refusals.spec.ts: kafka-refusals-support.ts).
describeKafkaRefusals('kafkajs');
