import { createHmac, timingSafeEqual } from 'node:crypto';

/** The write key of an HTTP Basic header (`base64("KEY:")`), as Segment's SDKs send it. */
export function writeKeyFromBasic(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization)?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(0, colon);
}

/** Verifies a Segment signature: hex HMAC-SHA1 of `payload` keyed by the shared secret. */
export function verifySignature(secret: string, payload: Buffer | string, signature: string | undefined): boolean {
  if (!signature || !/^[0-9a-f]{40}$/i.test(signature.trim())) return false;
  const expected = createHmac('sha1', secret).update(payload).digest();
  return timingSafeEqual(expected, Buffer.from(signature.trim(), 'hex'));
}

/**
 * Whether a webhook request is signed: `X-Segment-Signature` or `X-Signature` over the whole body
 * as sent. Segment's Actions webhook, batching, signs only the first item in `X-Signature`; such an
 * array authenticates nothing past its first item, so it is refused unless `acceptFirstItem`.
 * Returns undefined when the request is signed, else the reason to refuse it.
 */
export function webhookSignature(
  secret: string,
  raw: Buffer,
  body: unknown,
  headers: { segmentSignature?: string; signature?: string; acceptFirstItem: boolean },
): string | undefined {
  const { segmentSignature, signature } = headers;
  if (verifySignature(secret, raw, segmentSignature) || verifySignature(secret, raw, signature)) return undefined;
  const firstItem = Array.isArray(body) && body.length > 0 && verifySignature(secret, JSON.stringify(body[0]), signature);
  if (firstItem && (body.length === 1 || headers.acceptFirstItem)) return undefined;
  if (firstItem) {
    return (
      `X-Signature covers only the first of the ${body.length} items of this batch, so the others are not authenticated: ` +
      'turn on "Use X-Segment-Signature Header" in the Webhooks (Actions) destination, or turn its batching off'
    );
  }
  return 'missing or invalid signature: X-Segment-Signature (or X-Signature) must be the hex HMAC-SHA1 of the body as sent, keyed by the shared secret';
}
