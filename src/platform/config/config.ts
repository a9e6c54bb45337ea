import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsNotEmpty, IsOptional, IsString, Matches, MinLength, validateSync } from 'class-validator';
import { formatDuration, parseDuration } from './duration.js';
import { parseEventNameKey, parseEventSelection } from '../../segment/event-selection.js';
import { isDotPath, parsePropertyMappings, type PropertyMapping } from '../../segment/property-mappings.js';

/** Which parts of the service this process runs. */
export type Role = 'all' | 'api' | 'worker';

/** The validated, typed settings. Read from the environment once, at boot (`loadConfig`). */
export interface AppConfig {
  kable: {
    /** Seed "API Key": sent as `Kable-Client-Secret`. */
    apiKey: string;
    /** Seed "Kable Client ID": sent as `Kable-Client-ID`. */
    clientId: string;
    /** Seed "Client ID Field": dot path into the Segment message. */
    clientIdField: string;
    /** Seed "Properties Mappings". */
    propertyMappings: PropertyMapping[];
    baseUrl: string;
    batchSize: number;
    flushIntervalMs: number;
    requestTimeoutMs: number;
    retryHorizonMs: number;
    retryMaxDelayMs: number;
    maxInFlight: number;
    /** Largest Kable request body in bytes (KABLE_MAX_REQUEST_BYTES): bigger batches are split. */
    maxRequestBytes: number;
    /** KABLE_EVENTS: which track event names become Kable events (`*` matches any run); undefined = all. */
    events?: string[];
    /** KABLE_EVENT_NAME_KEY: dot path in `data` where the Segment event name is written; undefined = not written. */
    eventNameKey?: string;
  };
  segment: {
    writeKeys: string[];
    sharedSecret?: string;
    /**
     * SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE: `reject` (default) refuses an array whose X-Signature
     * covers only its first item; `accept` takes it (unsafe: the other items are not authenticated).
     */
    firstItemSignature: 'reject' | 'accept';
  };
  redis: { url: string; prefix: string };
  http: {
    port: number;
    host: string;
    /** CORS_ORIGINS: origins allowed to call the ingest endpoints from a browser (`*` = any); empty = CORS off. */
    corsOrigins: string[];
    /** HTTP_HEADERS_TIMEOUT: a request's headers must arrive within this. */
    headersTimeoutMs: number;
    /** HTTP_REQUEST_TIMEOUT: a whole request (headers and body) must arrive within this. */
    requestTimeoutMs: number;
    /** HTTP_KEEP_ALIVE_TIMEOUT: an idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: number;
    /** HTTP_MAX_CONNECTIONS: connections past this are closed at once. */
    maxConnections: number;
  };
  role: Role;
  dedupWindowMs: number;
  /** How long GET /v1/events/:messageId keeps delivery and skip records (EVENT_TRACE_WINDOW); 0 turns them off. */
  eventTraceWindowMs: number;
  deliveryConcurrency: number;
  /**
   * How long a delivery job's lock lasts (BullMQ lockDuration; the worker renews it at half this
   * while the job runs). Also how often stalled jobs are looked for, so a crashed worker's jobs
   * are taken over by another worker after at most about twice this.
   */
  deliveryLockMs: number;
  adminToken?: string;
  engage: {
    syncIntervalMs: number;
    /** ENGAGE_MAX_AUDIENCES: membership of audiences past this many is skipped. */
    maxAudiences: number;
  };
  /** How long dead letters are kept (DEAD_LETTER_RETENTION). */
  deadLetterRetentionMs: number;
  /** Queued events past which ingest answers 503 with Retry-After (BACKLOG_LIMIT). */
  backlogLimit: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** `json` (one JSON object per line, the default) or `pretty` (LOG_FORMAT=pretty, or NODE_ENV=development). */
  logFormat: 'json' | 'pretty';
}

/** Thrown by loadConfig: one line per problem, each naming the variable. Never contains a value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const DURATION = /^(\d+|(\d+(ms|s|m|h|d))+)$/;
const INTEGER = /^\d+$/;

/** The raw environment, checked with class-validator. Messages never echo the value (it may be a secret). */
class EnvironmentVariables {
  @IsString({ message: 'is required (your Kable API key, e.g. sk_test.…)' })
  @IsNotEmpty({ message: 'is required (your Kable API key, e.g. sk_test.…)' })
  KABLE_API_KEY!: string;

  @IsString({ message: 'is required (your Kable Client ID, e.g. kci_…)' })
  @IsNotEmpty({ message: 'is required (your Kable Client ID, e.g. kci_…)' })
  KABLE_CLIENT_ID!: string;

  @IsOptional()
  @IsString()
  KABLE_CLIENT_ID_FIELD?: string;

  @IsOptional()
  @IsString()
  KABLE_PROPERTIES_MAPPINGS?: string;

