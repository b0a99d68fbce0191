import type { RequestHandler } from 'express';
import type { ErrorBody } from './errors';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface DocumentedPath {
  pattern: RegExp;
  allow: string[];
}

/** `/api/v1/invoices/{id}` as a pattern for one path segment per parameter, case-insensitive like the router. */
function pathPattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`, 'i');
}

/**
 * Answers a request whose path the OpenAPI document has, but not with this
 * method: 405 with `Allow` naming the methods the document gives it (HEAD
 * with GET, as Express serves it), before authentication, content-type and
 * body checks, which would otherwise answer for a request no route takes.
 */
export function methodNotAllowed(document: () => { paths?: Record<string, unknown> }): RequestHandler {
  let paths: DocumentedPath[] | undefined;
  const documented = (): DocumentedPath[] =>
    (paths ??= Object.entries(document().paths ?? {}).map(([template, item]) => {
      const methods = METHODS.filter((m) => typeof item === 'object' && item !== null && m in item).map((m) => m.toUpperCase());
      if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
      return { pattern: pathPattern(template), allow: methods };
    }));
  return (req, res, next) => {
    const matches = documented().filter((p) => p.pattern.test(req.path));
    const allow = [...new Set(matches.flatMap((p) => p.allow))];
    if (matches.length === 0 || allow.includes(req.method)) {
      next();
      return;
    }
    res
      .status(405)
      .set('Allow', allow.join(', '))
      .json({ error: `${req.method} is not allowed on ${req.path}; it takes ${allow.join(', ')}`, code: 'METHOD_NOT_ALLOWED' } satisfies ErrorBody);
  };
}
