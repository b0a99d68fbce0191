import express, { type RequestHandler } from 'express';
import { isSafeNumber, LosslessNumber, parse as parseLossless } from 'lossless-json';
import { isExactNumber } from '../services/schemas/decimal';
import { ApiError } from './errors';

/**
 * JSON request bodies, parsed so no number loses a digit. JSON.parse turns
 * every number into a binary double: 12345678901234.567 arrives as
 * 12345678901234.566, silently. Node 20's JSON.parse cannot show a reviver
 * the number's source text, so a body holding a number a double may not keep
 * exactly is parsed by lossless-json (a maintained parser that hands us each
 * number's text), and such numbers stay `LosslessNumber`s: money and quantity
 * fields read their exact digits (api/schemas/common.ts), and a field that
 * needs a plain number refuses them with a 400 naming it (api/validation.ts).
 *
 * A double keeps every decimal of 15 significant digits or fewer, so a body
 * without a run of 16 digits (a dot may sit among them) is left to
 * JSON.parse; digits inside strings only send a body down the slower path,
 * which parses it the same way.
 */
const LONG_NUMBER = /\d(?:\.?\d){15}/;

export { isExactNumber, NOT_EXACT_NUMBER, type ExactNumber } from '../services/schemas/decimal';

/** Where the first number kept as text sits in a parsed value (a path of keys), or null when there is none. */
export function findExactNumber(value: unknown, path: (string | number)[] = []): (string | number)[] | null {
  if (isExactNumber(value)) return path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findExactNumber(value[i], [...path, i]);
      if (found) return found;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const found = findExactNumber(item, [...path, key]);
      if (found) return found;
    }
  }
  return null;
}

/** A number a double holds exactly becomes a number; any other keeps its text. */
function parseNumber(text: string): number | LosslessNumber {
  return isSafeNumber(text, { approx: false }) ? Number(text) : new LosslessNumber(text);
}

/** Parses JSON text, numbers exactly; throws SyntaxError on invalid JSON (and, on the exact path, on a repeated key). */
export function parseJsonExactly(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  return parseLossless(text, null, parseNumber);
}

const EXACT_TEXT = Symbol('exact-json-text');
type WithExactText = { [EXACT_TEXT]?: string };

/**
 * express.json (its limits, charsets and errors unchanged), then, for the
 * rare body with a long number, the same bytes parsed again exactly.
 */
export function exactJsonBody(limit: string | number): RequestHandler[] {
  const parse = express.json({
    limit,
    verify: (req, _res, buf, encoding) => {
      const text = buf.toString((encoding as BufferEncoding | undefined) ?? 'utf8');
      if (LONG_NUMBER.test(text)) (req as WithExactText)[EXACT_TEXT] = text.replace(/^\uFEFF/, '');
    },
  });
  const reparse: RequestHandler = (req, _res, next) => {
    const text = (req as WithExactText)[EXACT_TEXT];
    if (text === undefined) return next();
    try {
      req.body = parseLossless(text, null, parseNumber);
    } catch (err) {
      // JSON.parse took it, so this is a repeated key: ambiguous, so refused.
      throw new ApiError(400, 'INVALID_JSON', `Request body is not valid JSON: ${(err as Error).message}`);
    }
    next();
  };
  return [parse, reparse];
}
