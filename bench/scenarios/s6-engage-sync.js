import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/procs.js';

// Engage (audience sync) is built on another branch. Once it is merged, wire the scenario here:
// seed a 1,000,000-member audience, run the initial sync against the fake Kable, report the
// seconds until Kable has every member and the service's peak RSS (watchPeakRss in lib/procs.js;
// measureDrain in lib/steps.js waits for Kable's distinct count).
const ENTRY = join(ROOT, 'dist', 'engage');

export default {
  id: 6,
  name: 'Engage: initial sync of 1,000,000 members',
  goal: '<= 60 s, peak RSS <= 512 MB',
  run() {
    const why = existsSync(ENTRY)
      ? 'dist/engage exists but this scenario is not wired to it yet (bench/scenarios/s6-engage-sync.js)'
      : 'not available in this build (no dist/engage)';
    return Promise.resolve({ skipped: why, met: null, extra: why });
  },
};
