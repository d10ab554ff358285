import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { withInlineCa } from '../../src/cluster/kube/kube-cluster.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(cluster: { caFile?: string; caData?: string }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://10.0.0.1:6443', skipTLSVerify: false, ...cluster }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u', namespace: 'jobs' }],
    currentContext: 'ctx',
  });
  return kc;
}

describe('withInlineCa', () => {
  it("reads the cluster's CA file once into caData and keeps everything else", () => {
    const dir = mkdtempSync(join(tmpdir(), 'runway-ca-'));
    dirs.push(dir);
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const inlined = withInlineCa(config({ caFile }));
    expect(inlined.getCurrentCluster()).toMatchObject({
      name: 'c',
      server: 'https://10.0.0.1:6443',
      caData: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64'),
    });
    expect(inlined.getCurrentCluster()?.caFile).toBeUndefined();
    expect(inlined.getCurrentUser()).toMatchObject({ name: 'u', token: 'secret-token' });
    expect(inlined.getContextObject('ctx')).toMatchObject({ cluster: 'c', user: 'u', namespace: 'jobs' });
    // Later changes to the file do not matter: it was read once.
    writeFileSync(caFile, 'changed');
    expect(inlined.getCurrentCluster()?.caData).not.toBe(Buffer.from('changed').toString('base64'));
  });

  it('returns a configuration without CA files as it is', () => {
    const kc = config({ caData: 'Y2E=' });
    expect(withInlineCa(kc)).toBe(kc);
  });
});
