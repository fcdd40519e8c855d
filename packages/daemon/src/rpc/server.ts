import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { RPC_LIMITS } from '@orc/shared';
import { TRPCError } from '@trpc/server';
import { type CreateWSSContextFnOptions, getWSConnectionHandler } from '@trpc/server/adapters/ws';
import type pino from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DaemonInfo } from '../daemon/daemon-info.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import { appRouter } from './app.router.js';
import { CLOSE_DAEMON_STOPPED, CLOSE_UNAUTHORIZED } from './close-codes.js';
import { ConnectionGuard, type ConnectionLimits } from './connection-guard.js';
import { timeDeliveries } from './timed-deliveries.js';
import type { RpcContext } from './trpc.js';

export interface RpcServerOptions {
  orchestrator: Orchestrator;
  /** The token every connection must present in `connectionParams: { token }`. */
  token: string;
  logger: pino.Logger;
  /** Filled in once listening (the port); procedures see it through `daemon.health`. */
  daemon: Omit<DaemonInfo, 'port'>;
  requestStop: () => void;
  /** How long work under way gets to finish once the daemon stops: told to whoever stops it. */
  stopGraceMs?: number;
  /** Bounds of each connection; `RPC_LIMITS` unless a test narrows them. */
  limits?: Partial<ConnectionLimits>;
  /** 0 picks a free port. */
  port?: number;
  keepAlive?: { pingMs: number; pongWaitMs: number };
}

export interface RpcServer {
  port: number;
  info: DaemonInfo;
  /**
   * Closes every connection (subscriptions end; clients may reconnect to a successor) and the listener.
   * `stopped`: the daemon is stopped on purpose, and says so to every client with `CLOSE_DAEMON_STOPPED`.
   */
  close(options?: { stopped?: boolean }): Promise<void>;
}

/** Serves the app router over WebSocket on 127.0.0.1, token-checked, refusing browser origins. */
export async function startRpcServer(options: RpcServerOptions): Promise<RpcServer> {
  const log = options.logger;
  const limits: ConnectionLimits = { ...RPC_LIMITS, ...options.limits };
  const http: Server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('this port speaks tRPC over WebSocket only\n');
  });
  // A larger frame is refused by ws itself, closing with 1009 before any of it is parsed.
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.requestBytes });
  const guards = new WeakMap<WebSocket, ConnectionGuard>();
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // A page in a browser could reach 127.0.0.1; browsers always send Origin, our clients never do.
    if (req.headers.origin !== undefined) {
      log.warn({ origin: req.headers.origin }, 'refused a WebSocket upgrade from a browser origin');
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const guard = new ConnectionGuard(ws, socket, limits, (code, reason) =>
        log.warn({ code, reason }, 'closed a connection past a limit'),
      );
      guards.set(ws, guard);
      batchSends(ws, socket);
      wss.emit('connection', ws, req);
    });
  });

  const infoNow = (): DaemonInfo => ({ ...options.daemon, port: (http.address() as AddressInfo).port });
  const expected = Buffer.from(options.token);
  const createContext = ({ res, info: request }: CreateWSSContextFnOptions): RpcContext => {
    const ws = res;
    const presented = request.connectionParams?.['token'];
    const given = Buffer.from(typeof presented === 'string' ? presented : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      log.warn({ hasToken: typeof presented === 'string' }, 'refused a connection without the right token');
      // Our close code goes out before the adapter's own close, so the client knows not to retry.
      setImmediate(() => ws.close(CLOSE_UNAUTHORIZED, 'unauthorized'));
      throw new TRPCError({
        code: 'UNAUTHORIZED',
        message:
          'the daemon refused the connection: missing or wrong token (read it from the state dir token file)',
      });
    }
    const guard = guards.get(ws)!;
    guard.tokenAccepted();
    return {
      orchestrator: options.orchestrator,
      daemon: infoNow(),
      requestStop: options.requestStop,
      ...(options.stopGraceMs !== undefined && { stopGraceMs: options.stopGraceMs }),
      connection: guard,
    };
  };

  // tRPC's handler for one connection, reading and writing through that connection's guard.
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    getWSConnectionHandler({
      wss,
      router: appRouter,
      createContext,
      // The daemon's fan-out is timed where it ends: each live batch written to this socket.
      experimental_encoder: timeDeliveries(ws, guards.get(ws)!.encoder, (oldestAt, committedAt) =>
        options.orchestrator.metrics.delivered(oldestAt, committedAt),
      ),
      keepAlive: {
        enabled: true,
        pingMs: options.keepAlive?.pingMs ?? 30_000,
        pongWaitMs: options.keepAlive?.pongWaitMs ?? 10_000,
      },
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ err: error, path }, 'procedure failed');
        else log.debug({ code: error.code, path, message: error.message }, 'procedure refused');
      },
    })(ws, req);
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const info = infoNow();
  const port = info.port;
  log.info({ port }, 'listening');

  return {
    port,
    info,
    close: async ({ stopped = false } = {}) => {
      if (stopped) await closeSaying(wss, CLOSE_DAEMON_STOPPED, 'the daemon was stopped');
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** How long clients have to answer a close frame before their sockets are cut. */
const CLOSE_WAIT_MS = 1_000;

/**
 * Sends every client a close frame with `code` and waits (at most `CLOSE_WAIT_MS`: a client that stopped
 * reading never answers) until they answered it.
 */
async function closeSaying(wss: WebSocketServer, code: number, reason: string): Promise<void> {
  const open = [...wss.clients];
  const closed = open.map((client) => new Promise<void>((resolve) => client.once('close', () => resolve())));
  for (const client of open) client.close(code, reason);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(closed),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
  ]);
  clearTimeout(timer);
}

/**
 * tRPC sends every message as its own frame; corking the socket until the promise jobs of this turn are
 * done lets one write carry a burst of events to a subscriber instead of a syscall each. Not until the
 * next turn of the event loop: a group commit's batches would then wait there behind whatever that turn
 * runs first, such as the journal serialising its next commit.
 */
function batchSends(ws: WebSocket, socket: Socket): void {
  const send = ws.send.bind(ws);
  let corked = false;
  ws.send = ((...args: Parameters<WebSocket['send']>) => {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    send(...args);
  }) as WebSocket['send'];
}
