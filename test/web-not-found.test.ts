import { startWebServer, type WebServer } from './harness/web-app';

/*
 * The web app's unknown paths and its favicon, over plain HTTP against the
 * production build (no browser needed): a 404 page, not a stack trace in
 * the server log.
 */

let web: WebServer;

beforeAll(async () => {
  web = await startWebServer();
}, 180_000);

afterAll(async () => {
  await web?.stop();
});

test('ships a favicon, as .ico and .svg, named by every page', async () => {
  const ico = await fetch(`${web.baseUrl}/favicon.ico`);
  expect(ico.status).toBe(200);
  expect([...new Uint8Array(await ico.arrayBuffer()).slice(0, 4)]).toEqual([0, 0, 1, 0]);
  const svg = await fetch(`${web.baseUrl}/favicon.svg`);
  expect(svg.status).toBe(200);
  expect(svg.headers.get('content-type')).toMatch(/image\/svg\+xml/);
  const login = await (await fetch(`${web.baseUrl}/login`)).text();
  expect(login).toMatch(/<link rel="icon" href="\/favicon.svg" type="image\/svg\+xml"/);
  expect(login).toMatch(/<link rel="icon" href="\/favicon.ico" sizes="32x32"/);
});

test('an unknown path is a 404 page naming it, and the server logs no error for it', async () => {
  for (const path of ['/no/such/page', '/robots.txt', '/apple-touch-icon.png']) {
    const res = await fetch(`${web.baseUrl}${path}`);
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(html).toMatch(/<h1>Not found<\/h1>/);
    expect(html).toContain(`There is no page at <!-- -->${path}`);
  }
  // Pages behind sign-in still send a signed-out visitor to it, not to the 404 page.
  const invoices = await fetch(`${web.baseUrl}/invoices`, { redirect: 'manual' });
  expect(invoices.status).toBe(302);
  expect(invoices.headers.get('location')).toMatch(/^\/login/);
  await new Promise((r) => setTimeout(r, 200));
  expect(web.output().filter((line) => /error|no route matches|^\s+at /i.test(line))).toEqual([]);
});
