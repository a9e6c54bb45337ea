// jest globalTeardown of the e2e project when TEST_REDIS_CLUSTER=1: stops the cluster cluster-setup.mjs started.
export default async function teardown() {
  await globalThis.kableTestCluster?.destroy();
  delete globalThis.kableTestCluster;
  delete process.env.TEST_REDIS_CLUSTER_NODES;
}
