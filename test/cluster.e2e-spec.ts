import request from 'supertest';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';
import { expectInvariant, formatTally, Ledger } from './support/ledger.js';
import { RedisCluster } from './support/topologies.js';
import { sleep, waitFor } from './support/wait.js';

/**
 * The service on a Redis Cluster of its own (three masters, AOF fsynced on every write, no
 * replicas), whatever Redis the rest of the run uses: every part at once, the shards spread over
 * the masters, and a master restarted under load.
 */

const ADMIN_TOKEN = 'admin-token-for-cluster-test-0123456789';
const admin = `Bearer ${ADMIN_TOKEN}`;

/** The value of a metric line `name value` (labels included in `name`), NaN if absent. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

/** Keys under `prefix` on one master (SCAN of that node only). */
async function keysOn(cluster: RedisCluster, master: number, prefix: string): Promise<string[]> {
  const node = cluster.nodeClient(master);
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  node.disconnect();
  return found;
}

/** Batches of new events from `lanes` senders until stop(); each outcome with the time it was answered. */
function startLoad(url: string, ledger: Ledger, { lanes = 4, batchSize = 10, pauseMs = 10 } = {}) {
  const answers: Array<{ at: number; outcome: string }> = [];
  let running = true;
  const done = Promise.all(
    Array.from({ length: lanes }, async () => {
      while (running) {
        const outcome = await ledger.send(
          url,
          Array.from({ length: batchSize }, () => ledger.message()),
        );
        answers.push({ at: Date.now(), outcome: String(outcome.status ?? outcome.error) });
        await sleep(pauseMs);
      }
    }),
  );
  return {
    answers,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe('the service on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  let h: Harness | undefined;
  // Every harness of this file logs here: the first app built in a test file sets the log destination of all.
  const lines: string[] = [];
  const logStream = { write: (line: string) => void lines.push(line) };
  const start = (env: Record<string, string> = {}) =>
    startHarness({ REDIS_CLUSTER_NODES: cluster!.nodes, ADMIN_TOKEN, LOG_LEVEL: 'info', ...env }, { logStream });

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3 });
  }, 60_000);
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('ingests, deduplicates, delivers, keeps a dead letter, and answers the lookup, health, metrics and dashboard', async () => {
    h = await start();
    expect(h.config.redis.shards).toBe(12);
    h.kable.respondWith((events) =>
      events.some((e) => e.transactionId === 'cluster-bad') ? { status: 400, body: { message: 'invalid event: cluster-bad' } } : undefined,
    );
    const good = Array.from({ length: 40 }, (_, i) => track({ messageId: `cluster-good-${i}` }));
    const batch = [...good.slice(0, 20), track({ messageId: 'cluster-bad' }), ...good.slice(20)];
    const first = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: 41, queued: 41, deduplicated: 0 });
    const again = await request(h.url).post('/v1/batch').set('authorization', basicAuth()).send({ batch });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 41, queued: 0, deduplicated: 41 });

    await h.kable.waitForEvents(40);
    await waitForDrained(h);
    expect(h.kable.events.map((e) => e.transactionId).sort()).toEqual(good.map((m) => m.messageId as string).sort());
    for (const message of good) expect(h.kable.arrivals.get(message.messageId as string)).toBe(1);

    // The dead letter, through the admin API.
    const letters = await request(h.url).get('/v1/dead-letters').set('authorization', admin);
    expect(letters.status).toBe(200);
    expect(letters.body).toMatchObject({ total: 1, count: 1, next: null });
    expect(letters.body.deadLetters).toEqual([
      expect.objectContaining({
        event: expect.objectContaining({ transactionId: 'cluster-bad' }),
        reason: 'HTTP 400',
        status: 400,
        body: '{"message":"invalid event: cluster-bad"}',
        attempts: 1,
      }),
    ]);

    // Where each event went (their trace records sit in their id's shard, on whichever master).
    const kableRequestOf = new Map(
      h.kable.requests.filter((r) => r.status === 200).flatMap((r) => r.events.map((e) => [e.transactionId, r.requestId] as const)),
    );
    for (const id of ['cluster-good-0', 'cluster-good-39']) {
      const lookup = await request(h.url).get(`/v1/events/${id}`).set('authorization', admin);
      expect(lookup.status).toBe(200);
      expect(lookup.body).toEqual({
        messageId: id,
        status: 'delivered',
        received: { at: expect.stringMatching(/Z$/), accepted: true, jobId: expect.stringMatching(/^\d+\.\d+$/) },
        delivered: { at: expect.stringMatching(/Z$/), attempts: 1, kableRequestId: kableRequestOf.get(id) },
      });
    }
    const bad = await request(h.url).get('/v1/events/cluster-bad').set('authorization', admin);
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({
      messageId: 'cluster-bad',
      status: 'failed',
      failure: { attempts: 1, status: 400, reason: 'HTTP 400', answer: '{"message":"invalid event: cluster-bad"}' },
    });
    expect((await request(h.url).get('/v1/events/cluster-never-sent').set('authorization', admin)).status).toBe(404);

    const ready = await request(h.url).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.details.redis).toMatchObject({ status: 'up', maxMemoryBytes: 0 });
    expect(ready.body.details.redis.usedMemoryBytes).toBeGreaterThan(0);
    expect(ready.body.details.deliveryQueue).toMatchObject({ status: 'up', backlogJobs: 0, backlogEvents: 0, overLimit: false });

    const metrics = (await request(h.url).get('/metrics')).text;
    expect(metric(metrics, 'kable_events_delivered_total')).toBe(40);
    expect(metric(metrics, 'kable_events_failed_total{status="400"}')).toBe(1);
    expect(metric(metrics, 'kable_dead_letters')).toBe(1);
    expect(metric(metrics, 'segment_messages_deduplicated_total')).toBe(41);
    expect(metric(metrics, 'bullmq_queue_jobs{queue="kable-delivery",state="waiting"}')).toBe(0);
    expect(metric(metrics, 'kable_backlog_events')).toBe(0);
    expect(metric(metrics, 'redis_memory_used_bytes')).toBeGreaterThan(0);

    const page = await request(h.url).get('/admin/queues').set('authorization', admin);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<title>kable-destination</title>');
    const queues = await request(h.url).get('/admin/queues/api/queues').set('authorization', admin);
    expect(queues.status).toBe(200);
    expect((queues.body as { queues: Array<{ name: string }> }).queues.map((q) => q.name)).toEqual([
      ...Array.from({ length: 12 }, (_, shard) => `${shard}.kable-delivery`),
      'engage-sync',
    ]);
  }, 60_000);

  it('spreads the shards, and so the keys, over the three masters', async () => {
    h = await start();
    const masterOfShard = await Promise.all(h.keys.all().map((shard) => cluster!.masterIndexFor(h!.keys.shardKey(shard, 'x'))));
    // Shard tags hash into equal slot ranges, which redis-cli gives the masters in order.
    expect(masterOfShard).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);

    const ledger = new Ledger();
    const outcomes = await ledger.load(h.url, 600, { batchSize: 10, parallel: 2 });
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    await ledger.waitForAccepted(h.kable);
    await waitForDrained(h);
    expectInvariant(ledger.tally(h.kable));

    const keys = await Promise.all([0, 1, 2].map((master) => keysOn(cluster!, master, h!.prefix)));
    process.stdout.write(`[cluster-spread] keys per master after 600 events: ${keys.map((k) => k.length).join(', ')}\n`);
    for (const [master, onMaster] of keys.entries()) {
      // Every shard of this master had delivery jobs (their id counters), and dedup records of its ids.
      const shardsWithJobs = h.keys.all().filter((shard) => onMaster.includes(h!.keys.shardKey(shard, 'kable-delivery', 'id')));
      expect({ master, shardsWithJobs }).toEqual({ master, shardsWithJobs: [0, 1, 2, 3].map((n) => master * 4 + n) });
    }
    // No master holds the bulk: each has at least a sixth of the keys.
    const total = keys.reduce((sum, k) => sum + k.length, 0);
    for (const onMaster of keys) expect(onMaster.length).toBeGreaterThan(total / 6);
  }, 60_000);

  it('a master restarted under load (down 2 s): every event answered 200 reaches Kable, none counted twice', async () => {
    // A job whose completion the down master refused stays active until its lock expires (stalled
    // jobs are taken back within about twice the lock): 2 s keeps that inside the test's wait.
    h = await start({ KABLE_FLUSH_INTERVAL: '50ms', DELIVERY_LOCK_DURATION: '2s' });
    // The master of shard 0, which also holds the unsharded records (Engage, dead letters, the Engage queue).
    const master = await cluster!.masterIndexFor(h.key('x'));
    const ledger = new Ledger();
    const load = startLoad(h.url, ledger);
    let restartedAt = 0;
    let killedAt = 0;
    try {
      await waitFor(
        () => ledger.accepted.size,
        (n) => n >= 200,
      );
      killedAt = Date.now();
      await cluster!.restartMaster(master, { downMs: 2000 });
      restartedAt = Date.now();
      // Ingest takes events again once the cluster is whole.
      await waitFor(
        () => load.answers.filter((a) => a.at > restartedAt && a.outcome === '200').length,
        (n) => n >= 20,
        20_000,
      );
    } finally {
      await load.stop();
    }
    await ledger.waitForAccepted(h.kable, 60_000);
    await waitForDrained(h, 30_000);
    const tally = ledger.tally(h.kable);
    const during = load.answers.filter((a) => a.at > killedAt && a.at <= restartedAt);
    process.stdout.write(
      `${formatTally('cluster-master-restart', tally)}\n[cluster-master-restart] master ${master} down ${restartedAt - killedAt} ms; answers meanwhile: ${JSON.stringify(
        during.reduce<Record<string, number>>((n, a) => ({ ...n, [a.outcome]: (n[a.outcome] ?? 0) + 1 }), {}),
      )}\n`,
    );
    // The fault was felt: while the master was down some requests were refused.
    expect(during.filter((a) => a.outcome !== '200').length).toBeGreaterThan(0);
    expectInvariant(tally);
    expect(tally.deliveredUnacknowledged).toBe(0);
  }, 120_000);

  it('with REDIS_URL also set, says once at boot that REDIS_URL is ignored', async () => {
    const messages = (from: number) =>
      lines
        .slice(from)
        .map((line) => JSON.parse(line) as { context?: string; msg?: string; level?: number })
        .filter((record) => record.context === 'Redis');
    const before = lines.length;
    h = await start({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect((await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(track())).status).toBe(200);
    expect(messages(before).map((r) => [r.level, r.msg])).toEqual([
      [30, 'using Redis Cluster through 3 seed node(s), 12 shard(s)'],
      [40, 'REDIS_URL is ignored: REDIS_CLUSTER_NODES decides the topology'],
    ]);
    await h.close();

    // Without REDIS_URL, nothing to say.
    const after = lines.length;
    h = await start();
    expect(messages(after).map((r) => r.msg)).toEqual(['using Redis Cluster through 3 seed node(s), 12 shard(s)']);
  }, 30_000);
});
