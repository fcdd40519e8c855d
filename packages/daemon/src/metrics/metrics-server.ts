import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrcError } from '@orc/shared';
import type pino from 'pino';
import type { DaemonMetrics } from './daemon-metrics.js';

/** The only address the metrics are served on: a scraper on this machine, never the network. */
export const METRICS_HOST = '127.0.0.1';

export interface MetricsServerOptions {
  metrics: DaemonMetrics;
  /** The daemon's token: a scrape shows it as `Authorization: Bearer <token>`. */
  token: string;
  /** `monitoring.metrics_port`; 0 picks a free one. */
  port: number;
  logger: pino.Logger;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` in Prometheus' text format on 127.0.0.1, to requests that carry the daemon's
 * token as a bearer (401 otherwise), and refuses browsers (an Origin header) like the RPC port does.
 * Prometheus reads the token from the state directory: `authorization: { credentials_file: …/token }`.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, logger } = options;
  const expected = Buffer.from(`Bearer ${options.token}`);
  const authorized = (req: IncomingMessage): boolean => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const server = createServer((req, res) => {
    if (req.headers.origin !== undefined) return reply(res, 403, 'browsers may not read the metrics\n');
    if (!authorized(req)) {
      logger.warn({ path: req.url }, 'refused a metrics request without the right token');
      res.setHeader('www-authenticate', 'Bearer realm="orc"');
      return reply(
        res,
        401,
        'unauthorized: send the token in the state directory as "Authorization: Bearer <token>"\n',
      );
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return reply(res, 404, 'not found: the metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return reply(res, 405, 'method not allowed: GET /metrics\n');
    }
    metrics.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'could not collect the metrics');
        reply(res, 500, 'the metrics could not be collected; see daemon.log\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EADDRINUSE' ? 'is in use' : `cannot be used (${error.code ?? error.message})`;
      reject(
        new OrcError(
          'CONFIG_INVALID',
          `monitoring.metrics_port ${options.port} on ${METRICS_HOST} ${why}; choose another port, or unset it to serve no metrics`,
        ),
      );
    });
    server.listen(options.port, METRICS_HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, host: METRICS_HOST }, 'serving metrics');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}
