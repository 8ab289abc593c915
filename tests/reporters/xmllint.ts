/**
 * xmllint (Debian libxml2-utils) for the JUnit tests: schema validation against fixtures/junit.xsd and
 * XPath reads. Tests that need it skip, with the reason, when it is missing; under CI=true a missing
 * xmllint is a failure (scripts/pcsc-stack.sh install puts it there).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'vitest';
import { IN_CI } from '../support/pcsc-env.ts';

export const JUNIT_XSD = resolve(import.meta.dirname, 'fixtures/junit.xsd');

const MISSING = spawnSync('xmllint', ['--version']).error
  ? 'xmllint not found: apt-get install libxml2-utils (or bash scripts/pcsc-stack.sh install)'
  : undefined;

export function describeXmllint(name: string, fn: () => void): void {
  if (!MISSING) {
    describe(name, fn);
  } else if (IN_CI) {
    describe(name, () => {
      it('needs xmllint (CI=true: a missing xmllint is a failure, not a skip)', () => {
        throw new Error(MISSING);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${MISSING}]`, fn);
  }
}

/** `xmllint --noout --schema fixtures/junit.xsd -`: ok, and xmllint's own words when not. */
export function validateJunit(xml: string): { ok: boolean; output: string } {
  const r = spawnSync('xmllint', ['--noout', '--schema', JUNIT_XSD, '-'], { input: xml, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** The string value of an XPath expression over the document (xmllint ends it with one line feed). */
export function xpathString(xml: string, expr: string): string {
  const r = spawnSync('xmllint', ['--xpath', `string(${expr})`, '-'], { input: xml, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`xmllint --xpath ${expr} failed: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

/** How many nodes match. */
export function xpathCount(xml: string, expr: string): number {
  return Number(xpathString(xml, `count(${expr})`).trim());
}
