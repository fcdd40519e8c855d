import * as z from 'zod';
import { QuotaStatus } from './quota.js';

/** An `orc worker` process taking a daemon's attempts from Redis, as it last said it is. */
export const RemoteWorker = z.object({
  /** `<host>-<pid>`. */
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  /** How many attempts it runs at once. */
  concurrency: z.number().int().positive(),
  startedAt: z.number(),
  /** When it last said it is alive (epoch ms); one silent for 15 s is gone. */
  seenAt: z.number(),
  /** The attempts it runs now. */
  running: z.array(
    z.object({ runId: z.string(), taskId: z.string(), attempt: z.number().int(), since: z.number() }),
  ),
});
export type RemoteWorker = z.infer<typeof RemoteWorker>;

/** The daemon's Redis backend (`execution.backend: "redis"`): where, whether it answers, who works. */
export const RemoteWorkers = z.object({
  /** The server, without a password. */
  url: z.string(),
  queue: z.string(),
  reachable: z.boolean(),
  workers: z.array(RemoteWorker),
  /** The quotas the workers keep together in Redis, one per API key and model (`QuotaStatus.shared`). */
  quotas: z.array(QuotaStatus).optional(),
});
export type RemoteWorkers = z.infer<typeof RemoteWorkers>;
