import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KableEvent } from '../segment/kable-event.js';
import type { DeliverJobData } from './queues.js';

/** Events whose JSON is at least this long are stored deflated; below it there is little to gain. */
export const DEFLATE_FROM_CHARS = 1024;

/**
 * The payload of a delivery job. Its events stay in Redis until Kable has them, so large jobs hold
 * them deflated (`deflated`, `count` for people reading the queue), small ones as `events`. One
 * event per line lets the worker send each event's JSON as it is, without parsing it again.
 */
export function encodeJobData(events: KableEvent[], source: DeliverJobData['source']): DeliverJobData {
  return encodeEventJson(
    events.map((event) => JSON.stringify(event)),
    source,
    events,
  );
}

/** Like `encodeJobData`, from the events' JSON (`decodeEventJson`). */
export function encodeEventJson(eventJson: string[], source: DeliverJobData['source'], events?: KableEvent[]): DeliverJobData {
  // JSON.stringify never writes a raw line break, so the lines are exactly the events.
  const lines = eventJson.join('\n');
  if (lines.length < DEFLATE_FROM_CHARS) return { events: events ?? eventJson.map((json) => JSON.parse(json) as KableEvent), source };
  // The fastest level on the event loop: the thread pool's hand-off cost more CPU than it saved.
  const bytes = deflateRawSync(lines, { level: constants.Z_BEST_SPEED });
  return { source, count: eventJson.length, deflated: bytes.toString('base64') };
}

/** The JSON of each event of a job, in order. Throws on corrupt data. */
export function decodeEventJson(data: DeliverJobData): string[] {
  return decodeLines(data).json;
}

/** The JSON of each event of a job (`decodeEventJson`) and its size in UTF-8 bytes, as Kable receives it. */
export function decodeSizedEventJson(data: DeliverJobData): { json: string[]; bytes: number[] } {
  const { json, ascii } = decodeLines(data);
  return { json, bytes: json.map(ascii ? (line) => line.length : (line) => Buffer.byteLength(line)) };
}

/** `ascii`: known to be ASCII only, so each line's length is its size in bytes. */
function decodeLines(data: DeliverJobData): { json: string[]; ascii: boolean } {
  if (data.deflated === undefined) return { json: data.events.map((event) => JSON.stringify(event)), ascii: false };
  const raw = inflateRawSync(Buffer.from(data.deflated, 'base64'));
  const text = raw.toString('utf8');
  const lines = text.split('\n');
  if (lines.length !== data.count) throw new Error(`job data holds ${lines.length} events, not the ${data.count} it says`);
  // Only ASCII decodes to one character per byte (the service wrote this text as valid UTF-8).
  return { json: lines, ascii: raw.length === text.length };
}

/** How many events a job holds, without decoding them. */
export function jobEventCount(data: DeliverJobData): number {
  return data.deflated === undefined ? data.events.length : data.count;
}

/** The events of a job, in either form. */
export function decodeJobEvents(data: DeliverJobData): KableEvent[] {
  if (data.deflated === undefined) return data.events;
  return decodeEventJson(data).map((json) => JSON.parse(json) as KableEvent);
}

/** A job's data as people should see it (the queue dashboard): the events decoded. */
export type ReadableJobData = Omit<DeliverJobData, 'deflated'> & { events: KableEvent[] };

/** The job data as people should see it: deflated events shown decoded; a job that cannot be decoded as stored. */
export function readableJobData(data: DeliverJobData): DeliverJobData | ReadableJobData {
  if (typeof data?.deflated !== 'string') return data;
  try {
    const events = decodeJobEvents(data);
    const { deflated: _deflated, ...rest } = data;
    return { ...rest, events };
  } catch {
    return data;
  }
}
