import { FINISHED_RUN_STATUSES, type RunSummary } from '@orc/shared';
import type { AttachClient } from './attach-client.js';
import type { AttachState } from './attach-state.js';

/**
 * A run whose disk takes no writes pauses without an event: its journal cannot take one, and an event is
 * published only once it is on disk. So when the stream has been quiet for a while, the screen asks for
 * the run's summary, which tells of the pause and why.
 */
export class QuietStreamWatch {
  private lastHeard = Date.now();
  private asking = false;

  constructor(
    private readonly client: AttachClient,
    private readonly quietMs = 2_000,
  ) {}

  /** An event came. */
  heard(): void {
    this.lastHeard = Date.now();
  }

  /** Once a second: a live run on screen whose stream is quiet has its summary looked at. */
  tick(state: AttachState, redraw: () => void): void {
    const view = state.view;
    if (view === undefined || FINISHED_RUN_STATUSES.has(view.status)) return;
    void this.check(view.id, (summary) => {
      if (state.noteSummary(summary)) redraw();
    });
  }

  /** Asks for the run's summary if the stream has been quiet long enough, and hands it to `seen`. */
  async check(runId: string, seen: (summary: RunSummary) => void): Promise<void> {
    if (this.asking || Date.now() - this.lastHeard < this.quietMs) return;
    this.asking = true;
    try {
      const summary = (await this.client.trpc.runs.list.query()).find((run) => run.id === runId);
      if (summary) seen(summary);
    } catch {
      // The connection's own watch tells of a daemon that went away.
    } finally {
      this.asking = false;
      this.lastHeard = Date.now();
    }
  }
}
