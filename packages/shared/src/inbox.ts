import * as z from 'zod';
import { formatCost } from './cost.js';
import { LIMITS, tooLongMessage } from './limits.js';

/**
 * What waits for a person, one kind per situation: a Claude Code worker asks to use a tool, a plan waits
 * for approval, a run is paused at its budget, at a long usage limit, because the provider refused the
 * key, because its Task Master file cannot be read or because the state directory cannot be written, a
 * run's work left waits for tasks a person cancelled (`run_held`), a task is out of retries or reworks, a
 * task held in Task Master holds up others.
 */
export const InboxItemType = z.enum([
  'permission',
  'plan_approval',
  'budget',
  'quota',
  'provider',
  'source',
  'storage',
  'backend',
  'run_held',
  'task_failed',
  'held',
]);
export type InboxItemType = z.infer<typeof InboxItemType>;

/** Items about a whole run; the others are about one task (and `permission` about one of its attempts). */
export const RUN_ITEM_TYPES: ReadonlySet<InboxItemType> = new Set([
  'plan_approval',
  'budget',
  'quota',
  'provider',
  'source',
  'storage',
  'backend',
  'run_held',
]);

/** One answer a person may give, with the key that gives it in the terminal UI. */
export const InboxChoice = z.object({
  id: z.string(),
  /** One character, unique among the item's choices. */
  key: z.string().length(1),
  label: z.string(),
  /** The answer needs a note (what to change in a plan). */
  needsNote: z.boolean().optional(),
  /** What the answer sets without `--budget` (USD): a raise's cap on a task's cost. */
  budgetUsd: z.number().positive().optional(),
});
export type InboxChoice = z.infer<typeof InboxChoice>;

/** How an item closed: a person answered it, it timed out (a permission is then denied), or it no longer applies. */
export const InboxClosing = z.object({
  reason: z.enum(['answered', 'expired', 'obsolete']),
  choice: z.string().optional(),
  note: z.string().optional(),
  /** Why it no longer applies, or what the timeout decided. */
  why: z.string().optional(),
  /** What the answer did, in a line (the task runs again, the cap a raise set, the items it changed). */
  outcome: z.string().optional(),
});
export type InboxClosing = z.infer<typeof InboxClosing>;

export const InboxItem = z.object({
  /** Short and typeable: `i12`. */
  id: z.string(),
  type: InboxItemType,
  runId: z.string(),
  taskId: z.string().optional(),
  attempt: z.number().int().positive().optional(),
  /** What is asked, in one line. */
  question: z.string(),
  /** What a person needs to answer it: the command, the plan, the error. */
  detail: z.string().optional(),
  choices: z.array(InboxChoice),
  openedAt: z.string(),
  /** A permission nobody answers by then is denied (`claude_cli.permission_timeout`). */
  expiresAt: z.string().optional(),
  /** When it was pushed (notifications); a permission only after `notifications.grace_seconds`. */
  notifiedAt: z.string().optional(),
  status: z.enum(['open', 'closed']),
  closedAt: z.string().optional(),
  closed: InboxClosing.optional(),
});
export type InboxItem = z.infer<typeof InboxItem>;

/** The inbox's stream: every event has an id, monotonic per daemon state directory. */
const eventBase = { id: z.number().int().positive(), at: z.string() };
export const InboxEvent = z.discriminatedUnion('type', [
  z.object({ ...eventBase, type: z.literal('inbox.opened'), item: InboxItem }),
  /** It was pushed to the configured notifications (and rings the bell of an attached terminal UI). */
  z.object({ ...eventBase, type: z.literal('inbox.notified'), item: InboxItem }),
  /**
   * Its question or choices changed with its run (a task_failed item of a run that has since ended no
   * longer offers to cancel it): the item as it is now, so nobody is offered an answer that is refused.
   */
  z.object({ ...eventBase, type: z.literal('inbox.revised'), item: InboxItem }),
  z.object({ ...eventBase, type: z.literal('inbox.closed'), item: InboxItem }),
]);
export type InboxEvent = z.infer<typeof InboxEvent>;

