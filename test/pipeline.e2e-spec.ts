import request from 'supertest';
import { Analytics } from '@segment/analytics-node';
import { basicAuth, type Harness, startHarness, waitForDrained, WRITE_KEY } from './support/harness.js';

describe('Segment in, Kable out', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness({ KABLE_PROPERTIES_MAPPINGS: 'segmentX:kableX' });
  });
  afterEach(async () => {
    await h.close();
  });

  it("delivers the seed's example exactly as the seed's Kable body", async () => {
    const res = await request(h.url)
      .post('/v1/track')
      .set('authorization', basicAuth())
      .send({
        event: 'your_event_type',
        userId: 'yourcompanyuser_1234567890',
        messageId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
        timestamp: '2022-01-09T09:32:01Z',
        properties: { segmentX: 'important data point', messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
      });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, accepted: 1, queued: 1, deduplicated: 0, skipped: 0, rejected: [] });
    await h.kable.waitForEvents(1);
    const req = h.kable.requests.at(0)!;
    expect(req.headers['kable-client-id']).toBe('kci_test_client');
    expect(req.headers['kable-client-secret']).toBe('sk_test.secret-api-key-0123456789');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.events).toEqual([
      {
        clientId: 'yourcompanyuser_1234567890',
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
        data: { kableX: 'important data point', messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
      },
    ]);
  });

  it('a /v1/batch of mixed types from @segment/analytics-node delivers exactly the track events, mapped', async () => {
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: h.url, flushAt: 20, maxEventsInBatch: 20 });
    analytics.identify({ userId: 'customer_1', traits: { plan: 'pro' } });
    analytics.track({ userId: 'customer_1', event: 'API Call', properties: { segmentX: 'a', units: 3 } });
    analytics.page({ userId: 'customer_1', name: 'Home' });
    analytics.track({ userId: 'customer_2', event: 'API Call', properties: { segmentX: 'b' } });
    analytics.group({ userId: 'customer_1', groupId: 'g1' });
    analytics.track({ anonymousId: 'anon', event: 'API Call' }); // no userId: skipped as missing_client_id
    analytics.screen({ userId: 'customer_1', name: 'Main' });
    analytics.alias({ userId: 'customer_1', previousId: 'old' });
    await analytics.closeAndFlush();

    await h.kable.waitForEvents(2);
    await waitForDrained(h);
    expect(h.kable.events.map((e) => [e.clientId, e.data])).toEqual([
      ['customer_1', { kableX: 'a', units: 3 }],
      ['customer_2', { kableX: 'b' }],
    ]);
    for (const event of h.kable.events) expect(event.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/);
  });
});
