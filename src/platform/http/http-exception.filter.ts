import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { HttpError } from './http-error.js';

/** Every error leaves as JSON `{statusCode, error, message}`; unexpected errors never show their details. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const body =
        typeof response === 'object' && response !== null
          ? response
          : { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: String(response) };
      if (exception instanceof HttpError) void reply.headers(exception.headers);
      void reply.status(status).send(body);
      return;
    }
    // Errors Fastify raises before a route runs (body too large, not JSON) carry a 4xx statusCode.
    const statusCode = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      const message = (exception as Error).message;
      void reply.status(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message });
      return;
    }
    this.logger.error(`unexpected error: ${(exception as Error)?.stack ?? String(exception)}`);
    void reply.status(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'unexpected error; see the service log' });
  }
}
