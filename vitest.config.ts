import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/build-once.ts'],
    // one fast-check seed per run, fixed by MYNA_HIL_FC_SEED (see the file)
    setupFiles: ['tests/support/fast-check.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
