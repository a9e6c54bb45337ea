import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import esbuild from 'esbuild';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { request } from 'undici';
import { launchChromium } from './support/browser.js';
import { basicAuth, type Harness, startHarness, waitForDrained, WRITE_KEY } from './support/harness.js';
import { waitFor } from './support/wait.js';

// The real analytics.js (@segment/analytics-next, bundled by esbuild) in Debian's Chromium, on a
// page served from another origin than the service, so every call goes through a real CORS
// preflight. No request interception: the browser sees the service's own answers.
//
// What analytics.js 1.84 sends (read from node_modules/@segment/analytics-next/src/plugins/segmentio):
// POST `${protocol}://${apiHost}/` + the type's first letter (t, i, p, s, g, a), or `/b` with
// `deliveryStrategy: { strategy: 'batching' }` (body `{ writeKey, batch, sentAt }`, no sentAt per
// message); `Content-Type: text/plain`, `Authorization: Basic base64(writeKey + ':')` AND `writeKey`
// in the body; `X-Retry-Count` on retries only. The Authorization header is what makes the browser
// send a preflight (text/plain alone is a "simple" request): Chromium's preflight asks for
// `Access-Control-Request-Headers: authorization` only. Preflights are observed through DevTools
// (CDP Network events), which only watch; Playwright's own request events do not list them.

const ADMIN_TOKEN = 'admin-token-for-clients-browser-0123456789';
const ADMIN = `Bearer ${ADMIN_TOKEN}`;
const PAGE_SCRIPT = join(process.cwd(), 'test', 'fixtures', 'analytics-page.mjs');

interface Outcome {
  type: string;
  messageId: string;
  userId: string | null;
  anonymousId: string | null;
  errors: string[];
  failedDelivery: string | null;
}

interface PageApi {
  load(settings: {
    writeKey: string;
    apiHost: string;
    protocol: 'http' | 'https';
    deliveryStrategy?: unknown;
  }): Promise<{ version: string }>;
  call(method: string, args: unknown[]): Promise<Outcome>;
  directPost(url: string, body: unknown, authorization: string): Promise<{ status?: number; body?: string; error?: string }>;
}

/** The page's global (test/fixtures/analytics-page.mjs). page.evaluate sends a function's source, so each one names it itself. */
type PageGlobal = { kableTest: PageApi };

/** A CORS preflight as Chromium reports it over CDP (DevTools' Network panel): what it asked, what the service answered. */
interface Preflight {
  url: string;
  requestHeaders: Record<string, string>;
  status: number;
  headers: Record<string, string>;
}

const lowerKeys = (headers: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));

interface OpenPage {
  context: BrowserContext;
  page: Page;
  requests: Request[];
  preflights: Preflight[];
  /** Chromium's reasons for failing requests on CORS (Network.loadingFailed corsErrorStatus). */
  corsErrors: string[];
  console: string[];
  version: string;
  call(method: string, ...args: unknown[]): Promise<Outcome>;
}

