import {
  ROLLBACK_STRATEGY_SUMMARY,
  FINISHED_RUN_STATUSES,
  type CheckpointInfo,
  type RollbackResult,
  type RollbackStrategy,
  type TaskRecord,
} from '@orc/shared';
import type { EventLevel } from './event-line.js';
import { plural } from './format.js';
import type { Popups } from './popups.js';
import { oneLine } from './text-cells.js';

/** A rollback as the person chose it: to which checkpoint, how, and for a selective one, from which task. */
export interface RollbackChoice {
  checkpoint: CheckpointInfo;
  strategy: RollbackStrategy;
  tasks?: string[];
}

/** A list to choose from; resolves with the index chosen, or undefined on Esc. */
export type Pick = (label: string, items: string[]) => Promise<number | undefined>;

/**
 * The rollback key's popups, one after another: a "loading" line while the daemon lists the checkpoints
 * (Esc gives up), then `chooseRollback`'s lists. Undefined when there is nothing to roll back to (`say`
 * tells why) or the person gave up.
 */
export async function askRollback(
  popups: Popups,
  list: () => Promise<CheckpointInfo[]>,
  selected: TaskRecord | undefined,
  say: (level: EventLevel, text: string) => void,
): Promise<RollbackChoice | undefined> {
  return popups.flow(async () => {
    let checkpoints: CheckpointInfo[] | undefined;
    try {
      checkpoints = await popups.loading(' Roll back ', 'listing the checkpoints… (Esc cancels)', list());
    } catch (error) {
      say(
        'error',
        `listing checkpoints failed: ${oneLine(error instanceof Error ? error.message : String(error))}`,
      );
      return undefined;
    }
    if (checkpoints === undefined) return undefined;
    if (checkpoints.length === 0) {
      say('warn', 'no checkpoints yet; press c to save one');
      return undefined;
    }
    return chooseRollback(checkpoints, selected, (label, items) => popups.pick(label, items));
  });
}

/**
 * What the rollback key asks, in two lists: which checkpoint (newest first), then how (full, partial, or
 * selective from the selected task). Undefined when the person pressed Esc at either.
 */
export async function chooseRollback(
  checkpoints: readonly CheckpointInfo[],
  selected: TaskRecord | undefined,
  pick: Pick,
): Promise<RollbackChoice | undefined> {
  const newest = [...checkpoints].reverse();
  const items = newest.map(
    (cp) =>
      `${cp.id}  ${cp.createdAt.slice(11, 19)}  ${cp.reason}  ${cp.tasksDone} done${cp.label ? `  ${oneLine(cp.label)}` : ''}`,
  );
  const cp = await pick(' Roll back to which checkpoint? (Esc cancels) ', items);
  if (cp === undefined) return undefined;
  const checkpoint = newest[cp]!;
  const strategies: { strategy: RollbackStrategy; text: string }[] = [
    { strategy: 'full', text: `full: ${ROLLBACK_STRATEGY_SUMMARY.full}` },
    { strategy: 'partial', text: `partial: ${ROLLBACK_STRATEGY_SUMMARY.partial}` },
    ...(selected
      ? [
          {
            strategy: 'selective' as const,
            text: `selective: ${oneLine(selected.id)} and every task that depends on it; a repository run reverts their merges`,
          },
        ]
      : []),
  ];
  const how = await pick(
    ` Roll back to ${checkpoint.id}: how? `,
    strategies.map((x) => x.text),
  );
  if (how === undefined) return undefined;
  const { strategy } = strategies[how]!;
  return { checkpoint, strategy, ...(strategy === 'selective' && selected && { tasks: [selected.id] }) };
}

/**
 * What a rollback did that no event tells: a finished run it gave no work stays as it was, and the daemon
 * journals nothing for it (`orc rollback` says `reset 0 tasks … nothing to redo`). Undefined when the
 * rollback's own event tells it.
 */
export function rollbackUnsaid(result: RollbackResult): string | undefined {
  const { checkpointId, strategy, reset, kept } = result.rollback;
  if (reset.length > 0 || !FINISHED_RUN_STATUSES.has(result.status)) return undefined;
  return `rollback to ${checkpointId} (${strategy}) reset no task, nothing to redo: ${plural(kept.length, 'done task')} kept; run ${result.id} stays ${result.status}`;
}