  @IsOptional()
  @Matches(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { message: 'must be an http(s) URL such as https://live.kable.io' })
  KABLE_BASE_URL?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a whole number from 1 to 500' })
  KABLE_BATCH_SIZE?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 500ms or 1s' })
  KABLE_FLUSH_INTERVAL?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 10s' })
  KABLE_REQUEST_TIMEOUT?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 4h' })
  KABLE_RETRY_HORIZON?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 5m' })
  KABLE_RETRY_MAX_DELAY?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a whole number from 1 to 64' })
  KABLE_MAX_IN_FLIGHT?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a whole number of bytes from 65536 to 104857600' })
  KABLE_MAX_REQUEST_BYTES?: string;

  @IsOptional()
  @IsString()
  KABLE_EVENTS?: string;

  @IsOptional()
  @IsString()
  KABLE_EVENT_NAME_KEY?: string;

  @IsString({ message: 'is required: the comma-separated Segment write keys this service accepts' })
  @IsNotEmpty({ message: 'is required: the comma-separated Segment write keys this service accepts' })
  SEGMENT_WRITE_KEYS!: string;

  @IsOptional()
  @IsString()
  SEGMENT_SHARED_SECRET?: string;

  @IsOptional()
  @IsIn(['reject', 'accept'], { message: 'must be one of: reject, accept' })
  SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE?: string;