async function metric(h: Harness, name: string): Promise<number> {
  const res = await request(`${h.url}/metrics`);
  const text = await res.body.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Waits until Kable took `n` events and the service holds nothing more for it (so a duplicate would have arrived). */
async function settled(h: Harness, n: number): Promise<void> {
  await h.kable.waitForEvents(n);
  await waitForDrained(h);
}

async function trace(h: Harness, messageId: string): Promise<Record<string, unknown>> {
  const res = await request(`${h.url}/v1/events/${encodeURIComponent(messageId)}`, { headers: { authorization: ADMIN } });
  return (await res.body.json()) as Record<string, unknown>;
}

/** How many times Kable was sent this transactionId, in any request (accepted or not). */
function timesSent(h: Harness, transactionId: string): number {
  return h.kable.requests.flatMap((r) => r.events).filter((e) => e.transactionId === transactionId).length;
}

describe('analytics.js (@segment/analytics-next) in Chromium, from a page of another origin', () => {
  let browser: Browser;
  let pageServer: Server;
  let pageOrigin: string;
  let withCors: Harness;
  let withoutCors: Harness;
  const opened: BrowserContext[] = [];

  beforeAll(async () => {
    const bundle = await esbuild.build({
      entryPoints: [PAGE_SCRIPT],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: 'chrome120',
      logLevel: 'silent',
    });
    await esbuild.stop();
    const script = bundle.outputFiles.at(0)!.text;
    pageServer = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><html><head><title>shop</title><script src="/analytics-page.js"></script></head><body>shop</body></html>');
      } else if (req.url === '/analytics-page.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        res.end(script);
      } else {
        res.writeHead(404).end();
      }
    });
    pageServer.listen(0, '127.0.0.1');
    await once(pageServer, 'listening');
    // "localhost" for the page, "127.0.0.1" for the service: two origins on this machine.
    pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
    [withCors, withoutCors] = await Promise.all([startHarness({ CORS_ORIGINS: pageOrigin, ADMIN_TOKEN }), startHarness({ ADMIN_TOKEN })]);
    browser = await launchChromium();
  }, 30_000);

  afterAll(async () => {
    for (const context of opened) await context.close().catch(() => undefined);
    await browser?.close();
    await withCors?.close();
    await withoutCors?.close();
    pageServer?.closeAllConnections();
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  /** Opens the shop page in a fresh browser profile and loads analytics.js pointed at `h`. */
  async function openPage(h: Harness, deliveryStrategy?: unknown): Promise<OpenPage> {
    const context = await browser.newContext();
    opened.push(context);
    const requests: Request[] = [];
    const consoleLines: string[] = [];
    context.on('request', (r) => requests.push(r));
    const page = await context.newPage();
    page.on('console', (message) => consoleLines.push(message.text()));
    // Observe (never intercept) the network through DevTools: it shows the preflights Playwright's events leave out.
    const cdp = await context.newCDPSession(page);
    // A preflight shows as a response of type Preflight; the headers it sent, in the request's ExtraInfo event.
    const sentHeaders = new Map<string, Record<string, string>>();
    const preflights: Array<Preflight & { requestId: string }> = [];
    const corsErrors: string[] = [];
    cdp.on('Network.requestWillBeSentExtraInfo', (e) => sentHeaders.set(e.requestId, lowerKeys(e.headers)));
    cdp.on('Network.responseReceived', (e) => {
      if (e.type === 'Preflight') {
        preflights.push({
          requestId: e.requestId,
          url: e.response.url,
          requestHeaders: {},
          status: e.response.status,
          headers: lowerKeys(e.response.headers),
        });
      }
    });
    cdp.on('Network.loadingFailed', (e) => {
      if (e.corsErrorStatus) corsErrors.push(e.corsErrorStatus.corsError);
    });
    await cdp.send('Network.enable');
    await page.goto(`${pageOrigin}/`, { waitUntil: 'load' });
    const { version } = await page.evaluate((settings) => (globalThis as unknown as PageGlobal).kableTest.load(settings), {
      writeKey: WRITE_KEY,
      apiHost: `${h.url.replace('http://', '')}/v1`,
      protocol: 'http' as const,
      deliveryStrategy,
    });
    return {
      context,
      page,
      requests,
      get preflights() {
        return preflights.map(({ requestId, ...f }) => ({ ...f, requestHeaders: sentHeaders.get(requestId) ?? {} }));
      },
      corsErrors,
      console: consoleLines,
      version,
      call: (method, ...args) =>
        page.evaluate(([m, a]) => (globalThis as unknown as PageGlobal).kableTest.call(m, a), [method, args] as const),
    };
  }

  /** Every request the page made went to the page's own origin or to the service: nothing to Segment's CDN or API. */
  function expectOnlyLocal(requests: Request[], h: Harness): void {
    const elsewhere = requests.map((r) => r.url()).filter((url) => !url.startsWith(`${pageOrigin}/`) && !url.startsWith(`${h.url}/`));
    expect(elsewhere).toEqual([]);
  }

  /** Before each POST it sent, Chromium asked the service (a preflight) and the service said yes to this page's origin. */
  function expectPreflightsAllowed(p: OpenPage, urls: string[]): void {
    for (const url of new Set(urls)) {
      const asked = p.preflights.filter((f) => f.url === url);
      expect({ url, preflightAnswered: asked.length > 0 }).toEqual({ url, preflightAnswered: true });
      for (const f of asked) {
        expect(f.requestHeaders['access-control-request-method']).toBe('POST');
        expect(f.requestHeaders['access-control-request-headers']).toContain('authorization');
        expect(f.requestHeaders.origin).toBe(pageOrigin);
        expect(f.status).toBe(204);
        expect(f.headers['access-control-allow-origin']).toBe(pageOrigin);
      }
    }
  }

  it('standard delivery: identify, then track; Kable gets the track once, with the messageId analytics.js made', async () => {
    const h = withCors;
    h.kable.reset();
    const dedupBefore = await metric(h, 'segment_messages_deduplicated_total');
    const started = Date.now();
    const p = await openPage(h);
    expect(p.version).toBe('1.84.3');

    const identify = await p.call('identify', 'customer_1', { plan: 'pro' });
    const tracked = await p.call('track', 'API Call', { endpoint: '/v1/things', objectCount: 3 });
    const paged = await p.call('page', 'Docs', 'Getting started');
    for (const outcome of [identify, tracked, paged]) {
      expect(outcome).toMatchObject({ userId: 'customer_1', errors: [], failedDelivery: null });
      expect(outcome.messageId).toMatch(/^ajs-next-/);
    }

    await settled(h, 1);
    expect(h.kable.events).toEqual([
      {
        clientId: 'customer_1',
        transactionId: tracked.messageId,
        data: { endpoint: '/v1/things', objectCount: 3 },
        timestamp: expect.any(String),
      },
    ]);
    const at = Date.parse(h.kable.events.at(0)!.timestamp);
    expect(at).toBeGreaterThanOrEqual(started - 5_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(timesSent(h, tracked.messageId)).toBe(1);
    expect(await trace(h, tracked.messageId)).toMatchObject({ status: 'delivered', delivered: { attempts: 1 } });
    expect(await trace(h, identify.messageId)).toMatchObject({ status: 'skipped' });
    expect(await trace(h, paged.messageId)).toMatchObject({ status: 'skipped' });
    // analytics.js sent each call once (no retry reached the service twice).
    expect(await metric(h, 'segment_messages_deduplicated_total')).toBe(dedupBefore);

    // What went over the wire, as the browser saw it.
    const posts = p.requests.filter((r) => r.method() === 'POST');
    expect(posts.map((r) => r.url())).toEqual([`${h.url}/v1/i`, `${h.url}/v1/t`, `${h.url}/v1/p`]);
    for (const post of posts) {
      expect((await post.response())?.status()).toBe(200);
      const headers = await post.allHeaders();
      expect(headers['content-type']).toBe('text/plain');
      expect(headers.authorization).toBe(basicAuth());
      expect(headers.origin).toBe(pageOrigin);
      expect(post.postDataJSON()).toMatchObject({ writeKey: WRITE_KEY, userId: 'customer_1' });
    }
    expect(posts.at(1)!.postDataJSON()).toMatchObject({
      type: 'track',
      event: 'API Call',
      messageId: tracked.messageId,
      properties: { endpoint: '/v1/things', objectCount: 3 },
    });
    expectPreflightsAllowed(
      p,
      posts.map((r) => r.url()),
    );
    expect(p.corsErrors).toEqual([]);
    expectOnlyLocal(p.requests, h);
    await p.context.close();
  }, 30_000);

  it('batching delivery (/v1/b): several tracks in one or more batches, each reaches Kable exactly once', async () => {
    const h = withCors;
    h.kable.reset();
    const dedupBefore = await metric(h, 'segment_messages_deduplicated_total');
    const p = await openPage(h, { strategy: 'batching', config: { size: 3, timeout: 200 } });

    const identify = await p.call('identify', 'customer_1');
    const tracks: Outcome[] = [];
    for (let i = 1; i <= 4; i += 1) tracks.push(await p.call('track', 'API Call', { endpoint: '/v1/things', objectCount: i }));
    for (const outcome of [identify, ...tracks]) expect(outcome).toMatchObject({ userId: 'customer_1', errors: [], failedDelivery: null });
    expect(new Set(tracks.map((t) => t.messageId)).size).toBe(4);

    await settled(h, 4);
    expect([...h.kable.events].sort((a, b) => Number(a.data.objectCount) - Number(b.data.objectCount))).toEqual(
      tracks.map((t, i) => ({
        clientId: 'customer_1',
        transactionId: t.messageId,
        data: { endpoint: '/v1/things', objectCount: i + 1 },
        timestamp: expect.any(String),
      })),
    );
    for (const t of tracks) {
      expect(timesSent(h, t.messageId)).toBe(1);
      expect(await trace(h, t.messageId)).toMatchObject({ status: 'delivered', delivered: { attempts: 1 } });
    }
    expect(await trace(h, identify.messageId)).toMatchObject({ status: 'skipped' });
    expect(await metric(h, 'segment_messages_deduplicated_total')).toBe(dedupBefore);

    // Only /v1/b requests, all answered 200, that together carry each message once.
    const posts = p.requests.filter((r) => r.method() === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(1);
    const carried: string[] = [];
    for (const post of posts) {
      expect(post.url()).toBe(`${h.url}/v1/b`);
      expect((await post.response())?.status()).toBe(200);
      const headers = await post.allHeaders();
      expect(headers['content-type']).toBe('text/plain');
      expect(headers.authorization).toBe(basicAuth());
      const body = post.postDataJSON() as { writeKey: string; sentAt: string; batch: Array<{ messageId: string }> };
      expect(body).toMatchObject({ writeKey: WRITE_KEY, sentAt: expect.any(String) });
      carried.push(...body.batch.map((m) => m.messageId));
    }
    expect(carried.sort()).toEqual([identify, ...tracks].map((o) => o.messageId).sort());
    expectPreflightsAllowed(
      p,
      posts.map((r) => r.url()),
    );
    expect(p.corsErrors).toEqual([]);
    expectOnlyLocal(p.requests, h);
    await p.context.close();
  }, 30_000);

  it('without CORS_ORIGINS the browser refuses the calls after the preflight, and nothing reaches Kable', async () => {
    const h = withoutCors;
    h.kable.reset();
    const p = await openPage(h);

    const tracked = await p.call('track', 'API Call', { endpoint: '/v1/things' }, { userId: 'customer_1' });
    expect(tracked.userId).toBe('customer_1');
    expect(tracked.errors).toEqual([expect.stringContaining('Failed to fetch')]);
    const direct = await p.page.evaluate(
      ([url, body, auth]) => (globalThis as unknown as PageGlobal).kableTest.directPost(url, body, auth),
      [
        `${h.url}/v1/t`,
        { type: 'track', event: 'API Call', userId: 'customer_1', messageId: 'browser-direct-1', properties: { endpoint: '/v1/things' } },
        basicAuth(),
      ] as const,
    );
    expect(direct).toEqual({ error: 'TypeError: Failed to fetch' });
    // The service did answer the preflights (a refused connection reads differently), without permission for this origin.
    // DevTools reports the failures a moment after the page saw them.
    await waitFor(
      () => p.corsErrors,
      (errors) => errors.length >= 2,
    );
    expect(new Set(p.corsErrors)).toEqual(new Set(['PreflightMissingAllowOriginHeader']));
    const refusals = p.preflights.filter((f) => f.url === `${h.url}/v1/t`);
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    for (const f of refusals) {
      expect(f.requestHeaders.origin).toBe(pageOrigin);
      expect(f.headers['access-control-allow-origin']).toBeUndefined();
    }
    // And Chromium tells the developer why, in the console.
    const blocked = p.console.filter((line) => line.includes('blocked by CORS policy'));
    expect(blocked.length).toBeGreaterThanOrEqual(2);
    for (const line of blocked) {
      expect(line).toContain("Response to preflight request doesn't pass access control check");
      expect(line).toContain('Access-Control-Allow-Origin');
    }

    // The POSTs never left the browser: the service received no message, Kable no event.
    expect(await metric(h, 'segment_messages_received_total')).toBe(0);
    expect(h.kable.count).toBe(0);
    expect(h.kable.requests).toEqual([]);
    expect((await request(`${h.url}/v1/events/browser-direct-1`, { headers: { authorization: ADMIN } })).statusCode).toBe(404);
    expectOnlyLocal(p.requests, h);
    await p.context.close();
  }, 30_000);

  it('answers the preflight itself (checked from Node): ingest paths allow the configured origin, admin paths never answer CORS', async () => {
    const preflight = (h: Harness, path: string, origin = pageOrigin, method = 'POST') =>
      request(`${h.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
      });

    for (const path of ['/v1/t', '/v1/b', '/v1/track', '/v1/batch']) {
      const res = await preflight(withCors, path);
      await res.body.dump();
      expect({ path, status: res.statusCode }).toEqual({ path, status: 204 });
      expect(res.headers['access-control-allow-origin']).toBe(pageOrigin);
      const allowed = String(res.headers['access-control-allow-headers'] ?? '')
        .toLowerCase()
        .split(/\s*,\s*/);
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type']));
      expect(String(res.headers['access-control-allow-methods'] ?? '').toUpperCase()).toContain('POST');
      expect(Number(res.headers['access-control-max-age'])).toBeGreaterThan(0);
      // The answer depends on Origin: caches between browser and service must keep one per origin.
      expect(String(res.headers.vary ?? '')).toMatch(/\borigin\b/i);
    }

    // Another origin, or a service without CORS_ORIGINS: no permission.
    const stranger = await preflight(withCors, '/v1/t', 'http://shop.example');
    await stranger.body.dump();
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    const off = await preflight(withoutCors, '/v1/t');
    await off.body.dump();
    expect(off.headers['access-control-allow-origin']).toBeUndefined();

    // Admin endpoints never answer CORS, not even to the allowed origin.
    for (const [path, method] of [
      ['/v1/dead-letters', 'GET'],
      ['/v1/dead-letters', 'DELETE'],
      ['/v1/events/anything', 'GET'],
    ] as const) {
      const res = await preflight(withCors, path, pageOrigin, method);
      await res.body.dump();
      expect({ path, method, allowOrigin: res.headers['access-control-allow-origin'] }).toEqual({ path, method, allowOrigin: undefined });
    }
    const adminGet = await request(`${withCors.url}/v1/dead-letters`, { headers: { origin: pageOrigin, authorization: ADMIN } });
    await adminGet.body.dump();
    expect(adminGet.headers['access-control-allow-origin']).toBeUndefined();
  });
});