/** How long a run waited for a person: agents blocked on a permission, and the run itself paused. */
export const RunWaits = z.object({
  /** Agent-time spent waiting for permissions, summed over agents (ms), open ones up to now. */
  agentMs: z.number().nonnegative(),
  /** Permission requests. */
  permissions: z.number().int().nonnegative(),
  /** Time the run stood still for a person (plan approval, budget, provider, source, held; ms). */
  runMs: z.number().nonnegative(),
  /*
   * Pauses that end by themselves are not a person's wait; each is counted apart (ms), absent when the
   * run never had one. Before these were split out, a quota or storage pause counted in `runMs`.
   */
  /** The run stood still because its Redis server could not be reached; it goes on once it answers. */
  backendMs: z.number().nonnegative().optional(),
  /** The run stood still at a long usage limit of the account; it goes on once the limit resets. */
  quotaMs: z.number().nonnegative().optional(),
  /** The run stood still because the state directory could not be written; it goes on once it can. */
  storageMs: z.number().nonnegative().optional(),
});
export type RunWaits = z.infer<typeof RunWaits>;

const ItemId = z
  .string()
  .min(1, 'an item id is required')
  .max(LIMITS.idChars, tooLongMessage(LIMITS.idChars));

export const InboxListInput = z
  .strictObject({
    /** Only this run's items. */
    runId: z.string().min(1).max(LIMITS.idChars).optional(),
    /** Closed items too (the most recent ones the inbox keeps). */
    all: z.boolean().optional(),
  })
  .optional();
export type InboxListInput = z.input<typeof InboxListInput>;

export const InboxList = z.object({
  items: z.array(InboxItem),
  /** Follow `inbox.events` from here for what changes next. */
  lastEventId: z.number().int().nonnegative(),
  /** With a run id: how long that run waited for a person. */
  waits: RunWaits.optional(),
});
export type InboxList = z.infer<typeof InboxList>;

export const AnswerInput = z.strictObject({
  itemId: ItemId,
  choice: z.string().min(1, 'a choice is required').max(LIMITS.idChars),
  note: z.string().max(LIMITS.descriptionChars, tooLongMessage(LIMITS.descriptionChars)).optional(),
  /** With `resume` on a budget item: the run's new budget; with `raise` on a failed task: its new cap (USD). */
  budgetUsd: z.number().positive().optional(),
});
export type AnswerInput = z.input<typeof AnswerInput>;

export const InboxEventsInput = z.strictObject({
  /** Set by tRPC on reconnect: the id of the last event the client received. */
  lastEventId: z.union([z.string().max(LIMITS.idChars), z.number()]).nullish(),
});

/** What became of the notifications a daemon pushes, per channel, for `orc doctor`. */
export const NotificationChannelStatus = z.object({
  /** `command`, `webhook`, `desktop`; the webhook shown without its secret path. */
  channel: z.string(),
  target: z.string(),
  available: z.boolean(),
  delivered: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Waiting to be delivered or retried. */
  pending: z.number().int().nonnegative(),
  /** The last try that failed (retried or given up), and when. */
  lastError: z.string().optional(),
  lastErrorAt: z.string().optional(),
  lastDeliveredAt: z.string().optional(),
});
export type NotificationChannelStatus = z.infer<typeof NotificationChannelStatus>;

/** One line for people: `i4 permission r1a2b3c/fetch: Bash curl -s …`. */
export function inboxItemLine(item: InboxItem): string {
  const where = item.taskId === undefined ? item.runId : `${item.runId}/${item.taskId}`;
  return `${item.id} ${item.type} ${where}: ${item.question}`;
}

/**
 * How to answer an item, for the terminal: every choice it takes, the figure a choice sets when answered
 * bare, and that cancel ends the whole run (`orc answer i4 raise|skip|cancel; raise sets the cost cap of a
 * task to $0.0047, raise --budget <usd> to another; cancel cancels run r1a2b3c`).
 */
export function answerHint(item: InboxItem): string {
  const hint = `orc answer ${item.id} ${item.choices.map((c) => c.id).join('|')}`;
  const notes: string[] = [];
  const raise = item.choices.find((c) => c.id === 'raise' && c.budgetUsd !== undefined);
  if (raise?.budgetUsd !== undefined)
    notes.push(
      `raise sets the cost cap of a task to ${formatCost(raise.budgetUsd)}, raise --budget <usd> to another`,
    );
  const all = item.choices.find((c) => c.id === 'retry_all');
  if (all !== undefined)
    notes.push(
      all.budgetUsd === undefined
        ? 'retry_all runs every task stopped at the cap again'
        : `retry_all sets it to ${formatCost(all.budgetUsd)} and runs every task stopped at the cap again`,
    );
  // On a task's item, cancel reads as about the task: it ends the whole run.
  if (item.choices.some((c) => c.id === 'cancel')) notes.push(`cancel cancels run ${item.runId}`);
  return notes.length === 0 ? hint : `${hint}; ${notes.join('; ')}`;
}
