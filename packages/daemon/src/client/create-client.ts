import { OrcError, resolveStateDir, statePaths } from '@orc/shared';
import { createTRPCClient, createWSClient, type TRPCClient, wsLink } from '@trpc/client';
import { type DaemonInfo, isProcessAlive, readDaemonInfo, readToken } from '../daemon/daemon-info.js';
import type { AppRouter } from '../rpc/app.router.js';
import { CLOSE_UNAUTHORIZED } from '../rpc/close-codes.js';
import { ClientWebSocket } from './client-web-socket.js';
import { limitsLink } from './limits-link.js';

export interface ClientOptions {
  /** The state directory; defaults to `$ORC_HOME` and the usual fallbacks. */
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** Called whenever the connection closes; the client reconnects by itself unless `refused`. */
  onDisconnect?: (reason: { code: number | undefined; refused: boolean }) => void;
  /** Called when a connection opens again after one closed (the daemon is back, maybe restarted). */
  onReconnect?: () => void;
  /** How long the first call may take before the daemon counts as not answering. */
  connectTimeoutMs?: number;
}

export interface OrcClient {
  trpc: TRPCClient<AppRouter>;
  /** The daemon as it was when the client connected. */
  info: DaemonInfo;
  close(): Promise<void>;
  /**
   * Cuts the current socket as a network failure would. The client reconnects (re-reading `daemon.json`,
   * so a restarted daemon is found) and each subscription resumes after the last event it delivered.
   */
  dropConnection(): void;
}

/**
 * Connects to the running daemon of a state directory and checks that it answers. Throws OrcError
 * DAEMON_NOT_RUNNING when there is none, and UNAUTHORIZED when it refuses the token.
 */
export async function createClient(options: ClientOptions = {}): Promise<OrcClient> {
  const env = options.env ?? process.env;
  const home = options.home ?? resolveStateDir(env);
  const paths = statePaths(home);
  const info = readDaemonInfo(paths);
  if (info === undefined) throw notRunning(`no daemon is running for ${home}`);
  if (!isProcessAlive(info.pid)) throw notRunning(`the daemon for ${home} (pid ${info.pid}) is gone`);
  const token = readToken(paths);
  if (token === undefined)
    throw new OrcError('UNAUTHORIZED', `${paths.token} is missing; restart the daemon`);

  let current = info;
  let refused = false;
  let lost = false;
  const wsClient = createWSClient({
    // Read at each (re)connect, so a client follows a daemon that restarted on another port.
    url: () => {
      current = readDaemonInfo(paths) ?? current;
      return `ws://127.0.0.1:${current.port}`;
    },
    connectionParams: () => ({ token: readToken(paths) ?? token }),
    WebSocket: ClientWebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
    keepAlive: { enabled: true, intervalMs: 10_000, pongTimeoutMs: 5_000 },
    onOpen: () => {
      if (!lost) return;
      lost = false;
      options.onReconnect?.();
    },
    onClose: (cause) => {
      lost = true;
      if (cause?.code === CLOSE_UNAUTHORIZED) {
        // A refused token stays refused: stop here instead of reconnecting forever.
        refused = true;
        void wsClient.close();
      }
      options.onDisconnect?.({ code: cause?.code, refused });
    },
  });
  const trpc = createTRPCClient<AppRouter>({ links: [limitsLink(), wsLink({ client: wsClient })] });
  const client: OrcClient = {
    trpc,
    info,
    close: () => wsClient.close(),
    dropConnection: () => {
      const ws = wsClient.connection?.ws as unknown as ClientWebSocket | undefined;
      ws?.terminate();
    },
  };

  try {
    await withTimeout(trpc.daemon.health.query(), options.connectTimeoutMs ?? 5_000);
  } catch (error) {
    // The call can fail on the socket's error event before its close event brings the refusal's code.
    if (!refused && errorCode(error) !== 'UNAUTHORIZED') await new Promise((done) => setTimeout(done, 100));
    await wsClient.close().catch(() => undefined);
    if (refused || errorCode(error) === 'UNAUTHORIZED') {
      throw new OrcError('UNAUTHORIZED', `the daemon (pid ${info.pid}) refused the token in ${paths.token}`);
    }
    throw notRunning(`the daemon for ${home} (pid ${info.pid}, port ${info.port}) is not answering`);
  }
  return client;
}

function notRunning(what: string): OrcError {
  return new OrcError('DAEMON_NOT_RUNNING', `${what}; run orc daemon start`);
}

function errorCode(error: unknown): string | undefined {
  const data = (error as { data?: { code?: unknown } } | undefined)?.data;
  return typeof data?.code === 'string' ? data.code : undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
