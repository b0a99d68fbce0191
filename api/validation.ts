import type { z } from 'zod';
import { ApiError } from './errors';
import { isExactNumber, NOT_EXACT_NUMBER } from './exact-json';

/** One problem with one input: what, where, and in words. */
export interface FieldProblem {
  code: string;
  field: string;
  message: string;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

const fieldName = (path: readonly PropertyKey[]): string => path.map(String).join('.');

/** Fields the API once took and now refuses, with what to do instead (a client written against the old API learns why). */
const RETIRED_FIELDS: Record<string, string> = {
  approver: 'who decided is the calling API key, recorded from its credentials (put a remark in note or reason)',
};

/**
 * Turns zod's first issue into a stable, documented problem. `input` is the
 * value that was parsed, so a missing field can be told from a wrong one.
 */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown): FieldProblem {
  const field = fieldName(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys;
      const first = fieldName([...issue.path, keys[0] ?? '']);
      const retired = keys.filter((k) => Object.hasOwn(RETIRED_FIELDS, k)).map((k) => `; ${k} is no longer taken: ${RETIRED_FIELDS[k]}`);
      return {
        code: 'UNKNOWN_FIELD',
        field: first,
        message: `Unknown field${keys.length > 1 ? 's' : ''}: ${keys.map((k) => fieldName([...issue.path, k])).join(', ')}${retired.join('')}`,
      };
    }
    case 'invalid_type': {
      const value = valueAt(input, issue.path);
      if (value === undefined) return { code: 'MISSING_FIELD', field, message: `${field} is required` };
      // A number with more digits than a double keeps (api/exact-json.ts), where the field takes only a plain number.
      if (isExactNumber(value) && issue.expected === 'number') {
        return { code: 'INVALID_VALUE', field, message: `${field}: ${value.value} has more digits than this field takes exactly (at most 15 significant digits, integers up to 2^53)` };
      }
      return { code: 'INVALID_TYPE', field, message: `${field}: expected ${issue.expected}` };
    }
    case 'invalid_union': {
      // Neither a string nor a number (say): a type error, not a bad value.
      // (the branch that takes a number kept as text counts as one more "number")
      const typeMismatch = (i: z.core.$ZodIssue) => i.path.length === 0 && (i.code === 'invalid_type' || (i.code === 'custom' && i.params?.code === NOT_EXACT_NUMBER));
      const expected = issue.errors.map((branch) => branch.find(typeMismatch));
      if (expected.every((i) => i !== undefined)) {
        const names = [...new Set(expected.map((i) => (i!.code === 'invalid_type' ? i!.expected : 'number')))];
        return { code: 'INVALID_TYPE', field, message: `${field}: expected ${names.join(' or ')}` };
      }
      // The branch that got the right type says what was wrong with the value.
      const closest = issue.errors.find((branch) => branch.some((i) => !typeMismatch(i)))?.[0];
      if (closest) return describeIssue({ ...closest, path: [...issue.path, ...closest.path] } as z.core.$ZodIssue, input);
      return { code: 'INVALID_VALUE', field, message: `${field}: ${issue.message}` };
    }
    case 'custom': {
      const code = typeof issue.params?.code === 'string' ? issue.params.code : 'INVALID_VALUE';
      return { code, field, message: `${field}: ${issue.message}` };
    }
    default:
      return { code: 'INVALID_VALUE', field, message: field ? `${field}: ${issue.message}` : issue.message };
  }
}

/** Parses a whole request part (body or query); the first problem becomes a 400 naming the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const problem = first ? describeIssue(first, input) : { code: 'INVALID_VALUE', field: '', message: `Invalid ${what}` };
  throw new ApiError(400, 'VALIDATION_ERROR', `Invalid ${what}: ${problem.message}`, {
    field: problem.field,
    issues: result.error.issues.map((issue) => describeIssue(issue, input)),
  });
}
