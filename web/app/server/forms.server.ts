import type { z } from 'zod';
import { minorUnits } from '../../../billing/currency';
import { dec } from '../../../billing/decimal';
import { DomainError } from '../../../services/errors';

/** A form field as typed, trimmed; '' when absent or a file. */
export function formText(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value.trim() : '';
}

/** Why `amount` cannot be an amount in `currency` (more decimals than its minor unit), or null when it can. */
export function finerThanCurrency(amount: string, currency: string): string | null {
  const places = minorUnits(currency);
  return dec(amount).decimalPlaces() > places ? `${currency.toUpperCase()} amounts have at most ${places} decimal places.` : null;
}

/** A form the schema refused: its first problem, with the field named by its label on the page. */
export function formProblem(error: z.ZodError, labels: Record<string, string>): { ok: false; message: string; field?: string } {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') || undefined;
  return { ok: false, message: `${field ? `${labels[field] ?? field}: ` : ''}${issue?.message ?? 'invalid input'}`, ...(field ? { field } : {}) };
}

/** A service's refusal (services/errors.ts) as a form outcome; anything else is not the person's to fix, and is thrown on. */
export function refusal(err: unknown): { ok: false; message: string; field?: string } {
  if (err instanceof DomainError) return { ok: false, message: err.message, ...(err.field ? { field: err.field } : {}) };
  throw err;
}

/** A `datetime-local` value, read as UTC (the pages say so), as an ISO instant; empty: undefined (the field's default). */
export function localInstant(value: string): string | undefined {
  if (value === '') return undefined;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value) ? `${value.length === 16 ? `${value}:00` : value}Z` : value;
}
