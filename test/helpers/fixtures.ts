import type { TestClinic } from './clinic.js';

/** What a request to one route needs to reach a real resource of a clinic. */
export interface RouteInput {
  params?: Record<string, string>;
  /** A valid body, so a request from another clinic is refused for the resource, not for its input. */
  body?: unknown;
  query?: Record<string, string>;
}

/**
 * Per route path (as declared, e.g. `/contacts/:id`), a function that creates what the route acts
 * on inside `clinic` and returns the request input. Each feature adds its own file in
 * test/fixtures/; the access test loads them all and fails for a `:param` route without one.
 */
export type RouteFixtures = Record<string, (clinic: TestClinic) => Promise<RouteInput>>;

const modules = import.meta.glob<{ fixtures: RouteFixtures }>('../fixtures/*.ts', { eager: true });

export function allFixtures(): RouteFixtures {
  const all: RouteFixtures = {};
  for (const [file, mod] of Object.entries(modules)) {
    for (const [path, make] of Object.entries(mod.fixtures)) {
      if (all[path]) throw new Error(`Fixture for ${path} defined twice (${file})`);
      all[path] = make;
    }
  }
  return all;
}
