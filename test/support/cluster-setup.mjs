// jest globalSetup of the e2e project when TEST_REDIS_CLUSTER=1 (see jest.config.js): starts one
// 3-master Redis Cluster for the whole run and hands its seed nodes to the tests in
// TEST_REDIS_CLUSTER_NODES (each test file's process.env is copied from this process's, in band or
// in a worker). cluster-teardown.mjs stops it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import esbuild from 'esbuild';

/**
 * test/support/topologies.ts, compiled for this process: jest loads global setup files without its
 * transform, so the TypeScript helper is bundled by esbuild into a temp file first.
 * @returns {Promise<typeof import('./topologies.ts')>}
 */
async function loadTopologies() {
  const dir = mkdtempSync(join(tmpdir(), 'kable-cluster-setup-'));
  try {
    const outfile = join(dir, 'topologies.cjs');
    await esbuild.build({
      entryPoints: [join(import.meta.dirname, 'topologies.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile,
      logLevel: 'error',
    });
    return createRequire(import.meta.url)(outfile);
  } finally {
    await esbuild.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function setup() {
  const { RedisCluster } = await loadTopologies();
  const cluster = await RedisCluster.start({ masters: 3 });
  // jest runs globalTeardown in this process, with this globalThis.
  globalThis.kableTestCluster = cluster;
  process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes;
  process.stdout.write(`\ne2e on a Redis Cluster of 3 masters (TEST_REDIS_CLUSTER=1): ${cluster.nodes}\n`);
}
