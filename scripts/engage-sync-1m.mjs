// Measures the initial sync of one large Engage audience (default 1,000,000 members):
//   npm run build && node scripts/engage-sync-1m.mjs
// Boots the real service (role all) against a counting Kable stand-in in a child process, records
// MEMBERS memberships through the same store ingest uses, then times (1) the sync itself, from
// the window closing to the last delivery job queued, and (2) delivery until Kable has every
// event. Peak RSS of this process is sampled every 20 ms. Every key is under a throwaway
// REDIS_PREFIX and removed at the end. Settings: MEMBERS, REDIS_URL, KABLE_BATCH_SIZE (500),
// SERVICE_ROLE (api: time the sync alone, without the delivery worker; nothing reaches Kable then).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === '--kable') {
  // The Kable stand-in: counts distinct transactionIds and arrivals, nothing else (keeps its memory small).
  const seen = new Set();
  let arrivals = 0;
  const server = createServer((req, res) => {
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
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port }));
  process.on('message', () => process.send?.({ distinct: seen.size, arrivals }));
} else {
  await main();
}

async function main() {
  // The build (dist/), typed by its source.
  const dist = (/** @type {string} */ path) => new URL(`../dist/${path}`, import.meta.url).href;
  /** @type {typeof import('../src/app.setup.js')} */
  const { createApp } = await import(dist('app.setup.js'));
  /** @type {typeof import('../src/platform/config/config.js')} */
  const { loadConfig } = await import(dist('platform/config/config.js'));
  /** @type {typeof import('../src/engage/engage.service.js')} */
  const { EngageService } = await import(dist('engage/engage.service.js'));
  const { Redis } = await import('ioredis');

  const members = Number(process.env.MEMBERS ?? 1_000_000);
  const audience = 'order_completed_last_30days';
  const kable = fork(fileURLToPath(import.meta.url), ['--kable']);
  const { port } = /** @type {{ port: number }} */ (await new Promise((resolve) => kable.once('message', resolve)));
  const ask = () => new Promise((resolve) => (kable.once('message', resolve), kable.send('count')));

  const prefix = `bench-engage-${randomBytes(3).toString('hex')}`;
  const config = loadConfig({
    KABLE_API_KEY: 'sk_test.bench',
    KABLE_CLIENT_ID: 'kci_bench',
    KABLE_BASE_URL: `http://127.0.0.1:${port}`,
    KABLE_BATCH_SIZE: process.env.KABLE_BATCH_SIZE ?? '500',
    SEGMENT_WRITE_KEYS: 'wk_bench',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    SERVICE_ROLE: process.env.SERVICE_ROLE,
  });
  const app = await createApp(config);
  await app.init();
  const engage = app.get(EngageService);
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const mb = (bytes) => Math.round(bytes / 1048576);
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);

  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const redisBefore = await usedMemory();

  // Fill: what 1,000,000 Engage identifies leave in Redis (the ingest path, 2,500 per request).
  let started = performance.now();
  const at = Date.parse('2026-11-01T10:00:00Z');
  for (let i = 0; i < members; i += 2500) {
    const batch = [];
    for (let j = i; j < Math.min(members, i + 2500); j++) {
      batch.push({ audience, type: /** @type {const} */ ('identify'), clientId: `user_${j}`, member: true, at: at + j });
    }
    await engage.record(batch);
  }
  const fillSeconds = (performance.now() - started) / 1000;
  const redisAfterFill = await usedMemory();

  global.gc?.();
  const rssBefore = process.memoryUsage.rss();
  peak = rssBefore;
  started = performance.now();
  const report = await engage.sync();
  const syncSeconds = (performance.now() - started) / 1000;
  const syncPeak = peak;

  let counts = { distinct: members, arrivals: members };
  const delivers = config.role !== 'api';
  while (delivers) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    counts = await ask();
    if (counts.distinct >= members || performance.now() - started > 15 * 60_000) break;
  }
  const deliveredSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  // What the audience keeps in Redis after its first sync (members + sent), measured exactly.
  let stateBytes = 0;
  for (const part of /** @type {const} */ (['members', 'dirty', 'syncing', 'sent'])) {
    stateBytes += Number((await redis.call('MEMORY', 'USAGE', engage.store.audienceKey(audience, part), 'SAMPLES', '0')) ?? 0);
  }

  const result = {
    members,
    batchSize: config.kable.batchSize,
    fill: { seconds: +fillSeconds.toFixed(2), redisMemoryMb: mb(redisAfterFill - redisBefore) },
    sync: {
      seconds: +syncSeconds.toFixed(2),
      eventsQueued: report.events,
      rssBeforeMb: mb(rssBefore),
      peakRssMb: mb(syncPeak),
      peakRssGrowthMb: mb(syncPeak - rssBefore),
      audienceStateInRedisAfterMb: mb(stateBytes),
    },
    delivery: delivers && {
      secondsUntilKableHasAll: +deliveredSeconds.toFixed(2),
      kableDistinct: counts.distinct,
      kableArrivals: counts.arrivals,
      peakRssMb: mb(peak),
    },
  };
  console.log(JSON.stringify(result, null, 2));

  await app.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  kable.kill();
  process.exit(counts.distinct === members && counts.arrivals === members ? 0 : 1);
}
