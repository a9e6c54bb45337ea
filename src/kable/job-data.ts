import { promisify } from 'node:util';
import { constants, deflateRawSync, inflateRaw, inflateRawSync } from 'node:zlib';
import type { KableEvent } from './kable-event.js';
import type { DeliverJobData } from './queues.js';

const inflate = promisify(inflateRaw);

/**
 * Events whose JSON is at least this long are stored deflated. A batch of 100 analytics-node track
 * events is about 20 KB of JSON and 3–4 KB deflated and base64-encoded (the keys and most of the
 * values repeat from event to event); below about 1 KB there is little to gain.
 */
export const DEFLATE_FROM_CHARS = 1024;

/**
 * The payload of a delivery job. The events are kept in Redis until Kable has them (the backlog),
 * so their size is the backlog's cost: large jobs hold them deflated (`deflated`, base64 of raw
 * deflate of the events' JSON, with `count` for people reading the queue); small ones as plain JSON
 * (`events`). Deflating 100 events takes about 100 µs at the fastest level; it runs on the event
 * loop because the thread pool's hand-off cost more CPU than it saved (`node bench/ingest-cpu.js`).
 */
export function encodeJobData(events: KableEvent[], source: DeliverJobData['source']): DeliverJobData {
  const json = JSON.stringify(events);
  if (json.length < DEFLATE_FROM_CHARS) return { events, source };
  const bytes = deflateRawSync(json, { level: constants.Z_BEST_SPEED });
  return { source, count: events.length, deflated: bytes.toString('base64') };
}

/** The events of a job, in either form (jobs queued by an older version hold `events`). */
export async function decodeJobEvents(data: DeliverJobData): Promise<KableEvent[]> {
  if (data.deflated === undefined) return data.events ?? [];
  const json = (await inflate(Buffer.from(data.deflated, 'base64'))).toString('utf8');
  return JSON.parse(json) as KableEvent[];
}

/**
 * The job data as people should see it (the queue dashboard): deflated events shown decoded. A job
 * that cannot be decoded is shown as stored.
 */
export function readableJobData(data: DeliverJobData): DeliverJobData {
  if (typeof data?.deflated !== 'string') return data;
  try {
    const events = JSON.parse(inflateRawSync(Buffer.from(data.deflated, 'base64')).toString('utf8')) as KableEvent[];
    const { deflated: _deflated, ...rest } = data;
    return { ...rest, events };
  } catch {
    return data;
  }
}
