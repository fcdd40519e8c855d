import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PromptCache } from './prompt-cache.js';
import { RateLimitBuckets, type RateLimits } from './rate-limit-buckets.js';

export type { RateLimits } from './rate-limit-buckets.js';

/**
 * A local stand-in for the Anthropic Messages API (`POST /v1/messages`), speaking its wire protocol closely
 * enough that the real `@anthropic-ai/sdk` parses every answer: JSON for plain requests, server-sent events
 * for `stream: true`. It refuses what current models refuse (forced `tool_choice`, sampling parameters,
 * assistant prefill), answers plans and reviews with valid structured output, reports prompt-cache usage,
 * and fails on demand so tests and benchmarks can exercise every error path without a key or a network.
 */

/** The request body as received; only the fields the fake looks at are typed. */
export interface FakeMessagesRequest {
  model?: unknown;
  max_tokens?: unknown;
  stream?: unknown;
  system?: unknown;
  messages?: unknown;
  output_config?: { format?: { type?: string; schema?: { properties?: Record<string, unknown> } } };
  tool_choice?: unknown;
  temperature?: unknown;
  top_p?: unknown;
  top_k?: unknown;
  [key: string]: unknown;
}

/** One scripted failure, used by the next request that passes authentication and validation. */
export type FakeFault =
  /** An HTTP error answer; 429 carries `retry-after` when `retryAfterSec` is given. */
  | { status: number; message?: string; retryAfterSec?: number }
  /** Starts a normal SSE stream, then sends an `error` event of this type (e.g. `overloaded_error`). */
  | { midStreamError: string; message?: string }
  /** Drops the connection without answering. */
  | { disconnect: true };

export interface FakeAnthropicServerOptions {
  /** The only key accepted (`x-api-key` or `Authorization: Bearer`); by default any non-empty key is. */
  apiKey?: string;
  /**
   * Holds each successful answer this long (ms), or a random time in `[min, max]`, or the time this
   * function gives for the request (so one task can be held in flight while others go on).
   */
  latencyMs?: number | readonly [number, number] | ((body: FakeMessagesRequest) => number);
  /** Pause between streamed text chunks (ms), so a test can act while a stream is open. */
  chunkDelayMs?: number;
  /** Requests, input and output tokens per minute, per API key and model; past them a request is answered 429. */
  rateLimits?: RateLimits;
  /** Names each request in `log` (which run sent it, say). */
  label?: (body: FakeMessagesRequest) => string;
  /** Replaces the default answer text. */
  respond?: (body: FakeMessagesRequest) => string;
  /** For latency jitter; Math.random by default. */
  random?: () => number;
  /** The time the limits and the cache go by (epoch ms); the system clock by default, a test's manual one. */
  now?: () => number;
}

export interface FakeAnthropicServer {
  /** Base URL to give the SDK (`baseURL`); the SDK appends `/v1/messages`. */
  readonly url: string;
  /** Every parsed request body, in arrival order. */
  readonly requests: readonly FakeMessagesRequest[];
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** The highest `inFlight` seen. */
  readonly maxInFlight: number;
  /** How many answers went out with each HTTP status (a stream that fails midway counts as 200). */
  readonly statusCounts: Readonly<Record<number, number>>;
  /** Streams ended by an SSE `error` event. */
  readonly midStreamErrors: number;
  /** Every request that passed validation, with what it was charged, in arrival order. */
  readonly log: readonly FakeRequestRecord[];
  /** Queues faults; each one is used by one later request, in order. */
  failNext(...faults: FakeFault[]): void;
  close(): Promise<void>;
}

/** One request as the limits saw it. */
export interface FakeRequestRecord {
  model: string;
  /** The key it was sent with (a test's made-up key: whose quota it spent). */
  apiKey: string;
  label: string | undefined;
  /** When it arrived (epoch ms), and when its answer ended. */
  at: number;
  endedAt?: number;
  status: number;
  /** Input charged against the limit: input tokens and cache writes (cache reads are free). */
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
}

