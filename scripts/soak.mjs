// Soak test: minutes of mixed load through the real HTTP API while faults are injected at random,
// then a count of what Kable got. Runs the built service (dist/) as child processes against a
// real Redis and an in-process Kable emulator.
//
//   npm run soak                      # 3 minutes, with a redis-server of its own (AOF on)
//   SOAK_MINUTES=10 npm run soak
//   REDIS_URL=redis://host:6379 npm run soak   # use that Redis instead (no Redis restarts then)
//   SOAK_FAULTS=redis,kable npm run soak        # only the faults whose names contain these words
//   SOAK_TOPOLOGY=cluster npm run soak          # on a 3-master Redis Cluster of its own; a master is killed and restarted
//
// Ends with one line: sent N, accepted N, delivered N, duplicates counted by Kable N, lost N.
// Exit code 1 if anything accepted was lost or counted twice.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisClusterProcs } from '../bench/lib/cluster.js';
import { waitForRedis } from '../bench/lib/redis.js';
/** @type {typeof import('../tools/kable-emulator.js')} */
const { KableEmulator } = await import(new URL('../dist-tools/kable-emulator.js', import.meta.url).href); // the build, typed by its source
import { freePort, sleep, startFlags } from '../bench/lib/procs.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 3);
const CLUSTER = process.env.SOAK_TOPOLOGY === 'cluster';
const OWN_REDIS = process.env.REDIS_URL === undefined && !CLUSTER;
const PREFIX = `soak${randomBytes(3).toString('hex')}`;
const WRITE_KEY = 'wk_soak_0123456789';
const KABLE = { apiKey: 'sk_test.soak-api-key-0123456789', clientId: 'kci_soak' };
const LANES = Number(process.env.SOAK_LANES ?? 4);
const logDir = mkdtempSync(join(tmpdir(), 'kable-soak-'));
const log = createWriteStream(join(logDir, 'soak.log'));
const started = Date.now();
const say = (line) => {
  const text = `[soak +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`;
  console.log(text);
  log.write(`${text}\n`);
};
const pick = (items) => items[Math.floor(Math.random() * items.length)];
const between = (min, max) => min + Math.floor(Math.random() * (max - min + 1));

// --- Redis: our own redis-server (AOF fsynced on every write), so it can be killed and restarted ---
const redisPort = OWN_REDIS ? await freePort() : undefined;
const redisDir = OWN_REDIS ? mkdtempSync(join(tmpdir(), 'kable-soak-redis-')) : undefined;
const REDIS_URL = process.env.REDIS_URL ?? `redis://127.0.0.1:${redisPort}`;
/** @type {import('node:child_process').ChildProcess} */
let redisServer;
/** @type {Promise<unknown>} */
let redisExited;
async function startRedis() {
  const args = ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', String(redisDir), '--appendonly', 'yes'];
  redisServer = spawn('redis-server', [...args, '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
  });
  redisExited = new Promise((resolve) => redisServer.once('exit', resolve));
  redisServer.once('error', (error) => {
    console.error(`cannot start redis-server (${error.message}): install it, or set REDIS_URL to a Redis to use`);
    process.exit(2);
  });
  await waitForRedis(REDIS_URL);
}
async function stopRedis() {
  redisServer.kill('SIGKILL');
  await redisExited;
}
if (OWN_REDIS) await startRedis();
const cluster = CLUSTER ? await RedisClusterProcs.start(3) : undefined;

// --- Kable ----------------------------------------------------------------------------------
const kable = new KableEmulator(KABLE);
await kable.start();
const kablePort = Number(new URL(kable.url).port);
let kableFault; // undefined = healthy
kable.respondWith(() => kableFault?.());

// --- the service: one API process and two worker processes ---------------------------------
const baseEnv = {
  PATH: process.env.PATH ?? '',
  KABLE_API_KEY: KABLE.apiKey,
  KABLE_CLIENT_ID: KABLE.clientId,
  KABLE_BASE_URL: kable.url,
  SEGMENT_WRITE_KEYS: WRITE_KEY,
  ...(cluster ? { REDIS_CLUSTER_NODES: cluster.seeds } : { REDIS_URL }),
  REDIS_PREFIX: PREFIX,
  HOST: '127.0.0.1',
  KABLE_FLUSH_INTERVAL: '200ms',
  KABLE_REQUEST_TIMEOUT: '2s',
  KABLE_RETRY_MAX_DELAY: '2s',
  DELIVERY_LOCK_DURATION: '5s',
  LOG_LEVEL: 'warn',
};

