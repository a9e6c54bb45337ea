// NestJS 12 is ESM-only: jest runs in ESM mode (NODE_OPTIONS=--experimental-vm-modules, set by the
// npm scripts) with ts-jest's ESM preset. The mapper strips the `.js` that nodenext needs on
// relative imports so jest resolves the `.ts` source.
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // ESM-only, required by @fastify/static: see the file.
    '^content-disposition$': '<rootDir>/test/support/content-disposition.cjs',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
};

// TEST_REDIS_CLUSTER=1 (npm run test:e2e:cluster): the e2e suite runs on a 3-master Redis Cluster
// that globalSetup starts for the run (its seed nodes reach the tests as TEST_REDIS_CLUSTER_NODES,
// and startHarness boots the service with REDIS_CLUSTER_NODES).
const onCluster = !['', '0', 'false'].includes(process.env.TEST_REDIS_CLUSTER ?? '');

// Left out of the cluster pass, as they run Redis topologies of their own (they run in the single pass).
const ownRedis = [
  '<rootDir>/test/faults/redis-restart.e2e-spec.ts', // restarts a redis-server of its own (RedisServer)
  '<rootDir>/test/faults/redis-full.e2e-spec.ts', // fills a redis-server of its own to its maxmemory (RedisServer)
  '<rootDir>/test/faults/sentinel-failover.e2e-spec.ts', // a primary, replicas and Sentinels of its own
  '<rootDir>/test/redis-tls.e2e-spec.ts', // TLS-only redis-servers of its own
  '<rootDir>/test/topologies.e2e-spec.ts', // checks the test topologies themselves (a cluster, Sentinel, TLS of their own)
  '<rootDir>/test/cluster.e2e-spec.ts', // the service on a cluster of its own, whose masters it restarts
];

const e2e = { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] };
const e2eOnCluster = {
  ...e2e,
  testPathIgnorePatterns: ['/node_modules/', ...ownRedis],
  globalSetup: '<rootDir>/test/support/cluster-setup.mjs',
  globalTeardown: '<rootDir>/test/support/cluster-teardown.mjs',
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/tools/**/*.spec.ts'] },
    onCluster ? e2eOnCluster : e2e,
  ],
};
