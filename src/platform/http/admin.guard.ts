import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { SecretMatcher } from './secret-matcher.js';
import { CROSS_ORIGIN_REFUSED, isCrossOriginRequest } from './cross-origin.js';
import { HttpError } from './http-error.js';

/** The admin token from `Authorization: Bearer <token>`, or the password of HTTP Basic (for browsers). */
export function adminTokenFrom(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization)?.[1];
  if (basic === undefined) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * Protects admin endpoints with ADMIN_TOKEN (`@UseGuards(AdminGuard)`). Write keys do not open
 * them. With no ADMIN_TOKEN configured, admin endpoints are closed. A browser request sent by a
 * page of another origin is refused (403) before the token is looked at: a browser that cached
 * the dashboard's Basic login would otherwise send it along with a forged form.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly token?: SecretMatcher;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.token = config.adminToken ? new SecretMatcher([config.adminToken]) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (isCrossOriginRequest(request)) throw new HttpError(403, CROSS_ORIGIN_REFUSED);
    if (!this.token) throw new HttpError(401, 'the admin API is disabled: set ADMIN_TOKEN to enable it');
    if (!this.token.matches(adminTokenFrom(request.headers.authorization))) {
      throw new HttpError(
        401,
        'missing or wrong admin token: send "Authorization: Bearer <ADMIN_TOKEN>"',
        {},
        { 'www-authenticate': 'Basic realm="kable-destination admin"' },
      );
    }
    return true;
  }
}
