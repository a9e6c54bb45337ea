// Child processes of the benchmark: the service (from dist/), the fake Kable, the baseline server.
import { fork, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');

export const WRITE_KEY = 'wk_bench_0123456789';

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(null)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The Node flags of `npm start` (package.json), so that the benchmark runs the service as
 * production does (the Dockerfile's CMD uses the same; a unit test keeps them equal).
 */
export function startFlags() {
  const start = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start.split(/\s+/);
  return start.slice(1, start.indexOf('dist/main.js'));
}

/** The service build the benchmark runs: dist/, or BENCH_DIST. */
export function distDir() {
  return process.env.BENCH_DIST ?? join(ROOT, 'dist');
}

/** A module of the build under test, by its path in dist/ (`'ingest/dedup-layout.js'`). */
export function importFromDist(path) {
  return import(pathToFileURL(join(distDir(), path)).href);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything started and not yet stopped, so that a failed scenario leaves no process behind. */
const running = new Set();

export async function stopAll() {
  await Promise.all([...running].map((p) => p.stop()));
}

/** A forked child that answers `{id, ...}` to each `{id, cmd, ...}` it receives. */
class IpcChild {
  constructor(child) {
    this.child = child;
    this.next = 1;
    this.pending = new Map();
    running.add(this);
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${child.spawnfile} exited with ${code} before it was ready`)));
      child.on('message', (msg) => {
        if (msg.ready) return resolve(msg);
        const done = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        done?.(msg);
      });
    });
  }
  call(cmd, args = {}) {
    const id = this.next++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ id, cmd, ...args });
    });
  }
  async stop() {
    running.delete(this);
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ cmd: 'stop' });
    await Promise.race([exited, sleep(5000).then(() => this.child.kill('SIGKILL'))]);
  }
}

/** The fake Kable (dist/kable/kable-emulator.js) in its own process. */
export async function startKable() {
  const child = new IpcChild(fork(join(here, 'kable-child.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const { url } = await child.ready;
  return Object.assign(child, {
    url,
    mode: (status, delayMs = 0) => child.call('mode', { status, delayMs }),
    reset: (record = false) => child.call('reset', { record }),
    stats: () => child.call('stats'),
    receipts: async () => (await child.call('receipts')).receipts,
  });
}

/** The floor: node:http + JSON.parse + one BullMQ job per request (baseline-server.js). */
export async function startBaseline({ redisUrl, prefix }) {
  const port = await freePort();
  const child = new IpcChild(
    fork(join(here, 'baseline-server.js'), [], {
      env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl, REDIS_PREFIX: prefix },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  await child.ready;
  return Object.assign(child, { url: `http://127.0.0.1:${port}`, pid: child.child.pid });
}

/**
 * @typedef {object} ServiceOptions
 * @property {string} [role] SERVICE_ROLE
 * @property {string} [redisUrl] unset with REDIS_CLUSTER_NODES in `env`
 * @property {string} prefix
 * @property {string} kableUrl
 * @property {Record<string, string>} [env]
 * @property {string} [profileDir]
 * @property {string} [name]
 */

/**
 * One service process from dist/main.js (BENCH_DIST=<dir> runs another build, for A/B comparisons). `profileDir` runs it under --cpu-prof; such a process is
 * ended with process.exit() (over IPC) so that Node writes the profile.
 * @param {ServiceOptions} options
 */
export async function startService({ role = 'all', redisUrl, prefix, kableUrl, env = {}, profileDir, name = role }) {
  const port = await freePort();
  const execArgv = [...startFlags()];
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`);
    execArgv.push('--import', join(here, 'exit-on-ipc.js'));
  }
  const child = spawn(process.execPath, [...execArgv, join(distDir(), 'main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      KABLE_API_KEY: 'sk_test.bench-api-key',
      KABLE_CLIENT_ID: 'kci_bench',
      KABLE_BASE_URL: kableUrl,
      SEGMENT_WRITE_KEYS: WRITE_KEY,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      SERVICE_ROLE: role,
      LOG_LEVEL: 'warn',
      // Node flags for A/B runs of runtime settings, e.g. BENCH_NODE_OPTIONS=--max-semi-space-size=32.
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      ...env,
    },
    stdio: /** @type {import('node:child_process').StdioOptions} */ (['ignore', 'pipe', 'inherit', ...(profileDir ? ['ipc'] : [])]),
  });
  const stdout = /** @type {import('node:stream').Readable} */ (child.stdout); // piped above
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      let out = '';
      const onExit = (code) => reject(new Error(`service (${name}) exited with ${code} before listening:\n${out}`));
      child.once('exit', onExit);
      stdout.on('data', (chunk) => {
        if (out.length < 10_000) out += chunk;
        if (out.includes('listening on')) {
          child.off('exit', onExit);
          resolve();
        }
      });
    })
  );
  if (process.env.BENCH_SERVICE_OUTPUT) stdout.pipe(process.stdout);
  else stdout.resume();
  const handle = {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      running.delete(handle);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (profileDir) child.send({ cmd: 'exit' });
      else child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    },
  };
  running.add(handle);
  return handle;
}

/** Resident memory of a process, from /proc (Linux), in bytes. */
export function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc (Linux); 0 elsewhere. */
export function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs`; `stop()` returns the peak seen, in bytes (for scenario 6). */
export function watchPeakRss(pid, everyMs = 100) {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid));
    },
  };
}

/** CPU time of the whole machine so far, from /proc/stat: busy and total seconds, all cores. */
export function machineCpu() {
  const [cpuLine = ''] = readFileSync('/proc/stat', 'utf8').split('\n', 1);
  const fields = cpuLine.trim().split(/\s+/).slice(1).map(Number);
  const ticks = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: (ticks - idle) / 100, total: ticks / 100 };
}
