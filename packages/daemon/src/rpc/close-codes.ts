/**
 * WebSocket close codes the daemon closes a connection with, and what a client tells its user. The
 * bounds behind them are `RPC_LIMITS` in `@orc/shared`; the close reason (at most 123 bytes) names the
 * bound that was passed. Other clients and runs are not affected.
 */

/**
 * The token was missing or wrong, or a frame over 64 KiB came before it: a client that sees it stops
 * reconnecting.
 */
export const CLOSE_UNAUTHORIZED = 4401;
/**
 * A message over `RPC_LIMITS.requestBytes` (from the client) or over what the client accepts (from the
 * daemon). Sent by the `ws` library itself, without a reason; 1009 is the standard "message too big".
 */
export const CLOSE_MESSAGE_TOO_BIG = 1009;
/**
 * More calls in one frame than `RPC_LIMITS.callsPerMessage`, more queries and mutations in flight than
 * `callsInFlight`, or more subscriptions than `subscriptions`.
 */
export const CLOSE_TOO_MANY_CALLS = 4429;
/**
 * More was queued to the client's socket than `RPC_LIMITS.pacedBytes` plus one reply (calls and
 * subscriptions wait at `pacedBytes`, so only a burst of many at once gets here). A client that
 * reconnects resumes its subscriptions from the last event it received.
 */
export const CLOSE_CLIENT_BEHIND = 4408;
/** A frame that is not tRPC: not JSON, or a call id that is already in flight. */
export const CLOSE_PROTOCOL_ERROR = 4400;
/**
 * The daemon was stopped on purpose (`orc daemon stop`, SIGTERM, Ctrl-C), sent to every client as it
 * goes: a client does not start it again, as it does one that died (a crash, kill -9, which send none).
 */
export const CLOSE_DAEMON_STOPPED = 4410;

/** Close codes past which a client should not simply retry the same thing. */
export const LIMIT_CLOSE_CODES: ReadonlySet<number> = new Set([
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_TOO_MANY_CALLS,
  CLOSE_CLIENT_BEHIND,
  CLOSE_PROTOCOL_ERROR,
]);

/** One line for the user: why the daemon closed the connection (a code of `LIMIT_CLOSE_CODES`). */
export function describeClose(code: number, reason: string): string {
  const why =
    reason ||
    (code === CLOSE_MESSAGE_TOO_BIG ? 'a message was larger than the other side accepts' : 'no reason given');
  return `the daemon closed the connection (${code}): ${why}`;
}
