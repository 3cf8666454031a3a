import { Command, CommanderError, Option } from 'commander';
import { collect, parseDuration, parsePositiveInt, parseTime } from './args.js';
import { bridgeCommand } from './commands/bridge.js';
import { dlqList, dlqPurge, dlqRedrive, dlqShow, REDRIVE_CHUNK } from './commands/dlq.js';
import { doctorCommand } from './commands/doctor.js';
import { publishCommand } from './commands/publish.js';
import { DEFAULT_TAIL_GROUP, tailCommand } from './commands/tail.js';
import type { Context } from './context.js';
import { ExitCode } from './exit-codes.js';

/** Version printed by `carrier --version`. */
const VERSION = '0.1.0';

const EXIT_CODES_HELP = `
Exit codes:
  0    success (a bridge or tail stopped by SIGINT/SIGTERM after finishing in-flight work)
  1    unexpected failure
  2    usage: bad command, option, argument, topic/group name or header
  3    connection: broker unreachable, or the URL's adapter package is not installed
  4    broker refused or did not confirm an operation
  5    verify: messages missing on the target, or copies that differ
  6    timed out waiting for messages (doctor, tail --count, verify --max-wait)
  7    not found (dlq show)
  130  aborted by a second SIGINT/SIGTERM (nothing is lost: unsettled messages are redelivered)

Credentials in URLs are replaced by *** in everything carrier prints.
URLs: memory://  kafka://host:9092  amqp://user:pass@host:5672  nats://host:4222  sqs://host:9324?region=us-east-1`;

const SHORT_EXIT_CODES =
  '\nExit codes: 0 ok, 1 unexpected, 2 usage, 3 connection, 4 broker refused, 5 verify failed, 6 timed out, 7 not found, 130 aborted (details: carrier --help)';

const durationArg = (option: string) => (value: string) => parseDuration(value, option);
const intArg = (option: string) => (value: string) => parsePositiveInt(value, option);
const timeArg = (option: string) => (value: string) => parseTime(value, option);

/** What every command registration needs. */
interface Wiring {
  readonly ctx: Context;
  /** Stores the exit code of the action that ran. */
  readonly setCode: (code: number) => void;
  /**
   * Route a command's output through the redacting `ctx.io`, turn its usage errors into
   * exceptions (`exitOverride`) and add the short exit-code help.
   */
  readonly configure: (command: Command) => Command;
}

/**
 * Build the `carrier` program. Each action stores its exit code through `setCode`; commander's
 * own errors (usage) are turned into exceptions by `exitOverride`.
 */
export function createProgram(ctx: Context, setCode: (code: number) => void): Command {
  const output = {
    writeOut: (text: string) => ctx.io.outRaw(text),
    writeErr: (text: string) => ctx.io.errRaw(text),
  };
  const program = new Command('carrier')
    .description('Carrier command line: publish, tail, dead letters, broker-to-broker bridge, doctor')
    .version(VERSION)
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput(output)
    .exitOverride();
  const configure = (command: Command) =>
    command
      .configureOutput(output)
      .exitOverride()
      .showHelpAfterError('(add --help for usage)')
      .addHelpText('after', SHORT_EXIT_CODES);
  const wiring: Wiring = { ctx, setCode, configure };
  registerPublish(program, wiring);
  registerTail(program, wiring);
  registerDlq(program, wiring);
  registerBridge(program, wiring);
  registerDoctor(program, wiring);
  return program;
}

/** `carrier publish <url> <topic>`. */
function registerPublish(program: Command, { ctx, setCode, configure }: Wiring): void {
  configure(
    program
      .command('publish')
      .description(
        'Publish the bytes of --file or stdin as one message (or one message per line with --lines); prints each id',
      )
      .argument('<url>', 'broker URL')
      .argument('<topic>', 'topic')
      .option('-k, --key <key>', 'ordering key')
      .option('-H, --header <key=value>', 'header (repeatable)', collect, [])
      .option('--id <id>', 'message id (default: a random UUID)')
      .option(
        '--content-type <type>',
        'content type recorded with the bytes (default application/octet-stream)',
      )
      .option('--json', 'content type application/json (the body must be valid JSON)')
      .option('--text', 'content type text/plain; charset=utf-8')
      .option('-f, --file <path>', 'read the body from this file instead of stdin')
      .option('--lines', 'publish each line of the input as its own message')
      .option('--batch <n>', 'messages per broker round trip with --lines', intArg('--batch'), 500)
      .option(
        '--no-progress',
        'with --lines, no progress on stderr (default: a live line on a terminal, else a line every 5s)',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  echo \'{"id":42}\' | carrier publish kafka://127.0.0.1:9092 orders --json -k customer-7 -H tenant=acme\n  carrier publish amqp://guest:guest@127.0.0.1:5672 images -f cat.png --content-type image/png',
      )
      .action(async (url: string, topic: string, options) =>
        setCode(await publishCommand(ctx, url, topic, options)),
      ),
  );
}

