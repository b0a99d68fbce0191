import { z } from 'zod';

/**
 * An email address: zod's syntax, at most 254 characters, and at most 64
 * before the @ (RFC 5321's limits, which the document's `format: email`
 * implies and mail servers enforce).
 */
export function emailAddress(example: string) {
  return z
    .email(`must be an email address like ${example}`)
    .max(254, 'must be at most 254 characters')
    .refine((s) => s.lastIndexOf('@') <= 64, 'must have at most 64 characters before the @');
}
