import type { AddressInfo } from 'node:net';
import express from 'express';
import { ApiError, errorHandler, notFoundRoute } from './errors';

describe('errorHandler', () => {
  test('known errors keep their status and shape; anything else is a 500 without internals', async () => {
    const logged: unknown[] = [];
    const app = express();
    app.get('/known', () => {
      throw new ApiError(409, 'CONFLICT', 'already there', { id: 1 });
    });
    app.get('/boom', () => {
      throw new Error('secret connection string in here');
    });
    app.use(notFoundRoute);
    app.use(errorHandler((_m, err) => logged.push(err)));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const known = await fetch(`${base}/known`);
      expect(known.status).toBe(409);
      expect(await known.json()).toEqual({ error: 'already there', code: 'CONFLICT', details: { id: 1 } });

      const boom = await fetch(`${base}/boom`);
      expect(boom.status).toBe(500);
      const text = await boom.text();
      expect(JSON.parse(text)).toEqual({ error: 'Internal server error', code: 'INTERNAL' });
      expect(text).not.toContain('secret');
      expect(logged).toHaveLength(1);

      const missing = await fetch(`${base}/nowhere`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
