import { readFileSync } from 'node:fs';
import { parseEventNameKey, parseEventSelection } from '../../segment/event-selection.js';
import { isDotPath, parsePropertyMappings, type PropertyMapping } from '../../segment/property-mappings.js';
import { duration, int, oneOf, parsed, text, type Read, type Setting, type ValueOf } from './settings.js';

const MiB = 1024 * 1024;

/** Reads a parser that reports into a problems list (event-selection.ts) as one Read. */
function reported<T>(parse: (text: string | undefined, problems: string[]) => T) {
  return (value: string | undefined): Read<T> => {
    const problems: string[] = [];
    const result = parse(value, problems);
    const [problem] = problems;
    return problem === undefined ? { value: result } : { problem };
  };
}

/**
 * Every environment variable the service reads, declared once: its parser, default, range and
 * message. loadConfig reads them all, then buildConfig gives each its place in AppConfig.
 */
export const SETTINGS = {
  KABLE_API_KEY: text({ required: 'is required (your Kable API key, e.g. sk_test.…)', secret: true }),
  KABLE_CLIENT_ID: text({ required: 'is required (your Kable Client ID, e.g. kci_…)' }),
  KABLE_CLIENT_ID_FIELD: parsed({
    parse: (value): Read<string> => {
      const path = (value ?? 'userId').trim();
      return isDotPath(path)
        ? { value: path }
        : { problem: 'KABLE_CLIENT_ID_FIELD must be a dot path into the Segment message, such as userId or context.groupId' };
    },
  }),
  KABLE_PROPERTIES_MAPPINGS: parsed({
    parse: (value, name): Read<PropertyMapping[]> => {
      try {
        return { value: parsePropertyMappings(value) };
      } catch (error) {
        return { problem: `${name} ${(error as Error).message}` };
      }
    },
  }),
  KABLE_BASE_URL: parsed({
    parse: (value, name): Read<string | undefined> => {
      if (value === undefined) return { value: undefined }; // buildConfig picks the host from the key
      if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(value)) {
        return { problem: `${name} must be an http(s) URL such as https://live.kable.io` };
      }
      return { value: value.replace(/\/+$/, '') };
    },
  }),
  KABLE_BATCH_SIZE: int({ default: 500, min: 1, max: 500 }),
  KABLE_FLUSH_INTERVAL: duration({ default: '1s', min: '1ms', max: '1m', example: '500ms or 1s' }),
  KABLE_REQUEST_TIMEOUT: duration({ default: '10s', min: '100ms', max: '5m', example: '10s' }),
  KABLE_RETRY_HORIZON: duration({ default: '4h', min: '1s', max: '7d', example: '4h' }),
  KABLE_RETRY_MAX_DELAY: duration({ default: '5m', min: '100ms', max: '1d', example: '5m' }),
  KABLE_MAX_IN_FLIGHT: int({ default: 8, min: 1, max: 64 }),
  KABLE_MAX_REQUEST_BYTES: int({
    default: 4 * MiB,
    min: 65_536,
    max: 100 * MiB,
    message: 'must be a whole number of bytes from 65536 to 104857600',
  }),
  KABLE_EVENTS: parsed({ parse: reported(parseEventSelection) }),
  KABLE_EVENT_NAME_KEY: parsed({ parse: reported(parseEventNameKey) }),
  SEGMENT_WRITE_KEYS: parsed({
    required: true,
    secret: true,
    parse: (value, name): Read<string[]> => {
      if (value === undefined) return { problem: `${name} is required: the comma-separated Segment write keys this service accepts` };
      const keys = value
        .split(',')
        .map((key) => key.trim())
        .filter((key) => key !== '');
      return keys.length > 0 ? { value: keys } : { problem: `${name} must list at least one write key (comma-separated)` };
    },
  }),
  SEGMENT_SHARED_SECRET: text({ secret: true }),
  SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE: oneOf(['reject', 'accept'], { default: 'reject' }),
  CORS_ORIGINS: parsed({
    parse: (value, name): Read<string[]> => {
      const origins = parseCorsOrigins(value);
      if (origins !== undefined) return { value: origins };
      return {
        problem: `${name} must be "*" or comma-separated origins such as https://app.example.com (scheme, host, optional port; no path)`,
      };
    },
  }),
  /** Unset: redis://127.0.0.1:6379. Ignored when REDIS_CLUSTER_NODES or REDIS_SENTINELS is set. */
  REDIS_URL: text({ match: /^rediss?:\/\/\S+$/, message: 'must be a redis:// or rediss:// URL', secret: true }),
  REDIS_CLUSTER_NODES: parsed({ parse: (value, name) => readNodes(value, name, 'Redis Cluster seed nodes') }),
  REDIS_SENTINELS: parsed({ parse: (value, name) => readNodes(value, name, 'Sentinels') }),
  REDIS_SENTINEL_NAME: text({
    match: /^[A-Za-z0-9._-]{1,64}$/,
    message: 'must be the name Sentinel monitors the primary under (sentinel monitor NAME …)',
  }),
  REDIS_USERNAME: text({ match: /^\S{1,128}$/, message: 'must be an ACL user name (no spaces)' }),
  REDIS_PASSWORD: text({ secret: true }),
  REDIS_TLS_CA: parsed({ parse: readCaFile }),
  REDIS_MIN_REPLICAS_ACK: int({ default: 0, min: 0, max: 16 }),
  /** Unset: 12 on a Redis Cluster, else 1. */
  REDIS_SHARDS: parsed({
    parse: (value, name): Read<number | undefined> => {
      if (value === undefined) return { value: undefined };
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      return n >= 1 && n <= 64 ? { value: n } : { problem: `${name} must be a whole number from 1 to 64` };
    },
  }),
  REDIS_PREFIX: text({ default: 'kable', match: /^[A-Za-z0-9_-]{1,32}$/, message: 'must be 1-32 letters, digits, "_" or "-"' }),
  PORT: int({ default: 3000, min: 1, max: 65535, message: 'must be a port number from 1 to 65535' }),
  HOST: text({ default: '0.0.0.0' }),
  HTTP_HEADERS_TIMEOUT: duration({ default: '10s', min: '1s', max: '1m', example: '10s' }),
  HTTP_REQUEST_TIMEOUT: duration({ default: '30s', min: '1s', max: '5m', example: '30s' }),
  HTTP_KEEP_ALIVE_TIMEOUT: duration({ default: '65s', min: '1s', max: '10m', example: '65s' }),
  HTTP_MAX_CONNECTIONS: int({ default: 10_000, min: 16, max: 1_000_000 }),
  SERVICE_ROLE: oneOf(['all', 'api', 'worker'], { default: 'all' }),
  DEDUP_WINDOW: duration({ default: '24h', min: '1m', max: '35d', example: '24h' }),
  /** Unset: the deduplication window. */
  EVENT_TRACE_WINDOW: duration({ min: '0', max: '35d', example: '2h, or 0 to keep no event traces' }),
  DELIVERY_CONCURRENCY: int({ default: 2000, min: 1, max: 10_000 }),
  DELIVERY_LOCK_DURATION: duration({ default: '30s', min: '1s', max: '10m', example: '30s' }),
  ADMIN_TOKEN: text({ minLength: 16, message: 'must be at least 16 characters (a long random string)', secret: true }),
  ENGAGE_SYNC_INTERVAL: duration({ default: '2h30m', min: '1m', max: '1d', example: '2h30m' }),
  ENGAGE_MAX_AUDIENCES: int({ default: 1000, min: 1, max: 100_000 }),
  DEAD_LETTER_RETENTION: duration({ default: '7d', min: '1m', max: '90d', example: '7d' }),
  BACKLOG_LIMIT: int({ default: 500_000, min: 1, max: 1_000_000_000, message: 'must be a whole number of events from 1 to 1000000000' }),
  LOG_LEVEL: oneOf(['debug', 'info', 'warn', 'error'], { default: 'info' }),
  /** Unset: `pretty` when NODE_ENV=development, else `json`. */
  LOG_FORMAT: oneOf(['json', 'pretty']),
  NODE_ENV: text(),
} satisfies Record<string, Setting<unknown>>;