/** `carrier tail <url> <topic>`. */
function registerTail(program: Command, { ctx, setCode, configure }: Wiring): void {
  configure(
    program
      .command('tail')
      .description(
        'Consume a topic as a member of a group and print each message (acknowledging it once printed)',
      )
      .argument('<url>', 'broker URL')
      .argument('<topic>', 'topic')
      .option(
        '-g, --group <group>',
        `group to consume as (durable: the next tail resumes where this one stopped)`,
        DEFAULT_TAIL_GROUP,
      )
      .option(
        '--json',
        'one JSON object per line: id, topic, key, headers, contentType, publishedAt, attempt, body or bodyBase64',
      )
      .option('-n, --count <n>', 'exit after this many messages', intArg('--count'))
      .option(
        '--timeout <duration>',
        'exit after this long (exit 6 if --count was not reached)',
        durationArg('--timeout'),
      )
      .option(
        '--lag-every <duration>',
        "print the group's lag (messages not consumed yet) on stderr this often; without it, once at the start",
        durationArg('--lag-every'),
      )
      .action(async (url: string, topic: string, options) =>
        setCode(await tailCommand(ctx, url, topic, options)),
      ),
  );
}

/** `carrier dlq` and its subcommands `list`, `show`, `redrive`, `purge`. */
function registerDlq(program: Command, wiring: Wiring): void {
  const dlq = wiring.configure(
    program.command('dlq').description('Dead letters of one group: list, show, redrive, purge'),
  );
  registerDlqList(dlq, wiring);
  registerDlqShow(dlq, wiring);
  registerDlqRedrive(dlq, wiring);
  registerDlqPurge(dlq, wiring);
}

/** Options of the reading `dlq` subcommands (`list`, `show`). */
function addReadOptions(command: Command): Command {
  return command
    .option('--limit <n>', 'most letters to read', intArg('--limit'), 100)
    .option(
      '--idle <duration>',
      'stop reading after no letter arrived for this long',
      durationArg('--idle'),
      2_000,
    )
    .option('--json', 'one JSON object per letter');
}

/** `carrier dlq list <url> <topic> <group>`. */
function registerDlqList(dlq: Command, { ctx, setCode, configure }: Wiring): void {
  configure(
    addReadOptions(
      dlq
        .command('list')
        .description('List dead letters (id, attempts, failed at, reason) without removing them')
        .argument('<url>', 'broker URL')
        .argument('<topic>', 'topic')
        .argument('<group>', 'group whose dead letters to read'),
    ).action(async (url: string, topic: string, group: string, options) =>
      setCode(await dlqList(ctx, url, topic, group, options)),
    ),
  );
}

/** `carrier dlq show <url> <topic> <group> <id>`. */
function registerDlqShow(dlq: Command, { ctx, setCode, configure }: Wiring): void {
  configure(
    addReadOptions(
      dlq
        .command('show')
        .description('Show one dead letter in full (reason, headers, body) without removing it')
        .argument('<url>', 'broker URL')
        .argument('<topic>', 'topic')
        .argument('<group>', 'group')
        .argument('<id>', 'message id'),
    ).action(async (url: string, topic: string, group: string, id: string, options) =>
      setCode(await dlqShow(ctx, url, topic, group, id, options)),
    ),
  );
}

/** `carrier dlq redrive <url> <topic> <group>`. */
function registerDlqRedrive(dlq: Command, { ctx, setCode, configure }: Wiring): void {
  configure(
    dlq
      .command('redrive')
      .description(
        'Move dead letters back to their group (that group only), attempt reset to 1; prints how many',
      )
      .argument('<url>', 'broker URL')
      .argument('<topic>', 'topic')
      .argument('<group>', 'group')
      .option('--max <n>', 'most letters to move (default: all there are now)', intArg('--max'))
      .option(
        '--no-progress',
        `no progress on stderr, and one redrive call (default: calls of ${REDRIVE_CHUNK}, a live line on a terminal, else a line every 5s)`,
      )
      .action(async (url: string, topic: string, group: string, options) =>
        setCode(await dlqRedrive(ctx, url, topic, group, options)),
      ),
  );
}

/** `carrier dlq purge <url> <topic> <group> --yes`. */
function registerDlqPurge(dlq: Command, { ctx, setCode, configure }: Wiring): void {
  configure(
    dlq
      .command('purge')
      .description(
        'Delete every dead letter of the group (reads and acknowledges until none arrive); prints how many',
      )
      .argument('<url>', 'broker URL')
      .argument('<topic>', 'topic')
      .argument('<group>', 'group')
      .option('--yes', 'confirm the deletion')
      .option('--idle <duration>', 'stop after no letter arrived for this long', durationArg('--idle'), 2_000)
      .action(async (url: string, topic: string, group: string, options) =>
        setCode(await dlqPurge(ctx, url, topic, group, options)),
      ),
  );
}

