import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { distDir, importFromDist, startService, watchPeakRss } from '../lib/procs.js';
import { measureDrain } from '../lib/steps.js';

const MEMBERS = 1_000_000;
const AUDIENCE = 'bench_audience';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

/**
 * Engage's initial sync of a 1,000,000-member audience: the members are recorded straight into
 * Redis with the service's own AudienceStore (as 1,000,000 identify calls would leave them), then
 * POST /v1/audiences/sync runs the sync; measured until the fake Kable has every member, with the
 * service's peak RSS over that time.
 */
export default {
  id: 6,
  name: 'Engage: initial sync of 1,000,000 members',
  goal: '<= 60 s, peak RSS <= 512 MB',
  async run(ctx) {
    const storeModule = join(distDir(), 'engage', 'audience.store.js');
    if (!existsSync(storeModule)) {
      const why = 'not available in this build (no dist/engage/audience.store.js)';
      return { skipped: why, met: null, extra: why };
    }
    const members = ctx.engageMembers ?? MEMBERS;
    const prefix = ctx.prefix('s6');
    const { AudienceStore } = await importFromDist('engage/audience.store.js');
    const store = new AudienceStore(ctx.redis.client, (...parts) => [prefix, ...parts].join(':'));
    const at = Date.parse('2026-11-01T10:00:00Z');
    const chunk = 10_000;
    for (let start = 0; start < members; start += chunk) {
      const memberships = [];
      for (let i = start; i < Math.min(members, start + chunk); i++) {
        memberships.push({ audience: AUDIENCE, clientId: `user_${i}`, member: true, at });
      }
      await store.record(memberships);
    }

    await ctx.kable.mode(200);
    await ctx.kable.reset();
    const service = await startService({
      role: 'all',
      redisUrl: ctx.redis.url,
      prefix,
      kableUrl: ctx.kable.url,
      name: 's6',
      env: { ADMIN_TOKEN },
    });
    const rss = watchPeakRss(service.pid);
    const started = Date.now();
    const answer = await fetch(`${service.url}/v1/audiences/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }).then(async (res) => ({ status: res.status, body: await res.json().catch(() => null) }));
    const syncSeconds = (Date.now() - started) / 1000;
    const drain = await measureDrain(ctx, members, 180_000);
    const seconds = (Date.now() - started) / 1000;
    const peakRss = rss.stop();
    await service.stop();
    await ctx.cleanup(prefix);
    return {
      events: members / seconds,
      extra: `${members} members at Kable in ${seconds.toFixed(1)} s (sync answered in ${syncSeconds.toFixed(1)} s); peak RSS ${Math.round(peakRss / 2 ** 20)} MB`,
      met: drain.done && seconds <= 60 && peakRss <= 512 * 2 ** 20,
      details: { members, seconds, syncSeconds, syncAnswer: answer, peakRssBytes: peakRss, drain },
    };
  },
};
