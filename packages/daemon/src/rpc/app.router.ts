import { checkpointsRouter } from './checkpoints.router.js';
import { configRouter } from './config.router.js';
import { daemonRouter } from './daemon.router.js';
import { feedbackRouter } from './feedback.router.js';
import { inboxRouter } from './inbox.router.js';
import { reportsRouter } from './reports.router.js';
import { runsRouter } from './runs.router.js';
import { tasksRouter } from './tasks.router.js';
import { router } from './trpc.js';

/** The daemon's whole API; the procedure names are the contract scripts rely on. */
export const appRouter = router({
  daemon: daemonRouter,
  runs: runsRouter,
  tasks: tasksRouter,
  checkpoints: checkpointsRouter,
  config: configRouter,
  feedback: feedbackRouter,
  reports: reportsRouter,
  inbox: inboxRouter,
});

export type AppRouter = typeof appRouter;
