import { createHash } from 'node:crypto';
import { CreateTopicCommand, ListTopicsCommand, type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  type SQSClient,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { CarrierError, type ConsumerLag } from '@carrier/core';
import { DeadlineError, OncePerKey } from '@carrier/core/kit';
import { awsError, errorName, TRANSPORT } from './errors.js';
import { deadLetterQueueName, groupQueueName, isFifoTopic, snsTopicName } from './names.js';
import type { SqsSettings } from './url.js';

/** Retention of every queue Carrier creates: 14 days, the SQS maximum. */
const RETENTION_SECONDS = 1_209_600;
/** Tags Carrier puts on the queues it creates. */
const TAG_TOPIC = 'carrier-topic';
const TAG_GROUP = 'carrier-group';
const TAG_ROLE = 'carrier-role';

/** The queues of one group. */
export interface GroupQueues {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly fifo: boolean;
}

/**
 * Creates (or, with `provision=false`, looks up) the SNS topics, SQS queues, subscriptions and
 * queue policies, once per transport: results are kept, failures are not.
 */
export class Topology {
  readonly #topics = new OncePerKey<string>();
  readonly #groups = new OncePerKey<GroupQueues>();
  readonly #queues = new OncePerKey<string>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient | undefined,
    private readonly settings: SqsSettings,
  ) {}

  /** Whether the topic uses FIFO resources. */
  fifo(topic: string): boolean {
    return isFifoTopic(topic, this.settings.fifo);
  }

  /** ARN of the topic's SNS topic (SNS mode only). */
  topicArn(topic: string): Promise<string> {
    return this.#topics.run(topic, async () => {
      const sns = this.sns;
      if (!sns) throw new CarrierError('UNSUPPORTED', 'no SNS in queue-only mode', { transport: TRANSPORT });
      const fifo = this.fifo(topic);
      const name = snsTopicName(topic, { fifo });
      if (!this.settings.provision) return this.#findTopic(name);
      try {
        const out = await sns.send(
          new CreateTopicCommand({
            Name: name,
            Attributes: fifo ? { FifoTopic: 'true', ContentBasedDeduplication: 'false' } : undefined,
            Tags: [{ Key: TAG_TOPIC, Value: topic }],
          }),
        );
        if (!out.TopicArn) throw new Error('no TopicArn in the response');
        return out.TopicArn;
      } catch (error) {
        throw awsError(`SNS CreateTopic ${name}`, error);
      }
    });
  }

  async #findTopic(name: string): Promise<string> {
    const sns = this.sns!;
    let next: string | undefined;
    try {
      do {
        const out = await sns.send(new ListTopicsCommand({ NextToken: next }));
        for (const t of out.Topics ?? []) if (t.TopicArn?.endsWith(`:${name}`)) return t.TopicArn;
        next = out.NextToken;
      } while (next);
    } catch (error) {
      throw awsError('SNS ListTopics', error);
    }
    throw new CarrierError('INVALID_ARGUMENT', `SNS topic ${name} does not exist and provision=false`, {
      transport: TRANSPORT,
    });
  }

  /** URL of a queue, created when provisioning is on. */
  queueUrl(name: string, fifo: boolean, tags: Record<string, string> | undefined): Promise<string> {
    return this.#queues.run(name, async () => {
      if (this.settings.provision) {
        try {
          const attributes: Record<string, string> = { MessageRetentionPeriod: String(RETENTION_SECONDS) };
          if (fifo) {
            attributes.FifoQueue = 'true';
            attributes.ContentBasedDeduplication = 'false';
          }
          const out = await this.sqs.send(
            new CreateQueueCommand({ QueueName: name, Attributes: attributes, tags }),
          );
          if (out.QueueUrl) return out.QueueUrl;
        } catch (error) {
          // an existing queue whose attributes were changed by its owner: use it as it is
          const n = errorName(error);
          if (n !== 'QueueNameExists' && n !== 'QueueAlreadyExists')
            throw awsError(`SQS CreateQueue ${name}`, error);
        }
      }
      try {
        const out = await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
        if (!out.QueueUrl) throw new Error('no QueueUrl in the response');
        return out.QueueUrl;
      } catch (error) {
        const code = errorName(error).includes('NonExistent') || errorName(error).includes('DoesNotExist');
        throw awsError(`SQS GetQueueUrl ${name}`, error, code ? 'INVALID_ARGUMENT' : 'CONNECTION');
      }
    });
  }

  /**
   * The queues of `group`, in place: SNS mode — the group queue subscribed to the topic with raw
   * message delivery and a policy letting the topic send to it; queue-only mode — the topic's queue,
   * claimed by its first group (a second group is `UNSUPPORTED`). The dead-letter queue in both.
   */
  group(topic: string, group: string): Promise<GroupQueues> {
    return this.#groups.run(`${topic}\n${group}`, async () => {
      const fifo = this.fifo(topic);
      const names = { fifo };
      const own = this.settings.sns ? group : undefined;
      const queueName = groupQueueName(topic, own, names);
      const dlqName = deadLetterQueueName(topic, own, names);
      const tags = { [TAG_TOPIC]: topic, [TAG_GROUP]: group };
      const [queueUrl, deadLetterQueueUrl] = await Promise.all([
        // queue-only mode: the topic's queue gets its tags from #claim (TagQueue merges; CreateQueue
        // with tags may replace those of an existing queue, as moto does, and so drop the owner)
        this.queueUrl(queueName, fifo, this.settings.sns ? { ...tags, [TAG_ROLE]: 'group' } : undefined),
        this.queueUrl(dlqName, fifo, {
          ...(this.settings.sns ? tags : { [TAG_TOPIC]: topic }),
          [TAG_ROLE]: 'dead-letter',
        }),
      ]);
      if (this.settings.sns) {
        if (this.settings.provision) await this.#subscribe(await this.topicArn(topic), queueUrl);
      } else {
        await this.#claim(topic, group, queueUrl);
      }
      return { queueUrl, deadLetterQueueUrl, fifo };
    });
  }

  /** Queue-only mode: the topic's queue, which publishers send to. */
  topicQueueUrl(topic: string): Promise<string> {
    const fifo = this.fifo(topic);
    return this.queueUrl(groupQueueName(topic, undefined, { fifo }), fifo, {
      [TAG_TOPIC]: topic,
      [TAG_ROLE]: 'group',
    });
  }

  async #claim(topic: string, group: string, queueUrl: string): Promise<void> {
    try {
      let tags = (await this.sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }))).Tags ?? {};
      if (tags[TAG_GROUP] === undefined && this.settings.provision) {
        await this.sqs.send(
          new TagQueueCommand({
            QueueUrl: queueUrl,
            Tags: { [TAG_TOPIC]: topic, [TAG_ROLE]: 'group', [TAG_GROUP]: group },
          }),
        );
        tags = (await this.sqs.send(new ListQueueTagsCommand({ QueueUrl: queueUrl }))).Tags ?? {};
      }
      const owner = tags[TAG_GROUP];
      if (owner !== undefined && owner !== group) {
        throw new CarrierError(
          'UNSUPPORTED',
          `queue-only mode (sns=false) has one group per topic: ${JSON.stringify(topic)} belongs to group ${JSON.stringify(owner)}`,
          { transport: TRANSPORT },
        );
      }
    } catch (error) {
      throw awsError('SQS ListQueueTags/TagQueue', error);
    }
  }

  async #subscribe(topicArn: string, queueUrl: string): Promise<void> {
    const sns = this.sns!;
    let queueArn: string;
    try {
      const out = await this.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'Policy'] }),
      );
      queueArn = out.Attributes?.QueueArn ?? '';
      if (!queueArn) throw new Error('no QueueArn in the response');
      const existing = out.Attributes?.Policy;
      if (!existing?.includes(topicArn)) {
        const policy = existing ? (JSON.parse(existing) as { Statement?: unknown[] }) : {};
        const statement = {
          Sid: `CarrierSns${createHash('sha256').update(topicArn).digest('hex').slice(0, 16)}`,
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
        };
        const document = {
          Version: '2012-10-17',
          ...policy,
          Statement: [...(policy.Statement ?? []), statement],
        };
        await this.sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: queueUrl,
            Attributes: { Policy: JSON.stringify(document) },
          }),
        );
      }
    } catch (error) {
      throw awsError('SQS queue policy', error);
    }
    try {
      await sns.send(
        new SubscribeCommand({
          TopicArn: topicArn,
          Protocol: 'sqs',
          Endpoint: queueArn,
          Attributes: { RawMessageDelivery: 'true' },
          ReturnSubscriptionArn: true,
        }),
      );
    } catch (error) {
      const conflict = /already exists with different attributes/i.test(String((error as Error)?.message));
      throw awsError('SNS Subscribe', error, conflict ? 'TOPOLOGY_CONFLICT' : 'CONNECTION');
    }
  }

  /**
   * The lag of `group` (`Transport.lag`): of the group's queue, found without creating anything,
   * `ApproximateNumberOfMessages` (visible) + `ApproximateNumberOfMessagesNotVisible` (in flight,
   * and retries waiting out their visibility timeout) + `ApproximateNumberOfMessagesDelayed`
   * (delayed sends). SQS's counts are approximate ("eventually consistent", AWS's GetQueueAttributes
   * reference): they trail for a few seconds, more on a busy queue. Dead letters are not counted.
   * Queue-only mode: the topic's queue, unless another group owns it.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when the group's queue does not exist (or belongs to
   *   another group); `CONNECTION`, `TIMEOUT` (a `DeadlineError` cause) otherwise.
   */
  async lag(topic: string, group: string, signal?: AbortSignal): Promise<ConsumerLag> {
    const fifo = this.fifo(topic);
    const name = groupQueueName(topic, this.settings.sns ? group : undefined, { fifo });
    const missing = (cause?: unknown) =>
      new CarrierError('INVALID_ARGUMENT', `no group ${group} on topic ${topic} (queue ${name})`, {
        transport: TRANSPORT,
        cause,
      });
    let url: string | undefined;
    try {
      url = (await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }), { abortSignal: signal }))
        .QueueUrl;
    } catch (error) {
      const n = errorName(error);
      if (n.includes('NonExistent') || n.includes('DoesNotExist')) throw missing(error);
      throw awsError(`SQS GetQueueUrl ${name}`, error, lagCode(error));
    }
    if (!url) throw missing();
    try {
      if (!this.settings.sns) {
        const tags = (
          await this.sqs.send(new ListQueueTagsCommand({ QueueUrl: url }), { abortSignal: signal })
        ).Tags;
        const owner = tags?.[TAG_GROUP];
        if (owner !== undefined && owner !== group) throw missing();
      }
      const names = [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ] as const;
      const out = await this.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...names] }),
        {
          abortSignal: signal,
        },
      );
      const messages = names.reduce((sum, key) => sum + (Number(out.Attributes?.[key] ?? 0) || 0), 0);
      return { messages, source: 'sqs ApproximateNumberOfMessages + NotVisible + Delayed' };
    } catch (error) {
      throw awsError(`SQS GetQueueAttributes ${name}`, error, lagCode(error));
    }
  }
}

/** `TIMEOUT` for a call past its deadline, else `CONNECTION`. */
function lagCode(error: unknown): 'TIMEOUT' | 'CONNECTION' {
  return error instanceof DeadlineError ? 'TIMEOUT' : 'CONNECTION';
}