/** Every setting, read. */
export type Settings = { [Name in keyof typeof SETTINGS]: ValueOf<(typeof SETTINGS)[Name]> };

/** Where each setting goes in AppConfig, and the defaults that depend on another setting. */
function buildConfig(s: Settings) {
  return {
    kable: {
      /** Seed "API Key": sent as `Kable-Client-Secret`. */
      apiKey: s.KABLE_API_KEY,
      /** Seed "Kable Client ID": sent as `Kable-Client-ID`. */
      clientId: s.KABLE_CLIENT_ID,
      /** Seed "Client ID Field": dot path into the Segment message. */
      clientIdField: s.KABLE_CLIENT_ID_FIELD,
      /** Seed "Properties Mappings". */
      propertyMappings: s.KABLE_PROPERTIES_MAPPINGS,
      baseUrl: s.KABLE_BASE_URL ?? (s.KABLE_API_KEY.startsWith('sk_live') ? 'https://live.kable.io' : 'https://test.kable.io'),
      batchSize: s.KABLE_BATCH_SIZE,
      flushIntervalMs: s.KABLE_FLUSH_INTERVAL,
      requestTimeoutMs: s.KABLE_REQUEST_TIMEOUT,
      retryHorizonMs: s.KABLE_RETRY_HORIZON,
      retryMaxDelayMs: s.KABLE_RETRY_MAX_DELAY,
      maxInFlight: s.KABLE_MAX_IN_FLIGHT,
      /** Largest Kable request body in bytes: bigger batches are split. */
      maxRequestBytes: s.KABLE_MAX_REQUEST_BYTES,
      /** Which track event names become Kable events (`*` matches any run); undefined = all. */
      events: s.KABLE_EVENTS,
      /** Dot path in `data` where the Segment event name is written; undefined = not written. */
      eventNameKey: s.KABLE_EVENT_NAME_KEY,
    },
    segment: {
      writeKeys: s.SEGMENT_WRITE_KEYS,
      sharedSecret: s.SEGMENT_SHARED_SECRET,
      /** `reject` refuses an array whose X-Signature covers only its first item; `accept` takes it (its other items are not authenticated). */
      firstItemSignature: s.SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE,
    },
    redis: redisConfig(s),
    http: {
      port: s.PORT,
      host: s.HOST,
      /** Origins allowed to call the ingest endpoints from a browser (`*` = any); empty = CORS off. */
      corsOrigins: s.CORS_ORIGINS,
      /** A request's headers must arrive within this. */
      headersTimeoutMs: s.HTTP_HEADERS_TIMEOUT,
      /** A whole request (headers and body) must arrive within this. */
      requestTimeoutMs: s.HTTP_REQUEST_TIMEOUT,
      /** An idle keep-alive connection is closed after this. */
      keepAliveTimeoutMs: s.HTTP_KEEP_ALIVE_TIMEOUT,
      /** Connections past this are closed at once. */
      maxConnections: s.HTTP_MAX_CONNECTIONS,
    },
    /** Which parts of the service this process runs. */
    role: s.SERVICE_ROLE,
    dedupWindowMs: s.DEDUP_WINDOW,
    /** How long GET /v1/events/:messageId keeps delivery and skip records; 0 turns them off. */
    eventTraceWindowMs: s.EVENT_TRACE_WINDOW ?? s.DEDUP_WINDOW,
    deliveryConcurrency: s.DELIVERY_CONCURRENCY,
    /**
     * A delivery job's lock (BullMQ lockDuration, renewed at half this while the job runs); also
     * how often stalled jobs are looked for, so a crashed worker's jobs move on after about twice this.
     */
    deliveryLockMs: s.DELIVERY_LOCK_DURATION,
    adminToken: s.ADMIN_TOKEN,
    engage: {
      syncIntervalMs: s.ENGAGE_SYNC_INTERVAL,
      /** Membership of audiences past this many is skipped. */
      maxAudiences: s.ENGAGE_MAX_AUDIENCES,
    },
    /** How long dead letters are kept. */
    deadLetterRetentionMs: s.DEAD_LETTER_RETENTION,
    /** Queued events past which ingest answers 503 with Retry-After. */
    backlogLimit: s.BACKLOG_LIMIT,
    logLevel: s.LOG_LEVEL,
    /** `json` (one object per line) or `pretty`. */
    logFormat: s.LOG_FORMAT ?? (s.NODE_ENV === 'development' ? 'pretty' : 'json'),
  };
}

