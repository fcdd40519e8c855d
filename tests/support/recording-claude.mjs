#!/usr/bin/env node
// The real Claude Code the Agent SDK bundles, given to the provider as claude_cli.command, that first writes
// the arguments it was started with to RECORDING_CLAUDE_LOG (one JSON array a line): what the provider
// asked of it (`--max-budget-usd`, …) as the real binary received it.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
if (process.env.RECORDING_CLAUDE_LOG)
  appendFileSync(process.env.RECORDING_CLAUDE_LOG, `${JSON.stringify(args)}\n`);
const cli = join(dirname(fileURLToPath(import.meta.resolve('@anthropic-ai/claude-agent-sdk'))), 'cli.js');
const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
