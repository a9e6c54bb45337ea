import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { AdminGuard } from '../http/admin.guard.js';
import { HttpError } from '../http/http-error.js';
import { type DeadLetterSelection, parseFilter, parseSelection } from './dead-letter.filter.js';
import { DeadLetterService } from './dead-letter.service.js';
import { DeadLetterStore } from './dead-letter.store.js';

const LIST_FIELDS = ['status', 'reason', 'clientId', 'since', 'until', 'limit', 'cursor'];

function selectionFrom(body: unknown): DeadLetterSelection {
  const parsed = parseSelection(body);
  if (!parsed.ok) throw new HttpError(400, parsed.problems.join('; '));
  return parsed.value;
}

function wholeNumber(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/**
 * The dead-letter admin API (ADMIN_TOKEN as `Authorization: Bearer <token>`): list and filter
 * the events Kable did not take, inspect one, replay them through the normal delivery path
 * (same transactionId), or discard them.
 */
@Controller('v1/dead-letters')
@UseGuards(AdminGuard)
export class DeadLetterController {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly deadLetters: DeadLetterService,
  ) {}

  /** `GET /v1/dead-letters?status=401&reason=…&clientId=…&since=2h&until=…&limit=100&cursor=…`, newest first. */
  @Get()
  async list(@Query() query: Record<string, unknown>) {
    const unknown = Object.keys(query).filter((k) => !LIST_FIELDS.includes(k));
    if (unknown.length > 0) throw new HttpError(400, `unknown query parameter(s) ${unknown.join(', ')}; use ${LIST_FIELDS.join(', ')}`);
    const filter = parseFilter(query);
    if (!filter.ok) throw new HttpError(400, filter.problems.join('; '));
    const limit = wholeNumber(query.limit, 'limit', 1, 1000, 100);
    const cursor = wholeNumber(query.cursor, 'cursor', 0, Number.MAX_SAFE_INTEGER, 0);
    const [total, page] = await Promise.all([this.store.count(), this.store.search(filter.value, { cursor, limit })]);
    return {
      total,
      count: page.deadLetters.length,
      deadLetters: page.deadLetters,
      next: page.next === undefined ? null : String(page.next),
    };
  }

  @Get(':transactionId')
  async get(@Param('transactionId') transactionId: string) {
    const letter = await this.store.get(transactionId);
    if (!letter) throw new HttpError(404, `no dead letter with transactionId ${JSON.stringify(transactionId.slice(0, 100))}`);
    return letter;
  }

  /** Body: `{ "transactionIds": [...] }`, a filter (`{ "status": 401 }`) or `{ "all": true }`. */
  @Post('replay')
  @HttpCode(200)
  async replay(@Body() body: unknown) {
    const { count, ...rest } = await this.deadLetters.replay(selectionFrom(body));
    return { replayed: count, ...rest };
  }

  /** Same body as replay. */
  @Post('discard')
  @HttpCode(200)
  async discard(@Body() body: unknown) {
    const { count, ...rest } = await this.deadLetters.discard(selectionFrom(body));
    return { discarded: count, ...rest };
  }

  @Delete(':transactionId')
  async remove(@Param('transactionId') transactionId: string) {
    const { count } = await this.deadLetters.discard({ kind: 'ids', transactionIds: [transactionId] });
    if (count === 0) throw new HttpError(404, `no dead letter with transactionId ${JSON.stringify(transactionId.slice(0, 100))}`);
    return { discarded: count };
  }
}
