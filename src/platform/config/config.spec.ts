import { ConfigError, loadConfig, SETTINGS } from './config.js';
import { parseDuration } from './duration.js';
import { parsePropertyMappings } from '../../segment/property-mappings.js';

const base = { KABLE_API_KEY: 'sk_test.abc', KABLE_CLIENT_ID: 'kci_1', SEGMENT_WRITE_KEYS: 'wk1, wk2' };

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the defaults', () => {
    const config = loadConfig(base);
    expect(config.kable).toMatchObject({
      apiKey: 'sk_test.abc',
      clientId: 'kci_1',
      clientIdField: 'userId',
      propertyMappings: [],
      baseUrl: 'https://test.kable.io',
      batchSize: 500,
      flushIntervalMs: 1000,
      retryHorizonMs: 4 * 3_600_000,
    });
    expect(config.segment).toEqual({ writeKeys: ['wk1', 'wk2'], sharedSecret: undefined, firstItemSignature: 'reject' });
    expect(config.redis).toEqual({
      topology: { kind: 'single', url: 'redis://127.0.0.1:6379' },
      tls: false,
      tlsCa: undefined,
      username: undefined,
      password: undefined,
      urlIgnored: false,
      prefix: 'kable',
      shards: 1,
      minReplicasAck: 0,
    });
    expect(config.http.port).toBe(3000);
    expect(config.dedupWindowMs).toBe(24 * 3_600_000);
    expect(config.role).toBe('all');
    expect(config.engage.syncIntervalMs).toBe(2.5 * 3_600_000);
  });

  it('picks the live host for sk_live keys and lets KABLE_BASE_URL override', () => {
    expect(loadConfig({ ...base, KABLE_API_KEY: 'sk_live.xyz' }).kable.baseUrl).toBe('https://live.kable.io');
    expect(loadConfig({ ...base, KABLE_API_KEY: 'sk_live.xyz', KABLE_BASE_URL: 'http://localhost:4010/' }).kable.baseUrl).toBe(
      'http://localhost:4010',
    );
  });

  it('reads both forms of the property mappings', () => {
    const expected = [
      { from: 'segmentX', to: 'kableX' },
      { from: 'nested.field', to: 'dimension' },
    ];
    expect(
      loadConfig({ ...base, KABLE_PROPERTIES_MAPPINGS: '{"segmentX":"kableX","nested.field":"dimension"}' }).kable.propertyMappings,
    ).toEqual(expected);
    expect(loadConfig({ ...base, KABLE_PROPERTIES_MAPPINGS: 'segmentX : kableX, nested.field:dimension' }).kable.propertyMappings).toEqual(
      expected,
    );
    expect(loadConfig({ ...base, KABLE_PROPERTIES_MAPPINGS: 'segmentX:kableX\nnested.field:dimension' }).kable.propertyMappings).toEqual(
      expected,
    );
    expect(loadConfig({ ...base, KABLE_PROPERTIES_MAPPINGS: '{}' }).kable.propertyMappings).toEqual([]);
  });

  it('lists every missing required setting, one line each', () => {
    expect(problems({})).toEqual([
      'KABLE_API_KEY is required (your Kable API key, e.g. sk_test.…)',
      'KABLE_CLIENT_ID is required (your Kable Client ID, e.g. kci_…)',
      'SEGMENT_WRITE_KEYS is required: the comma-separated Segment write keys this service accepts',
    ]);
  });

  it('treats empty variables as unset', () => {
    expect(problems({ ...base, KABLE_API_KEY: '  ' })).toEqual(['KABLE_API_KEY is required (your Kable API key, e.g. sk_test.…)']);
  });

  it.each([
    [{ KABLE_PROPERTIES_MAPPINGS: 'segmentX=kableX' }, 'KABLE_PROPERTIES_MAPPINGS "segmentX=kableX" is not a "source:target" pair'],
    [{ KABLE_PROPERTIES_MAPPINGS: '{"a": 1}' }, 'KABLE_PROPERTIES_MAPPINGS target of "a" must be a string, got 1'],
    [{ KABLE_PROPERTIES_MAPPINGS: '{"a": ' }, 'KABLE_PROPERTIES_MAPPINGS starts with "{" but is not valid JSON'],
    [{ KABLE_PROPERTIES_MAPPINGS: 'a:b,a:c' }, 'KABLE_PROPERTIES_MAPPINGS source "a" is mapped twice'],
    [{ KABLE_PROPERTIES_MAPPINGS: 'a..b:c' }, 'KABLE_PROPERTIES_MAPPINGS source "a..b" is not a dot path'],
    [{ KABLE_CLIENT_ID_FIELD: 'context..groupId' }, 'KABLE_CLIENT_ID_FIELD must be a dot path into the Segment message'],
    [{ KABLE_BASE_URL: 'live.kable.io' }, 'KABLE_BASE_URL must be an http(s) URL'],
    [{ KABLE_BATCH_SIZE: '501' }, 'KABLE_BATCH_SIZE must be a whole number from 1 to 500'],
    [{ KABLE_BATCH_SIZE: 'ten' }, 'KABLE_BATCH_SIZE must be a whole number from 1 to 500'],
    [{ KABLE_FLUSH_INTERVAL: 'soon' }, 'KABLE_FLUSH_INTERVAL must be a duration such as 500ms or 1s'],
    [{ KABLE_FLUSH_INTERVAL: '2m' }, 'KABLE_FLUSH_INTERVAL must be between 1ms and 1m'],
    [{ SEGMENT_WRITE_KEYS: ' , ' }, 'SEGMENT_WRITE_KEYS must list at least one write key'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL must be a redis:// or rediss:// URL'],
    [{ PORT: '70000' }, 'PORT must be a whole number from 1 to 65535'],
    [{ SERVICE_ROLE: 'both' }, 'SERVICE_ROLE must be one of: all, api, worker'],
    [{ DEDUP_WINDOW: '30s' }, 'DEDUP_WINDOW must be between 1m and 35d'],
    [{ ENGAGE_SYNC_INTERVAL: '2 hours' }, 'ENGAGE_SYNC_INTERVAL must be a duration such as 2h30m'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN must be at least 16 characters'],
    [{ ADMIN_TOKEN: 'wk1-but-sixteen-chars', SEGMENT_WRITE_KEYS: 'wk1-but-sixteen-chars' }, 'ADMIN_TOKEN must differ from every write key'],
  ])('rejects %j with a message naming the variable', (env, expected) => {
    const found = problems({ ...base, ...env });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
  });

  it.each([
    [{ KABLE_PROPERTIES_MAPPINGS: '{"src":"__proto__.polluted"}' }, 'KABLE_PROPERTIES_MAPPINGS target "__proto__.polluted" of "src"'],
    [{ KABLE_PROPERTIES_MAPPINGS: '{"src":"x.__proto__.y"}' }, 'KABLE_PROPERTIES_MAPPINGS target "x.__proto__.y" of "src"'],
    [{ KABLE_PROPERTIES_MAPPINGS: '{"__proto__":"x"}' }, 'KABLE_PROPERTIES_MAPPINGS source "__proto__"'],
    [{ KABLE_PROPERTIES_MAPPINGS: 'a.constructor:b' }, 'KABLE_PROPERTIES_MAPPINGS source "a.constructor"'],
    [{ KABLE_PROPERTIES_MAPPINGS: 'a:b.prototype' }, 'KABLE_PROPERTIES_MAPPINGS target "b.prototype" of "a"'],
    [{ KABLE_CLIENT_ID_FIELD: '__proto__.x' }, 'KABLE_CLIENT_ID_FIELD must be a dot path'],
    [{ KABLE_CLIENT_ID_FIELD: 'context.constructor' }, 'KABLE_CLIENT_ID_FIELD must be a dot path'],
  ])('stops at boot on a dot path through a prototype: %j', (env, expected) => {
    const found = problems({ ...base, ...env });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
    expect(found[0]).not.toContain('\n');
  });

  it('says why a __proto__, prototype or constructor segment is refused', () => {
    expect(problems({ ...base, KABLE_PROPERTIES_MAPPINGS: '{"src":"__proto__.polluted"}' })).toEqual([
      'KABLE_PROPERTIES_MAPPINGS target "__proto__.polluted" of "src" has the segment "__proto__", which could reach an object\'s prototype; rename it (__proto__, prototype and constructor are refused)',
    ]);
  });

  it('reads the event selection (KABLE_EVENTS) and the event name key (KABLE_EVENT_NAME_KEY); unset: every event, no name', () => {
    expect(loadConfig(base).kable).toMatchObject({ events: undefined, eventNameKey: undefined });
    expect(loadConfig({ ...base, KABLE_EVENTS: 'API Call, Storage *', KABLE_EVENT_NAME_KEY: 'meta.event' }).kable).toMatchObject({
      events: ['API Call', 'Storage *'],
      eventNameKey: 'meta.event',
    });
    // An empty variable is unset, as for every setting.
    expect(loadConfig({ ...base, KABLE_EVENTS: '  ' }).kable.events).toBeUndefined();
  });

  it.each([
    [{ KABLE_EVENTS: ',' }, 'KABLE_EVENTS must list at least one event name'],
    [{ KABLE_EVENTS: ' , , ' }, 'KABLE_EVENTS must list at least one event name'],
    [{ KABLE_EVENTS: 'API Call,,Storage *' }, 'KABLE_EVENTS has an empty event name at position 2'],
    [{ KABLE_EVENT_NAME_KEY: '__proto__' }, 'KABLE_EVENT_NAME_KEY has the segment "__proto__"'],
    [{ KABLE_EVENT_NAME_KEY: 'meta.prototype.x' }, 'KABLE_EVENT_NAME_KEY has the segment "prototype"'],
    [{ KABLE_EVENT_NAME_KEY: 'meta..event' }, 'KABLE_EVENT_NAME_KEY is not a dot path'],
  ])('stops at boot on a bad event setting: %j', (env, expected) => {
    const found = problems({ ...base, ...env });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
  });

  it('never echoes a secret value in its messages', () => {
    const secret = 'super-secret-admin';
    const error = (() => {
      try {
        loadConfig({ KABLE_API_KEY: 'sk_live.SECRET', SEGMENT_WRITE_KEYS: secret, ADMIN_TOKEN: secret, KABLE_CLIENT_ID: '' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('ADMIN_TOKEN');
    expect(error?.message).not.toContain(secret);
    expect(error?.message).not.toContain('SECRET');
  });
});

describe('SETTINGS', () => {
  const names = Object.keys(SETTINGS) as (keyof typeof SETTINGS)[];

  it('requires exactly the seed credentials and the write keys', () => {
    expect(names.filter((name) => SETTINGS[name].required)).toEqual(['KABLE_API_KEY', 'KABLE_CLIENT_ID', 'SEGMENT_WRITE_KEYS']);
  });

  it.each(names.filter((name) => SETTINGS[name].secret))('never quotes the value of the secret %s, valid or not', (name) => {
    for (const value of ['S3CRET', 'S3CRET-but-long-enough-to-pass', ' S3CRET , ', ',S3CRET,']) {
      const env = { ...base, ADMIN_TOKEN: 'admin-token-sixteen+', [name]: value, HTTP_REQUEST_TIMEOUT: 'soon' };
      expect(problems(env).join('\n')).not.toContain('S3CRET');
    }
  });

  it('reports one line per variable, the first rule it breaks', () => {
    expect(problems({ ...base, HTTP_REQUEST_TIMEOUT: '10 ' })).toEqual(['HTTP_REQUEST_TIMEOUT must be a duration such as 30s']);
    expect(problems({ ...base, ADMIN_TOKEN: 'wk1', SEGMENT_WRITE_KEYS: 'wk1' })).toEqual([
      'ADMIN_TOKEN must be at least 16 characters (a long random string)',
    ]);
  });

  it('keeps a number-specific message for text that is not a number, the range for one out of range', () => {
    expect(problems({ ...base, PORT: 'http' })).toEqual(['PORT must be a port number from 1 to 65535']);
    expect(problems({ ...base, PORT: '0' })).toEqual(['PORT must be a whole number from 1 to 65535']);
    expect(problems({ ...base, KABLE_MAX_REQUEST_BYTES: '1e6' })).toEqual([
      'KABLE_MAX_REQUEST_BYTES must be a whole number of bytes from 65536 to 104857600',
    ]);
  });

  it('checks settings against each other', () => {
    expect(loadConfig(base).eventTraceWindowMs).toBe(24 * 3_600_000);
    expect(loadConfig({ ...base, DEDUP_WINDOW: '2h' }).eventTraceWindowMs).toBe(2 * 3_600_000);
    expect(loadConfig({ ...base, DEDUP_WINDOW: '2h', EVENT_TRACE_WINDOW: '0' }).eventTraceWindowMs).toBe(0);
    expect(problems({ ...base, HTTP_REQUEST_TIMEOUT: '5s' })).toEqual([
      'HTTP_HEADERS_TIMEOUT must not be longer than HTTP_REQUEST_TIMEOUT',
    ]);
    // A setting that is itself wrong is not compared with another.
    expect(problems({ ...base, HTTP_REQUEST_TIMEOUT: 'soon' })).toEqual(['HTTP_REQUEST_TIMEOUT must be a duration such as 30s']);
  });

  it('reads LOG_FORMAT, else pretty under NODE_ENV=development, else json', () => {
    expect(loadConfig(base).logFormat).toBe('json');
    expect(loadConfig({ ...base, NODE_ENV: 'development' }).logFormat).toBe('pretty');
    expect(loadConfig({ ...base, NODE_ENV: 'development', LOG_FORMAT: 'json' }).logFormat).toBe('json');
  });
});

describe('Redis topology settings', () => {
  const redis = (env: Record<string, string>) => loadConfig({ ...base, ...env }).redis;

  it('reads a cluster, its TLS and its shards, and says REDIS_URL is then ignored', () => {
    expect(redis({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002' })).toMatchObject({
      topology: {
        kind: 'cluster',
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
          { host: '::1', port: 7002 },
        ],
      },
      tls: false,
      shards: 12,
      urlIgnored: false,
    });
    expect(
      redis({ REDIS_CLUSTER_NODES: 'rediss://a:7000,rediss://b:7000', REDIS_URL: 'redis://old:6379', REDIS_SHARDS: '6' }),
    ).toMatchObject({
      tls: true,
      shards: 6,
      urlIgnored: true,
    });
  });

  it('reads Sentinel with the name it monitors the primary under', () => {
    expect(redis({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'kable', REDIS_MIN_REPLICAS_ACK: '1' })).toMatchObject({
      topology: {
        kind: 'sentinel',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
        ],
        name: 'kable',
      },
      shards: 1,
      minReplicasAck: 1,
    });
  });

  it('refuses both topologies at once, Sentinel without a name, WAIT on a cluster, and bad lists', () => {
    expect(problems({ ...base, REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 'b:2', REDIS_SENTINEL_NAME: 'x' })).toEqual([
      'REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set: set one (a Redis Cluster, or a primary found through Sentinel)',
    ]);
    expect(problems({ ...base, REDIS_SENTINELS: 'b:2' })).toEqual([
      'REDIS_SENTINEL_NAME is required with REDIS_SENTINELS: the name Sentinel monitors the primary under',
    ]);
    expect(problems({ ...base, REDIS_CLUSTER_NODES: 'a:1', REDIS_MIN_REPLICAS_ACK: '1' })).toEqual([
      'REDIS_MIN_REPLICAS_ACK works with one Redis or Sentinel, not with REDIS_CLUSTER_NODES: unset it',
    ]);
    expect(problems({ ...base, REDIS_CLUSTER_NODES: 'a:1,b' })).toEqual([
      'REDIS_CLUSTER_NODES must list Redis Cluster seed nodes as comma-separated host:port (rediss://host:port for TLS)',
    ]);
    expect(problems({ ...base, REDIS_SENTINELS: 'rediss://a:1,b:2', REDIS_SENTINEL_NAME: 'x' })).toEqual([
      'REDIS_SENTINELS mixes rediss:// and plain entries: use TLS for all of them or for none',
    ]);
    expect(problems({ ...base, REDIS_SHARDS: '0' })).toEqual(['REDIS_SHARDS must be a whole number from 1 to 64']);
  });

  it('reads the CA file at boot and says what is wrong with it without quoting it', () => {
    expect(problems({ ...base, REDIS_TLS_CA: '/nonexistent/ca.pem' })).toEqual([
      'REDIS_TLS_CA must name a readable PEM file holding the CA certificate (ENOENT)',
    ]);
    expect(problems({ ...base, REDIS_TLS_CA: '/etc/hostname' })).toEqual([
      'REDIS_TLS_CA must name a PEM file holding the CA certificate (it has no BEGIN CERTIFICATE line)',
    ]);
  });

  it('takes REDIS_USERNAME and REDIS_PASSWORD, and a rediss:// URL as TLS', () => {
    expect(redis({ REDIS_URL: 'rediss://cache.example.com:6380', REDIS_USERNAME: 'kable', REDIS_PASSWORD: 'pw' })).toMatchObject({
      topology: { kind: 'single', url: 'rediss://cache.example.com:6380' },
      tls: true,
      username: 'kable',
      password: 'pw',
    });
  });
});

describe('parseDuration', () => {
  it.each([
    ['500', 500],
    ['500ms', 500],
    ['1s', 1000],
    ['2h30m', 9_000_000],
    ['1d', 86_400_000],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it('rejects other text', () => {
    expect(parseDuration('1.5s')).toBeUndefined();
    expect(parseDuration('h')).toBeUndefined();
  });
});

describe('parsePropertyMappings', () => {
  it('accepts the seed example with spaces around the colon', () => {
    expect(parsePropertyMappings('segmentX : kableX nested.field : dimension'.replace(' nested', ',nested'))).toEqual([
      { from: 'segmentX', to: 'kableX' },
      { from: 'nested.field', to: 'dimension' },
    ]);
  });
});
