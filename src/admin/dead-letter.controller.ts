import { applyDecorators, Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../platform/http/admin.guard.js';
import { HttpError } from '../platform/http/http-error.js';
import { ApiErrors, AUTH, KABLE_EVENT_EXAMPLE, ADMIN_ERRORS } from '../platform/openapi/openapi.js';
import { type DeadLetterSelection, MAX_IDS_PER_CALL, parseFilter, parseSelection } from '../delivery/dead-letter.filter.js';
import { DeadLetterService, MAX_PER_CALL } from './dead-letter.service.js';
import { DeadLetterStore } from '../delivery/dead-letter.store.js';

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

/** A dead letter as the store keeps it (`DeadLetter` in dead-letter.store.ts). */
const DEAD_LETTER_EXAMPLE = {
  event: KABLE_EVENT_EXAMPLE,
  reason: 'HTTP 401',
  status: 401,
  body: '{"message":"Unauthorized"}',
  requestId: '7d1c1e52-6a0e-4d7b-9d0b-8f0e2b0c9d11',
  attempts: 1,
  queuedAt: 1767951121120,
  failedAt: 1767951122010,
  jobId: '4712',
};

const DEAD_LETTER_SCHEMA = {
  type: 'object',
  required: ['event', 'reason', 'attempts', 'queuedAt', 'failedAt'],
  properties: {
    event: {
      type: 'object',
      description: 'The Kable event, unchanged (a replay sends it with the same transactionId)',
      required: ['clientId', 'timestamp', 'transactionId', 'data'],
      properties: {
        clientId: { type: 'string' },
        timestamp: { type: 'string' },
        transactionId: { type: 'string' },
        data: { type: 'object' },
      },
    },
    reason: { type: 'string', description: 'Short reason: `HTTP 401`, `gave up after 4h: HTTP 503`' },
    status: { type: 'integer', description: "Kable's HTTP status; absent for network errors" },
    body: { type: 'string', description: "Kable's answer body, cut to 2,000 characters" },
    requestId: { type: 'string', description: "Kable's X-REQUEST-ID, what Kable support asks for" },
    attempts: { type: 'integer' },
    queuedAt: { type: 'integer', description: 'When the event was first queued, ms since epoch' },
    failedAt: { type: 'integer', description: 'When it failed for good, ms since epoch' },
    jobId: { type: 'string' },
  },
};

const USAGE = 'send { "transactionIds": [...] }, a filter such as { "status": 401, "since": "2h" }, or { "all": true }';
const NOT_FOUND = 'no dead letter with transactionId "hour-of-401-7"';
const TIME_HELP = 'an ISO-8601 date-time such as 2026-11-29T10:00:00Z, or a duration ago such as 2h';

/** Body of replay and discard (`parseSelection` in dead-letter.filter.ts): exactly one of transactionIds, a filter or all. */
const SELECTION_BODY = ApiBody({
  description: `Exactly one of: \`transactionIds\` (at most ${MAX_IDS_PER_CALL}), a filter (any of status, reason, clientId, since, until), or \`all: true\`. An empty body is refused.`,
  schema: {
    type: 'object',
    properties: {
      transactionIds: { type: 'array', items: { type: 'string', maxLength: 100 }, minItems: 1, maxItems: MAX_IDS_PER_CALL },
      all: { type: 'boolean', enum: [true] },
      status: {
        oneOf: [{ type: 'integer' }, { type: 'string' }],
        description: 'An HTTP status (401), a comma-separated list ("401,403") or "none" (network errors)',
      },
      reason: { type: 'string', maxLength: 200, description: "Case-insensitive text found in the reason or in Kable's answer" },
      clientId: { type: 'string', description: "The event's Kable clientId, exactly" },
      since: { type: 'string', description: `Failed at or after: ${TIME_HELP}` },
      until: { type: 'string', description: `Failed at or before: ${TIME_HELP}` },
    },
  },
  examples: {
    byIds: { summary: 'by transactionId', value: { transactionIds: ['forbidden-1', 'no-such-event'] } },
    byFilter: { summary: 'by filter', value: { status: 401, since: '2h' } },
    all: { summary: 'every dead letter', value: { all: true } },
  },
});

/** The list's query parameters (LIST_FIELDS), documented in that order. */
const LIST_QUERY = applyDecorators(
  ...(
    [
      {
        name: 'status',
        description: 'Kable\'s HTTP status: one (401), a comma-separated list (401,403), or "none" for network errors',
        example: '401,403',
      },
      {
        name: 'reason',
        description: "Case-insensitive text found in the reason or in Kable's answer (at most 200 characters)",
        example: 'Unauthorized',
      },
      { name: 'clientId', description: "The event's Kable clientId, exactly", example: 'cust_a' },
      { name: 'since', description: `Failed at or after: ${TIME_HELP}`, example: '2h' },
      { name: 'until', description: `Failed at or before: ${TIME_HELP}`, example: '2026-11-29T10:00:00Z' },
      { name: 'limit', type: 'integer', minimum: 1, maximum: 1000, description: 'Page size (default 100)', example: 100 },
      { name: 'cursor', description: '`next` of the previous page', example: '500' },
    ] as const
  ).map((query) => ApiQuery({ type: 'string', required: false, ...query })),
);

const SELECTION_ERRORS = ApiErrors({ 400: `say exactly one of transactionIds, a filter or all: ${USAGE}` });

/** The dead-letter admin API: list, inspect, replay (same transactionId, through the normal delivery path) or discard. */
@ApiTags('admin')
@ApiBearerAuth(AUTH.admin)
@ADMIN_ERRORS
@Controller('v1/dead-letters')
@UseGuards(AdminGuard)
export class DeadLetterController {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly deadLetters: DeadLetterService,
  ) {}

  /** `GET /v1/dead-letters?status=401&reason=…&clientId=…&since=2h&until=…&limit=100&cursor=…`, newest first. */
  @Get()
  @ApiOperation({
    summary: 'List dead letters (events Kable did not take), newest first, with filters and a cursor',
    description:
      'Every filter narrows the list. `total` counts all dead letters, `count` those on this page; pass `next` as `cursor` for the next page (null: no more). A page may hold fewer than `limit` entries and still have a `next` when a selective filter scans a large store. Dead letters are kept for DEAD_LETTER_RETENTION.',
  })
  @LIST_QUERY
  @ApiOkResponse({
    examples: {
      page: { summary: 'a page with more to follow', value: { total: 25, count: 1, deadLetters: [DEAD_LETTER_EXAMPLE], next: '1' } },
      empty: { summary: 'nothing selected', value: { total: 0, count: 0, deadLetters: [], next: null } },
    },
  })
  @ApiErrors({
    400: 'status must be an HTTP status such as 401, a comma-separated list such as 401,403, or "none" (network errors); since must be an ISO-8601 date-time such as 2026-11-29T10:00:00Z, or a duration ago such as 2h',
  })
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
  @ApiOperation({ summary: 'One dead letter: the event, why Kable refused it, its answer and X-REQUEST-ID' })
  @ApiParam({ name: 'transactionId', description: 'The Kable transactionId (the Segment messageId)', example: 'hour-of-401-7' })
  @ApiOkResponse({ schema: DEAD_LETTER_SCHEMA, example: DEAD_LETTER_EXAMPLE })
  @ApiErrors({ 404: NOT_FOUND })
  async get(@Param('transactionId') transactionId: string) {
    const letter = await this.store.get(transactionId);
    if (!letter) throw new HttpError(404, `no dead letter with transactionId ${JSON.stringify(transactionId.slice(0, 100))}`);
    return letter;
  }

  /** Body: `{ "transactionIds": [...] }`, a filter (`{ "status": 401 }`) or `{ "all": true }`. */
  @Post('replay')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Replay dead letters: queue them again, unchanged (same transactionId), on the normal delivery path',
    description: `An event is removed from the dead letters only once it is queued again; if Kable refuses it again it comes back as a dead letter. One call handles at most ${MAX_PER_CALL} dead letters: \`more: true\` says to call again. \`notFound\` (only for transactionIds) lists ids that are not dead letters.`,
  })
  @SELECTION_BODY
  @ApiOkResponse({
    examples: {
      byIds: { summary: 'by transactionId', value: { replayed: 1, notFound: ['no-such-event'], more: false } },
      byFilter: { summary: 'by filter or all', value: { replayed: 25, more: false } },
      more: { summary: 'stopped at the per-call bound', value: { replayed: MAX_PER_CALL, more: true } },
    },
  })
  @SELECTION_ERRORS
  async replay(@Body() body: unknown) {
    const { count, ...rest } = await this.deadLetters.replay(selectionFrom(body));
    return { replayed: count, ...rest };
  }

  /** Same body as replay. */
  @Post('discard')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Discard dead letters: delete them for good, nothing is sent to Kable',
    description: `Same body and bounds as replay (at most ${MAX_PER_CALL} per call; \`more: true\` says to call again).`,
  })
  @SELECTION_BODY
  @ApiOkResponse({
    examples: {
      byIds: { summary: 'by transactionId', value: { discarded: 1, notFound: ['no-such-event'], more: false } },
      byFilter: { summary: 'by filter or all', value: { discarded: 1, more: false } },
    },
  })
  @SELECTION_ERRORS
  async discard(@Body() body: unknown) {
    const { count, ...rest } = await this.deadLetters.discard(selectionFrom(body));
    return { discarded: count, ...rest };
  }

  @Delete(':transactionId')
  @ApiOperation({ summary: 'Discard one dead letter for good' })
  @ApiParam({ name: 'transactionId', description: 'The Kable transactionId (the Segment messageId)', example: 'bad-0' })
  @ApiOkResponse({ example: { discarded: 1 } })
  @ApiErrors({ 404: 'no dead letter with transactionId "bad-0"' })
  async remove(@Param('transactionId') transactionId: string) {
    const { count } = await this.deadLetters.discard({ kind: 'ids', transactionIds: [transactionId] });
    if (count === 0) throw new HttpError(404, `no dead letter with transactionId ${JSON.stringify(transactionId.slice(0, 100))}`);
    return { discarded: count };
  }
}
