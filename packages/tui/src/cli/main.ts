#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerAttachCommand } from './attach.command.js';
import { registerCheckpointCommands } from './checkpoint.command.js';
import { describeFailure, usageErrorLine } from './cli-error.js';
import { registerConfigCommands } from './config.command.js';
import { registerDaemonCommands } from './daemon.command.js';
import { registerDoctorCommand } from './doctor.command.js';
import { registerFeedbackCommand } from './feedback.command.js';
import { registerGcCommand } from './gc.command.js';
import { registerInboxCommands } from './inbox.command.js';
import { registerLogsCommand } from './logs.command.js';
import { registerLsCommand } from './ls.command.js';
import { registerMetricsCommand } from './metrics.command.js';
import { endQuietlyOnClosedPipe, flushOutput } from './output-streams.js';
import { registerRemoveCommands } from './remove.command.js';
import { registerReportCommand } from './report.command.js';
import { registerPlanCommand } from './plan.command.js';
import { registerRunCommand } from './run.command.js';
import { registerRunsCommands } from './runs.command.js';
import { registerShowCommand } from './show.command.js';
import { registerTaskCommands } from './task.command.js';
import { registerWorkerCommand } from './worker.command.js';

/** The `orc` command. Errors of every command end up in the one catch below. */
export function buildProgram(): Command {
  const program = new Command('orc')
    .description('run a manager model and a pool of workers over a body of work, from a background daemon')
    .version('0.1.0')
    .showHelpAfterError(false);
  registerDaemonCommands(program);
  registerRunCommand(program);
  registerPlanCommand(program);
  registerLsCommand(program);
  registerShowCommand(program);
  registerReportCommand(program);
  registerFeedbackCommand(program);
  registerRunsCommands(program);
  registerTaskCommands(program);
  registerInboxCommands(program);
  registerRemoveCommands(program);
  registerCheckpointCommands(program);
  registerLogsCommand(program);
  registerConfigCommands(program);
  registerDoctorCommand(program);
  registerMetricsCommand(program);
  registerGcCommand(program);
  registerAttachCommand(program);
  registerWorkerCommand(program);
  // Commander reports its own usage errors on stderr, in our one line (`orc: …`); we pick the exit code.
  const exitOverride = (command: Command) => {
    command.exitOverride();
    command.configureOutput({
      outputError: (text, write) => write(usageErrorLine(text, commandPath(command))),
    });
    command.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

/** `orc config`: the words that call a command, for its `--help`. */
function commandPath(command: Command): string {
  return command.parent ? `${commandPath(command.parent)} ${command.name()}` : command.name();
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    if (message && !(error instanceof CommanderError))
      process.stderr.write(`orc: ${message.split('\n')[0]}\n`);
    if (process.env['ORC_DEBUG'] && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    process.exitCode = exitCode;
  }
}

endQuietlyOnClosedPipe();
await main();
// Everything printed reaches the reader first; then a lingering handle must not keep the command alive.
await flushOutput();
process.exit(process.exitCode ?? 0);
