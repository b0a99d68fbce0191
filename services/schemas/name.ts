import { z } from 'zod';
import 'zod-openapi';

/** A name a person or an app gives (an event type, a customer id, a vendor, a model): 1–255 characters after trimming, no NUL (PostgreSQL text cannot hold it). */
export const storableName = (description: string, example: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(255)
    .refine((v) => !v.includes('\u0000'), 'must not contain a NUL character')
    .meta({ description, example });
