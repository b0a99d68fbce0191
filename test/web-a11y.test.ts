import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createUser } from '../prisma/users';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { describeWithChromium, launchChromium, signIn, startWebServer, type WebServer } from './harness/web-app';

/**
 * Accessibility of every main page, checked by axe-core (WCAG 2.0/2.1 A and
 * AA rules) in Chromium at phone width, plus: no page scrolls sideways, and
 * Tab from the top reaches the skip link first, then the main navigation.
 */
const AXE = fs.readFileSync(path.join(__dirname, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const PAGES = ['/', '/customers', '/invoices', '/runs', '/leaks', '/alerts', '/audit', '/settings', '/settings/alerts', '/settings/api-keys', '/settings/users'];

// The page functions below run in Chromium; this project's types have no DOM, so declare what they touch.
declare const window: { innerWidth: number; axe: { run(context: unknown, options: object): Promise<{ violations: Violation[] }> } };
declare const document: {
  documentElement: { scrollWidth: number };
  activeElement: { textContent: string | null; closest(selector: string): { getAttribute(name: string): string | null } | null } | null;
};

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describeWithChromium('web-a11y')('accessibility of the web app', () => {
  let web: WebServer;
  let browser: Browser;
  const admin = { email: '', password: 'admin-password-1' };

  beforeAll(async () => {
    const { organizationId } = await createTestOrganization('web-a11y');
    admin.email = (await createUser(testPrisma(), { organizationId, email: `admin-${organizationId.slice(0, 8)}@a11y.test`, role: 'admin', password: admin.password }, { type: 'system', id: 'test' })).email;
    web = await startWebServer();
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
  });

  it('finds no WCAG A/AA violations on the sign-in page', async () => {
    const page = await browser.newPage({ baseURL: web.baseUrl, viewport: { width: 390, height: 844 } });
    await page.goto('/login');
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  });

  it('finds no WCAG A/AA violations and no sideways scrolling on the signed-in pages at phone width', async () => {
    const page = await signIn(browser, web.baseUrl, admin, '/');
    const problems: Record<string, string[]> = {};
    for (const url of PAGES) {
      await page.goto(url);
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      const found = await axeViolations(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) found.push(`the page is ${overflow} px wider than the 390 px screen`);
      if (found.length > 0) problems[url] = found;
    }
    expect(problems).toEqual({});
  });

  it('lets keyboard users skip to the content first, then reach the main navigation', async () => {
    const page = await signIn(browser, web.baseUrl, admin, '/');
    // A fresh document load, so focus starts at the top of the page.
    await page.goto('/');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.closest('nav')?.getAttribute('aria-label'))).resolves.toBe('Main');
  });
});
