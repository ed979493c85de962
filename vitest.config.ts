import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    // Files in one worker share the app and its embedded database (created once, ~5 s);
    // every test makes its own clinic, so no data is shared between tests.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
