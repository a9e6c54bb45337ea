import { KableEmulator } from './kable-emulator.js';

const post = (url: string, events: unknown[]) =>
  fetch(`${url}/api/v1/events/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
const event = (id: string) => ({ clientId: 'c', timestamp: '2024-01-01T00:00:00Z', transactionId: id, data: {} });

describe('KableEmulator', () => {
  it('with retain: false keeps no requests or events, and still counts each transactionId and numbers the requests', async () => {
    const emulator = new KableEmulator({ retain: false });
    const indexes: number[] = [];
    emulator.respondWith((_events, { index }) => {
      indexes.push(index);
      return undefined;
    });
    const url = await emulator.start(0);
    try {
      expect((await post(url, [event('a'), event('b')])).status).toBe(200);
      expect((await post(url, [event('b'), event('c')])).status).toBe(200);
      expect(emulator.requests).toEqual([]);
      expect(emulator.events).toEqual([]);
      expect(emulator.count).toBe(3);
      expect([...emulator.arrivals]).toEqual([
        ['a', 1],
        ['b', 2],
        ['c', 1],
      ]);
      expect(indexes).toEqual([0, 1]);
    } finally {
      await emulator.stop();
    }
  });

  it('keeps every request and first-seen event by default', async () => {
    const emulator = new KableEmulator();
    const url = await emulator.start(0);
    try {
      await post(url, [event('a')]);
      await post(url, [event('a'), event('b')]);
      expect(emulator.requests.map((r) => r.events.length)).toEqual([1, 2]);
      expect(emulator.events.map((e) => e.transactionId)).toEqual(['a', 'b']);
    } finally {
      await emulator.stop();
    }
  });
});
