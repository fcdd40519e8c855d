import {
  FINISHED_RUN_STATUSES,
  statusToldBy,
  trackDowntime,
  trackIdle,
  type OrcEvent,
  type RunStatus,
} from '@orc/shared';
import type { RunDocument } from '../store/run-document.js';

/**
 * A run's idle time (paused, finished before a reopen, or the daemon down before a restore), kept in its document from the status events
 * its journal tells, at their times: the rule every fold of the journal follows too (`trackIdle`), so the
 * daemon and its clients agree to the millisecond.
 */
export class RunIdle {
  /** The status the journal last told, and when it finished if it had. */
  private told: { status: RunStatus; finishedAt?: string | undefined };

  constructor(private readonly doc: Pick<RunDocument, 'status' | 'finishedAt' | 'idleMs' | 'idleSince'>) {
    this.told = { status: doc.status, finishedAt: doc.finishedAt };
  }

  /** An event the journal told: a status it tells moves the idle time. */
  follow(event: OrcEvent): void {
    if (event.type === 'run.restored' && event.lastAliveAt !== undefined)
      if (!FINISHED_RUN_STATUSES.has(this.told.status)) trackDowntime(this.doc, event.lastAliveAt, event.at);
    const to = statusToldBy(event);
    if (to === undefined) return;
    trackIdle(this.doc, this.told, to, event.at);
    this.told = { status: to, ...(FINISHED_RUN_STATUSES.has(to) && { finishedAt: event.at }) };
  }
}
