/**
 * Builds (or finds cached) the Kubernetes control-plane binaries before any test runs. The real
 * API-server suite never skips silently: without the toolchain it fails. RUNWAY_SKIP_K8S=1 skips it
 * for quick local runs only, and is refused under CI.
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.RUNWAY_SKIP_K8S === '1') {
    if (process.env.CI) throw new Error('RUNWAY_SKIP_K8S=1 is for local runs only; CI must run the real control-plane suite');
    return;
  }
  execFileSync('bash', ['scripts/k8s/build-control-plane.sh'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
