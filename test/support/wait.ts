/** Waits `ms`. Only to pace load or to let time pass for a timeout under test, never to wait for a result: use waitFor. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value `done` accepts (a condition, not a fixed sleep); rejects after `timeoutMs` with the last value. */
export async function waitFor<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`condition not met after ${timeoutMs} ms; last value: ${JSON.stringify(value)?.slice(0, 500)}`);
    }
    await sleep(50);
  }
}
