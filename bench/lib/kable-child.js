// The fake Kable for the benchmarks, in its own process so that its JSON parsing does not compete
// with the load generator's event loop. Driven over IPC by kable-process.js.
/** @type {typeof import('../../tools/kable-emulator.js')} */
const { KableEmulator } = await import(new URL('../../dist-tools/kable-emulator.js', import.meta.url).href); // the build, typed by its source

// Counts only (no kept requests or events): millions of events go through it.
const emulator = new KableEmulator({ retain: false });
let mode = { status: 200, delayMs: 0 };
let requests = 0;
let eventsReceived = 0;
/** transactionId -> first receipt time (ms), only while recording (lag measurement). */
let receipts = null;

function responder(events) {
  requests += 1;
  eventsReceived += events.length;
  if (receipts) {
    const now = Date.now();
    for (const e of events) if (!receipts.has(e.transactionId)) receipts.set(e.transactionId, now);
  }
  if (mode.status !== 200) return { status: mode.status, body: { message: 'benchmark: Kable is down' }, delayMs: mode.delayMs };
  return mode.delayMs ? { status: 200, body: 'Events successfully recorded', delayMs: mode.delayMs } : undefined;
}
emulator.respondWith(responder);

const url = await emulator.start(0);

process.on('message', (/** @type {{ id: number, cmd: string, status?: number, delayMs?: number, record?: boolean }} */ msg) => {
  /** @param {object} data */
  const reply = (data) => process.send?.({ id: msg.id, ...data });
  switch (msg.cmd) {
    case 'mode':
      mode = { status: msg.status ?? 200, delayMs: msg.delayMs ?? 0 };
      return reply({});
    case 'reset':
      emulator.reset(); // also forgets the responder
      emulator.respondWith(responder);
      requests = 0;
      eventsReceived = 0;
      receipts = msg.record ? new Map() : null;
      return reply({});
    case 'stats': {
      let duplicates = 0;
      for (const n of emulator.arrivals.values()) if (n > 1) duplicates += n - 1;
      return reply({ requests, eventsReceived, distinct: emulator.count, duplicates, rss: process.memoryUsage().rss });
    }
    case 'receipts':
      return reply({ receipts: receipts ? [...receipts] : [] });
    case 'stop':
      void emulator.stop().then(() => process.exit(0));
  }
});
// If the benchmark dies, do not outlive it.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true, url });
