// Shared by the status page tests in headless Chromium: where screenshots go, the two screens,
// opening the page (every console error and CSP violation collected), the cards in order.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PACKAGE_ROOT } from '../../src/paths.js';

export const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');
export const LAPTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

export interface PageOpener {
  (path?: string, viewport?: { width: number; height: number }, isMobile?: boolean): Promise<Page>;
  /** Script errors and CSP violations (Chromium reports both on the console) seen so far. */
  errors: string[];
}

/** Opens `base + path` in a fresh context and waits for the first render. */
export async function pageOpener(browser: Browser, base: string): Promise<PageOpener> {
  await mkdir(ARTIFACTS, { recursive: true });
  const errors: string[] = [];
  const open = async (path = '', viewport = LAPTOP, isMobile = false) => {
    const context = await browser.newContext({ viewport, isMobile, hasTouch: isMobile, deviceScaleFactor: isMobile ? 2 : 1 });
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base + path);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    return page;
  };
  return Object.assign(open, { errors });
}

export const cardsInOrder = (page: Page): Promise<string[]> => page.$$eval('#routes article.app', (els) => els.map((e) => e.getAttribute('data-app') ?? ''));

/** Page width beyond the screen (0: no horizontal scrolling). */
export const overflow = (page: Page): Promise<number> => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

/**
 * Resolves once the page has rendered the answer to everything asked so far (the filter, a sort,
 * "show more" each fetch from the daemon; `data-busy` is set while a fetch runs).
 */
export async function settled(page: Page): Promise<void> {
  await page.waitForSelector('body[data-loaded="true"]:not([data-busy])', { state: 'attached', timeout: 15_000 });
}

/** Types into the filter and waits for the daemon's answer for it. */
export async function filterBy(page: Page, text: string): Promise<void> {
  await page.fill('#filter', text);
  await page.waitForSelector(`body[data-q="${text.trim().toLowerCase()}"]:not([data-busy])`, { state: 'attached', timeout: 15_000 });
}
