import { formatBytes, RPC_LIMITS } from '@orc/shared';
import { TRPCClientError, type TRPCLink } from '@trpc/client';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { AppRouter } from '../rpc/app.router.js';
import {
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_MANY_CALLS,
  describeClose,
  LIMIT_CLOSE_CODES,
} from '../rpc/close-codes.js';

/** Room in a frame beside a call's input: its id, method, path and the JSON around them. */
const ENVELOPE_BYTES = 1024;

type Limits = Pick<typeof RPC_LIMITS, 'requestBytes' | 'replyBytes' | 'callsInFlight' | 'subscriptions'>;

/**
 * Keeps a client inside the daemon's per-connection bounds (`RPC_LIMITS`) so the daemon never has to
 * close it: calls past `callsInFlight` wait here for an answer to come back, a call whose input is over
 * `requestBytes` or a subscription past `subscriptions` fails at once with LIMIT_EXCEEDED, and a
 * connection closed by the daemon (or a reply over what this client accepts) fails its calls with one
 * line saying why instead of tRPC's "Unknown error".
 */
export function limitsLink(limits: Limits = RPC_LIMITS): TRPCLink<AppRouter> {
  return () => {
    let calls = 0;
    let subscriptions = 0;
    const waiting: (() => void)[] = [];
    return ({ op, next }) =>
      observable((observer) => {
        const isCall = op.type !== 'subscription';
        const bytes = inputBytes(op.input);
        if (bytes + ENVELOPE_BYTES > limits.requestBytes) {
          observer.error(
            limitError(
              `${op.path}: the request is ${formatBytes(bytes)}, over the limit of ` +
                `${formatBytes(limits.requestBytes)} for one message to the daemon`,
              'PAYLOAD_TOO_LARGE',
              op.path,
            ),
          );
          return;
        }
        if (!isCall && subscriptions >= limits.subscriptions) {
          observer.error(
            limitError(
              `${op.path}: this client has ${subscriptions} subscriptions open, the limit of one connection`,
              'TOO_MANY_REQUESTS',
              op.path,
            ),
          );
          return;
        }
        let subscription: Unsubscribable | undefined;
        let started = false;
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          if (!started) {
            waiting.splice(waiting.indexOf(start), 1);
          } else if (isCall) {
            calls--;
            waiting.shift()?.();
          } else {
            subscriptions--;
          }
        };
        const start = () => {
          started = true;
          if (isCall) calls++;
          else subscriptions++;
          subscription = next(op).subscribe({
            next: (value) => observer.next(value),
            error: (error) => {
              finish();
              observer.error(explain(error, op.path));
            },
            complete: () => {
              finish();
              observer.complete();
            },
          });
        };
        if (!isCall || calls < limits.callsInFlight) start();
        else waiting.push(start);
        return () => {
          finish();
          subscription?.unsubscribe();
        };
      });
  };
}

function inputBytes(input: unknown): number {
  if (input === undefined) return 0;
  const json = JSON.stringify(input) as string | undefined;
  return json === undefined ? 0 : Buffer.byteLength(json);
}

/** An error shaped as the daemon's own (see rpc/trpc.ts), so scripts and the CLI read one shape. */
function limitError(
  message: string,
  code: TRPC_ERROR_CODE_KEY,
  path: string,
  orcCode: 'LIMIT_EXCEEDED' | undefined = 'LIMIT_EXCEEDED',
): TRPCClientError<AppRouter> {
  return TRPCClientError.from<AppRouter>({
    error: {
      code: TRPC_ERROR_CODES_BY_KEY[code],
      message,
      data: { code, httpStatus: code === 'PAYLOAD_TOO_LARGE' ? 413 : 429, path, orcCode },
    },
  });
}

/**
 * tRPC fails the calls of a closed connection with the close (or error) event as the cause and the
 * message "Unknown error"; this says what happened instead.
 */
function explain(error: TRPCClientError<AppRouter>, path: string): TRPCClientError<AppRouter> {
  const cause = error.cause as unknown;
  const close = closeOf(cause);
  if (close !== undefined) {
    const message = `${path}: ${describeClose(close.code, close.reason)}`;
    if (close.code === CLOSE_PROTOCOL_ERROR) return limitError(message, 'BAD_REQUEST', path, undefined);
    if (LIMIT_CLOSE_CODES.has(close.code)) {
      const code = close.code === CLOSE_TOO_MANY_CALLS ? 'TOO_MANY_REQUESTS' : 'PAYLOAD_TOO_LARGE';
      return limitError(message, code, path);
    }
    const reason = close.reason ? `: ${close.reason}` : '';
    return new TRPCClientError(`${path}: the socket closed (${close.code}${reason})`, { cause: error });
  }
  if (isMessageTooBig(cause)) {
    return limitError(
      `${path}: a message from the daemon was over the ${formatBytes(RPC_LIMITS.replyBytes)} this client ` +
        `accepts (${CLOSE_MESSAGE_TOO_BIG}); ask for less`,
      'PAYLOAD_TOO_LARGE',
      path,
    );
  }
  return error;
}

function closeOf(cause: unknown): { code: number; reason: string } | undefined {
  const event = cause as { type?: unknown; code?: unknown; reason?: unknown } | undefined;
  if (event?.type !== 'close' || typeof event.code !== 'number') return undefined;
  return { code: event.code, reason: typeof event.reason === 'string' ? event.reason : '' };
}

/** `ws` refuses a frame over `maxPayload` with this error before closing with 1009. */
function isMessageTooBig(cause: unknown): boolean {
  const event = cause as { error?: { code?: unknown } } | undefined;
  return event?.error?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
}
