import type { Socket } from 'node:net';
import { formatBytes, formatCount, type RPC_LIMITS } from '@orc/shared';
import { TRPCError } from '@trpc/server';
import type { Encoder } from '@trpc/server/adapters/ws';
import { parseTRPCMessage, TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { WebSocket } from 'ws';
import {
  CLOSE_CLIENT_BEHIND,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_MANY_CALLS,
  CLOSE_UNAUTHORIZED,
} from './close-codes.js';
import { type MessageText, stringifyMessage } from './shared-json.js';

export type ConnectionLimits = { -readonly [K in keyof typeof RPC_LIMITS]: number };

/** What a procedure sees of its connection's bounds (see `RpcContext.connection`). */
export interface ConnectionPacing {
  /**
   * Resolves when this connection's next query or mutation may run (its socket has drained enough) with
   * what to call once it has answered.
   */
  admit(): Promise<() => void>;
  /** More is queued to the socket than `pacedBytes`: a subscription waits (`paced`) before its next message. */
  behind(): boolean;
  /**
   * Resolves true once the socket has drained to `pacedBytes` (at once if it has), false once the
   * connection closed. A subscriber that reads slower than the run falls behind, with every event once and
   * in order, and holds at most `pacedBytes` and a message queued in the daemon; dropping it instead made
   * it resume with a backlog over the bound and be dropped again, over and over, and called a client
   * behind whose socket held one large message (a 100,000-task `run.planned`: "event 3").
   */
  paced(): Promise<boolean>;
  /**
   * Whether the subscription to `path` from `lastEventId` that is starting is a client's resume: tRPC
   * sends a subscription again, with the last event id it got, when its connection comes back. Asked
   * once, as the subscription starts.
   */
  resumed(path: string, lastEventId: unknown): boolean;
}

/**
 * Once the connection is closed for a bound, the backlog queued to a client that does not read is
 * freed this long after, whether or not the close handshake finished.
 */
const CLOSE_GRACE_MS = 1_000;
/** A waiting call looks at the socket again this often, in case a drain event was missed. */
const RECHECK_MS = 500;
/**
 * How long a call that has not answered holds up the connection's next one: a view waits for a group
 * commit of the journal (milliseconds), while a plan or a report may take seconds and must not stall
 * the screen's other calls.
 */
const SLOW_CALL_MS = 100;
/**
 * Largest frame read before the token is accepted: the connection params and a call or two. A client
 * without the token cannot make the daemon parse a 40 MiB frame.
 */
const BEFORE_TOKEN_CHARS = 64 * 1024;

type CallKind = 'call' | 'subscription';
interface InFlight {
  kind: CallKind;
  path: string;
}

/** tRPC's own message check, with our router's (absent) transformer. */
const IDENTITY = { serialize: (value: unknown) => value, deserialize: (value: unknown) => value };
const NO_TRANSFORMER = { input: IDENTITY, output: IDENTITY };

/**
 * The bounds of one client connection (`RPC_LIMITS`), so that one client cannot take the daemon down:
 * it counts the calls of each incoming frame and those in flight, runs a connection's queries and
 * mutations one event-loop turn apart and only while its socket has drained below `pacedBytes`, and
 * answers a reply over `replyBytes` with an error. Past a bound it closes the connection with a code
 * from `close-codes.ts`. tRPC's ws adapter reads and writes every message through `encoder`.
 */
export class ConnectionGuard implements ConnectionPacing {
  readonly encoder: Encoder;
  private readonly inFlight = new Map<string | number, InFlight>();
  private calls = 0;
  private subscriptions = 0;
  private turn: Promise<void> = Promise.resolve();
  private closed = false;
  private hasToken = false;
  private readonly waiters = new Set<() => void>();
  /** Subscriptions sent again on this connection and not started yet, by `resumeKey`. */
  private readonly resumes = new Map<string, number>();

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly limits: ConnectionLimits,
    private readonly onLimit: (code: number, reason: string) => void,
  ) {
    this.encoder = { decode: (data) => this.decode(data), encode: (data) => this.encode(data) };
    const wake = () => {
      for (const waiter of this.waiters) waiter();
    };
    socket.on('drain', wake);
    ws.once('close', () => {
      this.closed = true;
      socket.off('drain', wake);
      wake();
    });
  }

  admit(): Promise<() => void> {
    const turn = this.turn.then(() => this.drained());
    let answered = () => {};
    const answer = new Promise<void>((resolve) => (answered = resolve));
    // The next call goes once this one has answered, a turn later: its reply is then queued and counted
    // (built and waiting for the disk, it would not be). A slow one holds it up for SLOW_CALL_MS at most.
    this.turn = turn
      .then(
        () => answerOrAfter(answer, SLOW_CALL_MS),
        () => undefined,
      )
      .then(nextTurn);
    return turn.then(() => answered);
  }

  /** The connection presented the token: frames up to `requestBytes` are read from now on. */
  tokenAccepted(): void {
    this.hasToken = true;
  }

  behind(): boolean {
    return this.ws.bufferedAmount > this.limits.pacedBytes;
  }

  paced(): Promise<boolean> {
    return this.drained().then(
      () => true,
      () => false,
    );
  }

  resumed(path: string, lastEventId: unknown): boolean {
    const key = resumeKey(path, lastEventId);
    const count = this.resumes.get(key);
    if (count === undefined) return false;
    if (count > 1) this.resumes.set(key, count - 1);
    else this.resumes.delete(key);
    return true;
  }

  private decode(data: string | ArrayBuffer | Uint8Array): unknown {
    if (typeof data !== 'string') throw new Error('expected JSON in a text frame');
    if (!this.hasToken && data.length > BEFORE_TOKEN_CHARS) {
      this.close(CLOSE_UNAUTHORIZED, 'a large message before the token; send the connection params first');
      return [];
    }
    const message: unknown = JSON.parse(data);
    const items = Array.isArray(message) ? (message as unknown[]) : [message];
    if (items.length > this.limits.callsPerMessage) {
      this.close(
        CLOSE_TOO_MANY_CALLS,
        `${formatCount(items.length)} calls in one message; the limit is ${this.limits.callsPerMessage}`,
      );
      return [];
    }
    const calls = callsOf(items);
    // Not calls (connection params), or a frame tRPC refuses as a whole: nothing to count.
    if (calls === undefined) return message;
    const fresh = new Set<string | number>();
    let newCalls = 0;
    let newSubscriptions = 0;
    for (const call of calls) {
      if (this.inFlight.has(call.id) || fresh.has(call.id)) {
        this.close(CLOSE_PROTOCOL_ERROR, `call id ${String(call.id).slice(0, 40)} is already in flight`);
        return [];
      }
      fresh.add(call.id);
      if (call.kind === 'call') newCalls++;
      else newSubscriptions++;
    }
    if (this.calls + newCalls > this.limits.callsInFlight) {
      this.close(
        CLOSE_TOO_MANY_CALLS,
        `${this.calls + newCalls} calls in flight; the limit is ${this.limits.callsInFlight}`,
      );
      return [];
    }
    if (this.subscriptions + newSubscriptions > this.limits.subscriptions) {
      this.close(
        CLOSE_TOO_MANY_CALLS,
        `${this.subscriptions + newSubscriptions} subscriptions; the limit is ${this.limits.subscriptions}`,
      );
      return [];
    }
    for (const call of calls) {
      this.inFlight.set(call.id, { kind: call.kind, path: call.path });
      if (call.resumedFrom === undefined) continue;
      const key = resumeKey(call.path, call.resumedFrom);
      this.resumes.set(key, (this.resumes.get(key) ?? 0) + 1);
    }
    this.calls += newCalls;
    this.subscriptions += newSubscriptions;
    return message;
  }

  private encode(data: unknown): string {
    const response = data as { id?: string | number | null; jsonrpc?: '2.0'; error?: unknown };
    const call =
      response.id === null || response.id === undefined ? undefined : this.inFlight.get(response.id);
    if (call !== undefined && (call.kind === 'call' || ended(response))) {
      this.inFlight.delete(response.id!);
      if (call.kind === 'call') this.calls--;
      else this.subscriptions--;
    }
    if (this.closed) return '';
    const message = stringify(data);
    let text = message?.text;
    let bytes = message?.bytes ?? Infinity;
    if (text === undefined || bytes > this.limits.replyBytes) {
      text = JSON.stringify({
        id: response.id ?? null,
        ...(response.jsonrpc !== undefined && { jsonrpc: response.jsonrpc }),
        error: tooLargeShape(bytes, this.limits.replyBytes, call?.path),
      });
      bytes = Buffer.byteLength(text);
    }
    const queued = this.ws.bufferedAmount + bytes;
    if (queued > this.limits.pacedBytes + this.limits.replyBytes) {
      this.close(
        CLOSE_CLIENT_BEHIND,
        `${formatBytes(queued)} queued to a client that does not read; the limit is ${formatBytes(
          this.limits.pacedBytes + this.limits.replyBytes,
        )}`,
      );
      return '';
    }
    return text;
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.closed) {
          done();
          reject(new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: 'the connection closed' }));
        } else if (this.ws.bufferedAmount <= this.limits.pacedBytes) {
          done();
          resolve();
        }
      };
      const timer = setInterval(check, RECHECK_MS);
      const done = () => {
        clearInterval(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onLimit(code, reason);
    // A close reason is at most 123 bytes; ours are ASCII.
    this.ws.close(code, reason.slice(0, 123));
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }
}

