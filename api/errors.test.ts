import type { AddressInfo } from 'node:net';
import { ServiceError } from '@temporalio/client';
import express from 'express';
import { ApiError, errorAnswer, errorHandler, notFoundRoute } from './errors';

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

describe('errorAnswer', () => {
  test('the database being away is a 503 to retry, not a 500', () => {
    const logged: unknown[] = [];
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const shuttingDown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    for (const err of [refused, shuttingDown, new Error('Connection terminated unexpectedly')]) {
      const answer = errorAnswer(err, (_m, e) => logged.push(e));
      expect(answer).toMatchObject({ status: 503, headers: { 'Retry-After': '1' }, body: { code: 'DATABASE_UNAVAILABLE' } });
    }
    expect(logged).toHaveLength(3);
    // A constraint violation is not an outage: still a 500, logged.
    expect(errorAnswer(Object.assign(new Error('duplicate key'), { code: '23505' }), () => undefined).status).toBe(500);
  });

  test('Temporal being away (gRPC UNAVAILABLE, as the client reports it, wrapped or not) is a 503 to retry; other gRPC failures are not', () => {
    const grpc = (code: number) => Object.assign(new Error(`${code} gRPC failure`), { code, details: 'No connection established', metadata: {} });
    for (const err of [grpc(14), new ServiceError('Failed to start Workflow', { cause: grpc(14) })]) {
      expect(errorAnswer(err, () => undefined)).toMatchObject({ status: 503, headers: { 'Retry-After': '5' }, body: { code: 'TEMPORAL_UNAVAILABLE' } });
    }
    // INVALID_ARGUMENT is a bug of ours, not an outage.
    expect(errorAnswer(new ServiceError('bad', { cause: grpc(3) }), () => undefined).status).toBe(500);
  });
});