/** The validated, typed settings. Read from the environment once, at boot (`loadConfig`). */
export type AppConfig = ReturnType<typeof buildConfig>;

/** Which parts of the service this process runs. */
export type Role = AppConfig['role'];

/** Checks between settings, each run only when the settings it compares were read without a problem. */
function crossChecks(s: Partial<Settings>): string[] {
  const problems: string[] = [];
  if (s.ADMIN_TOKEN !== undefined && s.SEGMENT_WRITE_KEYS?.includes(s.ADMIN_TOKEN)) {
    problems.push('ADMIN_TOKEN must differ from every write key in SEGMENT_WRITE_KEYS');
  }
  if (s.REDIS_CLUSTER_NODES !== undefined && s.REDIS_SENTINELS !== undefined) {
    problems.push('REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set: set one (a Redis Cluster, or a primary found through Sentinel)');
  }
  if (s.REDIS_SENTINELS !== undefined && s.REDIS_SENTINEL_NAME === undefined) {
    problems.push('REDIS_SENTINEL_NAME is required with REDIS_SENTINELS: the name Sentinel monitors the primary under');
  }
  if (s.REDIS_CLUSTER_NODES !== undefined && (s.REDIS_MIN_REPLICAS_ACK ?? 0) > 0) {
    problems.push('REDIS_MIN_REPLICAS_ACK works with one Redis or Sentinel, not with REDIS_CLUSTER_NODES: unset it');
  }
  if (s.HTTP_HEADERS_TIMEOUT !== undefined && s.HTTP_REQUEST_TIMEOUT !== undefined && s.HTTP_HEADERS_TIMEOUT > s.HTTP_REQUEST_TIMEOUT) {
    problems.push('HTTP_HEADERS_TIMEOUT must not be longer than HTTP_REQUEST_TIMEOUT');
  }
  return problems;
}

