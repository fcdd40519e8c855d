import { type ErrorCode, isOrcError, redactSecrets } from '@orc/shared';
import { initTRPC, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import * as z from 'zod';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import type { DaemonInfo } from '../daemon/daemon-info.js';
import type { ConnectionPacing } from './connection-guard.js';

/** What every procedure can reach. Built per connection once the token was checked. */
export interface RpcContext {
  orchestrator: Orchestrator;
  daemon: DaemonInfo;
  /** Asks the daemon to stop after the current reply is sent. */
  requestStop: () => void;
  /** How long work under way gets to finish once the daemon stops (absent in tests that never stop it). */
  stopGraceMs?: number;
  /** This connection's bounds: its calls and subscriptions wait for its socket to drain. */
  connection: ConnectionPacing;
}

/** How our error codes map onto tRPC's, so a script can act on `error.data.code` alone. */
const TRPC_CODE_OF: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  CONFIG_INVALID: 'BAD_REQUEST',
  TASK_FILE_INVALID: 'BAD_REQUEST',
  PLAN_INVALID: 'BAD_REQUEST',
  RUN_NOT_FOUND: 'NOT_FOUND',
  TASK_NOT_FOUND: 'NOT_FOUND',
  CHECKPOINT_NOT_FOUND: 'NOT_FOUND',
  INVALID_STATE: 'CONFLICT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  DAEMON_NOT_RUNNING: 'INTERNAL_SERVER_ERROR',
  DAEMON_ALREADY_RUNNING: 'CONFLICT',
  MODEL_ERROR: 'INTERNAL_SERVER_ERROR',
  STORE_ERROR: 'INTERNAL_SERVER_ERROR',
  LIMIT_EXCEEDED: 'PAYLOAD_TOO_LARGE',
  ITEM_NOT_FOUND: 'NOT_FOUND',
  INVALID_CHOICE: 'BAD_REQUEST',
  BACKEND_UNREACHABLE: 'SERVICE_UNAVAILABLE',
};

export function trpcCodeOf(code: ErrorCode): TRPC_ERROR_CODE_KEY {
  return TRPC_CODE_OF[code];
}

const t = initTRPC.context<RpcContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const issues = schemaIssues(cause);
    const orcCode: ErrorCode | undefined = isOrcError(cause)
      ? cause.code
      : error.code === 'UNAUTHORIZED'
        ? 'UNAUTHORIZED'
        : issues?.some((issue) => issue.code === 'too_big')
          ? 'LIMIT_EXCEEDED'
          : undefined;
    const message = issues ? readableInputError(issues) : redactSecrets(shape.message);
    return {
      ...shape,
      message,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, orcCode },
    };
  },
});

interface SchemaIssue {
  code?: string;
  message: string;
  path?: readonly (PropertyKey | { key: PropertyKey })[];
}

/** Issues of a failed input validation (zod's or any standard schema's), else undefined. */
function schemaIssues(cause: unknown): readonly SchemaIssue[] | undefined {
  if (cause instanceof z.ZodError) return cause.issues;
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  return Array.isArray(issues) ? (issues as SchemaIssue[]) : undefined;
}

/** `runId: a run id is required; strategy: …` instead of a JSON dump of zod issues. */
function readableInputError(issues: readonly SchemaIssue[]): string {
  const parts = issues.slice(0, 3).map((issue) => {
    const path = (issue.path ?? [])
      .map((key) => (typeof key === 'object' ? String(key.key) : String(key)))
      .join('.');
    const text = issue.message.replace(/^Invalid input: /, '');
    return path ? `${path}: ${text}` : text;
  });
  return `invalid input: ${parts.join('; ')}`;
}

/** OrcErrors thrown by the engine leave as a TRPCError with the matching code and the same message. */
const orcErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && isOrcError(result.error.cause)) {
    const cause = result.error.cause;
    throw new TRPCError({ code: trpcCodeOf(cause.code), message: cause.message, cause });
  }
  return result;
});

/**
 * A connection's queries and mutations run one after another (a slow one holds the next up briefly, see
 * ConnectionGuard.admit), each once its socket has drained below `RPC_LIMITS.pacedBytes`: a client that
 * reads slowly is answered slowly, and one that never reads holds one reply's worth of memory, not one
 * per call.
 */
const paced = t.middleware(async ({ ctx, type, next }) => {
  if (type === 'subscription') return next();
  const answered = await ctx.connection.admit();
  try {
    return await next();
  } finally {
    answered();
  }
});

export const router = t.router;
export const procedure = t.procedure.use(paced).use(orcErrors);
