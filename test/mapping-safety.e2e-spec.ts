import request from 'supertest';
import { basicAuth, type Harness, KABLE_API_KEY, KABLE_CLIENT_ID, startHarness, waitForDrained } from './support/harness.js';
import { ensureBuilt, ServiceProcess } from './support/processes.js';

/** Posts a JSON text as it is: JSON.stringify cannot write 1e400, nor a lone surrogate unescaped. */
function postBatch(h: Harness, json: string) {
  return request(h.url).post('/v1/batch').set('authorization', basicAuth()).set('content-type', 'application/json').send(json);
}

function message(messageId: string, extra = ''): string {
  return `{"type":"track","event":"API Call","userId":"customer_1","messageId":${messageId},"timestamp":"2022-01-09T09:32:01Z"${extra}}`;
}

describe('mapping safety: prototypes, ids and numbers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ KABLE_PROPERTIES_MAPPINGS: 'segmentX:kableX,nested.field:meta.field' });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.kable.reset());

  it('carries a property named "__proto__" to Kable as data and writes nothing into Object.prototype', async () => {
    const properties = '{"__proto__":{"polluted":"yes"},"segmentX":"v","nested":{"field":1,"__proto__":{"deep":true}}}';
    const res = await postBatch(h, `{"batch":[${message('"proto-1"', `,"properties":${properties}`)}]}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, queued: 1, rejected: [] });
    await h.kable.waitForEvents(1);
    // The service runs in this process: a write into the prototype would show here.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).deep).toBeUndefined();
    expect(JSON.stringify(h.kable.events[0])).toBe(
      JSON.stringify({
        clientId: 'customer_1',
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: 'proto-1',
        data: JSON.parse('{"__proto__":{"polluted":"yes"},"kableX":"v","nested":{"__proto__":{"deep":true}},"meta":{"field":1}}'),
      }),
    );
  });

  it('rejects messageIds and userIds that are not well-formed Unicode, so three ids are never one', async () => {
    const res = await postBatch(
      h,
      `{"batch":[${message('"col\\ud800x"')},${message('"col\\udbffx"')},${message('"col\\ufffdx"')},${message('"u-1"').replace('"customer_1"', '"c\\udc00"')}]}`,
    );
    expect(res.status).toBe(200);
    const unicode = 'is not well-formed Unicode: it holds a lone UTF-16 surrogate, which UTF-8 cannot encode';
    expect(res.body).toEqual({
      success: true,
      accepted: 1,
      queued: 1,
      deduplicated: 0,
      skipped: 0,
      rejected: [
        {
          index: 0,
          messageId: 'col\ud800x',
          code: 'invalid_message_id',
          error: `messageId ${unicode}; two different ids would be deduplicated as one`,
        },
        {
          index: 1,
          messageId: 'col\udbffx',
          code: 'invalid_message_id',
          error: `messageId ${unicode}; two different ids would be deduplicated as one`,
        },
        { index: 3, messageId: 'u-1', code: 'invalid_identity', error: `userId ${unicode}` },
      ],
    });
    await h.kable.waitForEvents(1);
    expect(h.kable.events.map((e) => e.transactionId)).toEqual(['col\ufffdx']);
  });

  it('rejects a number Kable cannot receive (1e400), naming the field, and sends nothing as null', async () => {
    const res = await postBatch(
      h,
      `{"batch":[${message('"inf-1"', ',"properties":{"units":1e400}')},${message('"inf-2"', ',"properties":{"a":[1,{"b":-1e400}]}')},${message('"inf-3"', ',"properties":{"units":1e308}')}]}`,
    );
    expect(res.status).toBe(200);
    const why = 'is not a finite number (a JSON number such as 1e400 overflows to Infinity): Kable cannot receive it';
    expect(res.body).toMatchObject({
      accepted: 1,
      queued: 1,
      rejected: [
        { index: 0, messageId: 'inf-1', code: 'invalid_number', error: `properties.units ${why}` },
        { index: 1, messageId: 'inf-2', code: 'invalid_number', error: `properties.a.1.b ${why}` },
      ],
    });
    await h.kable.waitForEvents(1);
    await waitForDrained(h); // a wrongly queued event would have arrived too
    expect(h.kable.events.map((e) => [e.transactionId, e.data])).toEqual([['inf-3', { units: 1e308 }]]);
  });
});

describe('mapping safety: boot', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it.each([
    ['KABLE_PROPERTIES_MAPPINGS', '{"src":"__proto__.polluted"}'],
    ['KABLE_PROPERTIES_MAPPINGS', 'src:x.__proto__.y'],
    ['KABLE_CLIENT_ID_FIELD', 'context.constructor.prototype'],
  ])(
    '%s=%s stops the process with one line naming the variable',
    async (name, value) => {
      const service = await ServiceProcess.spawn({
        KABLE_API_KEY,
        KABLE_CLIENT_ID,
        SEGMENT_WRITE_KEYS: 'wk_boot_test',
        // Were it to boot after all, it would reach no Redis (and listens on a free port).
        REDIS_URL: 'redis://127.0.0.1:9',
        [name]: value,
      });
      try {
        expect(await service.waitForExit(20_000)).toEqual({ code: 1, signal: null });
      } finally {
        await service.stop();
      }
      const problems = service.output.filter((line) => line.startsWith('  - '));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^  - ${name} `));
    },
    30_000,
  );
});
