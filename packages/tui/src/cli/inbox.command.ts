import { answerHint, type InboxItem, type PauseReason, type RunSummary, type RunWaits } from '@orc/shared';
import type { Command } from 'commander';
import { formatDuration, plural } from '../screen/format.js';
import { oneLine, truncateCells } from '../screen/text-cells.js';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit } from './output.js';
import { resolveRunRef } from './run-ref.js';
import { PAUSED_BY_CHOICE } from './run-report.js';
import { formatAge } from './run-table.js';

/**
 * `orc inbox`: what waits for you, across every run of the daemon. `orc answer <item> <choice>`: your
 * answer, carried out at once (the run goes on, the task runs again, the agent gets its tool…).
 */
export function registerInboxCommands(program: Command): void {
  program
    .command('inbox')
    .description('what waits for you: permissions, plans to approve, paused runs, failed and held tasks')
    .option('--all', 'the recently closed items too, with how they closed')
    .option('--run <run>', "only this run's items (id, unique prefix, or last)")
    .option('--json', 'print one JSON document')
    .action(async (options: { all?: boolean; run?: string; json?: boolean }) => {
      await withClient(async (client) => {
        const runId = options.run === undefined ? undefined : (await resolveRunRef(client, options.run)).id;
        const list = await client.trpc.inbox.list.query({
          ...(runId !== undefined && { runId }),
          ...(options.all && { all: true }),
        });
        emit(options, list, () => {
          if (list.items.length === 0)
            return options.all
              ? 'the inbox is empty'
              : 'nothing waits for you (orc inbox --all shows what did)';
          const now = Date.now();
          return list.items.flatMap((item) => itemLines(item, now));
        });
      });
    });

  program
    .command('answer')
    .description('answer an inbox item: orc answer i4 allow, orc answer i7 edit --note "split task 3"')
    .argument('<item>', 'the item id, as orc inbox shows it (i4)')
    .argument('<choice>', "one of the item's choices")
    .option(
      '--note <text>',
      'what to tell: the agent a tool was denied, the manager what to change in a plan',
    )
    .option(
      '--budget <usd>',
      "with resume on a budget item: the run's new budget; with raise on a failed task: the cost cap of a task (US dollars)",
    )
    .option('--json', 'print one JSON document')
    .action(
      async (itemId: string, choice: string, options: { note?: string; budget?: string; json?: boolean }) => {
        const budgetUsd = options.budget === undefined ? undefined : Number(options.budget);
        if (budgetUsd !== undefined && !(Number.isFinite(budgetUsd) && budgetUsd > 0))
          throw new UsageError(`--budget must be a positive amount of US dollars (got "${options.budget}")`);
        await withClient(async (client) => {
          const item = await client.trpc.inbox.answer.mutate({
            itemId,
            choice,
            ...(options.note !== undefined && { note: options.note }),
            ...(budgetUsd !== undefined && { budgetUsd }),
          });
          // What the answer did, as the daemon says; an agent's permission has no outcome of its own, so
          // its choice is told with the call it was about ("allow this call" alone names no call).
          const label = item.choices.find((c) => c.id === choice)?.label ?? choice;
          const did = item.closed?.outcome ?? `${label} (${item.question})`;
          emit(options, item, () => `${item.id} answered ${choice}: ${oneLine(did)}`);
        });
      },
    );
}

/** An item in two or three lines: what, where, since when, and how to answer it. */
export function itemLines(item: InboxItem, now: number): string[] {
  const where = item.taskId === undefined ? item.runId : `${item.runId}/${item.taskId}`;
  const age = formatAge(now - Date.parse(item.openedAt));
  const lines = [`${item.id.padEnd(4)} ${item.type.padEnd(13)} ${where}  ${age} ago`];
  lines.push(`     ${truncateCells(oneLine(item.question), 200)}`);
  if (item.status === 'open') {
    lines.push(`     ${answerHint(item)}`);
    if (item.expiresAt !== undefined)
      lines[2] += `  (denied by itself in ${formatDuration(Date.parse(item.expiresAt) - now)})`;
  } else {
    lines.push(`     ${closedLine(item)}`);
  }
  return lines;
}

function closedLine(item: InboxItem): string {
  const closed = item.closed;
  const took = formatDuration(Date.parse(item.closedAt ?? item.openedAt) - Date.parse(item.openedAt));
  if (closed?.reason === 'answered')
    return `answered ${closed.choice ?? ''} after ${took}${closed.note ? `: ${oneLine(closed.note)}` : ''}`;
  if (closed?.reason === 'expired') return `nobody answered within ${took}: ${closed.why ?? 'expired'}`;
  return `closed after ${took}: ${closed?.why ?? 'it no longer applies'}`;
}

/**
 * How long a run waited for a person, for `orc show`, and apart from it how long for what ends by itself
 * (its Redis server, the account's usage limit, a state directory it could not write); none when it
 * never did. A wait the run is still in (`run` is paused for it) is told in the present: "waited"
 * read as over while the run stood still.
 */
export function waitsLines(
  waits: RunWaits | undefined,
  run?: Pick<RunSummary, 'status' | 'pauseReason'>,
): string[] {
  if (waits === undefined) return [];
  const pausedFor = run?.status === 'paused' ? run.pauseReason : undefined;
  const lines: string[] = [];
  const parts: string[] = [];
  if (waits.permissions > 0)
    parts.push(
      `agents waited ${(waits.agentMs / 60_000).toFixed(1)} agent-minutes on ${plural(waits.permissions, 'permission request')}`,
    );
  const forPerson =
    run?.status === 'awaiting_approval' ||
    (pausedFor !== undefined && !SELF_ENDING.has(pausedFor) && !PAUSED_BY_CHOICE.has(pausedFor));
  if (waits.runMs > 0)
    parts.push(
      forPerson
        ? `the run has stood still ${formatDuration(waits.runMs)} so far for a person`
        : `the run stood still ${formatDuration(waits.runMs)} for a person`,
    );
  if (parts.length > 0) lines.push(`${forPerson ? 'waiting' : 'waited'} for you: ${parts.join('; ')}`);
  const stood = (
    ms: number | undefined,
    reason: PauseReason,
    what: string,
    why: { was: string; is: string },
  ): void => {
    if ((ms ?? 0) === 0) return;
    const took = formatDuration(ms ?? 0);
    lines.push(
      pausedFor === reason
        ? `waiting for ${what}: the run has stood still ${took} so far, ${why.is}`
        : `waited for ${what}: the run stood still ${took} ${why.was}`,
    );
  };
  stood(waits.backendMs, 'backend', 'Redis', {
    was: 'while its server could not be reached',
    is: 'while its server cannot be reached',
  });
  stood(waits.quotaMs, 'quota', 'the usage limit', {
    was: "until the account's limit reset",
    is: "until the account's limit resets",
  });
  stood(waits.storageMs, 'storage', 'storage', {
    was: 'while the state directory could not be written',
    is: 'while the state directory cannot be written',
  });
  return lines;
}

/** Pauses that end by themselves, each told apart from a person's waits. */
const SELF_ENDING = new Set<PauseReason>(['backend', 'quota', 'storage']);
