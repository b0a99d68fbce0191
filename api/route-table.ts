import { Router, type Request } from 'express';
import { z } from 'zod';
import type { ZodOpenApiPathsObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import { callerOf, type Caller } from './auth';
import type { ApiConfig } from './config';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { errorContent, ErrorSchema, type Json, type Responses } from './schemas/common';
import { parseOrThrow } from './validation';

/*
 * A route table: each operation declared once — method, path, the zod
 * schemas it validates its path, query and body with, its answer and its
 * refusals, and what it does — and both the Express router and the OpenAPI
 * document's paths built from that one declaration, so the document cannot
 * describe a schema the route does not use. (The Stripe webhooks, health,
 * metrics and the document itself, outside /api/v1 and its API keys, are
 * documented by hand in api/openapi.ts.)
 */

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

export interface RouteInput<P, Q, B> {
  caller: Caller;
  params: P;
  query: Q;
  body: B;
  req: Request;
  /** the deployment's API settings (timeouts, outbound policy) */
  config: ApiConfig;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** under the table's mount, in OpenAPI form: `/{id}/rotate-secret`; '' for the mount itself */
  path: string;
  summary: string;
  description?: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  /** request headers it reads, documented only (the handler reads them from `req`) */
  headers?: z.ZodObject;
  /** the body as documented (and validated, unless `bodyFor` gives the deployment's own, or `bodyCheckedByHandler` leaves it to the handler) */
  body?: z.ZodType<B>;
  /** a request without a body is taken as `{}` (every field optional, e.g. a cancellation at the period end); else it is a 400 */
  bodyOptional?: true;
  /** the body schema under this deployment's settings (e.g. its outbound URL policy); the document shows `body` */
  bodyFor?: (config: ApiConfig) => z.ZodType<B>;
  /** the handler checks the body itself, from `req.body` (ingest takes a request's valid events and lists the rest); the document shows `body` */
  bodyCheckedByHandler?: true;
  /** the answer: its status (default 200), what it is, its schema */
  ok: { status?: number; description: string; schema: z.ZodType };
  /** checks on the raw request before its parts are parsed (a refusal clearer than the schema's) */
  before?: (req: Request) => void | Promise<void>;
  /** other successful answers (the handler returns them as `answer(status, body)`), e.g. 201 beside 200 for a PUT */
  alsoOk?: Record<string, { description: string; schema: z.ZodType }>;
  /** refusals beyond the common ones (400, 401, 403, 413, 415, 429, 500, 503): what they mean, and a body other than the common error's or headers when they have them */
  errors?: Record<string, string | ErrorDoc>;
  handle: (deps: ApiDeps, input: RouteInput<P, Q, B>) => Promise<unknown> | unknown;
}

/** A refusal with a body of its own (beside the common error's) or headers. */
export interface ErrorDoc {
  description: string;
  /** the body it has besides the common error shape */
  schema?: z.ZodType;
  headers?: z.ZodObject;
}

/** A handler's answer with a status other than the route's `ok` one (declared in its `alsoOk`). */
export class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}
export const answer = (status: number, body: unknown) => new Answer(status, body);

/** One declaration with its types checked against its schemas (a table holds them as RouteSpec). */
export function route<P = unknown, Q = unknown, B = unknown>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

export interface RouteTable {
  /** where it is mounted under /api/v1: `/webhook-endpoints` */
  mount: string;
  routes: readonly RouteSpec[];
}

const expressPath = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1') || '/';

/**
 * A declaration that cannot be served as documented is refused when the
 * table is built, not met by the first request: path parameters not matching
 * the params schema's keys, a params or query schema that is not an object,
 * `bodyFor` or `bodyCheckedByHandler` without the `body` the document shows,
 * a body on a GET or DELETE.
 */
