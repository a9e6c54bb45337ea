import { KableEmulator } from './kable-emulator.js';

/**
 * Runs the Kable emulator on its own: `npm run build:tools && node dist-tools/kable-emulator.main.js`.
 * Prints each event it records as one JSON line. KABLE_EMULATOR_PORT (default 4010).
 */
const port = Number(process.env.KABLE_EMULATOR_PORT ?? 4010);
const emulator = new KableEmulator({
  onEvent: (event) => console.log(`[kable-emulator] recorded event ${JSON.stringify(event)}`),
});
const url = await emulator.start(port);
console.log(`[kable-emulator] listening on ${url} (POST /api/v1/events/create)`);
const stop = () => void emulator.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
