import { jest } from '@jest/globals';
import { GroupCommitter } from './group-commit.js';

interface Deferred {
  items: number[];
  resolve: (results: string[]) => void;
  reject: (error: Error) => void;
}

/** A committer whose commits the test settles by hand. */
function manual(options: Partial<{ maxInFlight: number; maxWeight: number; slotTimeoutMs: number }> = {}) {
  const commits: Deferred[] = [];
  const committer = new GroupCommitter<number, string>(
    (items) =>
      new Promise((resolve, reject) => {
        commits.push({ items, resolve, reject });
      }),
    { maxInFlight: 1, maxWeight: 100, weight: (n) => n, slotTimeoutMs: 60_000, ...options },
  );
  const answers = (items: number[]) => items.map((n) => `ok ${n}`);
  const commit = (i: number): Deferred => {
    const found = commits[i];
    if (!found) throw new Error(`commit ${i} has not started (${commits.length} have)`);
    return found;
  };
  return { commits, commit, committer, answers };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommitter', () => {
  it('commits at once when nothing is in flight, and groups what arrives meanwhile', async () => {
    const { commits, commit, committer, answers } = manual();
    const first = committer.submit(1);
    expect(commits.map((c) => c.items)).toEqual([[1]]);
    const later = [committer.submit(2), committer.submit(3), committer.submit(4)];
    expect(commits).toHaveLength(1);
    commit(0).resolve(answers(commit(0).items));
    expect(await first).toBe('ok 1');
    expect(commits.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    commit(1).resolve(answers(commit(1).items));
    expect(await Promise.all(later)).toEqual(['ok 2', 'ok 3', 'ok 4']);
  });

  it('runs up to maxInFlight commits at once', () => {
    const { commits, committer } = manual({ maxInFlight: 2 });
    for (const n of [1, 2, 3, 4]) void committer.submit(n);
    expect(commits.map((c) => c.items)).toEqual([[1], [2]]);
  });

  it('keeps groups under maxWeight, in arrival order, and never splits an item', async () => {
    const { commits, commit, committer, answers } = manual({ maxWeight: 10 });
    const all = [5, 4, 3, 8, 20, 1].map((n) => committer.submit(n));
    for (let i = 0; i < 5; i++) {
      commit(i).resolve(answers(commit(i).items));
      await flush();
    }
    expect(commits.map((c) => c.items)).toEqual([[5], [4, 3], [8], [20], [1]]);
    expect(await Promise.all(all)).toEqual(['ok 5', 'ok 4', 'ok 3', 'ok 8', 'ok 20', 'ok 1']);
  });

  it('rejects every caller of a failed group, and goes on with the next group', async () => {
    const { commit, committer, answers } = manual();
    const first = committer.submit(1);
    const grouped = [committer.submit(2), committer.submit(3)];
    commit(0).resolve(answers([1]));
    await first;
    commit(1).reject(new Error('Redis went away'));
    for (const p of grouped) await expect(p).rejects.toThrow('Redis went away');
    const after = committer.submit(9);
    commit(2).resolve(answers([9]));
    expect(await after).toBe('ok 9');
  });

  it('rejects the callers when commit throws synchronously', async () => {
    const committer = new GroupCommitter<number, string>(
      () => {
        throw new Error('bad input');
      },
      { maxInFlight: 1, maxWeight: 10, weight: () => 1, slotTimeoutMs: 1000 },
    );
    await expect(committer.submit(1)).rejects.toThrow('bad input');
    await expect(committer.submit(2)).rejects.toThrow('bad input');
  });

  it('rejects the callers a commit returned no result for', async () => {
    const { commit, committer } = manual();
    void committer.submit(0);
    const [one, two] = [committer.submit(1), committer.submit(2)];
    commit(0).resolve(['ok 0']);
    await flush();
    commit(1).resolve(['ok 1']);
    expect(await one).toBe('ok 1');
    await expect(two).rejects.toThrow('commit resolved 1 results for 2 items');
  });

  it('frees the slot of a commit that hangs after slotTimeoutMs, without answering its callers', async () => {
    jest.useFakeTimers();
    try {
      const { commits, commit, committer, answers } = manual({ slotTimeoutMs: 3000 });
      let hungSettled = false;
      void committer.submit(1).finally(() => (hungSettled = true));
      const next = committer.submit(2);
      jest.advanceTimersByTime(2999);
      expect(commits).toHaveLength(1);
      jest.advanceTimersByTime(1);
      expect(commits.map((c) => c.items)).toEqual([[1], [2]]);
      commit(1).resolve(answers([2]));
      expect(await next).toBe('ok 2');
      expect(hungSettled).toBe(false);
      // The hung commit settling late neither answers twice nor frees a second slot.
      commit(0).resolve(answers([1]));
      void committer.submit(3);
      void committer.submit(4);
      await Promise.resolve();
      expect(commits.map((c) => c.items)).toEqual([[1], [2], [3]]);
    } finally {
      jest.useRealTimers();
    }
  });
});
