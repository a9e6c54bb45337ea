import request from 'supertest';
import { basicAuth, type Harness, startHarness, track, waitForDrained } from './support/harness.js';

const ADMIN_TOKEN = 'admin-token-for-event-selection-0123';
const admin = `Bearer ${ADMIN_TOKEN}`;

/** The value of one sample of /metrics, 0 when absent. */
async function metric(h: Harness, sample: string): Promise<number> {
  const text = (await request(h.url).get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

describe('KABLE_EVENTS and KABLE_EVENT_NAME_KEY: which track events are billed, with their name', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      KABLE_EVENTS: 'API Call,Storage *',
      KABLE_EVENT_NAME_KEY: 'event',
      KABLE_PROPERTIES_MAPPINGS: 'segmentX:kableX',
      ADMIN_TOKEN,
    });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.kable.reset());

  const notSelected = 'segment_messages_skipped_total{type="track",reason="event_not_selected"}';

  it('sends the selected events with data.event and skips the others, counted and absent at Kable', async () => {
    const skippedBefore = await metric(h, notSelected);
    const apiCall = track({ messageId: 'sel-api', event: 'API Call', properties: { segmentX: 'v', units: 3 } });
    const storage = track({ messageId: 'sel-storage', event: 'Storage Used', properties: { gigabytes: 1.5, event: 'a property' } });
    const pageViewed = track({ messageId: 'sel-page', event: 'Page Viewed' });
    const lowerCase = track({ messageId: 'sel-lower', event: 'api call' });
    const storageBare = track({ messageId: 'sel-storage-bare', event: 'Storage' });
    const res = await request(h.url)
      .post('/v1/batch')
      .set('authorization', basicAuth())
      .send({ batch: [apiCall, pageViewed, storage, lowerCase, storageBare] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, accepted: 5, queued: 2, deduplicated: 0, skipped: 3, rejected: [] });

    await h.kable.waitForEvents(2);
    await waitForDrained(h); // a skipped event wrongly queued would have arrived too
    expect(h.kable.events).toEqual([
      {
        clientId: 'customer_1',
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: 'sel-api',
        data: { kableX: 'v', units: 3, event: 'API Call' },
      },
      {
        clientId: 'customer_1',
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: 'sel-storage',
        // The event name wins over a property at the same key.
        data: { gigabytes: 1.5, event: 'Storage Used' },
      },
    ]);
    expect(await metric(h, notSelected)).toBe(skippedBefore + 3);

    const trace = await request(h.url).get('/v1/events/sel-page').set('authorization', admin);
    expect(trace.status).toBe(200);
    expect(trace.body).toMatchObject({
      messageId: 'sel-page',
      status: 'skipped',
      skipped: { type: 'track', reason: 'event_not_selected' },
    });
  });

  it('previews the same decisions: selected with the name (and a note when it replaced a property), not selected, membership', async () => {
    const preview = (body: Record<string, unknown>) => request(h.url).post('/v1/preview').set('authorization', admin).send(body);

    const selected = await preview(track({ messageId: 'pv-1', event: 'Storage Used', properties: { event: 'mine', n: 1 } }));
    expect(selected.status).toBe(200);
    expect(selected.body).toEqual({
      wouldSend: {
        clientId: 'customer_1',
        timestamp: '2022-01-09T09:32:01Z',
        transactionId: 'pv-1',
        data: { event: 'Storage Used', n: 1 },
      },
      notes: [
        'KABLE_EVENT_NAME_KEY: the event name replaced the value at data.event (from the properties or a mapping); rename that property or map it elsewhere to keep it',
      ],
    });

    expect((await preview(track({ messageId: 'pv-2', event: 'Page Viewed' }))).body).toEqual({
      skipped: { type: 'track', reason: 'event_not_selected' },
    });

    // Engage membership is membership, for the preview as for ingest (neither skipped nor a usage event).
    const personas = { computation_class: 'audience', computation_key: 'power_users' };
    const identify = { type: 'identify', userId: 'u9', messageId: 'pv-3', traits: { power_users: true }, context: { personas } };
    expect((await preview(identify)).body).toMatchObject({ membership: { audience: 'power_users', clientId: 'u9', member: true } });
    const entered = track({
      messageId: 'pv-4',
      event: 'Audience Entered',
      userId: 'u9',
      properties: { audience_key: 'power_users', power_users: true },
      context: { personas },
    });
    expect((await preview(entered)).body).toMatchObject({ membership: { audience: 'power_users', clientId: 'u9', member: true } });
  });
});
