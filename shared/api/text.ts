import { z } from 'zod';

// Postgres text cannot hold NUL: refuse it at the edge (400) instead of failing in the database.
const noNul = (s: string) => !s.includes('\u0000');
const NUL_MESSAGE = 'Text cannot contain NUL characters';

/** Free text up to `max` characters (notes, reasons). */
export const text = (max: number) => z.string().max(max).refine(noNul, NUL_MESSAGE);

/** A trimmed, non-empty line up to `max` characters (names, labels, search terms). */
export const line = (max: number) => z.string().trim().min(1).max(max).refine(noNul, NUL_MESSAGE);
