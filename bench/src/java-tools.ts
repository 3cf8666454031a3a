import { execFile } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { progress } from './compare.js';

const exec = promisify(execFile);
const benchRoot = fileURLToPath(new URL('..', import.meta.url));

/** The jars of a bench tool (bench/tools/<name>/pom.xml), copied from Maven Central on first use. */
async function toolLibs(name: string): Promise<string> {
  const libs = path.join(benchRoot, '.tools', name, 'libs');
  if (existsSync(libs) && readdirSync(libs).some((f) => f.endsWith('.jar'))) return libs;
  const pom = path.join(benchRoot, 'tools', name, 'pom.xml');
  const tmp = `${libs}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  progress(`resolving ${name} from Maven Central (first use)`);
  await exec(
    'mvn',
    [
      '-B',
      '-q',
      '-Dstyle.color=never',
      '-f',
      pom,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
    ],
    { timeout: 300_000, maxBuffer: 16 * 2 ** 20 },
  );
  renameSync(tmp, libs);
  return libs;
}

/**
 * Run a Java main class from a bench tool's jars. Resolves with its output, or with a one-line
 * reason when Java, Maven or the artifacts cannot be had here (the ceiling is optional).
 */
export async function runJavaTool(
  name: string,
  mainClass: string,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<{ stdout: string; stderr: string } | string> {
  let libs: string;
  try {
    libs = await toolLibs(name);
  } catch (error) {
    return `cannot resolve ${name} with Maven: ${String((error as Error).message).split('\n')[0]}`;
  }
  try {
    return await exec('java', ['-Xms128m', '-Xmx512m', '-cp', `${libs}/*`, mainClass, ...args], {
      timeout: timeoutMs,
      maxBuffer: 64 * 2 ** 20,
    });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    return `${name} failed: ${e.message.split('\n')[0]} ${(e.stderr ?? '').slice(-300)}`;
  }
}
