// The demo behind `npm run demo`: starts the Kable emulator and the service (from dist/), sends the
// seed's example track call through the real HTTP API, and prints the Kable request that arrived.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, startFlags } from '../bench/lib/procs.js';
/** @type {typeof import('../tools/kable-emulator.js')} */
const { KableEmulator } = await import(new URL('../dist-tools/kable-emulator.js', import.meta.url).href); // the build, typed by its source

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `demo${process.pid}`;
const WRITE_KEY = 'demo_write_key';
const API_KEY = 'sk_test.demo-secret';
const CLIENT_ID = 'kci_demo';

const kable = new KableEmulator({ clientId: CLIENT_ID, apiKey: API_KEY });
const kableUrl = await kable.start();
const port = Number(process.env.PORT ?? (await freePort()));
const service = spawn(process.execPath, [...startFlags(), 'dist/main.js'], {
  env: {
    ...process.env,
    KABLE_API_KEY: API_KEY,
    KABLE_CLIENT_ID: CLIENT_ID,
    KABLE_BASE_URL: kableUrl,
    KABLE_PROPERTIES_MAPPINGS: 'segmentX:kableX',
    SEGMENT_WRITE_KEYS: WRITE_KEY,
    REDIS_URL,
    REDIS_PREFIX: PREFIX,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

let exitCode = 0;
try {
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline || service.exitCode !== null) throw new Error('the service did not become ready; see its output above');
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`\n==> service ready on ${base}, Kable emulator on ${kableUrl}, Redis ${REDIS_URL} (prefix ${PREFIX})`);

  const message = {
    event: 'your_event_type',
    userId: 'yourcompanyuser_1234567890',
    messageId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
    timestamp: '2022-01-09T09:32:01Z',
    properties: { segmentX: 'important data point', messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
  };
  console.log(`\n==> POST ${base}/v1/track  (Basic auth: write key "${WRITE_KEY}", mapping segmentX:kableX)`);
  console.log(JSON.stringify(message, null, 2));
  const res = await fetch(`${base}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
    body: JSON.stringify(message),
  });
  console.log(`<== ${res.status} ${await res.text()}`);

  await kable.waitForEvents(1, 10_000);
  const [request] = kable.requests.filter((r) => r.status === 200);
  if (!request) throw new Error('Kable received no request');
  console.log('\n==> Kable received POST /api/v1/events/create');
  console.log(`Kable-Client-ID: ${request.headers['kable-client-id']}`);
  console.log(`Kable-Client-Secret: ${String(request.headers['kable-client-secret']).slice(0, 8)}… (the API key)`);
  console.log(JSON.stringify(request.events, null, 2));
  console.log("\nThat is the seed's Kable body: clientId from userId, timestamp, transactionId = messageId, segmentX mapped to kableX.");
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  service.kill('SIGTERM');
  await new Promise((resolve) => service.once('exit', resolve));
  await kable.stop();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}
process.exit(exitCode);
