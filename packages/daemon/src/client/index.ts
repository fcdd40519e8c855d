export { createClient, type ClientOptions, type OrcClient } from './create-client.js';
export { CLOSE_CLIENT_BEHIND, CLOSE_DAEMON_STOPPED } from '../rpc/close-codes.js';
export {
  daemonStatus,
  ensureDaemon,
  startDaemon,
  stopDaemon,
  type DaemonControlOptions,
  type DaemonStartupMessage,
  type DaemonStatus,
} from './daemon-control.js';
export type { DaemonInfo } from '../daemon/daemon-info.js';
export type { AppRouter } from '../rpc/app.router.js';
export { detectTaskMasterPath, locateTaskMasterFile, resolveTag } from '../taskmaster/taskmaster-file.js';
export { gcWorktrees, type GcResult, type RemovedWorktree } from '../workspace/worktrees.js';
export { unfinishedRunsIn } from '../store/run-index.js';
export { bundledClaudeCode } from '../model/claude-code-binary.js';
