import type { RequestHandler } from 'express';
import type { DocumentedPaths } from './documented-paths';
import type { ErrorBody } from './errors';

/**
 * Answers a request whose path the OpenAPI document has, but not with this
 * method: 405 with `Allow` naming the methods the document gives it (HEAD
 * with GET, as Express serves it), before authentication, content-type and
 * body checks, which would otherwise answer for a request no route takes.
 */
export function methodNotAllowed(paths: DocumentedPaths): RequestHandler {
  return (req, res, next) => {
    const matches = paths.matching(req.path);
    const allow = [...new Set(matches.flatMap((p) => p.methods))];
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
