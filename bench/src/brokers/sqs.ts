import { createHash } from 'node:crypto';
import {
  CreateTopicCommand,
  PublishBatchCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { ConsumeOptions, Consumption, Side } from '../side.js';
import type { BrokerModule } from './types.js';

/** SNS PublishBatch and SQS batch calls take at most 10 entries. */
const MAX_BATCH = 10;
/** PublishBatch calls in flight for one batch: the SQS adapter's parallelism. */
const PUBLISH_PARALLELISM = 4;

/** An SQS/SNS name (80 characters at most, `[A-Za-z0-9_-]`) for a bench topic. */
function awsName(topic: string, suffix: string): string {
  const base = `raw-${topic.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  if (base.length + suffix.length <= 80) return base + suffix;
  return `raw-${createHash('sha256').update(topic).digest('hex').slice(0, 40)}${suffix}`;
}

/**
 * AWS SDK v3 (@aws-sdk/client-sns + client-sqs 3.1169) as an application would use them with
 * Carrier's topology: an SNS topic per topic, an SQS queue per group subscribed with raw message
 * delivery (and a policy letting the topic send to it); single publishes with SNS Publish, batches
 * with SNS PublishBatch (10 entries, 4 calls in flight, as the adapter); one consumer loop of
 * ReceiveMessage (10 at most, long polling) then DeleteMessageBatch.
 */
export class AwsSdkSide implements Side {
  readonly label = 'aws-sdk';
  readonly #topics = new Map<string, string>();
  readonly #queues = new Map<string, string>();

  private constructor(
    private readonly sns: SNSClient,
    private readonly sqs: SQSClient,
    private readonly waitTimeSeconds: number,
  ) {}

  static connect(url: string): AwsSdkSide {
    const parsed = new URL(url);
    const region = parsed.searchParams.get('region') ?? process.env.AWS_REGION ?? 'us-east-1';
    const endpoint = parsed.hostname ? `http://${parsed.host}` : undefined;
    const config = { region, ...(endpoint ? { endpoint } : {}) };
    const wait = Number(parsed.searchParams.get('waitTimeSeconds') ?? 20);
    return new AwsSdkSide(new SNSClient(config), new SQSClient(config), wait);
  }

  async prepare(topic: string, group: string): Promise<void> {
    let topicArn = this.#topics.get(topic);
    if (!topicArn) {
      topicArn = (await this.sns.send(new CreateTopicCommand({ Name: awsName(topic, '') }))).TopicArn!;
      this.#topics.set(topic, topicArn);
    }
    const key = `${topic}\n${group}`;
    if (this.#queues.has(key)) return;
    const queueUrl = (await this.sqs.send(new CreateQueueCommand({ QueueName: awsName(topic, `-${group}`) })))
      .QueueUrl!;
    const attrs = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    const queueArn = attrs.Attributes?.QueueArn ?? '';
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
        },
      ],
    };
    await this.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(policy) } }),
    );
    await this.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: queueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    this.#queues.set(key, queueUrl);
  }

  #text(payload: Uint8Array): string {
    return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  }

  async publishOne(topic: string, payload: Uint8Array): Promise<void> {
    await this.sns.send(
      new PublishCommand({ TopicArn: this.#topics.get(topic)!, Message: this.#text(payload) }),
    );
  }

  async publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    const topicArn = this.#topics.get(topic)!;
    const chunks: Uint8Array[][] = [];
    for (let i = 0; i < payloads.length; i += MAX_BATCH) chunks.push(payloads.slice(i, i + MAX_BATCH));
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        const out = await this.sns.send(
          new PublishBatchCommand({
            TopicArn: topicArn,
            PublishBatchRequestEntries: chunk.map((p, i) => ({ Id: String(i), Message: this.#text(p) })),
          }),
        );
        if (out.Failed && out.Failed.length > 0)
          throw new Error(`PublishBatch: ${out.Failed.length} entries failed`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_PARALLELISM, chunks.length) }, worker));
  }

  async consume(
    topic: string,
    group: string,
    _options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const queueUrl = this.#queues.get(`${topic}\n${group}`)!;
    const controller = new AbortController();
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        let messages: Message[];
        try {
          const out = await this.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: MAX_BATCH,
              WaitTimeSeconds: this.waitTimeSeconds,
            }),
            { abortSignal: controller.signal },
          );
          messages = out.Messages ?? [];
        } catch (error) {
          if (stopped) return;
          throw error;
        }
        for (const m of messages) await onMessage(Buffer.from(m.Body ?? '', 'utf8'));
        if (messages.length > 0) {
          await this.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        controller.abort();
        await loop.catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    this.sns.destroy();
    this.sqs.destroy();
  }
}

const mod: BrokerModule = {
  notes:
    'Both sides: SNS topic fanning out to an SQS queue per group with raw message delivery (moto emulator here: figures ' +
    'measure the emulator and the HTTP stack, not AWS). Carrier adds message attributes (id, content type, publishedAt) ' +
    'and receives with MessageAttributeNames=All; batches are SNS PublishBatch of 10 with 4 calls in flight on both sides.',
  async rawClients(url) {
    return [
      {
        side: AwsSdkSide.connect(url),
        reference: 'AWS SDK v3 3.1169 SNS Publish/PublishBatch, SQS Receive + DeleteMessageBatch',
      },
    ];
  },
};
export default mod;
