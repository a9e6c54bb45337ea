import type { IncomingMessage } from 'node:http';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ingestRoute } from '../../segment/tracking-api.js';
import { describeJsonError, MAX_JSON_DEPTH, nestedDeeperThan } from './json-depth.js';
import { LIMITS } from '../../segment/segment-message.js';

function httpError(status: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode: status });
}

/** The request's body size limit: 32 KB on single-call endpoints, Segment's 500 KB batch limit elsewhere. */
function limitFor(request: FastifyRequest): { bytes: number; path: string } {
  const route = ingestRoute(request.routeOptions.url, request.params);
  if (route?.kind === 'single') return { bytes: LIMITS.messageBytes, path: `/v1/${route.type}` };
  return { bytes: LIMITS.batchBytes, path: request.routeOptions.url ?? request.url.split('?')[0] ?? '' };
}

type Decoder = Gunzip | Inflate;

/** A decoder for the Content-Encoding, undefined for none, or an error answer for one we cannot read. */
function decoderFor(header: string | string[] | undefined): Decoder | undefined | Error {
  const encoding = (Array.isArray(header) ? header.join(',') : (header ?? '')).trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return undefined;
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  return httpError(415, `Content-Encoding "${encoding.slice(0, 40)}" is not supported: send the body as it is, or with gzip or deflate`);
}

/**
 * Reads the body as bytes, inflating gzip or deflate as a stream, with the size limit applied to
 * the bytes as sent and to the inflated bytes: a body that inflates past it is refused (413) as
 * soon as it does, without inflating the rest. Resolves with the bytes as sent (what a webhook
 * signature covers) and the decoded bytes.
 */
function readBody(
  request: FastifyRequest,
  payload: IncomingMessage,
  limit: { bytes: number; path: string },
): Promise<{ raw: Buffer; decoded: Buffer }> {
  return new Promise((resolve, reject) => {
    const decoder = decoderFor(request.headers['content-encoding']);
    if (decoder instanceof Error) return reject(decoder);
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit.bytes) {
      return reject(httpError(413, `body is ${declared} bytes; the limit for ${limit.path} is ${limit.bytes} bytes`));
    }
    const raw: Buffer[] = [];
    const decoded: Buffer[] = [];
    let rawBytes = 0;
    let decodedBytes = 0;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      payload.removeListener('data', onRaw);
      decoder?.destroy();
      payload.resume(); // let the rest arrive and be dropped, so the answer can be read
      reject(error);
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      const rawBody = Buffer.concat(raw, rawBytes);
      resolve({ raw: rawBody, decoded: decoder ? Buffer.concat(decoded, decodedBytes) : rawBody });
    };
    const onRaw = (chunk: Buffer) => {
      rawBytes += chunk.length;
      if (rawBytes > limit.bytes) return fail(httpError(413, `body is over ${limit.bytes} bytes, the limit for ${limit.path}`));
      raw.push(chunk);
      decoder?.write(chunk);
    };
    payload.on('data', onRaw);
    payload.on('error', fail);
    if (!decoder) {
      payload.on('end', finish);
      return;
    }
    const encoding = String(request.headers['content-encoding']).trim().toLowerCase();
    decoder.on('data', (chunk: Buffer) => {
      decodedBytes += chunk.length;
      if (decodedBytes > limit.bytes) {
        return fail(
          httpError(413, `body inflates to over ${limit.bytes} bytes (Content-Encoding: ${encoding}), the limit for ${limit.path}`),
        );
      }
      decoded.push(chunk);
    });
    decoder.on('error', (error: Error) =>
      fail(httpError(400, `body is not a valid ${encoding} stream (Content-Encoding: ${encoding}): ${error.message}`)),
    );
    decoder.on('end', finish);
    payload.on('end', () => decoder.end());
  });
}

/**
 * Every body is read as JSON whatever its Content-Type (analytics.js sends `text/plain`), as
 * Segment's API does. The size limit is applied while reading and before parsing, whatever the
 * spelling of the path (it comes from the matched route), so is the nesting depth (64). The bytes
 * as sent are kept as `rawBody` for webhook signatures.
 */
export function configureBodyParsing(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request, payload, done) => {
    readBody(request, payload, limitFor(request)).then(
      ({ raw, decoded }) => {
        (request as unknown as { rawBody: Buffer }).rawBody = raw;
        if (decoded.length === 0) return done(null, undefined);
        if (nestedDeeperThan(decoded, MAX_JSON_DEPTH)) {
          return done(
            httpError(400, `body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; Segment messages need far fewer`),
            undefined,
          );
        }
        try {
          done(null, JSON.parse(decoded.toString('utf8')));
        } catch (error) {
          done(httpError(400, describeJsonError(error)), undefined);
        }
      },
      (error: Error) => done(error, undefined),
    );
  });
}
