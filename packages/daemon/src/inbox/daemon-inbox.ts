import { InboxItemType, statePaths, type ResolvedConfig } from '@orc/shared';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { channelsFrom, itemNotification, runEndNotification } from '../notify/notifications.js';
import { Notifier, type NotificationChannel } from '../notify/notifier.js';
import type { Run } from '../run/run.js';
import { answerRunItems, type UseRun } from './answer-item.js';
import { Inbox } from './inbox.js';
import { InboxFile } from './inbox-file.js';
import { PermissionDesk } from './permission-desk.js';
import { feedInbox } from './run-inbox-feed.js';

export interface DaemonInboxOptions {
  home: string;
  /** The daemon's own `notifications` (a run's config does not change where pushes go). */
  notifications: ResolvedConfig['notifications'];
  clock: Clock;
  logger: Logger;
  /** Channels instead of those the config names (tests). */
  channels?: NotificationChannel[];
  /** How answers reach the runs. */
  use: UseRun;
  /** A finished run given work again (a retry, a skip) has its repository opened first. */
  openForWork: (run: Run) => Promise<Run>;
}

/**
 * The inbox beside the orchestrator actor, one per daemon: the inbox itself (items, events, its file), the
 * permission desk the runs' agents ask through, the notifier that pushes what opens and every run's end,
 * and the feeds that keep the inbox in step with each run in memory.
 */
export class DaemonInbox {
  readonly permissions: PermissionDesk;
  private readonly follows = new Map<string, () => void>();

  private constructor(
    readonly inbox: Inbox,
    readonly notifier: Notifier,
    private readonly options: DaemonInboxOptions,
  ) {
    this.permissions = new PermissionDesk(inbox, options.clock);
  }

  static async open(options: DaemonInboxOptions): Promise<DaemonInbox> {
    const { notifications, clock, logger } = options;
    const on = new Set<string>(notifications.on);
    const inbox = await Inbox.open({
      file: new InboxFile(statePaths(options.home).inbox, clock, logger),
      clock,
      logger,
      notify: {
        types: new Set(InboxItemType.options.filter((type) => on.has(type))),
        permissionGraceMs: notifications.grace_seconds * 1000,
      },
    });
    const notifier = new Notifier({
      channels: options.channels ?? channelsFrom(notifications),
      clock,
      logger,
    });
    inbox.subscribe((event) => {
      if (event.type === 'inbox.notified') notifier.push(itemNotification(event.item));
    });
    inbox.actOnAnswers(answerRunItems(options.use, options.openForWork));
    return new DaemonInbox(inbox, notifier, options);
  }

  /** Keeps the inbox in step with a run in memory, and pushes its end. */
  follow(run: Run): void {
    this.follows.get(run.id)?.();
    const on = new Set<string>(this.options.notifications.on);
    const stopFeed = feedInbox(this.inbox, run, this.options.clock);
    const stopEnds = run.onEvent((event) => {
      if (event.type !== 'run.completed' && event.type !== 'run.failed' && event.type !== 'run.cancelled')
        return;
      const notification = runEndNotification(run.summary());
      if (notification && on.has(notification.kind)) this.notifier.push(notification);
    });
    this.follows.set(run.id, () => {
      stopFeed();
      stopEnds();
    });
  }

  /** The run leaves memory (its items stay as they are). */
  unfollow(runId: string): void {
    this.follows.get(runId)?.();
    this.follows.delete(runId);
  }

  /** The run is deleted: its items go, and what it waited. */
  forget(runId: string): void {
    this.unfollow(runId);
    this.inbox.dropRun(runId, `run ${runId} was removed`, true);
  }

  /**
   * Before the runs close for a daemon stop: a closing run no longer waits for anything, but its items
   * must outlive the stop, so the feeds stop first.
   */
  unfollowAll(): void {
    for (const runId of [...this.follows.keys()]) this.unfollow(runId);
  }

  async stop(): Promise<void> {
    this.unfollowAll();
    await this.notifier.stop();
    await this.inbox.stop();
  }
}