const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const DEFAULT_MESSAGES: Readonly<Record<string, string>> = {
  invalid_request_error: 'Invalid request.',
  authentication_error: 'invalid x-api-key',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'The requested resource could not be found.',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'This request would exceed your rate limit. Please try again later.',
  api_error: 'Internal server error',
  overloaded_error: 'Overloaded',
};

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeAnthropicServer(
  options: FakeAnthropicServerOptions = {},
): Promise<FakeAnthropicServer> {
  const random = options.random ?? Math.random;
  const clock = options.now ?? Date.now;
  const requests: FakeMessagesRequest[] = [];
  const log: FakeRequestRecord[] = [];
  const faults: FakeFault[] = [];
  const statusCounts: Record<number, number> = {};
  const limits = options.rateLimits && new RateLimitBuckets(options.rateLimits);
  const cache = new PromptCache();
  const sockets = new Set<Socket>();
  /** Pending holds, so close() can end them at once. */
  const holds = new Map<NodeJS.Timeout, (ok: boolean) => void>();
  let inFlight = 0;
  let maxInFlight = 0;
  let midStreamErrors = 0;
  let sequence = 0;
  let closed = false;

  /** Waits `ms`, then says whether to go on: false once the client went away or the server closed. */
  const hold = (ms: number, res: ServerResponse): Promise<boolean> =>
    new Promise((resolve) => {
      if (ms <= 0) return resolve(!res.destroyed);
      const timer = setTimeout(() => {
        holds.delete(timer);
        resolve(!res.destroyed && !closed);
      }, ms);
      holds.set(timer, resolve);
    });

  const latency = (body: FakeMessagesRequest): number => {
    const l = options.latencyMs;
    if (l === undefined) return 0;
    if (typeof l === 'number') return l;
    if (typeof l === 'function') return l(body);
    return l[0] + random() * (l[1] - l[0]);
  };

  const writeHead = (res: ServerResponse, status: number, headers: Record<string, string>): void => {
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    res.writeHead(status, headers);
  };

  const sendError = (
    res: ServerResponse,
    requestId: string,
    status: number,
    message?: string,
    extraHeaders: Record<string, string> = {},
  ): void => {
    const type = ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    const body = {
      type: 'error',
      error: { type, message: message ?? DEFAULT_MESSAGES[type] ?? 'Error' },
      request_id: requestId,
    };
    writeHead(res, status, { 'content-type': 'application/json', 'request-id': requestId, ...extraHeaders });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const n = ++sequence;
    const requestId = `req_fake_${String(n).padStart(6, '0')}`;
    const raw = await readBody(req);
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/messages') {
      return sendError(res, requestId, 404, `${req.method ?? 'GET'} ${req.url ?? '/'} is not served here`);
    }
    const key = apiKeyOf(req);
    if (key === undefined || (options.apiKey !== undefined && key !== options.apiKey)) {
      return sendError(res, requestId, 401, 'invalid x-api-key');
    }
    let body: FakeMessagesRequest;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as FakeMessagesRequest;
    } catch {
      return sendError(res, requestId, 400, 'The request body is not valid JSON.');
    }
    requests.push(body);
    try {
      validate(body);
    } catch (error) {
      if (error instanceof HttpFailure) return sendError(res, requestId, error.status, error.message);
      throw error;
    }

    const fault = faults.shift();
    if (fault !== undefined && 'disconnect' in fault) {
      res.socket?.destroy();
      return;
    }
    if (fault !== undefined && 'status' in fault) {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
      return sendError(res, requestId, fault.status, fault.message, headers);
    }
    const now = clock();
    const model = String(body.model);
    const answer = buildAnswer(body, n, options.respond, cache, now);
    const { usage } = answer.message;
    const record: FakeRequestRecord = {
      model,
      apiKey: key,
      label: options.label?.(body),
      at: now,
      status: 200,
      inputTokens: usage.input_tokens + usage.cache_creation_input_tokens,
      cacheReadTokens: usage.cache_read_input_tokens,
      cacheWriteTokens: usage.cache_creation_input_tokens,
      outputTokens: 0,
    };
    log.push(record);
    // The limits are the key's: two keys never spend each other's.
    const quota = `${key} ${model}`;
    const admission = limits?.arrive({ model: quota, inputTokens: record.inputTokens }, now);
    if (admission && !admission.ok) {
      // A mid-stream fault waits for a request that gets as far as streaming.
      if (fault !== undefined) faults.unshift(fault);
      record.status = 429;
      return sendError(res, requestId, 429, undefined, {
        'retry-after': String(Math.max(1, Math.ceil(admission.waitMs / 1000))),
        ...limits!.headers(quota, now),
      });
    }
    const headers = { 'request-id': requestId, ...limits?.headers(quota, now) };
    const ended = (): void => {
      record.endedAt = clock();
      record.outputTokens = answer.message.usage.output_tokens;
      limits?.answered(quota, record.outputTokens, record.endedAt);
    };

    if (fault !== undefined && body.stream !== true) {
      // Without a stream there is no middle to fail in: the same error arrives as an HTTP answer.
      record.status = fault.midStreamError === 'overloaded_error' ? 529 : 500;
      return sendError(res, requestId, record.status, fault.message);
    }

    if (body.stream !== true) {
      if (!(await hold(latency(body), res))) return;
      answer.began(clock());
      writeHead(res, 200, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(answer.message));
      ended();
      return;
    }

    // A stream's headers (the rate limits among them) go out at once; the text follows once the prompt
    // has been read (the latency), which is when a prefix it wrote becomes readable from the cache.
    writeHead(res, 200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...headers,
    });
    res.flushHeaders();
    if (!(await hold(latency(body), res))) return ended();
    answer.began(clock());
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const { message } = answer;
    send('message_start', {
      type: 'message_start',
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...message.usage, output_tokens: 1 },
      },
    });
    send('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    });
    send('ping', { type: 'ping' });
    const chunks = splitIntoChunks(answer.text);
    for (const [i, chunk] of chunks.entries()) {
      if (fault !== undefined && 'midStreamError' in fault && i >= Math.min(2, chunks.length - 1)) {
        midStreamErrors++;
        send('error', {
          type: 'error',
          error: {
            type: fault.midStreamError,
            message: fault.message ?? DEFAULT_MESSAGES[fault.midStreamError] ?? 'Error',
          },
          request_id: requestId,
        });
        res.end();
        ended();
        return;
      }
      send('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: chunk },
      });
      if (!(await hold(options.chunkDelayMs ?? 0, res))) return ended();
    }
    send('content_block_stop', { type: 'content_block_stop', index: 0 });
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: message.usage,
    });
    send('message_stop', { type: 'message_stop' });
    res.end();
    ended();
  };

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(res, 'req_fake_error', 500, error instanceof Error ? error.message : String(error));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    statusCounts,
    log,
    get midStreamErrors() {
      return midStreamErrors;
    },
    failNext(...more: FakeFault[]) {
      faults.push(...more);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const [timer, resolve] of holds) {
        clearTimeout(timer);
        resolve(false);
      }
      holds.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}

