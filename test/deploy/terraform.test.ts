// infra/terraform: `terraform fmt -check` when terraform is installed (it cannot be installed from the
// registries this project uses, so the check is skipped, saying why, where it is missing), plus static
// checks that need no terraform.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const TF_DIR = join(ROOT, 'infra', 'terraform');
const hasTerraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasTerraform) console.warn('test/deploy/terraform.test.ts: terraform is not on PATH; skipping `terraform fmt -check`');

describe('infra/terraform', () => {
  it.skipIf(!hasTerraform)('is formatted (terraform fmt -check -recursive) [skipped when terraform is not on PATH]', () => {
    const r = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', TF_DIR], { encoding: 'utf8' });
    expect(r.status, `terraform fmt would change:\n${r.stdout}${r.stderr}`).toBe(0);
  });

  const files = Object.fromEntries(readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).map((f) => [f, readFileSync(join(TF_DIR, f), 'utf8')]));
  const all = Object.values(files).join('\n');

  it('has the expected files and pins its providers and modules', () => {
    expect(Object.keys(files).sort()).toEqual(['main.tf', 'outputs.tf', 'variables.tf', 'versions.tf']);
    expect(files['versions.tf']).toMatch(/source\s*=\s*"hashicorp\/aws"\s*\n\s*version\s*=\s*"~> 5\.0"/);
    expect(files['versions.tf']).toMatch(/hashicorp\/kubernetes/);
    expect(files['versions.tf']).toMatch(/hashicorp\/helm/);
    expect(all).toMatch(/source\s*=\s*"terraform-aws-modules\/vpc\/aws"\s*\n\s*version\s*=\s*"~> 5\.0"/);
    expect(all).toMatch(/source\s*=\s*"terraform-aws-modules\/eks\/aws"\s*\n\s*version\s*=\s*"~> 20\.0"/);
  });

  it('creates a tainted GPU node group on an NVIDIA AMI, the device plugin and the jobs namespace', () => {
    expect(files['variables.tf']).toMatch(/variable "gpu_ami_type"[\s\S]*?default\s*=\s*"AL2_x86_64_GPU"/);
    expect(files['variables.tf']).toMatch(/variable "kubernetes_version"[\s\S]*?default\s*=\s*"1\.29"/);
    expect(files['main.tf']).toMatch(/effect\s*=\s*"NO_SCHEDULE"/);
    expect(files['main.tf']).toMatch(/chart\s*=\s*"nvidia-device-plugin"/);
    expect(files['main.tf']).toMatch(/resource "kubernetes_namespace" "jobs"/);
    expect(files['outputs.tf']).toMatch(/output "kubeconfig_command"[\s\S]*aws eks update-kubeconfig --region/);
    expect(files['outputs.tf']).toMatch(/output "cluster_name"/);
  });

  it('holds no secrets or credentials', () => {
    expect(all).not.toMatch(/access_key|secret_key|password\s*=|token\s*=\s*"/i);
    expect(all).not.toMatch(/AKIA[0-9A-Z]{16}/);
  });
});
