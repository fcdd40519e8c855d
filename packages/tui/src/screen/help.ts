/** The footer: the keys people need most, in one line. */
export const KEY_HINTS =
  ' ↑↓/jk move  Enter detail  p pause/resume  c checkpoint  b rollback  r retry  s skip  x cancel  Tab next run  ? help  q detach';

export const HELP_TEXT = [
  '{bold}Moving{/bold}',
  '  ↑ ↓ or k j     select a task (PgUp, PgDn, g/Home, G/End jump)',
  '  Enter          the selected task: description, dependencies, every attempt, review feedback',
  '  Tab            switch to the next run of the daemon',
  '',
  '{bold}Acting on the run{/bold}',
  '  p              pause the run, or resume it when it is paused',
  '  c              save a checkpoint now',
  '  b              roll back: choose a checkpoint, then full, partial or selective',
  '  r              retry the selected task (failed, blocked, skipped or cancelled)',
  '  s              skip the selected task',
  '  x              cancel the run (asks first)',
  '',
  '{bold}Leaving{/bold}',
  '  q              detach: the run goes on in the daemon; orc attach <run> comes back',
  '  Ctrl-C         same as q',
  '',
  'Errors in the event pane carry their kind: {yellow-fg}[TRANSIENT]{/yellow-fg} (retried by itself),',
  '{yellow-fg}[RECOVERABLE]{/yellow-fg} (retried with more room), {red-fg}[PERMANENT]{/red-fg} (needs you: retry or skip).',
].join('\n');
