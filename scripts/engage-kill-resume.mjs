// Kills the service with SIGKILL in the middle of an audience sync and checks that a restarted
// service finishes it without losing or double counting a change:
//   npm run build && node scripts/engage-kill-resume.mjs
// Takes a minute or two: the killed sync job is handed back by BullMQ's stalled-job check (about
// 30 s after the kill). Settings: MEMBERS (default 200000), REDIS_URL.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const ADMIN_TOKEN = 'admin-token-kill-resume-0123456789';
const WRITE_KEY = 'wk_kill_resume';
const AUDIENCE = 'order_completed_last_30days';

if (process.argv[2] === '--service') {
  // The build (dist/), typed by its source.
  const dist = (/** @type {string} */ path) => new URL(`../dist/${path}`, import.meta.url).href;
  /** @type {typeof import('../src/app.setup.js')} */
  const { createApp } = await import(dist('app.setup.js'));
  /** @type {typeof import('../src/platform/config/config.js')} */
  const { loadConfig } = await import(dist('platform/config/config.js'));
  const config = loadConfig({ ...process.env, SEGMENT_WRITE_KEYS: WRITE_KEY, ADMIN_TOKEN, LOG_LEVEL: 'warn' });
  const app = await createApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = /** @type {import('node:net').AddressInfo} */ (app.getHttpServer().address());
  process.send?.({ port });
  process.on('disconnect', () => process.exit(1)); // the parent is gone
} else {
  await main();
}

async function main() {
  const { Redis } = await import('ioredis');
  const members = Number(process.env.MEMBERS ?? 200_000);
  const seen = new Set();
  let arrivals = 0;
  const kable = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      for (const event of JSON.parse(Buffer.concat(chunks).toString('utf8'))) {
        arrivals += 1;
        seen.add(event.transactionId);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('"Events successfully recorded"');
    });
  });
  await new Promise((resolve) => kable.listen(0, '127.0.0.1', () => resolve(null)));
  const prefix = `kill-engage-${randomBytes(3).toString('hex')}`;
  const env = {
    ...process.env,
    KABLE_API_KEY: 'sk_test.kill',
    KABLE_CLIENT_ID: 'kci_kill',
    KABLE_BASE_URL: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (kable.address()).port}`,
    REDIS_PREFIX: prefix,
  };
  const boot = async () => {
    const child = fork(fileURLToPath(import.meta.url), ['--service'], { env });
    const { port } = /** @type {{ port: number }} */ (await new Promise((resolve) => child.once('message', resolve)));
    return { child, url: `http://127.0.0.1:${port}` };
  };
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  let service = await boot();
  process.on('exit', () => service.child.kill('SIGKILL'));
  for (let i = 0; i < members; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(members, i + 1000); j++) {
      batch.push({
        type: 'identify',
        userId: `user_${j}`,
        messageId: `m${j}`,
        timestamp: '2026-11-01T10:00:00Z',
        traits: { [AUDIENCE]: true },
        context: { personas: { computation_class: 'audience', computation_key: AUDIENCE } },
      });
    }
    const res = await fetch(`${service.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });
    if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
  }

  void fetch(`${service.url}/v1/audiences/sync`, { method: 'POST', headers: admin }).catch(() => undefined);
  while (seen.size < members * 0.2) await wait(20);
  service.child.kill('SIGKILL');
  const atKill = seen.size;
  const killedAt = performance.now();
  console.log(`killed the service with ${atKill} of ${members} events at Kable`);

  service = await boot();
  while (seen.size < members && performance.now() - killedAt < 300_000) await wait(250);
  const resumedSeconds = (performance.now() - killedAt) / 1000;
  await wait(2000);
  const status = /** @type {{ audiences: { pendingChanges: number, lastSync?: { result: string } }[] }} */ (
    await (await fetch(`${service.url}/v1/audiences`, { headers: admin })).json()
  );
  const result = {
    members,
    atKill,
    secondsFromKillToAllDelivered: +resumedSeconds.toFixed(1),
    kableDistinct: seen.size,
    kableArrivals: arrivals,
    resentWithSameTransactionId: arrivals - seen.size,
    audience: status.audiences[0],
  };
  console.log(JSON.stringify(result, null, 2));

  service.child.kill('SIGTERM');
  kable.close();
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  const [audience] = status.audiences;
  const ok = seen.size === members && audience?.pendingChanges === 0 && audience.lastSync?.result === 'ok';
  console.log(ok ? 'OK: every member reached Kable exactly once (by transactionId)' : 'FAILED');
  process.exit(ok ? 0 : 1);
}
