import { procedure, router } from './trpc.js';

export const configRouter = router({
  /** The daemon's base configuration; it never holds the API key. */
  get: procedure.query(({ ctx }) => ctx.orchestrator.baseConfig()),
});
