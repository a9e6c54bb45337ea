import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { basicAuth, type Harness, startHarness, track, WRITE_KEY } from './support/harness.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

describe('hardening: who may call what', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN });
  });
  afterAll(async () => {
    await h.close();
  });

  const adminCall = (authorization?: string) => {
    const req = request(h.url).get('/v1/dead-letters');
    return authorization === undefined ? req : req.set('authorization', authorization);
  };

  it('admin endpoints take the admin token (Bearer, or Basic password) and nothing else', async () => {
    expect((await adminCall(`Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
    expect((await adminCall(`Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`)).status).toBe(200);
    for (const authorization of [
      undefined,
      basicAuth(),
      `Bearer ${WRITE_KEY}`,
      `Basic ${Buffer.from(`x:${WRITE_KEY}`).toString('base64')}`,
      `Bearer ${ADMIN_TOKEN}x`,
      `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
      `Basic ${Buffer.from(`${ADMIN_TOKEN}:`).toString('base64')}`,
      'Bearer',
      ADMIN_TOKEN,
    ]) {
      const res = await adminCall(authorization);
      expect([authorization, res.status]).toEqual([authorization, 401]);
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'missing or wrong admin token: send "Authorization: Bearer <ADMIN_TOKEN>"',
      });
    }
    const replay = await request(h.url).post('/v1/dead-letters/replay').set('authorization', basicAuth()).send({ all: true });
    expect(replay.status).toBe(401);
    const discard = await request(h.url).delete('/v1/dead-letters/x').set('authorization', `Bearer ${WRITE_KEY}`);
    expect(discard.status).toBe(401);
  });

  it('ingest takes write keys and not the admin token', async () => {
    const unauthorized = {
      statusCode: 401,
      error: 'Unauthorized',
      message: 'missing or unknown write key: send it as the HTTP Basic user name with an empty password, or as "writeKey" in the body',
    };
    for (const [authorization, body] of [
      [basicAuth(ADMIN_TOKEN), track()],
      [`Bearer ${ADMIN_TOKEN}`, track()],
      [undefined, track({ writeKey: ADMIN_TOKEN })],
      [`Basic ${Buffer.from(`x:${ADMIN_TOKEN}`).toString('base64')}`, track()],
    ] as const) {
      const req = request(h.url).post('/v1/track');
      const res = await (authorization ? req.set('authorization', authorization) : req).send(body);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(unauthorized);
    }
    const batch = await request(h.url)
      .post('/v1/batch')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ batch: [track()] });
    expect(batch.status).toBe(401);
    expect((await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(track())).status).toBe(200);
    expect(
      (
        await request(h.url)
          .post('/v1/track')
          .send(track({ writeKey: WRITE_KEY }))
      ).status,
    ).toBe(200);
  });

  it('with no ADMIN_TOKEN the admin API is closed', async () => {
    const closed = await startHarness();
    try {
      const res = await request(closed.url).get('/v1/dead-letters').set('authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(res.status).toBe(401);
      expect(res.body.message).toBe('the admin API is disabled: set ADMIN_TOKEN to enable it');
    } finally {
      await closed.close();
    }
  });
});

describe('hardening: body size and shape', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN });
  });
  afterAll(async () => {
    await h.close();
  });

  it('refuses a body past the limit while it is still being sent (chunked, no Content-Length)', async () => {
    const url = new URL('/v1/batch', h.url);
    const { status, body, written } = await new Promise<{ status: number; body: string; written: number }>((resolve, reject) => {
      let written = 0;
      let answered = false;
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: basicAuth() },
        },
        (res) => {
          answered = true;
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, written }));
        },
      );
      req.on('error', (error) => (answered ? undefined : reject(error)));
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      req.write('{"batch":[');
      const pump = () => {
        // Up to 50 MB; the server must answer long before.
        while (!answered && written < 50 * 1024 * 1024) {
          written += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: `body is over ${500 * 1024} bytes, the limit for /v1/batch`,
    });
    expect(written).toBeLessThan(20 * 1024 * 1024);
  });

  it('refuses a single message over 32 KB and a batch over 500 KB with the limit in the message', async () => {
    const big = track({ properties: { blob: 'x'.repeat(33 * 1024) } });
    const single = await request(h.url).post('/v1/track').set('authorization', basicAuth()).send(big);
    expect(single.status).toBe(413);
    expect(single.body.message).toMatch(/^body is \d+ bytes; the limit for \/v1\/track is 32768 bytes$/);
    const batch = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: Array.from({ length: 20 }, () => big) });
    expect(batch.status).toBe(413);
  });

  it('refuses deep nesting before parsing: 400, never a 500 or a stalled process', async () => {
    const depthMessage = 'body nests objects or arrays more than 64 levels deep; Segment messages need far fewer';
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const cases: [string, string][] = [
      ['/v1/track', `{"type":"track","event":"e","userId":"u","properties":{"a":${deep(10_000)}}}`],
      ['/v1/batch', `{"batch":[{"type":"track","event":"e","userId":"u","properties":{"a":${deep(100_000)}}}]}`],
      ['/v1/webhook', deep(200_000)],
      ['/v1/batch', '{"batch":' + '['.repeat(400_000)],
    ];
    for (const [path, body] of cases) {
      const res = await request(h.url).post(path).set('authorization', basicAuth()).set('content-type', 'application/json').send(body);
      expect([path, res.status, res.body.message]).toEqual([path, 400, depthMessage]);
    }
    // 60 levels inside properties (62 in the body) are fine and reach Kable intact.
    let nested: unknown = 'bottom';
    for (let i = 0; i < 60; i++) nested = { n: nested };
    const ok = await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send(track({ messageId: 'deep-ok', properties: { nested } }));
    expect(ok.status).toBe(200);
    await h.kable.waitForEvents(1);
    expect(h.kable.events.at(0)!.data).toEqual({ nested });
    expect((await request(h.url).get('/health/live')).status).toBe(200);
  });

  it('invalid JSON is a 400 that does not repeat the body', async () => {
    const res = await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .set('content-type', 'application/json')
      .send(`{"writeKey":"${WRITE_KEY}", oops}`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^body is not valid JSON/);
    expect(JSON.stringify(res.body)).not.toContain(WRITE_KEY);
    const plain = await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .set('content-type', 'text/plain')
      .send(`sk_${WRITE_KEY}`);
    expect(plain.status).toBe(400);
    expect(JSON.stringify(plain.body)).not.toContain(WRITE_KEY);
  });
});
