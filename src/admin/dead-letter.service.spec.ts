import { Logger } from '@nestjs/common';
import type { DeadLetterFilter } from '../delivery/dead-letter.filter.js';
import { type DeadLetter, type DeadLetterStore, SCAN_CHUNK, type StoredDeadLetter } from '../delivery/dead-letter.store.js';
import type { JobRef } from '../platform/redis/keys.js';
import type { DeliveryProducer } from '../delivery/delivery.producer.js';
import { DeadLetterService, MAX_PER_CALL } from './dead-letter.service.js';

function stored(id: string): StoredDeadLetter {
  const letter: DeadLetter = {
    event: { clientId: 'c', timestamp: '2026-03-01T00:00:00Z', transactionId: id, data: {} },
    reason: 'HTTP 401',
    status: 401,
    attempts: 1,
    queuedAt: 1,
    failedAt: 2,
  };
  return { letter, raw: JSON.stringify(letter) };
}

/** The store's entries in memory; `changed` ones were dead-lettered again since they were read (not removed). */
class FakeStore implements Pick<DeadLetterStore, 'getStored' | 'removeIfUnchanged' | 'forEachChunk'> {
  readonly entries = new Map<string, StoredDeadLetter>();
  readonly changed = new Set<string>();
  readonly log: string[] = [];
  /** What forEachChunk hands out, chunk by chunk, and whether it says more remain. */
  chunks: StoredDeadLetter[][] = [];
  more = false;
  scanned?: { filter: DeadLetterFilter; maxSelected?: number; visited: string[][] };

  constructor(ids: string[] = []) {
    for (const id of ids) this.entries.set(id, stored(id));
  }

  getStored(ids: string[]): Promise<(StoredDeadLetter | undefined)[]> {
    return Promise.resolve(ids.map((id) => this.entries.get(id)));
  }

  removeIfUnchanged(entries: StoredDeadLetter[]): Promise<string[]> {
    const removed = entries.map((e) => e.letter.event.transactionId).filter((id) => !this.changed.has(id) && this.entries.delete(id));
    this.log.push(`remove ${removed.join(',')}`);
    return Promise.resolve(removed);
  }

  async forEachChunk(
    filter: DeadLetterFilter,
    visit: (entries: StoredDeadLetter[]) => Promise<string[]>,
    maxSelected?: number,
  ): Promise<{ more: boolean }> {
    this.scanned = { filter, maxSelected, visited: [] };
    for (const chunk of this.chunks) this.scanned.visited.push(await visit(chunk));
    return { more: this.more };
  }
}

class FakeProducer implements Pick<DeliveryProducer, 'enqueue'> {
  readonly jobs: Array<{ ids: string[]; source: string }> = [];
  failWith?: Error;

  constructor(private readonly log: string[]) {}

  enqueue(events: DeadLetter['event'][], source: 'ingest' | 'engage' | 'replay'): Promise<JobRef | undefined> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.jobs.push({ ids: events.map((e) => e.transactionId), source });
    this.log.push(`enqueue ${events.map((e) => e.transactionId).join(',')}`);
    return Promise.resolve({ shard: 0, id: String(this.jobs.length) });
  }
}

function setup(ids: string[] = []) {
  const store = new FakeStore(ids);
  const producer = new FakeProducer(store.log);
  // The fakes implement the methods the service calls (checked by `implements Pick<…>`).
  const service = new DeadLetterService(store as unknown as DeadLetterStore, producer as unknown as DeliveryProducer);
  return { store, producer, service };
}

describe('DeadLetterService', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('replays named dead letters unchanged, queued before they leave the store, and names those not found', async () => {
    const { store, producer, service } = setup(['a', 'b']);
    const result = await service.replay({ kind: 'ids', transactionIds: ['a', 'x', 'b'] });
    expect(result).toEqual({ count: 2, notFound: ['x'], more: false });
    expect(producer.jobs).toEqual([{ ids: ['a', 'b'], source: 'replay' }]);
    expect(store.log).toEqual(['enqueue a,b', 'remove a,b']);
    expect([...store.entries.keys()]).toEqual([]);
  });

  it('queues a large replay in jobs of at most SCAN_CHUNK events', async () => {
    const ids = Array.from({ length: 2 * SCAN_CHUNK + 1 }, (_, i) => `e${i}`);
    const { producer, service } = setup(ids);
    const result = await service.replay({ kind: 'ids', transactionIds: ids });
    expect(result).toEqual({ count: ids.length, notFound: [], more: false });
    expect(producer.jobs.map((j) => j.ids.length)).toEqual([SCAN_CHUNK, SCAN_CHUNK, 1]);
    expect(producer.jobs.flatMap((j) => j.ids)).toEqual(ids);
  });

  it('keeps every dead letter when the events cannot be queued', async () => {
    const { store, producer, service } = setup(['a', 'b']);
    producer.failWith = new Error('Redis is down');
    await expect(service.replay({ kind: 'ids', transactionIds: ['a', 'b'] })).rejects.toThrow('Redis is down');
    expect(store.log).toEqual([]);
    expect([...store.entries.keys()]).toEqual(['a', 'b']);
  });

  it('discards named dead letters without queueing them, counting only those still unchanged', async () => {
    const { store, producer, service } = setup(['a', 'b', 'c']);
    store.changed.add('b');
    const result = await service.discard({ kind: 'ids', transactionIds: ['a', 'b', 'c', 'gone'] });
    expect(result).toEqual({ count: 2, notFound: ['gone'], more: false });
    expect(producer.jobs).toEqual([]);
    expect([...store.entries.keys()]).toEqual(['b']);
  });

  it('replays what a filter selects chunk by chunk, bounded per call, and says when more remain', async () => {
    const { store, producer, service } = setup(['a', 'b', 'c']);
    store.chunks = [[stored('a'), stored('b')], [stored('c')]];
    store.more = true;
    const filter = { statuses: [401] };
    const result = await service.replay({ kind: 'filter', filter });
    expect(result).toEqual({ count: 3, more: true });
    expect(producer.jobs).toEqual([
      { ids: ['a', 'b'], source: 'replay' },
      { ids: ['c'], source: 'replay' },
    ]);
    expect(store.log).toEqual(['enqueue a,b', 'remove a,b', 'enqueue c', 'remove c']);
    // Every entry of a chunk is reported as leaving the index, so the scan moves on past it.
    expect(store.scanned).toEqual({ filter, maxSelected: MAX_PER_CALL, visited: [['a', 'b'], ['c']] });
  });

  it('discards what a filter selects and answers 0 for a filter that selects nothing', async () => {
    const { store, service } = setup(['a']);
    store.chunks = [[stored('a')]];
    expect(await service.discard({ kind: 'filter', filter: {} })).toEqual({ count: 1, more: false });
    expect([...store.entries.keys()]).toEqual([]);

    store.chunks = [];
    expect(await service.discard({ kind: 'filter', filter: { text: 'nothing' } })).toEqual({ count: 0, more: false });
  });
});
