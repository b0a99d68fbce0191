import { PassThrough } from 'node:stream';
import { createReadableStreamFromReadable } from '@react-router/node';
import { renderToPipeableStream } from 'react-dom/server';
import { ServerRouter, type EntryContext } from 'react-router';

const RENDER_TIMEOUT_MS = 10_000;

/**
 * Renders every page completely before sending it (onAllReady): the pages
 * are small, and a whole document is simpler for screen readers, crawlers
 * and the browser tests alike.
 */
export default function handleRequest(request: Request, status: number, headers: Headers, routerContext: EntryContext): Promise<Response> {
  return new Promise((resolve, reject) => {
    let failed = false;
    const { pipe, abort } = renderToPipeableStream(<ServerRouter context={routerContext} url={request.url} />, {
      onAllReady() {
        const body = new PassThrough();
        headers.set('Content-Type', 'text/html; charset=utf-8');
        headers.set('X-Frame-Options', 'DENY');
        headers.set('Referrer-Policy', 'same-origin');
        resolve(new Response(createReadableStreamFromReadable(body), { status: failed ? 500 : status, headers }));
        pipe(body);
      },
      onShellError: reject,
      onError(error) {
        failed = true;
        console.error(error);
      },
    });
    setTimeout(abort, RENDER_TIMEOUT_MS + 1000);
  });
}

export const streamTimeout = RENDER_TIMEOUT_MS;
