import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import request from 'supertest';
import { launchChromium } from './support/browser.js';
import { basicAuth, type Harness, startHarness, track } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-for-browser-test-0123456789';
const ARTIFACTS = join(process.cwd(), 'test', 'artifacts');
describe('queue dashboard in a real browser', () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('shows the delivery queue and a failed job to a person logged in with the admin token', async () => {
    // One event Kable takes, one it refuses for good (401): a completed and a failed job.
    h.kable.respondWith((events) =>
      events.at(0)?.transactionId === 'browser-refused' ? { status: 401, body: { message: 'Unauthorized' } } : undefined,
    );
    await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send(track({ messageId: 'browser-ok' }))
      .expect(200);
    await h.kable.waitForEvents(1);
    await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send(track({ messageId: 'browser-refused' }))
      .expect(200);
    const failedByShard = await waitFor(
      () => Promise.all(h.keys.all().map((shard) => h.deliveryQueue(shard).getFailedCount())),
      (counts) => counts.some((failed) => failed >= 1),
    );
    expect(failedByShard.reduce((sum, n) => sum + n, 0)).toBe(1);
    // With several shards (a Redis Cluster) the dashboard names each shard's queue `<shard>.kable-delivery`.
    const failedShard = failedByShard.findIndex((failed) => failed === 1);
    const queueName = failedByShard.length > 1 ? `${failedShard}.kable-delivery` : 'kable-delivery';

    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: ADMIN_TOKEN },
      viewport: { width: 1280, height: 800 },
    });
    // Nothing leaves this machine: only the service under test answers (the page asks for web fonts).
    await context.route('**/*', (route) => (route.request().url().startsWith(h.url) ? route.continue() : route.abort()));
    const page = await context.newPage();

    await page.goto(`${h.url}/admin/queues`, { waitUntil: 'domcontentloaded' });
    await page.getByText('kable-delivery').first().waitFor({ timeout: 15_000 });

    await page.goto(`${h.url}/admin/queues/queue/${queueName}?status=failed`, { waitUntil: 'domcontentloaded' });
    await page.getByText('HTTP 401').first().waitFor({ timeout: 15_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'queue-dashboard-failed.png'), fullPage: true });
    await context.close();

    // Without credentials the browser gets the login challenge (headless Chromium cannot show it and
    // fails the navigation), not the dashboard.
    const anonymous = await browser.newContext();
    const anonymousPage = await anonymous.newPage();
    await expect(anonymousPage.goto(`${h.url}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    const refused = await anonymous.request.get(`${h.url}/admin/queues`);
    expect(refused.status()).toBe(401);
    expect(refused.headers()['www-authenticate']).toBe('Basic realm="kable-destination admin"');
    await anonymous.close();
  }, 60_000);
});
