import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions, Redis, type RedisOptions, ReplyError } from 'ioredis';
import { freePort } from './net.js';
import { sleep, waitFor } from './wait.js';

/**
 * Real Redis topologies for tests: a Redis Cluster, a primary with replicas under Sentinel, and one
 * Redis that speaks only TLS with ACL users. Each runs redis-server processes of its own on free
 * ports in a temp dir; `destroy()` kills them all (SIGKILL) and removes the dir.
 */

const run = promisify(execFile);
const HOST = '127.0.0.1';

const checkedTools = new Set<string>();

/** Throws a clear error if a tool these topologies need is not installed. */
function requireTool(name: 'redis-server' | 'redis-cli' | 'openssl', install: string): void {
  if (checkedTools.has(name)) return;
  try {
    execFileSync(name, [name === 'openssl' ? 'version' : '--version'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${name} is not on the PATH: these tests start their own Redis topologies (${install})`, { cause: error });
    }
    throw error;
  }
  checkedTools.add(name);
}

const requireRedis = () => requireTool('redis-server', 'apt-get install redis-server');

/** Free ports not handed out before in this process (the OS may repeat one it just released). */
const handedOut = new Set<number>();
async function newPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

// ---------------------------------------------------------------------------------------------
// TLS files

/** PEM files: a test CA and a server certificate it signed, for 127.0.0.1 and localhost. */
export interface TlsFiles {
  caCert: string;
  serverCert: string;
  serverKey: string;
}

/** Makes a CA and a server certificate (subjectAltName IP:127.0.0.1, DNS:localhost) in `dir`, with openssl. */
export function makeTlsFiles(dir: string): TlsFiles {
  requireTool('openssl', 'apt-get install openssl');
  mkdirSync(dir, { recursive: true });
  // Run in `dir` with relative names, so each command is one string whatever `dir` is.
  const openssl = (command: string) => execFileSync('openssl', command.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  // Node's TLS (OpenSSL 3) insists the CA says it is one.
  openssl(
    'req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt ' +
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl('req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr');
  // clientAuth too: cluster nodes present this certificate to each other on the cluster bus.
  writeFileSync(
    join(dir, 'server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      '',
    ].join('\n'),
  );
  openssl('x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt');
  return { caCert: join(dir, 'ca.crt'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key') };
}

/** The `tls` option of an ioredis client that trusts the test CA. */
export function tlsClientOptions(files: TlsFiles): { ca: Buffer } {
  return { ca: readFileSync(files.caCert) };
}

/** redis-server command-line options: `{ port: 1, save: '' }` → `--port 1 --save ''` (an array: several values). */
function flags(options: Record<string, string | number | string[]>): string[] {
  return Object.entries(options).flatMap(([name, value]) => [`--${name}`, ...(Array.isArray(value) ? value : [String(value)])]);
}

/** redis-server options for TLS only (no plain TCP port), client certificates not asked for. */
function tlsServerFlags(files: TlsFiles, port: number) {
  return {
    port: 0,
    'tls-port': port,
    'tls-cert-file': files.serverCert,
    'tls-key-file': files.serverKey,
    'tls-ca-cert-file': files.caCert,
    'tls-auth-clients': 'no',
  };
}

// ---------------------------------------------------------------------------------------------
// One redis-server process

interface Connect {
  port: number;
  tls?: TlsFiles;
}

/** A direct connection that fails fast (probes and assertions, never a test's subject). */
function connectNode({ port, tls }: Connect, lazyConnect = false): Redis {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
    // Its INFO would be refused where the default user is off: a NOAUTH to PING says just as well that the server is up.
    enableReadyCheck: false,
    // ioredis waits this long for a stream that is already closed (a refused probe): keep test runs from lingering.
    disconnectTimeout: 100,
    ...(tls ? { tls: tlsClientOptions(tls) } : {}),
  });
  client.on('error', () => undefined); // failures surface as rejected commands
  return client;
}

/** Runs one command on a fresh direct connection, then closes it. */
async function ask(target: Connect, ...args: [string, ...(string | number)[]]): Promise<unknown> {
  const client = connectNode(target, true);
  try {
    await client.connect();
    return await client.call(...args);
  } finally {
    client.disconnect();
  }
}

/** `field:value` lines of an INFO reply. */
function infoFields(info: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of String(info).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A redis-server process that can be killed and started again with the same arguments (same port, same data). */
class ServerProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private alive = false;
  private readonly output: string[] = [];

  constructor(
    readonly port: number,
    private readonly args: string[],
    readonly tls?: TlsFiles,
  ) {}

  /** Started and not exited since. */
  get running(): boolean {
    return this.alive;
  }

  /** Starts it and resolves once it answers (an ACL refusal such as NOAUTH counts: it is up). */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.alive) return;
    const child = spawn('redis-server', this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.alive = true;
    let exit: string | undefined;
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        exit = `code ${code}, signal ${signal}`;
        this.alive = false;
        resolveExit();
      });
      child.once('error', (error) => {
        exit = error.message;
        this.alive = false;
        resolveExit();
      });
    });
    // Read its log (else the pipe fills and Redis blocks); the tail goes into error messages.
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.output.push(line);
        if (this.output.length > 40) this.output.shift();
      });
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await ask(this, 'PING');
        return;
      } catch (error) {
        if (error instanceof ReplyError) return;
        if (exit !== undefined) {
          this.child = undefined;
          throw new Error(`redis-server on port ${this.port} exited at start (${exit}):\n${this.log()}`, { cause: error });
        }
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(`redis-server on port ${this.port} did not answer within ${timeoutMs} ms:\n${this.log()}`, { cause: error });
        }
        await sleep(50);
      }
    }
  }

  /** SIGKILL (a crash), resolving once the process is gone. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  log(): string {
    return this.output.join('\n');
  }
}

/** Kills every server, disconnects every client, removes the dir; never throws (test cleanup). */
async function teardown(servers: ServerProcess[], clients: Array<Redis | Cluster>, dir: string): Promise<void> {
  for (const client of clients.splice(0)) client.disconnect();
  await Promise.all(servers.map((server) => server.kill()));
  rmSync(dir, { recursive: true, force: true });
}

async function startAll(servers: ServerProcess[], cleanup: () => Promise<void>): Promise<void> {
  try {
    await Promise.all(servers.map((server) => server.start()));
  } catch (error) {
    await cleanup();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster

export interface RedisClusterOptions {
  /** How many masters (no replicas: a master that is down takes its slots down). Default 3. */
  masters?: number;
  /** TLS everywhere (clients, cluster bus): the given files, or `true` for files made in the cluster's dir. */
  tls?: TlsFiles | boolean;
}

/** The TLS files a topology uses: made in `dir` for `true`, given ones as they are; `dir` is removed if making them fails. */
function tlsFilesIn(dir: string, option: TlsFiles | boolean | undefined): TlsFiles | undefined {
  try {
    return option === true ? makeTlsFiles(join(dir, 'tls')) : option || undefined;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** `127.0.0.1:p1,127.0.0.1:p2,…`, with `rediss://` before each entry for TLS: a REDIS_CLUSTER_NODES or REDIS_SENTINELS value. */
function hostList(ports: number[], tls: boolean): string {
  return ports.map((port) => `${tls ? 'rediss://' : ''}${HOST}:${port}`).join(',');
}

/**
 * A Redis Cluster of masters without replicas on 127.0.0.1, AOF fsynced on every write, full slot
 * coverage required (the default): while a master is down its slots fail. A master restarted on its
 * port and dir rejoins with its slots (nodes.conf) and data (AOF).
 */
export class RedisCluster {
  private readonly clients: Array<Redis | Cluster> = [];

  private constructor(
    readonly dir: string,
    private readonly servers: ServerProcess[],
    /** Each master's cluster bus port, index = master number. */
    readonly busPorts: number[],
    readonly tls: TlsFiles | undefined,
  ) {}

  /** Each master's client port (TLS port with TLS), index = master number. */
  get ports(): number[] {
    return this.servers.map((server) => server.port);
  }

  /** Seed list for REDIS_CLUSTER_NODES: `127.0.0.1:p1,127.0.0.1:p2,…` (`rediss://127.0.0.1:p1,…` with TLS). */
  get nodes(): string {
    return hostList(this.ports, this.tls !== undefined);
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    if (!Number.isInteger(masters) || masters < 1) throw new Error(`RedisCluster: masters must be a whole number >= 1, not ${masters}`);
    requireRedis();
    const dir = mkdtempSync(join(tmpdir(), 'kable-cluster-'));
    const tls = tlsFilesIn(dir, options.tls);
    const servers: ServerProcess[] = [];
    const busPorts: number[] = [];
    for (let i = 0; i < masters; i += 1) {
      const port = await newPort();
      // The bus port is chosen too: port + 10000 (the default) may be taken or above 65535.
      const busPort = await newPort();
      busPorts.push(busPort);
      const nodeDir = join(dir, `node-${i}`);
      mkdirSync(nodeDir);
      servers.push(
        new ServerProcess(
          port,
          flags({
            ...(tls ? { ...tlsServerFlags(tls, port), 'tls-cluster': 'yes', 'tls-replication': 'yes' } : { port }),
            bind: HOST,
            dir: nodeDir,
            'cluster-enabled': 'yes',
            'cluster-config-file': join(nodeDir, 'nodes.conf'),
            'cluster-port': busPort,
            // Else a node no other has met (a 1-master cluster) announces its address as "".
            'cluster-announce-ip': HOST,
            'cluster-node-timeout': 2000,
            appendonly: 'yes',
            appendfsync: 'always',
            save: '',
          }),
          tls,
        ),
      );
    }
    const cluster = new RedisCluster(dir, servers, busPorts, tls);
    await startAll(servers, () => cluster.destroy());
    try {
      await cluster.assignSlots();
      await cluster.waitForOk(20_000);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  private async assignSlots(): Promise<void> {
    if (this.servers.length >= 3) {
      requireTool('redis-cli', 'apt-get install redis-tools');
      const tlsArgs = this.tls ? ['--tls', '--cacert', this.tls.caCert] : [];
      const addresses = this.ports.map((port) => `${HOST}:${port}`);
      try {
        await run('redis-cli', [...tlsArgs, '--cluster', 'create', ...addresses, '--cluster-yes'], { timeout: 30_000 });
      } catch (error) {
        const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
        throw new Error(`redis-cli --cluster create failed:\n${stdout}\n${stderr}`, { cause: error });
      }
      return;
    }
    // redis-cli refuses fewer than 3 masters: split the slots and introduce the nodes by hand.
    const per = Math.ceil(16384 / this.servers.length);
    for (const [i, server] of this.servers.entries()) {
      await ask(server, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      await ask(server, 'CLUSTER', 'ADDSLOTSRANGE', i * per, Math.min(16383, (i + 1) * per - 1));
    }
    const [first, ...others] = this.servers;
    for (const [i, other] of others.entries()) await ask(first!, 'CLUSTER', 'MEET', HOST, other.port, this.busPorts[i + 1]!);
  }

  /** Resolves once every master that runs says `cluster_state:ok`. */
  async waitForOk(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () =>
        Promise.all(
          this.servers.map((server) => ask(server, 'CLUSTER', 'INFO').then((info) => infoFields(info).get('cluster_state'), String)),
        ),
      (states) => states.every((state) => state === 'ok'),
      timeoutMs,
    );
  }

  /** SIGKILLs master `i` (its slots fail after the node timeout, 2 s) and keeps it down. */
  async killMaster(i: number): Promise<void> {
    await this.server(i).kill();
  }

  /** Starts master `i` again on its port and dir, and resolves once the cluster is ok everywhere. */
  async startMaster(i: number, timeoutMs = 30_000): Promise<void> {
    await this.server(i).start();
    await this.waitForOk(timeoutMs);
  }

  /** SIGKILLs master `i`, leaves it down `downMs`, starts it again (same nodes.conf and AOF) and waits for `cluster_state:ok` everywhere. */
  async restartMaster(i: number, { downMs = 0 }: { downMs?: number } = {}): Promise<void> {
    await this.killMaster(i);
    if (downMs > 0) await sleep(downMs);
    await this.startMaster(i);
  }

  /** Index of the master that holds `key`'s slot. */
  async masterIndexFor(key: string): Promise<number> {
    const live = this.servers.find((server) => server.running) ?? this.server(0);
    const slot = Number(await ask(live, 'CLUSTER', 'KEYSLOT', key));
    const ranges = (await ask(live, 'CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
    const owner = ranges.find(([start, end]) => slot >= start && slot <= end);
    const index = owner ? this.ports.indexOf(Number(owner[2][1])) : -1;
    if (index < 0) throw new Error(`no master of this cluster holds slot ${slot} (key ${key})`);
    return index;
  }

  /** CPU seconds (`used_cpu_sys + used_cpu_user`) each master has used since it (re)started, index = master number; rejects while one is down. */
  async masterCpuSeconds(): Promise<number[]> {
    return Promise.all(
      this.servers.map(async (server) => {
        const fields = infoFields(await ask(server, 'INFO', 'cpu'));
        return Number(fields.get('used_cpu_sys')) + Number(fields.get('used_cpu_user'));
      }),
    );
  }

  /** A connected ioredis Cluster (TLS with the test CA when the cluster uses TLS); disconnected by destroy(). */
  async client(options: ClusterOptions = {}): Promise<Cluster> {
    const { redisOptions, ...rest } = options;
    const cluster = new Cluster(
      this.ports.map((port) => ({ host: HOST, port })),
      { ...rest, redisOptions: { ...(this.tls ? { tls: tlsClientOptions(this.tls) } : {}), ...redisOptions } },
    );
    let lastError: Error | undefined;
    cluster.on('error', (error: Error) => (lastError = error)); // failures surface as rejected commands; no console noise
    this.clients.push(cluster);
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`ioredis Cluster not ready within 10 s (last error: ${lastError?.message})`)),
        10_000,
      );
      cluster.once('ready', () => {
        clearTimeout(timer);
        resolveReady();
      });
    });
    return cluster;
  }

  /** A direct connection to master `i` (fails fast, no cluster redirects); disconnected by destroy(). */
  nodeClient(i: number): Redis {
    const client = connectNode(this.server(i));
    this.clients.push(client);
    return client;
  }

  /** Deletes the keys matching `pattern` on every master (SCAN each); resolves with how many went. */
  async deleteKeys(pattern: string): Promise<number> {
    let deleted = 0;
    for (const server of this.servers) {
      const client = connectNode(server, true);
      try {
        await client.connect();
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          for (const key of keys) deleted += await client.unlink(key);
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    }
    return deleted;
  }

  async destroy(): Promise<void> {
    await teardown(this.servers, this.clients, this.dir);
  }

  private server(i: number): ServerProcess {
    const server = this.servers[i];
    if (!server) throw new Error(`no master ${i}: this cluster has ${this.servers.length}`);
    return server;
  }
}

// ---------------------------------------------------------------------------------------------
// Sentinel

export interface RedisSentinelSetOptions {
  /** Default 2. */
  replicas?: number;
  /** Default 3 (quorum is 2). */
  sentinels?: number;
  /** The name Sentinel monitors the primary under. Default `kable-primary`. */
  name?: string;
  /** TLS only, everywhere (clients, replication, Sentinels): the given files, or `true` for files made in the set's dir. */
  tls?: TlsFiles | boolean;
}

/**
 * A primary, its replicas and the Sentinels that watch them, on 127.0.0.1 (down after 1 s, quorum 2),
 * so a killed primary is replaced in a few seconds.
 */
export class RedisSentinelSet {
  private readonly clients: Array<Redis | Cluster> = [];
  /** The servers killed by killPrimary, most recent last. */
  private readonly killed: ServerProcess[] = [];

  private constructor(
    readonly dir: string,
    readonly name: string,
    private readonly servers: ServerProcess[],
    private readonly sentinelProcesses: ServerProcess[],
    readonly tls: TlsFiles | undefined,
  ) {}

  /** The ports of the data servers (primary first, as started; roles change with failovers). */
  get serverPorts(): number[] {
    return this.servers.map((server) => server.port);
  }

  get sentinelPorts(): number[] {
    return this.sentinelProcesses.map((sentinel) => sentinel.port);
  }

  /** For REDIS_SENTINELS: `127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3` (`rediss://127.0.0.1:s1,…` with TLS). */
  get sentinelsEnv(): string {
    return hostList(this.sentinelPorts, this.tls !== undefined);
  }

  static async start(options: RedisSentinelSetOptions = {}): Promise<RedisSentinelSet> {
    const { replicas = 2, sentinels = 3, name = 'kable-primary' } = options;
    requireRedis();
    const dir = mkdtempSync(join(tmpdir(), 'kable-sentinel-'));
    const tls = tlsFilesIn(dir, options.tls);
    const serverFlags = (port: number, i: number) => {
      const serverDir = join(dir, `server-${i}`);
      mkdirSync(serverDir);
      return {
        // With TLS, replicas reach their primary over TLS too (tls-replication).
        ...(tls ? { ...tlsServerFlags(tls, port), 'tls-replication': 'yes' } : { port }),
        bind: HOST,
        dir: serverDir,
        appendonly: 'yes',
        appendfsync: 'everysec',
        save: '',
      };
    };
    const primaryPort = await newPort();
    const servers = [new ServerProcess(primaryPort, flags(serverFlags(primaryPort, 0)), tls)];
    for (let i = 1; i <= replicas; i += 1) {
      const port = await newPort();
      servers.push(new ServerProcess(port, flags({ ...serverFlags(port, i), replicaof: [HOST, String(primaryPort)] }), tls));
    }
    const sentinelProcesses: ServerProcess[] = [];
    for (let i = 0; i < sentinels; i += 1) {
      const port = await newPort();
      // Sentinel rewrites its conf (ids, discovered peers): a file of its own in the temp dir.
      const conf = join(dir, `sentinel-${i}.conf`);
      // With TLS: a TLS port only, and TLS to the servers and the other Sentinels (tls-replication), which
      // then also announce their TLS port.
      const listen = tls
        ? [
            'port 0',
            `tls-port ${port}`,
            `tls-cert-file ${tls.serverCert}`,
            `tls-key-file ${tls.serverKey}`,
            `tls-ca-cert-file ${tls.caCert}`,
            'tls-auth-clients no',
            'tls-replication yes',
          ]
        : [`port ${port}`];
      writeFileSync(
        conf,
        [
          ...listen,
          `bind ${HOST}`,
          `dir ${dir}`,
          `sentinel monitor ${name} ${HOST} ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinelProcesses.push(new ServerProcess(port, [conf, '--sentinel'], tls));
    }
    const set = new RedisSentinelSet(dir, name, servers, sentinelProcesses, tls);
    // Replicas linked before the Sentinels start, so each Sentinel's first INFO of the primary lists them
    // (the next one is 10 s later).
    await startAll(servers, () => set.destroy());
    try {
      await waitFor(
        () =>
          Promise.all(
            servers
              .slice(1)
              .map((replica) => ask(replica, 'INFO', 'replication').then((info) => infoFields(info).get('master_link_status'))),
          ),
        (links) => links.every((link) => link === 'up'),
        20_000,
      );
      await startAll(sentinelProcesses, () => set.destroy());
      await waitFor(
        () =>
          Promise.all(
            sentinelProcesses.map(async (sentinel) => {
              const known = (await ask(sentinel, 'SENTINEL', 'replicas', name)) as unknown[];
              const peers = (await ask(sentinel, 'SENTINEL', 'sentinels', name)) as unknown[];
              return [known.length, peers.length];
            }),
          ),
        (counts) => counts.every(([known, peers]) => known === replicas && peers === sentinels - 1),
        20_000,
      );
    } catch (error) {
      await set.destroy();
      throw error;
    }
    return set;
  }

  /** The primary's port, as the first Sentinel that answers reports it. */
  async primaryPort(): Promise<number> {
    let lastError: unknown;
    for (const sentinel of this.sentinelProcesses) {
      try {
        const address = (await ask(sentinel, 'SENTINEL', 'get-master-addr-by-name', this.name)) as [string, string] | null;
        if (address) return Number(address[1]);
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no Sentinel knows the primary ${this.name}: ${String(lastError)}`);
  }

  /** SIGKILLs the current primary and keeps it down; resolves with its port. */
  async killPrimary(): Promise<number> {
    const port = await this.primaryPort();
    const primary = this.servers.find((server) => server.port === port);
    if (!primary) throw new Error(`Sentinel names port ${port} as primary, which is none of this set's servers`);
    await primary.kill();
    this.killed.push(primary);
    return port;
  }

  /**
   * Resolves with the new primary's port once every Sentinel that runs names a primary other than
   * `oldPort` (the same one) and that server says `role:master`.
   */
  async waitForFailover(oldPort: number, timeoutMs = 15_000): Promise<number> {
    const [port] = await waitFor(
      async () => {
        const ports = await Promise.all(
          this.sentinelProcesses
            .filter((sentinel) => sentinel.running)
            .map((sentinel) =>
              ask(sentinel, 'SENTINEL', 'get-master-addr-by-name', this.name).then(
                (address) => Number((address as [string, string] | null)?.[1]),
                () => NaN,
              ),
            ),
        );
        const first = ports[0];
        const agreed = first !== undefined && first !== oldPort && ports.every((port) => port === first);
        const role = agreed
          ? await ask({ port: first, tls: this.tls }, 'INFO', 'replication').then((info) => infoFields(info).get('role'), String)
          : undefined;
        return [first, role, ports] as const;
      },
      ([, role]) => role === 'master',
      timeoutMs,
    );
    return port!;
  }

  /**
   * Starts the server killPrimary killed last again on its port and dir; by default resolves once
   * Sentinel has made it a replica of the new primary with its link up. Resolves with its port.
   */
  async restartOld({ asReplica = true, timeoutMs = 30_000 }: { asReplica?: boolean; timeoutMs?: number } = {}): Promise<number> {
    const old = this.killed.pop();
    if (!old) throw new Error('restartOld: killPrimary has not killed a server');
    await old.start();
    if (asReplica) {
      await waitFor(
        () => ask(old, 'INFO', 'replication').then(infoFields),
        (fields) => fields.get('role') === 'slave' && fields.get('master_link_status') === 'up',
        timeoutMs,
      );
    }
    return old.port;
  }

  /** An ioredis client that finds the primary through these Sentinels (TLS with the test CA when the set uses TLS); disconnected by destroy(). */
  client(options: RedisOptions = {}): Redis {
    const tls = this.tls
      ? { tls: tlsClientOptions(this.tls), sentinelTLS: tlsClientOptions(this.tls), enableTLSForSentinelMode: true }
      : {};
    const client = new Redis({ sentinels: this.sentinelPorts.map((port) => ({ host: HOST, port })), name: this.name, ...tls, ...options });
    client.on('error', () => undefined); // failures surface as rejected commands; no console noise
    this.clients.push(client);
    return client;
  }

  async destroy(): Promise<void> {
    await teardown([...this.servers, ...this.sentinelProcesses], this.clients, this.dir);
  }
}

// ---------------------------------------------------------------------------------------------
// TLS Redis with ACL users

export interface TlsRedisOptions {
  /** ACL users with every permission; when given, the default user is off (no unauthenticated access). */
  users?: Array<{ name: string; password: string }>;
  /** The default user's password (`requirepass`). */
  requirePass?: string;
}

/** A conf-file argument, quoted (sdssplitargs rules) so a password may hold any character. */
const quote = (value: string) =>
  `"${value
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')}"`;

/** One redis-server that speaks only TLS (no plain TCP port), certificates from a CA of its own. */
export class TlsRedis {
  private readonly clients: Redis[] = [];

  private constructor(
    readonly dir: string,
    readonly tls: TlsFiles,
    private readonly server: ServerProcess,
  ) {}

  /** The TLS port. */
  get port(): number {
    return this.server.port;
  }

  /** `rediss://127.0.0.1:P` (no credentials). */
  get url(): string {
    return `rediss://${HOST}:${this.port}`;
  }

  /** `rediss://USER:PASSWORD@127.0.0.1:P`, both URL-encoded. */
  urlWith(username: string, password: string): string {
    return `rediss://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${HOST}:${this.port}`;
  }

  static async start(options: TlsRedisOptions = {}): Promise<TlsRedis> {
    requireRedis();
    const dir = mkdtempSync(join(tmpdir(), 'kable-tls-redis-'));
    let server: ServerProcess;
    let tls: TlsFiles;
    try {
      tls = makeTlsFiles(join(dir, 'tls'));
      const port = await newPort();
      // Users in a conf file, not on the command line: passwords stay out of `ps`.
      const lines: string[] = [];
      for (const user of options.users ?? []) lines.push(`user ${quote(user.name)} on ${quote(`>${user.password}`)} ~* &* +@all`);
      if (options.requirePass !== undefined) lines.push(`requirepass ${quote(options.requirePass)}`);
      else if (options.users?.length) lines.push('user default off');
      const conf = join(dir, 'redis.conf');
      writeFileSync(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
      server = new ServerProcess(port, [conf, ...flags({ ...tlsServerFlags(tls, port), bind: HOST, dir, save: '' })], tls);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const redis = new TlsRedis(dir, tls, server);
    await startAll([server], () => redis.destroy());
    return redis;
  }

  /** An ioredis client over TLS trusting the test CA (add username/password in `options`); disconnected by destroy(). */
  client(options: RedisOptions = {}): Redis {
    const client = new Redis({ host: HOST, port: this.port, tls: tlsClientOptions(this.tls), ...options });
    client.on('error', () => undefined); // failures surface as rejected commands; no console noise
    this.clients.push(client);
    return client;
  }

  async destroy(): Promise<void> {
    await teardown([this.server], this.clients, this.dir);
  }
}
