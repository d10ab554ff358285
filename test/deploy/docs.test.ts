// The documentation stays true: links between README.md and docs/*.md resolve (files and #anchors),
// and docs/configuration.md, the one configuration reference, states the defaults src/config.ts has.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ROOT, configVariables } from './helpers.js';

/**
 * Linked documents that other work is to write (the benchmark's results page, issue 3). Delete an
 * entry once the file exists; the test fails if it exists and is still listed.
 */
const PENDING_DOCS = new Set<string>();

const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string)));
}

function links(file: string): Array<{ target: string; anchor?: string }> {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  const out: Array<{ target: string; anchor?: string }> = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const href = m[1] as string;
    if (/^[a-z]+:/.test(href)) continue; // http:, https:, mailto:
    const [path, anchor] = href.split('#') as [string, string | undefined];
    const target = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), path));
    out.push(anchor === undefined ? { target } : { target, anchor });
  }
  return out;
}

describe('documentation links', () => {
  it.each(DOCS)('%s links only to files and headings that exist', (file) => {
    for (const { target, anchor } of links(file)) {
      if (PENDING_DOCS.has(target)) continue;
      expect(existsSync(join(ROOT, target)), `${file} -> ${target}`).toBe(true);
      if (anchor !== undefined && target.endsWith('.md')) expect(anchors(target), `${file} -> ${target}#${anchor}`).toContain(anchor);
    }
  });

  it('lists as pending only documents that do not exist yet', () => {
    for (const f of PENDING_DOCS) expect(existsSync(join(ROOT, f)), `${f} exists: remove it from PENDING_DOCS`).toBe(false);
  });

  it('README links the configuration reference, the operations guide and troubleshooting', () => {
    const readme = links('README.md').map((l) => l.target);
    for (const f of ['docs/configuration.md', 'docs/operations.md', 'docs/troubleshooting.md']) expect(readme).toContain(f);
    expect(links('docs/operations.md').map((l) => l.target)).toContain('docs/configuration.md');
  });
});

describe('docs/configuration.md', () => {
  const text = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');

  it('has one row per variable src/config.ts reads', () => {
    for (const v of configVariables()) {
      expect(text.match(new RegExp(`^\\| \`${v}\` \\|`, 'gm'))?.length, v).toBe(1);
    }
  });

  it('states the defaults src/config.ts has: setting a documented literal default changes nothing', () => {
    const defaults = loadConfig({});
    let checked = 0;
    for (const v of configVariables()) {
      const m = new RegExp(`^\\| \`${v}\` \\| \`([^\`]+)\` \\|`, 'm').exec(text);
      if (!m || v === 'POD_NAME' || v === 'HOSTNAME') continue; // identity defaults name other variables
      expect({ ...loadConfig({ [v]: m[1] }), identity: '' }, `${v}=${m[1]}`).toEqual({ ...defaults, identity: '' });
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });
});
