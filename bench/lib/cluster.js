// A Redis Cluster of its own for the soak and the benchmark: `masters` cluster-enabled
// redis-servers (AOF fsynced on every write, so a master killed and restarted keeps what it
// acknowledged), joined by `redis-cli --cluster create`.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePort, sleep } from './procs.js';
import { waitForRedis } from './redis.js';

const run = promisify(execFile);

class Node {
  /** @param {number} port @param {string} dir */
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    /** @type {import('node:child_process').ChildProcess | undefined} */
    this.child = undefined;
    /** @type {Promise<unknown> | undefined} */
    this.exited = undefined;
  }
  async start() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--cluster-enabled', 'yes'];
    args.push('--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--appendonly', 'yes', '--appendfsync', 'always');
    args.push('--save', '', '--maxmemory-policy', 'noeviction');
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.once('error', (error) => {
      console.error(`cannot start redis-server (${error.message}): install it`);
      process.exit(2);
    });
    await waitForRedis(`redis://127.0.0.1:${this.port}`);
  }
  async kill() {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }
  /** @param {string} section */
  async info(section) {
    const client = new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      return await client.info(section);
    } finally {
      client.disconnect();
    }
  }
}

export class RedisClusterProcs {
  /** @param {Node[]} nodes @param {string} root */
  constructor(nodes, root) {
    this.nodes = nodes;
    this.root = root;
  }

  /** @param {number} masters */
  static async start(masters = 3) {
    const root = mkdtempSync(join(tmpdir(), 'kable-cluster-'));
    const nodes = [];
    for (let i = 0; i < masters; i += 1) nodes.push(new Node(await freePort(), mkdtempSync(join(root, `n${i}-`))));
    await Promise.all(nodes.map((n) => n.start()));
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes']);
    const cluster = new RedisClusterProcs(nodes, root);
    await cluster.waitForOk();
    return cluster;
  }

  /** REDIS_CLUSTER_NODES for the service. */
  get seeds() {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  client() {
    return new Cluster(this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
  }

  async waitForOk(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(
        this.nodes.map(async (n) => {
          const client = new Redis(n.port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
          client.on('error', () => undefined);
          try {
            await client.connect();
            return String(await client.call('CLUSTER', 'INFO'));
          } catch {
            return '';
          } finally {
            client.disconnect();
          }
        }),
      );
      if (infos.every((text) => text.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error('the Redis Cluster did not reach cluster_state:ok');
      await sleep(200);
    }
  }

  /** SIGKILLs master `i`, keeps it down `downMs`, starts it again on its port and data, and waits for the cluster. */
  async restartMaster(i, downMs) {
    const node = this.nodes[i];
    if (!node) throw new Error(`no master ${i}`);
    await node.kill();
    await sleep(downMs);
    await node.start();
    await this.waitForOk();
  }

  /** Each master's CPU seconds (used_cpu_sys + used_cpu_user of INFO cpu). */
  async cpuSeconds() {
    return Promise.all(
      this.nodes.map(async (n) => {
        const info = await n.info('cpu');
        const field = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
        return field('used_cpu_sys') + field('used_cpu_user');
      }),
    );
  }

  async destroy() {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }
}
