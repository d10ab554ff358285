import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Builds or finds the Kubernetes control-plane binaries the test/k8s suite runs (cached).
    globalSetup: ['test/k8s/global-setup.ts'],
  },
});