function checkSpec(table: RouteTable, spec: RouteSpec): void {
  const where = `${spec.method.toUpperCase()} /api/v1${table.mount}${spec.path}`;
  const named = [...spec.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();
  for (const [part, schema] of [['params', spec.params], ['query', spec.query], ['headers', spec.headers]] as const) {
    if (schema !== undefined && !(schema instanceof z.ZodObject)) throw new Error(`${where}: ${part} must be an object schema`);
  }
  const keys = spec.params ? Object.keys((spec.params as z.ZodObject).shape).sort() : [];
  if (named.join() !== keys.join()) throw new Error(`${where}: the path names {${named.join('}, {')}} but the params schema has ${keys.join(', ') || 'none'}`);
  if ((spec.bodyFor || spec.bodyCheckedByHandler) && !spec.body) throw new Error(`${where}: bodyFor and bodyCheckedByHandler need the documented body too`);
  if (spec.body && (spec.method === 'get' || spec.method === 'delete')) throw new Error(`${where}: a ${spec.method.toUpperCase()} takes no body`);
}

/** The request's JSON body; none at all is `{}` where the body is optional, and a 400 where it is required. */
function requestBody(req: Request, spec: RouteSpec): unknown {
  if (req.body !== undefined) return req.body;
  if (spec.bodyOptional) return {};
  throw new ApiError(400, 'VALIDATION_ERROR', 'Invalid request: a JSON body is required', { field: '', issues: [{ code: 'MISSING_FIELD', field: '', message: 'a JSON body is required' }] });
}

/** The Express router of a table, to mount at `/api/v1${table.mount}`. */
export function tableRouter(table: RouteTable, deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();
  for (const spec of table.routes) {
    checkSpec(table, spec);
    const bodySchema = spec.bodyCheckedByHandler ? undefined : (spec.bodyFor?.(config) ?? spec.body);
    router[spec.method](expressPath(spec.path), async (req, res) => {
      await spec.before?.(req);
      const input: RouteInput<unknown, unknown, unknown> = {
        caller: callerOf(req),
        params: spec.params ? parseOrThrow(spec.params, req.params, 'path') : req.params,
        query: spec.query ? parseOrThrow(spec.query, req.query, 'query') : {},
        body: bodySchema ? parseOrThrow(bodySchema, requestBody(req, spec), 'request') : undefined,
        req,
        config,
      };
      const result = await spec.handle(deps, input);
      if (!(result instanceof Answer)) {
        res.status(spec.ok.status ?? 200).json(result);
        return;
      }
      // An answer the document does not declare is a bug in the route, not something to send.
      if (result.status !== (spec.ok.status ?? 200) && !spec.alsoOk?.[String(result.status)]) throw new Error(`${spec.method.toUpperCase()} /api/v1${table.mount}${spec.path} answered ${result.status}, which its alsoOk does not declare`);
      res.status(result.status).json(result.body);
    });
  }
  return router;
}

/** A refusal's response: the common error body, or that or its own; its headers. */
function errorResponse(error: string | ErrorDoc, json: Json) {
  if (typeof error === 'string') return { description: error, content: errorContent };
  return {
    description: error.description,
    ...(error.headers ? { headers: error.headers } : {}),
    content: error.schema ? json(z.union([error.schema, ErrorSchema])) : errorContent,
  };
}

/** The OpenAPI paths of tables, each operation from its declaration. */
export function tablePaths(tables: readonly RouteTable[], json: Json, responses: Responses): ZodOpenApiPathsObject {
  const paths: ZodOpenApiPathsObject = {};
  for (const table of tables) {
    for (const spec of table.routes) {
      checkSpec(table, spec);
      const path = `/api/v1${table.mount}${spec.path}`;
      if (paths[path]?.[spec.method]) throw new Error(`${spec.method.toUpperCase()} ${path} is declared twice`);
      const errors: ZodOpenApiResponsesObject = {
        ...Object.fromEntries(Object.entries(spec.alsoOk ?? {}).map(([status, ok]) => [status, { description: ok.description, content: json(ok.schema) }])),
        ...Object.fromEntries(Object.entries(spec.errors ?? {}).map(([status, error]) => [status, errorResponse(error, json)])),
      };
      const requestParams = {
        ...(spec.params ? { path: spec.params as z.ZodObject } : {}),
        ...(spec.query ? { query: spec.query as z.ZodObject } : {}),
        ...(spec.headers ? { header: spec.headers } : {}),
      };
      paths[path] = {
        ...paths[path],
        [spec.method]: {
          summary: spec.summary,
          ...(spec.description ? { description: spec.description } : {}),
          ...(Object.keys(requestParams).length > 0 ? { requestParams } : {}),
          ...(spec.body ? { requestBody: { required: !spec.bodyOptional, content: json(spec.body) } } : {}),
          responses: responses({ status: String(spec.ok.status ?? 200), description: spec.ok.description, schema: spec.ok.schema }, errors),
        },
      };
    }
  }
  return paths;
}