/** The API takes the key as `x-api-key`; SDK 1.x sends it as `Authorization: Bearer <key>`. */
function apiKeyOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return bearer?.[1];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** What current models (claude-opus-5-5, claude-sonnet-5-5) refuse, with the API's kind of message. */
function validate(body: FakeMessagesRequest): void {
  const fail = (message: string): never => {
    throw new HttpFailure(400, message);
  };
  if (typeof body.model !== 'string' || body.model === '') fail('model: Field required');
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
    fail('max_tokens: Field required (a positive integer)');
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    fail('messages: at least one message is required');
  for (const name of ['temperature', 'top_p', 'top_k'] as const) {
    if (body[name] !== undefined) {
      fail(
        `${name}: sampling parameters (temperature, top_p, top_k) are not supported by ${String(body.model)}`,
      );
    }
  }
  const choice = body.tool_choice as { type?: unknown } | undefined;
  if (choice !== undefined && (choice.type === 'tool' || choice.type === 'any')) {
    fail(`tool_choice: forced tool use is not supported by ${String(body.model)}; use output_config.format`);
  }
  const last = (body.messages as Array<{ role?: unknown }>).at(-1);
  if (last?.role === 'assistant') {
    fail(
      `This model does not support assistant message prefill. The conversation must end with a user message.`,
    );
  }
  const system = body.system;
  if (Array.isArray(system)) {
    for (const block of system as Array<{ text?: unknown }>) {
      if (typeof block.text !== 'string' || block.text === '')
        fail('system: text content blocks must be non-empty');
    }
  }
}

interface Answer {
  text: string;
  /** The answer begins: a prefix this request wrote is readable from the cache from now on. */
  began: (now: number) => void;
  message: {
    id: string;
    type: 'message';
    role: 'assistant';
    model: string;
    content: Array<{ type: 'text'; text: string }>;
    stop_reason: 'end_turn' | 'max_tokens';
    stop_sequence: null;
    stop_details: null;
    container: null;
    usage: {
      input_tokens: number;
      output_tokens: number;
      cache_creation_input_tokens: number;
      cache_read_input_tokens: number;
    };
  };
}

/** Roughly four characters a token, as for English text. */
function tokens(text: string): number {
  return text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));
}