/** Thrown by loadConfig: one line per problem, each naming the variable. Never contains a secret. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads and validates the environment. Throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const read: Partial<Record<keyof Settings, unknown>> = {};
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(SETTINGS) as [keyof Settings, Setting<unknown>][]) {
    const value = env[name];
    // An empty variable counts as unset, as in most .env tooling.
    const result = setting.read(value === undefined || value.trim() === '' ? undefined : value, name);
    if ('problem' in result) problems.push(result.problem);
    else read[name] = result.value;
  }
  problems.push(...crossChecks(read as Partial<Settings>));
  if (problems.length > 0) throw new ConfigError(problems);
  return buildConfig(read as Settings);
}

/** Where the service finds Redis: one server (REDIS_URL), a Redis Cluster, or a primary through Sentinel. */
export type RedisTopology =
  { kind: 'single'; url: string } | { kind: 'cluster'; nodes: HostPort[] } | { kind: 'sentinel'; sentinels: HostPort[]; name: string };

export interface HostPort {
  host: string;
  port: number;
}

/** A list of `host:port` (or `redis://host:port`, `rediss://host:port` for TLS); every entry the same scheme. */
interface NodeList {
  nodes: HostPort[];
  tls: boolean;
}

const NODE = /^(?:(rediss?):\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function readNodes(value: string | undefined, name: string, what: string): Read<NodeList | undefined> {
  if (value === undefined) return { value: undefined };
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const nodes: HostPort[] = [];
  const schemes = new Set<string>();
  for (const entry of entries) {
    const match = NODE.exec(entry);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) {
      return { problem: `${name} must list ${what} as comma-separated host:port (rediss://host:port for TLS)` };
    }
    schemes.add(match[1] ?? 'redis');
    nodes.push({ host: (match[2] ?? '').replace(/^\[|\]$/g, ''), port });
  }
  if (nodes.length === 0) return { problem: `${name} must list at least one host:port` };
  if (schemes.size > 1) return { problem: `${name} mixes rediss:// and plain entries: use TLS for all of them or for none` };
  return { value: { nodes, tls: schemes.has('rediss') } };
}

function readCaFile(value: string | undefined, name: string): Read<string | undefined> {
  if (value === undefined) return { value: undefined };
  try {
    const pem = readFileSync(value, 'utf8');
    if (pem.includes('-----BEGIN CERTIFICATE-----')) return { value: pem };
    return { problem: `${name} must name a PEM file holding the CA certificate (it has no BEGIN CERTIFICATE line)` };
  } catch (error) {
    return {
      problem: `${name} must name a readable PEM file holding the CA certificate (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    };
  }
}

function redisConfig(s: Settings) {
  const cluster = s.REDIS_CLUSTER_NODES;
  const sentinels = s.REDIS_SENTINELS;
  const url = s.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const topology: RedisTopology = cluster
    ? { kind: 'cluster', nodes: cluster.nodes }
    : sentinels
      ? { kind: 'sentinel', sentinels: sentinels.nodes, name: s.REDIS_SENTINEL_NAME ?? '' }
      : { kind: 'single', url };
  return {
    topology,
    /** TLS: a rediss:// URL, or rediss:// entries in the node list. */
    tls: cluster ? cluster.tls : sentinels ? sentinels.tls : url.startsWith('rediss://'),
    /** A private CA's certificate (PEM) to check the servers' certificates against. */
    tlsCa: s.REDIS_TLS_CA,
    username: s.REDIS_USERNAME,
    password: s.REDIS_PASSWORD,
    /** REDIS_URL was set but a topology variable wins over it: said once at boot. */
    urlIgnored: topology.kind !== 'single' && s.REDIS_URL !== undefined,
    prefix: s.REDIS_PREFIX,
    /** Hash-tagged shards of the delivery queue, dedup and traces (RedisKeys). */
    shards: s.REDIS_SHARDS ?? (cluster ? 12 : 1),
    /** Replicas that must have a write before ingest answers 200 (WAIT). */
    minReplicasAck: s.REDIS_MIN_REPLICAS_ACK,
  };
}

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** `*`, or comma-separated origins (`https://app.example.com`); undefined when one is not an origin. */
export function parseCorsOrigins(text: string | undefined): string[] | undefined {
  if (text === undefined) return [];
  const origins = text
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  if (origins.length === 0) return undefined;
  if (origins.includes('*')) return ['*'];
  return origins.every((origin) => ORIGIN.test(origin)) ? origins.map((origin) => origin.toLowerCase()) : undefined;
}
