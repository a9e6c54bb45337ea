import request from 'supertest';
import { type Harness, startHarness } from './support/harness.js';

describe('OpenAPI at /docs', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ ADMIN_TOKEN: 'admin-token-for-docs-0123456789' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('documents every endpoint with its auth, examples and error answers', async () => {
    const res = await request(h.url).get('/docs-json');
    expect(res.status).toBe(200);
    const doc = res.body as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { security?: Array<Record<string, unknown>>; responses: Record<string, unknown>; requestBody?: unknown }>
      >;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/health/live',
      '/health/ready',
      '/metrics',
      '/v1/batch',
      '/v1/events/{messageId}',
      '/v1/preview',
      '/v1/webhook',
      '/v1/{type}',
    ]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['admin', 'signature', 'writeKey']);
    const security = (path: string, method: string) => doc.paths[path][method].security;
    expect(security('/v1/batch', 'post')).toEqual([{ writeKey: [] }]);
    expect(security('/v1/webhook', 'post')).toEqual(expect.arrayContaining([{ writeKey: [] }, { signature: [] }]));
    expect(security('/v1/events/{messageId}', 'get')).toEqual([{ admin: [] }]);
    expect(security('/v1/preview', 'post')).toEqual([{ admin: [] }]);
    expect(security('/metrics', 'get')).toBeUndefined();
    expect(Object.keys(doc.paths['/v1/batch'].post.responses).sort()).toEqual(['200', '400', '401', '413', '503']);
    expect(Object.keys(doc.paths['/v1/events/{messageId}'].get.responses).sort()).toEqual(['200', '401', '404']);
    expect(JSON.stringify(doc.paths['/v1/track'] ?? doc.paths['/v1/{type}'].post.requestBody)).toContain(
      '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
    );
  });

  it('serves Swagger UI', async () => {
    const res = await request(h.url).get('/docs').redirects(2);
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});