function buildAnswer(
  body: FakeMessagesRequest,
  n: number,
  respond: ((body: FakeMessagesRequest) => string) | undefined,
  cache: PromptCache,
  now: number,
): Answer {
  const model = String(body.model);
  const maxTokens = body.max_tokens as number;
  let text = respond ? respond(body) : defaultAnswer(body);
  let stopReason: 'end_turn' | 'max_tokens' = 'end_turn';
  if (tokens(text) > maxTokens) {
    text = text.slice(0, maxTokens * 4);
    stopReason = 'max_tokens';
  }

  // The prompt cache covers the system prompt when it carries a cache_control breakpoint.
  const system = systemText(body.system);
  const breakpoint =
    Array.isArray(body.system) &&
    (body.system as Array<{ cache_control?: unknown }>).some((b) => b.cache_control);
  const prefix = cache.charge(model, system, tokens(system), breakpoint, now);
  const usage = {
    input_tokens: prefix.uncached + tokens(userText(body.messages)),
    cache_creation_input_tokens: prefix.cacheWrite,
    cache_read_input_tokens: prefix.cacheRead,
  };

  return {
    text,
    began: (at) => {
      if (prefix.cacheWrite > 0 || prefix.cacheRead > 0) cache.written(model, system, at);
    },
    message: {
      id: `msg_fake_${String(n).padStart(6, '0')}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: stopReason,
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: { ...usage, output_tokens: stopReason === 'max_tokens' ? maxTokens : tokens(text) },
    },
  };
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) return '';
  return (system as Array<{ text?: unknown }>)
    .map((b) => (typeof b.text === 'string' ? b.text : ''))
    .join('\n');
}

function userText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return (messages as Array<{ content?: unknown }>)
    .map(({ content }) => {
      if (typeof content === 'string') return content;
      if (!Array.isArray(content)) return '';
      return (content as Array<{ text?: unknown }>)
        .map((b) => (typeof b.text === 'string' ? b.text : ''))
        .join('\n');
    })
    .join('\n');
}

/** Structured output by the shape of the requested schema, else a short piece of prose about the task. */
function defaultAnswer(body: FakeMessagesRequest): string {
  const properties = body.output_config?.format?.schema?.properties ?? {};
  const prompt = userText(body.messages);
  const subject = subjectOf(prompt, systemText(body.system));
  if ('tasks' in properties) return JSON.stringify(planFor(subject, prompt));
  if ('verdict' in properties && 'feedback' in properties) {
    return JSON.stringify({ verdict: 'accept', feedback: `The result covers ${subject} as asked.` });
  }
  if ('verdict' in properties && 'followUps' in properties) {
    return JSON.stringify({
      verdict: 'success',
      summary: `Every task for ${subject} was completed and reviewed.`,
      followUps: [],
    });
  }
  return [
    `Here is the work for ${subject}.`,
    `I read the task, worked out what it needs, and produced the result below.`,
    `1. Looked at the inputs and the results of the tasks it depends on.`,
    `2. Did the work step by step and checked each step.`,
    `3. Summarised what changed and what is left to watch.`,
    `The result is complete and ready for review.`,
  ].join('\n');
}

/**
 * A short name for what the call is about: a "Goal:", "Task:" or "Title:" line of the prompt, else of the
 * system prompt (where the stable goal often sits), else the prompt's first line.
 */
function subjectOf(prompt: string, system: string): string {
  const linesOf = (text: string): string[] =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  const labelled = (lines: string[]): string | undefined =>
    lines.find((l) => /^(goal|task|title)\s*:/i.test(l));
  const promptLines = linesOf(prompt);
  const line = (labelled(promptLines) ?? labelled(linesOf(system)) ?? promptLines[0] ?? 'the goal')
    .replace(/^(goal|task|title)\s*:\s*/i, '')
    .replace(/\s+/g, ' ');
  return line.length > 50 ? `${line.slice(0, 47).trimEnd()}...` : line || 'the goal';
}

function planFor(subject: string, prompt: string): unknown {
  const title = (verb: string): string => `${verb} ${subject}`.slice(0, 79);
  const task = (id: string, verb: string, description: string, dependencies: string[], priority: string) => ({
    id,
    title: title(verb),
    description: `${description} (${subject}).`,
    dependencies,
    priority,
  });
  // Three or four tasks, chosen by the prompt so different goals get different shapes.
  const four = [...prompt].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 2 === 1;
  const tasks = four
    ? [
        task('t1', 'Analyse the requirements of', 'List what must be true when the work is done', [], 'high'),
        task('t2', 'Build the core of', 'Produce the main part of the result', ['t1'], 'high'),
        task('t3', 'Prepare checks for', 'Write the checks the result must pass', ['t1'], 'medium'),
        task(
          't4',
          'Integrate and verify',
          'Put the parts together and run the checks',
          ['t2', 't3'],
          'medium',
        ),
      ]
    : [
        task('t1', 'Research', 'Collect the facts the work depends on', [], 'high'),
        task('t2', 'Draft the approach for', 'Outline how the result will be built', [], 'medium'),
        task('t3', 'Deliver', 'Produce the result from the research and the approach', ['t1', 't2'], 'high'),
      ];
  return {
    summary: `The work on ${subject} is split into ${tasks.length} tasks; independent ones run in parallel.`,
    tasks,
  };
}

/** A few words per chunk, whitespace kept, so the concatenation is the text exactly. */
function splitIntoChunks(text: string): string[] {
  const pieces = text.match(/\S+\s*|\s+/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < pieces.length; i += 3) chunks.push(pieces.slice(i, i + 3).join(''));
  return chunks.length > 0 ? chunks : [''];
}
