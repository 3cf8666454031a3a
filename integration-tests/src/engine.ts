import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { aptInstall } from './install.js';
import { withLock } from './lock.js';
import { which } from './paths.js';
import { log, pollUntil, processAlive, seconds, stopGroup } from './util.js';

// A container engine for the testcontainers provider on a machine without Docker: Debian's podman,
// serving the Docker API on a unix socket that the harness (testcontainers) finds via DOCKER_HOST.
//
//   npm run containers:install          apt-get install podman runc debootstrap + two settings
//   eval "$(npm run -s containers:up)"  starts `podman system service` and exports DOCKER_HOST …
//   npm run containers:down             stops the service containers:up started
//
// The two settings (a drop-in, so a user's own /etc/containers/containers.conf stays as it is):
// - `default_ulimits = []`: podman's default RLIMIT_NOFILE/NPROC exceed what a container host
//   such as this one allows ("setrlimit … Operation not permitted");
// - `runtime = "runc"`: crun refuses hybrid cgroup layouts ("cgroups in hybrid mode not supported").

/** Where the settings go: podman 4 reads every *.conf of this dir after containers.conf. */
export const CONTAINERS_CONF_DROPIN = '/etc/containers/containers.conf.d/50-carrier-tests.conf';

const DROPIN_TEXT = `# Written by Carrier's \`npm run containers:install\` (integration-tests/src/engine.ts).
# podman's default ulimits exceed what this machine allows; crun refuses hybrid cgroups.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
`;

/** The service's directory (socket, pid and log): one per machine and user. */
export function serviceDir(): string {
  return (
    process.env.CARRIER_PODMAN_DIR ?? path.join(os.tmpdir(), `carrier-podman-${process.getuid?.() ?? 0}`)
  );
}

export function serviceSocket(): string {
  return path.join(serviceDir(), 'podman.sock');
}

/** The environment the harness needs to reach the service (printed by containers:up). */
export function serviceEnv(): Record<string, string> {
  return {
    DOCKER_HOST: `unix://${serviceSocket()}`,
    // containers sit on podman's bridge network: reach them through the loopback port mappings
    TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1',
    // the reaper image cannot be pulled here; the harness removes its containers itself
    // (teardown, exit handler, and src/registry.ts for runs that crashed)
    TESTCONTAINERS_RYUK_DISABLED: 'true',
  };
}

function run(command: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** `podman` or `docker`, whichever CLI this machine has (podman first), or undefined. */
export function engineCli(): string | undefined {
  return which('podman') ?? which('docker');
}

/**
 * Installs podman (with runc, and debootstrap for the Debian-based images) and writes the
 * settings drop-in. Idempotent; needs root or password-less sudo for apt-get.
 */
export async function installEngine(): Promise<void> {
  const t0 = Date.now();
  const missing = [
    ...(which('podman') ? [] : ['podman']),
    ...(which('runc') || existsSync('/usr/sbin/runc') ? [] : ['runc']),
    ...(which('debootstrap') || existsSync('/usr/sbin/debootstrap') ? [] : ['debootstrap']),
  ];
  if (missing.length > 0) {
    // uidmap: podman's rootless mode wants newuidmap; slirp4netns/fuse-overlayfs come as recommends
    await withLock('install', () => aptInstall([...missing, 'uidmap']));
    log(`[containers] installed ${missing.join(' ')} (${seconds(Date.now() - t0)} s)`);
  } else log('[containers] podman, runc and debootstrap: already installed');
  writeDropin();
  const info = run('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}} {{.Version.Version}}']);
  if (!info.ok) throw new Error(`podman info failed after install:\n${info.out}`);
  log(`[containers] podman ${info.out.split(' ')[1]} with runtime ${info.out.split(' ')[0]}`);
}

function writeDropin(): void {
  if (existsSync(CONTAINERS_CONF_DROPIN) && readFileSync(CONTAINERS_CONF_DROPIN, 'utf8') === DROPIN_TEXT) {
    log(`[containers] settings: ${CONTAINERS_CONF_DROPIN} is up to date`);
    return;
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `not root: write ${CONTAINERS_CONF_DROPIN} yourself (or run containers:install as root):\n${DROPIN_TEXT}`,
    );
  }
  mkdirSync(path.dirname(CONTAINERS_CONF_DROPIN), { recursive: true });
  writeFileSync(CONTAINERS_CONF_DROPIN, DROPIN_TEXT);
  log(`[containers] settings written to ${CONTAINERS_CONF_DROPIN}`);
}

/** Whether the Docker API answers on `socket` (GET /_ping). */
export function pingSocket(socket: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(socket)) return resolve(false);
    const s = net.connect(socket);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n'));
    s.on('data', (d) => done(/^HTTP\/1\.[01] 200/.test(d.toString('latin1'))));
  });
}

function pidFile(): string {
  return path.join(serviceDir(), 'podman.pid');
}

function servicePid(): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(), 'utf8').trim());
    return processAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `podman system service --time=0` on serviceSocket() in the background (its own process
 * group, log in serviceDir()/podman.log), unless it answers already. Returns whether it started it.
 */
export async function serviceUp(): Promise<boolean> {
  if (await pingSocket(serviceSocket())) return false;
  return withLock('podman-service', async () => {
    if (await pingSocket(serviceSocket())) return false;
    const podman = which('podman');
    if (!podman) throw new Error('podman is not installed: run `npm run containers:install`');
    const old = servicePid();
    if (old) await stopGroup(old, 5_000);
    mkdirSync(serviceDir(), { recursive: true, mode: 0o700 });
    rmSync(serviceSocket(), { force: true });
    const logFd = openSync(path.join(serviceDir(), 'podman.log'), 'a');
    const child = spawn(podman, ['system', 'service', '--time=0', `unix://${serviceSocket()}`], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    child.unref();
    if (child.pid === undefined) throw new Error('podman system service did not start');
    writeFileSync(pidFile(), `${child.pid}\n`);
    const t0 = Date.now();
    await pollUntil('podman system service', 30_000, async () => {
      if (!(await pingSocket(serviceSocket()))) throw new Error(`no answer on ${serviceSocket()}`);
    });
    log(`[containers] podman system service on ${serviceSocket()} (ready in ${seconds(Date.now() - t0)} s)`);
    return true;
  });
}

/** Stops the service serviceUp() started (containers keep running: podman owns them, not it). */
export async function serviceDown(): Promise<boolean> {
  const pid = servicePid();
  if (!pid) return false;
  await stopGroup(pid, 10_000);
  rmSync(serviceSocket(), { force: true });
  rmSync(pidFile(), { force: true });
  return true;
}
