import {
  TASK_PAGE_LIMIT,
  taskMatcher,
  type RunView,
  type TaskPage,
  type TaskQuery,
  type TaskRecord,
} from '@orc/shared';
import { TaskText, recordOfTask, type DocumentTask } from '../store/run-document.js';
import { summaryOf, type RunViewSource } from '../store/run-summary.js';

export { summaryOf, type RunViewSource } from '../store/run-summary.js';

/**
 * What a page with `full` may hold of results and outputs: a page of agents' long outputs stops short of
 * this (the client goes on from where it stopped), so no page nears the 128 MiB cap on a reply.
 */
const FULL_PAGE_TEXT_CHARS = 16 * 1024 * 1024;

/**
 * The run for a client. Without `full`, results and outputs are left out (10,000 of them are megabytes),
 * and a run of more than a page of tasks carries its first page only: the view of a 100,000-task run
 * was 56 MB and took a reattaching client 2.8 s; `tasks.page` serves the rest.
 */
export function viewOf(source: RunViewSource, full: boolean): RunView {
  const tasks: TaskRecord[] = [];
  for (const task of source.tasks()) {
    if (!full && tasks.length === TASK_PAGE_LIMIT) break;
    tasks.push(full ? recordOfTask(task) : withoutOutputs(task));
  }
  return {
    ...summaryOf(source),
    goal: source.doc.goal,
    ...(source.doc.planSummary !== undefined && { planSummary: source.doc.planSummary }),
    tasks,
    ...(source.doc.finalReview !== undefined && { finalReview: source.doc.finalReview }),
    busyWorkers: source.busyWorkers,
    ...(source.doc.ratings !== undefined && { ratings: source.doc.ratings }),
    ...(source.train !== undefined && { train: source.train }),
  };
}

/** What `onDisk` asks of the run's journal. */
export interface JournalWrites {
  readonly lastId: number;
  unconfirmedDone(): ReadonlySet<string>;
  written(id: number): Promise<boolean>;
}

/** A view of what the run knows, every task done as it is. */
const NONE_UNCONFIRMED: ReadonlySet<string> = new Set();

/**
 * What a client folds the run's events into must show exactly the events up to its `lastEventId`, and
 * no task done before its completion is on disk. Made as of the last event, it is answered at once
 * unless it shows a task whose completion is still being written (`shows`); then once that is on disk
 * (a group commit: milliseconds). Shown before as still reviewing, such a task was never seen done by a
 * client that followed the events from there. While the journal cannot be written the answer cannot
 * wait: it is made again with those tasks as still reviewing (`make` names them, `withUnconfirmed`), for
 * the client to fetch it again once events come (`wantsFreshView`).
 */
export async function onDisk<T>(
  journal: JournalWrites,
  make: (unconfirmed: ReadonlySet<string>) => T,
  shows: (answer: T, unconfirmed: ReadonlySet<string>) => boolean,
): Promise<T> {
  const through = journal.lastId;
  const answer = make(NONE_UNCONFIRMED);
  const unconfirmed = journal.unconfirmedDone();
  if (unconfirmed.size === 0 || !shows(answer, unconfirmed)) return answer;
  if (await journal.written(through)) return answer;
  return make(journal.unconfirmedDone());
}

/** A view or page that holds tasks back says which. */
export function withUnconfirmed<T extends RunView | TaskPage>(
  answer: T,
  unconfirmed: ReadonlySet<string>,
): T {
  return unconfirmed.size === 0 ? answer : { ...answer, unconfirmed: [...unconfirmed] };
}

/**
 * A page of the run's task table: the tasks that match, in the run's order, from `offset`. One pass over
 * the tasks (100,000 of them: a few ms, a search about 15 ms), nothing kept between calls; only the rows
 * of the page are parsed from a settled task's text.
 */
export function pageOf(source: RunViewSource, query: TaskQuery): TaskPage {
  const tasks: TaskRecord[] = [];
  const filtered = query.status !== undefined || query.search !== undefined;
  const matches = taskMatcher(query);
  let total = 0;
  let text = 0;
  let full = false;
  for (const task of source.tasks()) {
    if (filtered && !matches(task)) continue;
    const row = total++;
    if (row < query.offset || tasks.length >= query.limit || full) {
      // Past the page: an unfiltered table's size is known without looking further.
      if (!filtered && row >= query.offset) break;
      continue;
    }
    if (query.full === true) {
      const record = recordOfTask(task);
      text += textChars(record);
      // The first row always comes, however large, so a client paging on always moves.
      if (text > FULL_PAGE_TEXT_CHARS && tasks.length > 0) {
        full = true;
        continue;
      }
      tasks.push(record);
    } else tasks.push(withoutOutputs(task));
  }
  return {
    runId: source.doc.id,
    lastEventId: source.lastEventId,
    offset: query.offset,
    total: filtered ? total : source.taskTotal,
    tasks,
  };
}

/** The characters of a task's result and attempt outputs: what makes a full record large. */
function textChars(task: TaskRecord): number {
  let chars = task.result?.length ?? 0;
  for (const attempt of task.attempts) chars += attempt.output?.length ?? 0;
  return chars;
}

/**
 * The task without its result and attempt outputs. Set to undefined rather than left out with a rest
 * pattern: the wire drops them all the same, and copying 10,000 records goes 5–10× faster.
 */
function withoutOutputs(stored: DocumentTask): TaskRecord {
  if (stored instanceof TaskText) {
    // Parsed afresh: nothing else holds these objects.
    const task = stored.record();
    task.result = undefined;
    for (const attempt of task.attempts) attempt.output = undefined;
    return task;
  }
  return {
    ...stored,
    result: undefined,
    attempts: stored.attempts.map((attempt) => ({ ...attempt, output: undefined })),
  };
}
