import express from 'express';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createDocument } from 'zod-openapi';
import type { ApiConfig } from './config';
import type { ApiDeps } from './deps';
import { errorHandler } from './errors';
import { answer, route, tablePaths, tableRouter, type RouteTable } from './route-table';
import { errorContent } from './schemas/common';
import { createOpenApiDocument } from './openapi';
import { ROUTE_TABLES } from './route-tables';

const Thing = z.object({ id: z.string(), size: z.int() }).meta({ id: 'Thing' });
const table: RouteTable = {
  mount: '/things',
  routes: [
    route({
      method: 'post',
      path: '/{id}/grow',
      summary: 'Grow a thing',
      params: z.object({ id: z.string().regex(/^t\d+$/) }),
      query: z.strictObject({ by: z.coerce.number().int().default(1) }),
      body: z.strictObject({ note: z.string() }),
      bodyFor: (config) => z.strictObject({ note: z.string().max(config.bodyLimit === 'tiny' ? 3 : 100) }),
      ok: { status: 201, description: 'Grown', schema: Thing },
      errors: { '404': 'No such thing' },
      handle: (_deps, { params, query, body }) => ({ id: params.id, size: query.by, note: body.note }),
    }),
    route({
      method: 'post',
      path: '/{id}/sort',
      summary: 'Sort a thing\'s parts, keeping the good ones',
      params: z.object({ id: z.string() }),
      body: z.strictObject({ parts: z.array(z.string()) }),
      bodyCheckedByHandler: true,
      ok: { description: 'Sorted', schema: Thing },
      alsoOk: { '202': { description: 'Sorting later', schema: Thing } },
      errors: { '503': { description: 'Too busy', schema: z.object({ busy: z.literal(true) }), headers: z.object({ 'Retry-After': z.string() }) } },
      handle: (_deps, { req, body }) => {
        const raw = req.body as { answer?: number };
        // a handler-checked body reaches the handler unparsed, in req.body only
        if (raw.answer !== undefined) return answer(raw.answer, { id: 'later', size: body === undefined ? 0 : -1 });
        return { id: 'sorted', size: Object.keys(raw).length };
      },
    }),
  ],
};

const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });
const responses = (ok: { status: string; description: string; schema: z.ZodType }, extra = {}) => ({ [ok.status]: { description: ok.description, content: json(ok.schema) }, ...extra });

describe('route tables', () => {
  it('document each operation with the schemas its route validates with', () => {
    const paths = tablePaths([table], json, responses);
    expect(Object.keys(paths)).toEqual(['/api/v1/things/{id}/grow', '/api/v1/things/{id}/sort']);
    const op = paths['/api/v1/things/{id}/grow']!.post!;
    expect(op).toMatchObject({ summary: 'Grow a thing', requestBody: { required: true, content: json(table.routes[0]!.body!) } });
    expect(op.responses).toEqual({ '201': { description: 'Grown', content: json(Thing) }, '404': { description: 'No such thing', content: errorContent } });
    // A refusal with a body of its own: that or the common error, with its headers.
    const sort = paths['/api/v1/things/{id}/sort']!.post!;
    expect(sort.requestBody).toEqual({ required: true, content: json(table.routes[1]!.body!) });
    const busy = (sort.responses as unknown as Record<string, { headers?: unknown; content: { 'application/json': { schema: z.ZodType } } }>)['503']!;
    expect(busy.headers).toBeDefined();
    expect(busy.content['application/json'].schema.safeParse({ busy: true }).success).toBe(true);
    expect(busy.content['application/json'].schema.safeParse({ error: 'x', code: 'DATABASE_UNAVAILABLE' }).success).toBe(true);
    // And it is a valid document.
    expect(() => createDocument({ openapi: '3.1.0', info: { title: 't', version: '1' }, paths })).not.toThrow();
  });

  it('route requests through the same schemas: parsed parts to the handler, refusals as 400s naming the field, the deployment\'s body rules', async () => {
    const app = express();
    app.use(express.json());
    app.use((req, _res, next) => {
      (req as { caller?: unknown }).caller = { organizationId: 'org', apiKeyId: 'key', scopes: [] };
      next();
    });
    app.use('/things', tableRouter(table, {} as ApiDeps, { bodyLimit: 'tiny' } as ApiConfig));
    app.use(errorHandler(() => undefined));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = (path: string, body: unknown) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
    try {
      expect(await post('/things/t1/grow?by=3', { note: 'ok' })).toEqual({ status: 201, body: { id: 't1', size: 3, note: 'ok' } });
      expect(await post('/things/x/grow', { note: 'ok' })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', details: { field: 'id' } } });
      expect(await post('/things/t1/grow', { note: 'too long' })).toMatchObject({ status: 400, body: { details: { field: 'note' } } });
      expect(await post('/things/t1/grow', { note: 'ok', extra: 1 })).toMatchObject({ status: 400, body: { details: { issues: [{ code: 'UNKNOWN_FIELD' }] } } });
      // The handler checks this body: not refused here, given as it came.
      expect(await post('/things/t1/sort', { anything: 1, goes: 2 })).toEqual({ status: 200, body: { id: 'sorted', size: 2 } });
      // Answers: a declared other status goes out; one the declaration lacks is the route's bug, a 500.
      expect(await post('/things/t1/sort', { answer: 202 })).toEqual({ status: 202, body: { id: 'later', size: 0 } });
      expect(await post('/things/t1/sort', { answer: 200 })).toMatchObject({ status: 200 });
      expect(await post('/things/t1/sort', { answer: 201 })).toMatchObject({ status: 500 });
    } finally {
      server.close();
    }
  });

  it('are all in the API document', () => {
    const doc = createOpenApiDocument() as unknown as { paths: Record<string, Record<string, unknown>> };
    for (const t of ROUTE_TABLES) {
      for (const r of t.routes) expect(doc.paths[`/api/v1${t.mount}${r.path}`]?.[r.method]).toBeDefined();
    }
  });
});

describe('route table declarations', () => {
  const base = { summary: 's', ok: { description: 'ok', schema: Thing }, handle: () => ({}) } as const;
  const build = (spec: Parameters<typeof route>[0]) => () => tablePaths([{ mount: '/x', routes: [route(spec)] }], json, responses);
  it('are refused when they cannot be served as documented', () => {
    expect(build({ ...base, method: 'get', path: '/{id}' })).toThrow('the path names {id} but the params schema has none');
    expect(build({ ...base, method: 'get', path: '/{id}', params: z.object({ key: z.string() }) })).toThrow('the params schema has key');
    expect(build({ ...base, method: 'get', path: '', body: z.object({}) })).toThrow('a GET takes no body');
    expect(build({ ...base, method: 'post', path: '', bodyFor: () => z.object({}) })).toThrow('need the documented body too');
    expect(build({ ...base, method: 'post', path: '', bodyCheckedByHandler: true })).toThrow('need the documented body too');
    expect(() => tablePaths([{ mount: '/x', routes: [route({ ...base, method: 'get', path: '' }), route({ ...base, method: 'get', path: '' })] }], json, responses)).toThrow('GET /api/v1/x is declared twice');
  });
});
