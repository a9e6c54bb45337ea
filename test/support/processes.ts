import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { freePort } from './net.js';
import { sleep } from './wait.js';

/** The repository root (tests run with it as the working directory). */
export const ROOT = resolve(process.cwd());
const DIST_MAIN = join(ROOT, 'dist', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ (`tsc -p tsconfig.build.json`) unless it is newer than every source file, so the
 * tests that run the service as a child process run the code under test. About 15 s when needed.
 */
export function ensureBuilt(): void {
  if (existsSync(DIST_MAIN) && statSync(DIST_MAIN).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The built service (`node dist/main.js`) running as a child process. */
export class ServiceProcess {
  /** What it printed on stdout and stderr, one entry per line. */
  readonly output: string[] = [];
  private readonly exited: Promise<ExitStatus>;
  exitStatus?: ExitStatus;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (line) this.output.push(line);
      });
    }
    // 'close', not 'exit': the output is complete only once its streams have ended.
    this.exited = new Promise((resolveExit) =>
      child.once('close', (code, signal) => {
        this.exitStatus = { code, signal };
        resolveExit(this.exitStatus);
      }),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Runs the service with `env` (plus PATH; HOST 127.0.0.1, LOG_LEVEL warn and a free PORT unless
   * given) without waiting for it to listen. `cwd` defaults to the repository root (the service
   * reads a .env there if there is one).
   */
  static async spawn(env: Record<string, string>, options: { cwd?: string } = {}): Promise<ServiceProcess> {
    const port = env.PORT ?? String(await freePort());
    const child = spawn(process.execPath, [DIST_MAIN], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, PORT: port },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(child, Number(port));
  }

  /** Runs the service (see spawn) and resolves once it listens. */
  static async start(env: Record<string, string>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<ServiceProcess> {
    const timeoutMs = options.timeoutMs ?? 20_000;
    const service = await ServiceProcess.spawn(env, options);
    const deadline = Date.now() + timeoutMs;
    while (!service.output.some((line) => line.includes('listening on'))) {
      if (service.exitStatus) throw new Error(`service exited at start (${JSON.stringify(service.exitStatus)}):\n${service.log()}`);
      if (Date.now() > deadline) {
        service.child.kill('SIGKILL');
        throw new Error(`service did not start within ${timeoutMs} ms:\n${service.log()}`);
      }
      await sleep(50);
    }
    return service;
  }

  /** The last 40 lines it printed (for error messages). */
  log(): string {
    return this.output.slice(-40).join('\n');
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exitStatus) this.child.kill(signal);
  }

  /** Resolves with how the process ended; rejects if it is still running after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`service still running ${timeoutMs} ms later:\n${this.log()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the process if it still runs (test cleanup). */
  async stop(): Promise<void> {
    if (this.exitStatus) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * A redis-server of the test's own, on a free port, with AOF fsynced on every write, so that a
 * stop (even SIGKILL) loses nothing Redis acknowledged. `restart()` reopens the same data.
 */
export class RedisServer {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  readonly dir = mkdtempSync(join(tmpdir(), 'kable-redis-'));

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.launch();
    return server;
  }

  private async launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    let missing = false;
    child.once('error', (error: NodeJS.ErrnoException) => (missing = error.code === 'ENOENT'));
    this.exited = new Promise((resolveExit) => child.once('exit', () => resolveExit()));
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const deadline = Date.now() + 10_000;
    try {
      for (;;) {
        try {
          await probe.connect();
          await probe.ping();
          return;
        } catch {
          if (missing) throw new Error('redis-server is not on the PATH: this test starts its own (apt-get install redis-server)');
          if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
          probe.disconnect();
          await sleep(50);
        }
      }
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the server (SIGKILL by default: a crash) and waits until it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.child) return;
    this.child.kill(signal);
    await this.exited;
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
