import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';

/**
 * An error answer in the service's one JSON shape: `{statusCode, error, message, ...extra}`,
 * optionally with headers (Retry-After on 503).
 */
export class HttpError extends HttpException {
  constructor(
    status: number,
    message: string,
    extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, ...extra }, status);
  }
}