class Service {
  /**
   * @param {string} name
   * @param {string} role SERVICE_ROLE
   * @param {number} port
   */
  constructor(name, role, port) {
    this.name = name;
    this.role = role;
    this.port = port;
    /** @type {import('node:child_process').ChildProcess | undefined} */
    this.child = undefined;
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }> | undefined} */
    this.exited = undefined;
    this.restarts = 0;
  }
  async start() {
    const child = spawn(process.execPath, [...startFlags(), 'dist/main.js'], {
      env: { ...baseEnv, SERVICE_ROLE: this.role, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let listening = false;
    const onData = (chunk) => {
      const text = chunk.toString();
      if (text.includes('listening on')) listening = true;
      log.write(`${text.replace(/\n$/, '').replace(/^/gm, `${this.name}| `)}\n`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const deadline = Date.now() + 30_000;
    while (!listening) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${this.name} did not start; see ${logDir}/soak.log`);
      await sleep(50);
    }
  }
  /** @param {NodeJS.Signals} signal */
  async stop(signal) {
    if (!this.child || !this.exited) return undefined;
    this.child.kill(signal);
    const exit = await Promise.race([this.exited, sleep(30_000).then(() => 'timeout')]);
    if (exit === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return exit;
  }
}

const api = new Service('api', 'api', await freePort());
const workers = [new Service('worker1', 'worker', await freePort()), new Service('worker2', 'worker', await freePort())];
await Promise.all([api, ...workers].map((s) => s.start()));
const apiUrl = `http://127.0.0.1:${api.port}`;
const where = cluster ? `a 3-master Redis Cluster (${cluster.seeds})` : `Redis ${REDIS_URL}`;
say(`service up (api :${api.port}, 2 workers), Kable emulator ${kable.url}, ${where} prefix ${PREFIX}, logs ${logDir}`);

// --- load -----------------------------------------------------------------------------------
const sent = new Set();
const accepted = new Set();
const outcomes = {};
let requests = 0;
let counter = 0;
const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const recent = []; // messages sent lately, to send again as duplicates

function newMessage() {
  counter += 1;
  return {
    type: 'track',
    event: 'API Call',
    userId: `customer_${counter % 97}`,
    messageId: `soak-${PREFIX}-${counter}`,
    timestamp: new Date().toISOString(),
    properties: { endpoint: '/v1/things', units: counter % 7 },
  };
}

async function post(path, body) {
  requests += 1;
  try {
    const res = await fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return String(res.status);
  } catch (error) {
    const failure = /** @type {{ cause?: { code?: string }, name?: string }} */ (error);
    return failure.cause?.code ?? failure.name ?? 'error';
  }
}

async function sendOne() {
  const kind = pick(['batch', 'batch', 'batch', 'single', 'duplicate']);
  let messages;
  if (kind === 'duplicate' && recent.length > 0) {
    // A client retry: the same messages (same messageIds) again, some with a new one beside them.
    messages = [...pick(recent), ...(Math.random() < 0.5 ? [newMessage()] : [])];
  } else if (kind === 'single') messages = [newMessage()];
  else messages = Array.from({ length: between(2, 50) }, newMessage);
  for (const m of messages) sent.add(m.messageId);
  const outcome =
    messages.length === 1 && kind === 'single' ? await post('/v1/track', messages[0]) : await post('/v1/batch', { batch: messages });
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  if (outcome === '200') for (const m of messages) accepted.add(m.messageId);
  recent.push(messages);
  if (recent.length > 200) recent.shift();
  return outcome === '200';
}

let loading = true;
const lanes = Array.from({ length: LANES }, async () => {
  while (loading) {
    const ok = await sendOne();
    // A client backs off a little when the service is not answering (Segment's SDKs retry later).
    await sleep(ok ? between(5, 40) : 250);
  }
});

// --- faults ---------------------------------------------------------------------------------
const faults = {
  'kable 503': async (ms) => {
    kableFault = () => ({ status: 503, body: { message: 'Service Unavailable' } });
    await sleep(ms);
  },
  'kable 429 Retry-After': async (ms) => {
    const seconds = between(1, 3);
    kableFault = () =>
      Math.random() < 0.7
        ? { status: 429, headers: { 'retry-after': String(seconds) }, body: { message: 'Too Many Requests' } }
        : undefined;
    await sleep(ms);
  },
  'kable slower than the timeout': async (ms) => {
    kableFault = () => (Math.random() < 0.6 ? { status: 200, delayMs: 3000 } : undefined);
    await sleep(ms);
  },
  'kable drops connections': async (ms) => {
    kableFault = () => (Math.random() < 0.5 ? { status: 200, destroy: true } : undefined);
    await sleep(ms);
  },
  'kable refuses connections': async (ms) => {
    await kable.stop();
    await sleep(ms);
    await kable.start(kablePort);
  },
  'worker SIGKILL': async (ms) => {
    const worker = pick(workers);
    await worker.stop('SIGKILL');
    await sleep(ms);
    await worker.start();
  },
  'worker SIGTERM': async (ms) => {
    const worker = pick(workers);
    const exit = await worker.stop('SIGTERM');
    if (typeof exit !== 'object' || exit.code !== 0) say(`  ${worker.name} exited ${JSON.stringify(exit)} after SIGTERM`);
    await sleep(ms);
    await worker.start();
  },
  ...(OWN_REDIS && {
    'redis SIGKILL and restart': async (ms) => {
      await stopRedis();
      await sleep(Math.min(ms, 4000));
      await startRedis();
    },
  }),
  ...(cluster && {
    'redis cluster master SIGKILL and restart': async (ms) => {
      const master = between(0, cluster.nodes.length - 1);
      say(`  master ${master} (:${cluster.nodes[master]?.port})`);
      await cluster.restartMaster(master, Math.min(ms, 4000));
    },
  }),
  'api SIGTERM': async (ms) => {
    const exit = await api.stop('SIGTERM');
    if (typeof exit !== 'object' || exit.code !== 0) say(`  api exited ${JSON.stringify(exit)} after SIGTERM`);
    await sleep(Math.min(ms, 2000));
    await api.start();
  },
};
// SOAK_FAULTS=redis,worker picks only the faults whose names contain one of those words.
const only = process.env.SOAK_FAULTS?.split(',').map((w) => w.trim().toLowerCase());
const faultNames = Object.keys(faults).filter((name) => !only || only.some((w) => name.toLowerCase().includes(w)));
const injected = {};
const queue = [];
const until = Date.now() + MINUTES * 60_000;
while (Date.now() < until) {
  await sleep(between(3000, 10_000));
  if (Date.now() >= until) break;
  // Every kind of fault in turn, in a random order each round.
  if (queue.length === 0) queue.push(...faultNames.sort(() => Math.random() - 0.5));
  const name = /** @type {string} */ (queue.shift()); // filled just above
  const ms = between(2000, 8000);
  say(`fault: ${name} for ${(ms / 1000).toFixed(1)} s (accepted so far ${accepted.size}, Kable has ${kable.count})`);
  injected[name] = (injected[name] ?? 0) + 1;
  await faults[name](ms);
  kableFault = undefined;
}
loading = false;
await Promise.all(lanes);
say(`load stopped: ${requests} requests; draining`);

// --- drain and count ------------------------------------------------------------------------
const drainDeadline = Date.now() + 180_000;
const missing = () => [...accepted].filter((id) => !kable.arrivals.has(id));
while (missing().length > 0 && Date.now() < drainDeadline) await sleep(500);
await sleep(3000); // late repeats are counted too

const counted = new Map();
for (const event of kable.events) counted.set(event.transactionId, (counted.get(event.transactionId) ?? 0) + 1);
const lost = missing().length;
const delivered = accepted.size - lost;
// Kable counts an event twice only if it arrives under two transactionIds (or the same id is counted twice).
const foreign = [...counted.keys()].filter((id) => !sent.has(id)).length;
const doubled = [...counted.values()].filter((n) => n > 1).length + foreign;
let repeats = 0;
for (const n of kable.arrivals.values()) repeats += n - 1;
const deliveredWithout200 = [...counted.keys()].filter((id) => sent.has(id) && !accepted.has(id)).length;

say(`faults injected: ${JSON.stringify(injected)}`);
say(`requests to the service: ${JSON.stringify(outcomes)}`);
say(
  `Kable requests: ${kable.requests.length} (${JSON.stringify(kable.requests.reduce((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {}))}), repeats sent ${repeats}, delivered without a 200 (client would retry) ${deliveredWithout200}`,
);
const summary = `sent ${sent.size}, accepted ${accepted.size}, delivered ${delivered}, duplicates counted by Kable ${doubled}, lost ${lost}`;
say(summary);

// --- clean up -------------------------------------------------------------------------------
await Promise.all([api, ...workers].map((s) => s.stop('SIGTERM')));
await kable.stop();
if (cluster) await cluster.destroy();
else {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
if (OWN_REDIS) {
  await stopRedis();
  rmSync(String(redisDir), { recursive: true, force: true });
}
log.end();
process.exit(lost === 0 && doubled === 0 ? 0 : 1);
