import { chmodSync, closeSync, openSync, renameSync, statSync } from 'node:fs';
import { redactSecrets } from '@orc/shared';
import pino from 'pino';

export interface DaemonLoggerOptions {
  /** The log file (`daemon.log`); created with mode 0600. */
  file: string;
  level?: pino.LevelWithSilent;
  /** Values that must never reach the log (the API key, the connection token); read at each line. */
  secrets?: () => readonly string[];
  /** Past this size the file becomes `daemon.log.1` (replacing the previous one) and a new one starts. */
  maxBytes?: number;
  /** How often the size is checked (ms). */
  rotateCheckMs?: number;
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_ROTATE_CHECK_MS = 60_000;

export interface DaemonLogger {
  logger: pino.Logger;
  /** Writes out what is buffered; call before the process exits. */
  flush: () => void;
}

/** Key paths whose values are secrets wherever they appear in a log object. */
const REDACT_PATHS = [
  'apiKey',
  'token',
  'password',
  '*.apiKey',
  '*.token',
  '*.password',
  'connectionParams.token',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'config.apiKey',
];

/**
 * The daemon's one logger: structured lines to `daemon.log`, a child per component. Secrets are removed
 * here, not at each call site: by key path (pino's `redact`) and by shape in messages and errors.
 */
export function createDaemonLogger(options: DaemonLoggerOptions): DaemonLogger {
  const createPrivate = () => {
    closeSync(openSync(options.file, 'a', 0o600));
    chmodSync(options.file, 0o600);
  };
  createPrivate();
  const secrets = options.secrets ?? (() => []);
  const scrub = (text: string) => redactSecrets(text, secrets());
  const destination = pino.destination({ dest: options.file, sync: false, mkdir: true });
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        err: (error: unknown) => scrubDeep(pino.stdSerializers.err(error as Error), scrub),
      },
      formatters: {
        log: (object) => scrubDeep(object, scrub) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrub(arg) : arg));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
  // A daemon runs for weeks: the log is kept to two files of at most about maxBytes each.
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const rotate = () => {
    try {
      if (statSync(options.file).size <= maxBytes) return;
      destination.flushSync();
      renameSync(options.file, `${options.file}.1`);
      createPrivate(); // the new file is 0600 before the destination opens it
      destination.reopen();
    } catch {
      // A log that cannot rotate keeps growing; the daemon must not stop for it.
    }
  };
  rotate();
  setInterval(rotate, options.rotateCheckMs ?? DEFAULT_ROTATE_CHECK_MS).unref();
  return {
    logger,
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        // nothing buffered, or the file is gone: there is nowhere better to report it
      }
    },
  };
}

/** Applies `scrub` to every string inside a log object (bounded depth, cycles left alone). */
function scrubDeep(value: unknown, scrub: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, scrub, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrubDeep(item, scrub, depth + 1);
  return out;
}