/** The calls of a frame, or undefined when tRPC will refuse the frame (then nothing runs). */
interface Call {
  id: string | number;
  kind: CallKind;
  path: string;
  /** A subscription sent again after a reconnect: the last event id the client got (tRPC's `params.lastEventId`). */
  resumedFrom?: string;
}

function callsOf(items: unknown[]): Call[] | undefined {
  const calls: Call[] = [];
  for (const item of items) {
    let parsed: ReturnType<typeof parseTRPCMessage>;
    try {
      parsed = parseTRPCMessage(item, NO_TRANSFORMER);
    } catch {
      return undefined;
    }
    // A call without an id is refused with an error and never runs; a stop is not a call.
    if (parsed.id === null || parsed.method === 'subscription.stop') continue;
    calls.push({
      id: parsed.id,
      kind: parsed.method === 'subscription' ? 'subscription' : 'call',
      path: parsed.params.path,
      ...(parsed.method === 'subscription' &&
        parsed.params.lastEventId !== undefined && { resumedFrom: parsed.params.lastEventId }),
    });
  }
  return calls;
}

function resumeKey(path: string, lastEventId: unknown): string {
  return `${path}\n${String(lastEventId)}`;
}

/** A subscription ends with `stopped`, or with an error. */
function ended(response: { error?: unknown }): boolean {
  if (response.error !== undefined) return true;
  return (response as { result?: { type?: string } }).result?.type === 'stopped';
}

/** JSON text, or undefined past V8's longest string (about 512 MiB). */
function stringify(data: unknown): MessageText | undefined {
  try {
    return stringifyMessage(data);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

/** The error a caller gets instead of a reply over the limit, shaped as our error formatter shapes one. */
function tooLargeShape(bytes: number, limit: number, path: string | undefined) {
  const size = Number.isFinite(bytes) ? formatBytes(bytes) : 'more than 512 MiB';
  const what = path ?? 'a reply';
  return {
    code: TRPC_ERROR_CODES_BY_KEY.PAYLOAD_TOO_LARGE,
    message:
      `${what}: the reply is ${size}, over the limit of ${formatBytes(limit)} for one message; ` +
      `ask for less (runs.get without full, tasks.get for one task)`,
    data: {
      code: 'PAYLOAD_TOO_LARGE',
      httpStatus: 413,
      ...(path !== undefined && { path }),
      orcCode: 'LIMIT_EXCEEDED',
    },
  };
}

function answerOrAfter(answer: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
