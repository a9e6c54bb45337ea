import { audienceSeries, OTHER_AUDIENCES, sharedRead } from './audience-series.js';

const count = (audience: string, members: number, pendingChanges = 0) => ({ audience, members, pendingChanges });

describe('audienceSeries', () => {
  it('keeps every audience when there are no more than the limit', () => {
    expect(audienceSeries([count('b', 1), count('a', 3, 2)], 2)).toEqual([count('a', 3, 2), count('b', 1)]);
  });

  it('keeps the largest audiences by members and sums the rest into one (other) series', () => {
    const counts = [count('small', 1, 4), count('big', 100, 1), count('mid', 10), count('tiny', 0, 7)];
    expect(audienceSeries(counts, 2)).toEqual([count('big', 100, 1), count('mid', 10), count(OTHER_AUDIENCES, 1, 11)]);
  });

  it('is bounded whatever the number of audiences, and picks the same ones on every scrape', () => {
    const counts = Array.from({ length: 5000 }, (_, i) => count(`aud_${i}`, 1));
    const series = audienceSeries(counts, 50);
    expect(series).toHaveLength(51);
    expect(series.slice(0, 2).map((s) => s.audience)).toEqual(['aud_0', 'aud_1']);
    expect(series[50]).toEqual(count(OTHER_AUDIENCES, 4950));
    expect(audienceSeries([...counts].reverse(), 50)).toEqual(series);
  });

  it('sums an audience named "(other)" with the rest instead of giving it a clashing series', () => {
    expect(audienceSeries([count(OTHER_AUDIENCES, 9), count('a', 1)], 5)).toEqual([count('a', 1), count(OTHER_AUDIENCES, 9)]);
  });
});

describe('sharedRead', () => {
  it('serves calls inside the window from one read, then reads again', async () => {
    let t = 0;
    let reads = 0;
    const read = sharedRead(
      () => Promise.resolve(++reads),
      5000,
      () => t,
    );
    expect(await Promise.all([read(), read()])).toEqual([1, 1]);
    t = 4999;
    expect(await read()).toBe(1);
    t = 5000;
    expect(await read()).toBe(2);
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const read = sharedRead(() => (fail ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve('ok')), 5000);
    await expect(read()).rejects.toThrow('Connection is closed.');
    fail = false;
    expect(await read()).toBe('ok');
  });
});
