import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import request from 'supertest';
import { QUEUES } from '../src/delivery/queues.js';
import { launchChromium } from './support/browser.js';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';
import { waitFor } from './support/wait.js';

const ADMIN_TOKEN = 'admin-token-for-csrf-browser-test-0123456789';
const VICTIM = 'csrf-victim';
const FORGED = 'csrf-forged-event';

/**
 * A `<form enctype="text/plain">` sends `name=value`: the name holds the JSON up to an `=` that
 * lands inside a string of it, so the body is valid JSON (the service reads any content type as JSON).
 */
function forgedForm(id: string, action: string, json: string, at: string, target: string): string {
  const cut = json.indexOf(at) + at.length;
  const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/'/g, '&#39;');
  return `<form id="${id}" method="POST" enctype="text/plain" action="${action}" target="${target}">
  <input type="hidden" name='${attr(json.slice(0, cut))}' value='${attr(json.slice(cut))}'>
</form>`;
}

/**
 * The attacker's pages, on another origin (localhost instead of 127.0.0.1, another port). `/`
 * discards ["csrf-victim", "="] and queues one Kable event for "victim" with data {"units": "="},
 * each in a new window (top level: Chromium keys its login cache by the top-level site, so a
 * forged request in a frame of this page would carry no credentials); `/frame` frames the dashboard.
 */
function attackerPage(path: string | undefined, target: string, queueName: string): string {
  if (path === '/frame') return `<!doctype html><title>cute cats</title><iframe name="dashboard" src="${target}/admin/queues"></iframe>`;
  const discard = forgedForm('discard', `${target}/v1/dead-letters/discard`, `{"transactionIds":["${VICTIM}",""]}`, '","', '_blank');
  const job = JSON.stringify({
    name: 'deliver',
    data: {
      source: 'ingest',
      events: [{ clientId: 'victim', transactionId: FORGED, timestamp: '2026-01-01T00:00:00Z', data: { units: '' } }],
    },
  });
  const add = forgedForm('add', `${target}/admin/queues/api/queues/${queueName}/add`, job, '"units":"', '_blank');
  return `<!doctype html><title>cute cats</title>
${discard}
${add}
<script>document.getElementById('discard').submit(); document.getElementById('add').submit();</script>`;
}

describe('cross-site request forgery against a browser logged in to the dashboard (real Chromium)', () => {
  let h: Harness;
  let browser: Browser;
  let attacker: Server;
  let attackerUrl: string;
  const deadLetter = () => request(h.url).get(`/v1/dead-letters/${VICTIM}`).set('authorization', `Bearer ${ADMIN_TOKEN}`);

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN });
    attacker = createServer((req, res) => {
      // The dashboard's first delivery queue: `kable-delivery`, or `0.kable-delivery` on a Redis Cluster.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(attackerPage(req.url, h.url, h.dashboardQueueNames()[0]!));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}`;
    // Only the two local servers resolve: nothing leaves this machine (the dashboard asks for web fonts).
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve(undefined)));
    await h?.close();
  });

  // Watches the browser's traffic (no interception): the answer the service gave to a forged POST.
  const answerTo = (context: BrowserContext, path: string) =>
    context.waitForEvent('response', {
      predicate: (r) => r.url() === `${h.url}${path}` && r.request().method() === 'POST',
      timeout: 15_000,
    });

  it('refuses the forged discard and add-job (403): nothing is discarded, queued or sent to Kable', async () => {
    // One dead letter: Kable refuses the event for good.
    h.kable.respondWith(() => ({ status: 401, body: { message: 'Unauthorized' } }));
    await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send(track({ messageId: VICTIM }))
      .expect(200);
    await waitFor(deadLetter, (res) => res.status === 200);
    h.kable.respondWith(undefined);
    const jobsBefore = await h.jobTotal();
    const kableRequestsBefore = h.kable.requests.length;

    // The operator is logged in: the browser answers the service's login challenge with the token.
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN, origin: h.url } });
    const page = await context.newPage();
    const dashboard = await page.goto(`${h.url}/admin/queues`, { waitUntil: 'domcontentloaded' });
    expect(dashboard?.status()).toBe(200);
    expect(dashboard?.headers()['x-frame-options']).toBe('DENY');
    expect(dashboard?.headers()['content-security-policy']).toBe("frame-ancestors 'none'");
    await page.getByText(QUEUES.delivery).first().waitFor({ timeout: 15_000 });

    // Then visits another site, which submits the forms at once. Before the fix both succeeded:
    // the dead letter was deleted and the forged event reached Kable.
    const discarded = answerTo(context, '/v1/dead-letters/discard');
    const added = answerTo(context, `/admin/queues/api/queues/${h.dashboardQueueNames()[0]!}/add`);
    await page.goto(attackerUrl, { waitUntil: 'domcontentloaded' });
    const [discardAnswer, addAnswer] = await Promise.all([discarded, added]);
    const refusal = {
      statusCode: 403,
      error: 'Forbidden',
      message:
        'cross-origin request refused: admin endpoints only accept requests from their own origin or from non-browser clients (curl, scripts); open the dashboard at its own address',
    };
    expect(discardAnswer.request().headers()['content-type']).toBe('text/plain');
    expect(discardAnswer.status()).toBe(403);
    expect(addAnswer.status()).toBe(403);
    expect(await addAnswer.json()).toEqual(refusal);
    expect(await discardAnswer.json()).toEqual(refusal);

    // Framed by another site, the dashboard is not shown (X-Frame-Options / frame-ancestors).
    await page.goto(`${attackerUrl}/frame`, { waitUntil: 'load' });
    const framed = await waitFor(
      () =>
        page
          .frames()
          .filter((f) => f !== page.mainFrame())
          .map((f) => f.url()),
      (urls) => urls.length === 1 && urls[0] !== '' && urls[0] !== 'about:blank' && urls[0] !== `${h.url}/admin/queues`,
      5_000,
    ).catch(() => page.frames().map((f) => f.url()));
    expect(framed).toEqual(['chrome-error://chromewebdata/']); // Chromium's "refused to connect"

    await waitForDrained(h); // a queued job would have reached Kable
    expect((await deadLetter()).status).toBe(200);
    expect(await h.jobTotal()).toBe(jobsBefore);
    expect(h.kable.requests.length).toBe(kableRequestsBefore);
    expect(h.kable.events.map((e) => e.transactionId)).not.toContain(FORGED);
    await context.close();
  }, 60_000);
});
