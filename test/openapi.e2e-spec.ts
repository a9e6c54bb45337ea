import request from 'supertest';
import { type Harness, startHarness } from './support/harness.js';

interface Operation {
  security?: Array<Record<string, unknown>>;
  responses: Record<string, { description: string; content?: Record<string, { example?: unknown; examples?: unknown }> }>;
  requestBody?: unknown;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  tags?: string[];
}

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
      paths: Record<string, Record<string, Operation>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    /** The operation at `method path`, which the document must have. */
    const op = (path: string, method: string): Operation => {
      const operation = doc.paths[path]?.[method];
      if (!operation) throw new Error(`the document has no ${method} ${path}`);
      return operation;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/health/live',
      '/health/ready',
      '/metrics',
      '/v1/audiences',
      '/v1/audiences/sync',
      '/v1/b',
      '/v1/batch',
      '/v1/dead-letters',
      '/v1/dead-letters/discard',
      '/v1/dead-letters/replay',
      '/v1/dead-letters/{transactionId}',
      '/v1/events/{messageId}',
      '/v1/import',
      '/v1/preview',
      '/v1/webhook',
      '/v1/{type}',
    ]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['admin', 'signature', 'writeKey']);
    const security = (path: string, method: string) => op(path, method).security;
    expect(security('/v1/batch', 'post')).toEqual([{ writeKey: [] }]);
    expect(security('/v1/webhook', 'post')).toEqual(expect.arrayContaining([{ writeKey: [] }, { signature: [] }]));
    expect(security('/v1/events/{messageId}', 'get')).toEqual([{ admin: [] }]);
    expect(security('/v1/preview', 'post')).toEqual([{ admin: [] }]);
    expect(security('/metrics', 'get')).toBeUndefined();
    for (const path of ['/v1/batch', '/v1/import', '/v1/b']) {
      expect(Object.keys(op(path, 'post').responses).sort()).toEqual(['200', '400', '401', '413', '415', '503']);
    }
    const single = op('/v1/{type}', 'post').parameters?.find((p) => p.name === 'type') as { schema?: { enum?: string[] } } | undefined;
    expect(single?.schema?.enum).toEqual(['track', 'identify', 'page', 'screen', 'group', 'alias', 't', 'i', 'p', 's', 'g', 'a']);
    expect(Object.keys(op('/v1/events/{messageId}', 'get').responses).sort()).toEqual(['200', '401', '403', '404']);

    // Every admin route: the admin scheme only, tagged admin, with its 401 and its other error answers.
    const adminRoutes: Array<[string, string, string[]]> = [
      ['/v1/events/{messageId}', 'get', ['200', '401', '403', '404']],
      ['/v1/preview', 'post', ['200', '401', '403']],
      ['/v1/dead-letters', 'get', ['200', '400', '401', '403']],
      ['/v1/dead-letters/{transactionId}', 'get', ['200', '401', '403', '404']],
      ['/v1/dead-letters/{transactionId}', 'delete', ['200', '401', '403', '404']],
      ['/v1/dead-letters/replay', 'post', ['200', '400', '401', '403']],
      ['/v1/dead-letters/discard', 'post', ['200', '400', '401', '403']],
      ['/v1/audiences', 'get', ['200', '401', '403']],
      ['/v1/audiences/sync', 'post', ['200', '401', '403', '500']],
    ];
    for (const [path, method, statuses] of adminRoutes) {
      const operation = op(path, method);
      expect({ path, method, security: operation.security, tags: operation.tags }).toEqual({
        path,
        method,
        security: [{ admin: [] }],
        tags: ['admin'],
      });
      expect({ path, method, responses: Object.keys(operation.responses).sort() }).toEqual({ path, method, responses: statuses });
      expect(operation.responses['401']?.content?.['application/json']?.example).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'missing or wrong admin token: send "Authorization: Bearer <ADMIN_TOKEN>"',
      });
      expect(operation.responses['403']?.content?.['application/json']?.example).toMatchObject({
        statusCode: 403,
        message: expect.stringMatching(/^cross-origin request refused: /),
      });
    }
    // Every admin route is in that list: a new one must be documented and listed here.
    const adminPaths = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, operation]) => operation.security?.some((s) => 'admin' in s))
        .map(([method]) => `${method} ${path}`),
    );
    expect(adminPaths.sort()).toEqual(adminRoutes.map(([path, method]) => `${method} ${path}`).sort());

    const deadLetters = op('/v1/dead-letters', 'get');
    expect(deadLetters.parameters?.map((p) => [p.name, p.in, p.required])).toEqual(
      ['status', 'reason', 'clientId', 'since', 'until', 'limit', 'cursor'].map((name) => [name, 'query', false]),
    );
    expect(op('/v1/dead-letters/{transactionId}', 'delete').parameters?.map((p) => [p.name, p.in, p.required])).toEqual([
      ['transactionId', 'path', true],
    ]);
    // The error answers are the service's real messages.
    expect(op('/v1/dead-letters/{transactionId}', 'delete').responses['404']?.content?.['application/json']?.example).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'no dead letter with transactionId "bad-0"',
    });
    expect(op('/v1/dead-letters/replay', 'post').responses['400']?.content?.['application/json']?.example).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message:
        'say exactly one of transactionIds, a filter or all: send { "transactionIds": [...] }, a filter such as { "status": 401, "since": "2h" }, or { "all": true }',
    });
    // Bodies and answers carry examples.
    expect(JSON.stringify(op('/v1/dead-letters/replay', 'post').requestBody)).toContain('"transactionIds":["forbidden-1","no-such-event"]');
    expect(JSON.stringify(op('/v1/dead-letters/replay', 'post').responses['200'])).toContain(
      '"replayed":1,"notFound":["no-such-event"],"more":false',
    );
    expect(JSON.stringify(deadLetters.responses['200'])).toContain('"reason":"HTTP 401","status":401');
    expect(JSON.stringify(op('/v1/audiences', 'get').responses['200'])).toContain('"syncInterval":"2h30m"');
    expect(JSON.stringify(op('/v1/audiences/sync', 'post').responses['200'])).toContain('"status":"completed"');
    expect(JSON.stringify(doc.paths['/v1/track'] ?? op('/v1/{type}', 'post').requestBody)).toContain(
      '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
    );
  });

  it('serves Swagger UI', async () => {
    const res = await request(h.url).get('/docs').redirects(2);
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});
