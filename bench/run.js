// `npm run bench [-- --only 1,2] [--duration 10] [--profile]`: starts Redis (REDIS_URL or its own),
// the fake Kable and the service from dist/, drives load with autocannon, prints one table and
// writes bench/results/results.json and results.svg. See BENCHMARKS.md.
import { execSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderChart } from './lib/chart.js';
import { ROOT, startKable, stopAll } from './lib/procs.js';
import { deleteKeys, startRedis, version } from './lib/redis.js';
import { scenarios } from './scenarios/index.js';
import { summarizeProfile } from './profile-summary.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'e2e-duration': { type: 'string', default: '15' },
    'e2e-rate': { type: 'string', default: '10000' },
    backlog: { type: 'string', default: '200000' },
    'scale-backlog': { type: 'string', default: '3000000' },
    'engage-members': { type: 'string', default: '1000000' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});

const only = args.only ? new Set(args.only.split(',').map(Number)) : undefined;
const selected = scenarios.filter((s) => !only || only.has(s.id));
const runId = Math.random().toString(36).slice(2, 8);
mkdirSync(args.out, { recursive: true });

const redis = await startRedis();
const kable = await startKable();
const ctx = {
  redis,
  kable,
  duration: Number(args.duration),
  warmup: Number(args.warmup),
  e2eDuration: Number(args['e2e-duration']),
  e2eRate: Number(args['e2e-rate']),
  backlogEvents: Number(args.backlog),
  scaleBacklogEvents: Number(args['scale-backlog']),
  engageMembers: Number(args['engage-members']),
  profileDir: args.profile ? join(args.out, 'profiles') : undefined,
  prefix: (name) => `bench${runId}${name}`,
  cleanup: async (prefix) => {
    await deleteKeys(redis.client, prefix);
  },
};

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  redis: await version(redis.client),
  redisOwn: redis.own,
  commit: git('git rev-parse --short HEAD'),
  dirty: git('git status --porcelain -- src') !== '',
  date: new Date().toISOString(),
};
console.log(
  `kable-destination bench: ${machine.cpus} cores, Node ${machine.node}, Redis ${machine.redis}${redis.own ? ' (own, AOF everysec)' : ` at ${redis.url}`}, commit ${machine.commit}${machine.dirty ? ' (src modified)' : ''}`,
);
console.log('The load generator, the fake Kable, Redis and the service share these cores.\n');

const results = [];
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  console.error('\ninterrupted: finishing the current scenario, then cleaning up');
});
for (const scenario of selected) {
  if (interrupted) break;
  const started = Date.now();
  process.stdout.write(`[${scenario.id}] ${scenario.name} ... `);
  let result;
  try {
    result = await scenario.run(ctx);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    result = { error: message, met: null, extra: `error: ${message}` };
  }
  const seconds = (Date.now() - started) / 1000;
  results.push({ id: scenario.id, name: scenario.name, goal: scenario.goal, seconds, ...result });
  console.log(('skipped' in result && result.skipped) || ('error' in result && result.error) || `done in ${seconds.toFixed(0)} s`);
}

await stopAll(); // the fake Kable, and whatever a failed scenario left running
if (redis.own) await redis.stop();
else {
  await deleteKeys(redis.client, `bench${runId}*`).catch(() => undefined); // every prefix of this run
  await redis.stop();
}

printTable(results);
// Scenarios with more to say than the table holds (scenario 8's costs by command) print it here.
for (const r of results) {
  const lines = 'lines' in r && Array.isArray(r.lines) ? r.lines : [];
  if (lines.length === 0) continue;
  console.log(`\n[${r.id}] ${r.name}`);
  for (const line of lines) console.log(`  ${line}`);
}
const file = join(args.out, 'results.json');
writeFileSync(file, JSON.stringify({ machine, options: { ...args, out: undefined }, results }, null, 2) + '\n');
const chart = join(args.out, 'results.svg');
writeFileSync(
  chart,
  renderChart(results, {
    title: `kable-destination bench, ${machine.date.slice(0, 10)}, ${machine.commit}, ${machine.cpus} cores, Node ${machine.node}`,
  }),
);
console.log(`\nwrote ${file} and ${chart}`);

if (ctx.profileDir) {
  for (const name of readdirSync(ctx.profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
    console.log(`\nCPU profile ${name} (self time):`);
    console.log(summarizeProfile(join(ctx.profileDir, name), 20));
  }
}

function git(command) {
  try {
    return execSync(command, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function printTable(rows) {
  const n = (v, digits = 0) =>
    v === undefined || v === null || Number.isNaN(v) ? '' : v.toLocaleString('en-US', { maximumFractionDigits: digits });
  const table = rows.map((r) => ({
    '#': r.id,
    scenario: r.name,
    'events/s': n(r.events),
    'baseline/s': n(r.baseline),
    ratio: r.ratio === undefined ? '' : r.ratio.toFixed(2),
    'CPU ratio': r.cpuRatio === undefined ? '' : r.cpuRatio.toFixed(2),
    'p50 ms': n(r.p50, 1),
    'p99 ms': n(r.p99, 1),
    'B/event': n(r.bytesPerEvent),
    goal: r.goal,
    met: r.met === true ? 'yes' : r.met === false ? 'NO' : '-',
    notes: r.extra ?? '',
  }));
  console.log('');
  console.table(table);
}