  @IsOptional()
  @IsString()
  CORS_ORIGINS?: string;

  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'must be 1-32 letters, digits, "_" or "-"' })
  REDIS_PREFIX?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a port number from 1 to 65535' })
  PORT?: string;

  @IsOptional()
  @IsString()
  HOST?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 10s' })
  HTTP_HEADERS_TIMEOUT?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 30s' })
  HTTP_REQUEST_TIMEOUT?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 65s' })
  HTTP_KEEP_ALIVE_TIMEOUT?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a whole number from 16 to 1000000' })
  HTTP_MAX_CONNECTIONS?: string;

  @IsOptional()
  @IsIn(['all', 'api', 'worker'], { message: 'must be one of: all, api, worker' })
  SERVICE_ROLE?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 24h' })
  DEDUP_WINDOW?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 2h, or 0 to keep no event traces' })
  EVENT_TRACE_WINDOW?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a whole number from 1 to 10000' })
  DELIVERY_CONCURRENCY?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 30s' })
  DELIVERY_LOCK_DURATION?: string;

  @IsOptional()
  @MinLength(16, { message: 'must be at least 16 characters (a long random string)' })
  ADMIN_TOKEN?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 2h30m' })
  ENGAGE_SYNC_INTERVAL?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a whole number from 1 to 100000' })
  ENGAGE_MAX_AUDIENCES?: string;

  @IsOptional()
  @Matches(DURATION, { message: 'must be a duration such as 7d' })
  DEAD_LETTER_RETENTION?: string;

  @IsOptional()
  @Matches(INTEGER, { message: 'must be a whole number of events from 1 to 1000000000' })
  BACKLOG_LIMIT?: string;

  @IsOptional()
  @IsIn(['debug', 'info', 'warn', 'error'], { message: 'must be one of: debug, info, warn, error' })
  LOG_LEVEL?: string;

  @IsOptional()
  @IsIn(['json', 'pretty'], { message: 'must be one of: json, pretty' })
  LOG_FORMAT?: string;
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment. Throws ConfigError listing every problem. */
export function loadConfig(env: Env): AppConfig {
  // An empty variable counts as unset, as in most .env tooling.
  const raw: Env = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value.trim() !== '') raw[key] = value;

  const problems: string[] = [];
  const vars = plainToInstance(EnvironmentVariables, raw, { excludeExtraneousValues: false });
  for (const error of validateSync(vars, { skipMissingProperties: false })) {
    // One line per variable: the first rule it breaks.
    const [message] = Object.values(error.constraints ?? {});
    if (message) problems.push(`${error.property} ${message}`);
  }

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = raw[name] === undefined ? fallback : Number(raw[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      if (!problems.some((p) => p.startsWith(`${name} `))) problems.push(`${name} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const duration = (name: string, fallback: string, min: number, max: number): number => {
    const value = parseDuration(raw[name] ?? fallback);
    if (value === undefined) return parseDuration(fallback)!; // already reported by the validator
    if (value < min || value > max) {
      problems.push(`${name} must be between ${formatDuration(min)} and ${formatDuration(max)}`);
      return parseDuration(fallback)!;
    }
    return value;
  };

  const clientIdField = (raw.KABLE_CLIENT_ID_FIELD ?? 'userId').trim();
  if (!isDotPath(clientIdField)) {
    problems.push('KABLE_CLIENT_ID_FIELD must be a dot path into the Segment message, such as userId or context.groupId');
  }

  let propertyMappings: PropertyMapping[] = [];
  try {
    propertyMappings = parsePropertyMappings(raw.KABLE_PROPERTIES_MAPPINGS);
  } catch (error) {
    problems.push(`KABLE_PROPERTIES_MAPPINGS ${(error as Error).message}`);
  }

  const writeKeys = (raw.SEGMENT_WRITE_KEYS ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
  if (raw.SEGMENT_WRITE_KEYS !== undefined && writeKeys.length === 0) {
    problems.push('SEGMENT_WRITE_KEYS must list at least one write key (comma-separated)');
  }

  if (raw.ADMIN_TOKEN !== undefined && writeKeys.includes(raw.ADMIN_TOKEN)) {
    problems.push('ADMIN_TOKEN must differ from every write key in SEGMENT_WRITE_KEYS');
  }

  const corsOrigins = parseCorsOrigins(raw.CORS_ORIGINS);
  if (corsOrigins === undefined) {
    problems.push(
      'CORS_ORIGINS must be "*" or comma-separated origins such as https://app.example.com (scheme, host, optional port; no path)',
    );
  }

  const apiKey = raw.KABLE_API_KEY ?? '';
  const config: AppConfig = {
    kable: {
      apiKey,
      clientId: raw.KABLE_CLIENT_ID ?? '',
      clientIdField,
      propertyMappings,
      baseUrl: (raw.KABLE_BASE_URL ?? (apiKey.startsWith('sk_live') ? 'https://live.kable.io' : 'https://test.kable.io')).replace(
        /\/+$/,
        '',
      ),
      batchSize: int('KABLE_BATCH_SIZE', 500, 1, 500),
      flushIntervalMs: duration('KABLE_FLUSH_INTERVAL', '1s', 1, 60_000),
      requestTimeoutMs: duration('KABLE_REQUEST_TIMEOUT', '10s', 100, 300_000),
      retryHorizonMs: duration('KABLE_RETRY_HORIZON', '4h', 1000, 7 * 86_400_000),
      retryMaxDelayMs: duration('KABLE_RETRY_MAX_DELAY', '5m', 100, 86_400_000),
      maxInFlight: int('KABLE_MAX_IN_FLIGHT', 8, 1, 64),
      maxRequestBytes: int('KABLE_MAX_REQUEST_BYTES', 4 * 1024 * 1024, 65_536, 100 * 1024 * 1024),
      events: parseEventSelection(raw.KABLE_EVENTS, problems), // KABLE_EVENTS: the event selection (issue 14)
      eventNameKey: parseEventNameKey(raw.KABLE_EVENT_NAME_KEY, problems),
    },
    segment: {
      writeKeys,
      sharedSecret: raw.SEGMENT_SHARED_SECRET,
      firstItemSignature: (raw.SEGMENT_WEBHOOK_FIRST_ITEM_SIGNATURE ?? 'reject') as AppConfig['segment']['firstItemSignature'],
    },
    redis: { url: raw.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: raw.REDIS_PREFIX ?? 'kable' },
    http: {
      port: int('PORT', 3000, 1, 65535),
      host: raw.HOST ?? '0.0.0.0',
      corsOrigins: corsOrigins ?? [],
      headersTimeoutMs: duration('HTTP_HEADERS_TIMEOUT', '10s', 1000, 60_000),
      requestTimeoutMs: duration('HTTP_REQUEST_TIMEOUT', '30s', 1000, 300_000),
      keepAliveTimeoutMs: duration('HTTP_KEEP_ALIVE_TIMEOUT', '65s', 1000, 600_000),
      maxConnections: int('HTTP_MAX_CONNECTIONS', 10_000, 16, 1_000_000),
    },
    role: (raw.SERVICE_ROLE ?? 'all') as Role,
    dedupWindowMs: duration('DEDUP_WINDOW', '24h', 60_000, 30 * 86_400_000),
    eventTraceWindowMs: 0, // set below: defaults to the deduplication window
    deliveryConcurrency: int('DELIVERY_CONCURRENCY', 2000, 1, 10_000),
    deliveryLockMs: duration('DELIVERY_LOCK_DURATION', '30s', 1000, 600_000),
    adminToken: raw.ADMIN_TOKEN,
    engage: {
      syncIntervalMs: duration('ENGAGE_SYNC_INTERVAL', '2h30m', 60_000, 86_400_000),
      maxAudiences: int('ENGAGE_MAX_AUDIENCES', 1000, 1, 100_000),
    },
    deadLetterRetentionMs: duration('DEAD_LETTER_RETENTION', '7d', 60_000, 90 * 86_400_000),
    backlogLimit: int('BACKLOG_LIMIT', 500_000, 1, 1_000_000_000),
    logLevel: (raw.LOG_LEVEL ?? 'info') as AppConfig['logLevel'],
    logFormat: (raw.LOG_FORMAT ?? (raw.NODE_ENV === 'development' ? 'pretty' : 'json')) as AppConfig['logFormat'],
  };

  config.eventTraceWindowMs =
    raw.EVENT_TRACE_WINDOW === undefined ? config.dedupWindowMs : duration('EVENT_TRACE_WINDOW', '24h', 0, 30 * 86_400_000);

  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    problems.push('HTTP_HEADERS_TIMEOUT must not be longer than HTTP_REQUEST_TIMEOUT');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
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
