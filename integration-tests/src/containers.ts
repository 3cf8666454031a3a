import type { StartedTestContainer } from 'testcontainers';
import type { BrokerName } from './types.js';

// The testcontainers provider: used when a container engine answers. Images can be overridden with
// CARRIER_TEST_<BROKER>_IMAGE. Containers are removed at teardown (and by testcontainers' reaper if
// the run dies).

export const IMAGES: Record<BrokerName, string> = {
  // @testcontainers/kafka 11 drives Confluent images; cp-kafka 8.x is Kafka 4.x in KRaft mode
  kafka: process.env.CARRIER_TEST_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:8.0.0',
  rabbitmq: process.env.CARRIER_TEST_RABBITMQ_IMAGE ?? 'rabbitmq:4.1',
  nats: process.env.CARRIER_TEST_NATS_IMAGE ?? 'nats:2.11',
  sqs: process.env.CARRIER_TEST_SQS_IMAGE ?? 'localstack/localstack:4.4',
};

let runtime: Promise<boolean> | undefined;

/** Whether a container engine answers (getContainerRuntimeClient throws when none does). */
export function containerRuntimeAvailable(): Promise<boolean> {
  runtime ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
      return true;
    } catch {
      return false;
    }
  })();
  return runtime;
}

export interface StartedContainerBroker {
  url: string;
  version: string;
  container: StartedTestContainer;
}

export async function startContainer(name: BrokerName): Promise<StartedContainerBroker> {
  const image = IMAGES[name];
  switch (name) {
    case 'kafka': {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const c = await new KafkaContainer(image)
        .withKraft()
        .withEnvironment({
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
          KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
        })
        .start();
      return { url: `kafka://${c.getHost()}:${c.getMappedPort(9093)}`, version: image, container: c };
    }
    case 'rabbitmq': {
      const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
      const c = await new RabbitMQContainer(image).start();
      return { url: c.getAmqpUrl(), version: image, container: c };
    }
    case 'nats': {
      const { NatsContainer } = await import('@testcontainers/nats');
      const c = await new NatsContainer(image).withJetStream().start();
      return { url: `nats://${c.getHost()}:${c.getMappedPort(4222)}`, version: image, container: c };
    }
    case 'sqs': {
      const { LocalstackContainer } = await import('@testcontainers/localstack');
      const c = await new LocalstackContainer(image).withEnvironment({ SERVICES: 'sqs,sns' }).start();
      return { url: `sqs://${c.getHost()}:${c.getPort()}?region=us-east-1`, version: image, container: c };
    }
  }
}