/** `carrier bridge <from-url> <to-url>`: moving options, then the `--verify` ones. */
function registerBridge(program: Command, { ctx, setCode, configure }: Wiring): void {
  const bridge = program
    .command('bridge')
    .description(
      'Move messages from one broker to another, at-least-once and byte for byte, until SIGINT/SIGTERM; or --verify the copy',
    )
    .argument('<from-url>', 'source broker URL')
    .argument('<to-url>', 'target broker URL');
  configure(
    addBridgeVerifyOptions(addBridgeMoveOptions(bridge))
      .addHelpText(
        'after',
        '\nExamples:\n  carrier bridge kafka://127.0.0.1:9092 amqp://guest:guest@127.0.0.1:5672 --topic orders --group bridge\n' +
          '  carrier bridge kafka://127.0.0.1:9092 amqp://guest:guest@127.0.0.1:5672 --topic orders --group bridge --verify\n' +
          '\nThe first SIGINT/SIGTERM finishes in-flight copies and exits 0; a second aborts (exit 130, nothing lost).',
      )
      .action(async (from: string, to: string, options) =>
        setCode(await bridgeCommand(ctx, from, to, options)),
      ),
  );
}

/** Options of `carrier bridge` that shape the move (also read by `--verify`: topics, groups). */
function addBridgeMoveOptions(command: Command): Command {
  return command
    .option(
      '-t, --topic <topic>',
      'topic to move, FROM or FROM:TO to rename on the target (repeatable)',
      collect,
      [],
    )
    .requiredOption('-g, --group <group>', 'durable group the bridge consumes the source with')
    .option('--verify-group <group>', 'group declared on both sides for --verify (default <group>-verify)')
    .option('--no-verify-group', 'declare no verify group')
    .option(
      '--target-group <group>',
      'group to declare on each target topic before moving (repeatable)',
      collect,
      [],
    )
    .option(
      '--from-beginning',
      "create the bridge's source group at the source's retained history (Kafka, NATS retention=limits), not at now",
    )
    .option('--concurrency <n>', 'messages copied at once per topic', intArg('--concurrency'), 256)
    .option('--batch <n>', 'most messages per target publish', intArg('--batch'), 256)
    .option(
      '--progress <duration>',
      'interval of progress lines when stderr is not a terminal (0 = none; on a terminal: a live line)',
      (v: string) => parseDuration(v, '--progress'),
      5_000,
    )
    .option('--no-progress', 'no progress at all (same as --progress 0)')
    .option('--json', 'progress and reports as JSON lines on stdout');
}

/** Options of `carrier bridge --verify`. */
function addBridgeVerifyOptions(command: Command): Command {
  return command
    .option('--verify', 'do not move: read the verify group on both sides until idle and report per topic')
    .option(
      '--since <time>',
      '--verify: judge source messages published from (ISO time, or 15m ago)',
      timeArg('--since'),
    )
    .option(
      '--until <time>',
      '--verify: judge source messages published until (ISO time, or 1m ago)',
      timeArg('--until'),
    )
    .option(
      '--idle <duration>',
      '--verify: stop reading after both sides were idle this long',
      durationArg('--idle'),
      5_000,
    )
    .option(
      '--max-wait <duration>',
      '--verify: stop reading after this long in any case (exit 6)',
      durationArg('--max-wait'),
      600_000,
    )
    .option(
      '--state <file>',
      '--verify: keep what a run cannot settle yet (missing ids, messages after --until) in FILE for the next run',
    )
    .addOption(
      new Option('--show <n>', '--verify: ids printed per list (missing, duplicates, …); "all" for every one')
        .default(20)
        .argParser((v: string) => (v === 'all' ? Number.MAX_SAFE_INTEGER : parsePositiveInt(v, '--show'))),
    );
}

/** `carrier doctor <url>`. */
function registerDoctor(program: Command, { ctx, setCode, configure }: Wiring): void {
  configure(
    program
      .command('doctor')
      .description(
        'Connect, print the transport and its capabilities, and round-trip a message and a dead letter on the scratch topic carrier.doctor',
      )
      .argument('<url>', 'broker URL')
      .option('--json', 'one JSON object with every check')
      .option('--timeout <duration>', 'longest wait for each round trip', durationArg('--timeout'), 30_000)
      .option(
        '--topic <topic>',
        'scratch topic to use instead of carrier.doctor (with --group: the topic whose lag to read)',
      )
      .option(
        '-g, --group <group>',
        "read-only: connect and print this group's lag on --topic (messages not consumed yet, as the broker counts them) instead of the scratch checks",
      )
      .action(async (url: string, options) => setCode(await doctorCommand(ctx, url, options))),
  );
}

/** Map commander's own errors (help, version, usage) to exit codes. */
export function commanderExitCode(error: CommanderError): number {
  if (
    error.code === 'commander.helpDisplayed' ||
    error.code === 'commander.version' ||
    error.code === 'commander.help'
  ) {
    return ExitCode.OK;
  }
  if (error.exitCode === 0) return ExitCode.OK;
  return ExitCode.USAGE;
}

export { CommanderError };
