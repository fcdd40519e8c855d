#!/usr/bin/env node
// A broken `claude`, given to the provider as claude_cli.command, for the faults the real Claude Code
// cannot be made to show against a stand-in model:
//
//   BROKEN_CLAUDE_MODE=garbage       prints a line that is not stream-json (a wrapper script, a wrong
//                                    binary) and exits 0
//   BROKEN_CLAUDE_MODE=exit1         writes an error on stderr and exits 1 before saying anything
//   BROKEN_CLAUDE_MODE=ignore-term   starts a child in its process group, ignores SIGTERM and never
//                                    answers, so only the SIGKILL after the grace period stops it;
//                                    with BROKEN_CLAUDE_PID_FILE it writes "<own pid> <child pid>" there
//
// Everything the real agent can show (tool calls, refusals, sessions and their resumption, usage limits,
// a hang, a timeout, a cancel that ends tool processes) is tested against the real Claude Code.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { setInterval } from 'node:timers';

const mode = process.env.BROKEN_CLAUDE_MODE ?? 'garbage';

if (mode === 'garbage') {
  process.stdout.write('Welcome to Claude Code! Type /help to get started.\n');
} else if (mode === 'exit1') {
  process.stderr.write('Error: something went wrong\nconnect ECONNREFUSED 127.0.0.1:443\n');
  process.exit(1);
} else if (mode === 'ignore-term') {
  process.on('SIGTERM', () => {});
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  if (process.env.BROKEN_CLAUDE_PID_FILE) {
    writeFileSync(process.env.BROKEN_CLAUDE_PID_FILE, `${process.pid} ${child.pid}`);
  }
  setInterval(() => {}, 1000);
}
