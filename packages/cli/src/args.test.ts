import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { parseDuration, parseHeaders, parsePositiveInt, parseTime } from './args.js';
import { CliError, ExitCode, exitCodeFor } from './exit-codes.js';
import { Output, secretsOf } from './output.js';

describe('argument parsers', () => {
  it('parses headers, durations, integers and times', () => {
    expect(parseHeaders(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
    expect(() => parseHeaders(['=1'])).toThrow(CliError);
    expect(() => parseHeaders(['a=1', 'a=2'])).toThrow(/twice/);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5s')).toBe(5_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('250')).toBe(250);
    expect(() => parseDuration('5 parsecs')).toThrow(CliError);
    expect(parsePositiveInt('12', '--n')).toBe(12);
    expect(() => parsePositiveInt('0', '--n')).toThrow(CliError);
    expect(() => parsePositiveInt('1e3', '--n')).toThrow(CliError);
    expect(parseTime('15m', '--since', 1_000_000).getTime()).toBe(100_000);
    expect(parseTime('2026-11-23T10:00:00Z', '--since').toISOString()).toBe('2026-11-23T10:00:00.000Z');
    expect(() => parseTime('yesterday-ish', '--since')).toThrow(CliError);
  });
});

describe('exit codes', () => {
  it('maps errors to documented codes', () => {
    expect(exitCodeFor(new CliError(ExitCode.NOT_FOUND, 'x'))).toBe(7);
    expect(exitCodeFor(new CarrierError('INVALID_NAME', 'x'))).toBe(2);
    expect(exitCodeFor(new CarrierError('CONNECTION', 'x'))).toBe(3);
    expect(
      exitCodeFor(new CarrierError('UNSUPPORTED', 'kafka:// needs the package @carrier/adapter-kafka')),
    ).toBe(3);
    expect(exitCodeFor(new CarrierError('UNSUPPORTED', 'no fan-out'))).toBe(4);
    expect(exitCodeFor(new CarrierError('PUBLISH_FAILED', 'x'))).toBe(4);
    expect(exitCodeFor(new CarrierError('TIMEOUT', 'x'))).toBe(6);
    expect(exitCodeFor(new Error('bug'))).toBe(1);
  });
});

describe('Output', () => {
  it('scrubs every secret of the URLs given, on every stream and in error causes', () => {
    const secrets = secretsOf([
      'publish',
      'amqp://u:p%40ss-word@h:1',
      '--to=kafka://x?sasl_password=topsecret',
      'plain',
    ]);
    expect(secrets).toEqual(expect.arrayContaining(['p%40ss-word', 'p@ss-word', 'topsecret']));
    let out = '';
    let err = '';
    const io = new Output(
      { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } },
      secrets,
    );
    io.out('connecting to amqp://u:p@ss-word@h');
    io.error(new CarrierError('CONNECTION', 'failed', { cause: new Error('auth topsecret refused') }));
    expect(out + err).not.toMatch(/p@ss-word|topsecret/);
    expect(err).toContain('caused by: auth *** refused');
  });
});
