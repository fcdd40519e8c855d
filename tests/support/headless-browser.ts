import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Chromium as Debian installs it (`apt-get install chromium`; .ci/run does). */
export const CHROMIUM = process.env['ORC_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Opens a local page in headless Chromium and returns its screenshot (PNG) and the DOM it built, as a
 * person's browser would show it. Its profile lives in a temp dir removed afterwards; no network is used.
 */
export async function renderPage(
  file: string,
  size: { width: number; height: number } = { width: 1024, height: 1400 },
): Promise<{ png: Buffer; dom: string }> {
  const profile = await mkdtemp(join(tmpdir(), 'orc-chromium-'));
  const url = pathToFileURL(file).href;
  const common = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
    `--window-size=${size.width},${size.height}`,
  ];
  try {
    const png = join(profile, 'page.png');
    await chromium([...common, `--screenshot=${png}`, url]);
    const dom = await chromium([...common, '--dump-dom', url]);
    return { png: await readFile(png), dom };
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

function chromium(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      CHROMIUM,
      args,
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HOME: tmpdir() } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`chromium failed: ${error.message}\n${stderr.slice(-2000)}`));
        else resolve(stdout);
      },
    );
  });
}
