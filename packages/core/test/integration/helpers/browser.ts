import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** The Chromium the UI tests drive: `DSTREAM_CHROMIUM`, else Debian's package (`scripts/prepare.js` installs it). */
export const chromiumPath = process.env.DSTREAM_CHROMIUM ?? '/usr/bin/chromium';

/** Starts a headless Chromium that reaches nothing but the pages a test opens. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}; run npm test (it installs Debian's chromium) or set DSTREAM_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
