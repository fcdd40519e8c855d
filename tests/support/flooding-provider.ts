import { CallCancelledError, type ModelProvider } from '@orc/daemon';
import { ZERO_USAGE } from '@orc/shared';

/**
 * A model whose workers never finish: each work call streams `chunk` after `chunk` until it is cut
 * off, so a run's subscribers get as much `worker.output` as a test wants. Plans and reviews are the
 * defaults of a simple plan (one task) and an accept.
 */
export function floodingProvider(chunk: string, pauseMs = 2): ModelProvider {
  return {
    name: 'anthropic',
    async complete(request) {
      if (request.purpose === 'plan') {
        const plan = {
          summary: 'One task.',
          tasks: [{ id: 't1', title: 'Talk', description: 'Talk on.', dependencies: [], priority: 'medium' }],
        };
        return { text: JSON.stringify(plan), usage: ZERO_USAGE, stopReason: 'end_turn' };
      }
      if (request.purpose !== 'work') {
        return {
          text: JSON.stringify({ verdict: 'accept', feedback: 'ok' }),
          usage: ZERO_USAGE,
          stopReason: 'end_turn',
        };
      }
      while (!request.signal.aborted) {
        request.onText?.(chunk);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      throw new CallCancelledError('the call was cancelled');
    },
  };
}
