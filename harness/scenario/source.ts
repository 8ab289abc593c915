/**
 * A YAML file parsed with its positions, and the errors that point into it. Every problem reads
 *
 *   file:line:col field.path: what was expected
 *      12 |     - client: 0123
 *         |               ^
 *
 * for the exact node at fault: the value, the key of an unknown field, or the object that lacks a field.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../../simulator/errors.ts';
import { fieldPath } from '../../simulator/profile/io.ts';
import type { Where } from './model.ts';
import { ALLOWED_MARK, KEYED_MARK, KEYED_UNIONS, STRINGY_MARK } from './schema.ts';

/** At most this many problems are reported; the rest are counted. */
const MAX_PROBLEMS = 10;

export type Path = readonly (string | number)[];

export interface YamlSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** The document as plain data (maps → objects, numbers stay numbers). */
  data: unknown;
}

export interface Problem {
  offset: number;
  path: Path;
  message: string;
}

/** Parses YAML text; malformed YAML is an InputError listing every parse error with its position. */
export function parseYaml(file: string, text: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const src = { file, text, doc, lines, data: undefined as unknown };
  if (doc.errors.length > 0) {
    throw problemsError(
      src,
      doc.errors.map((e) => ({ offset: e.pos[0], path: [], message: `malformed YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  src.data = doc.toJS({ maxAliasCount: 100 });
  return src;
}

/** `file:line:col` of a source offset. */
export function whereAt(src: YamlSource, offset: number): Where {
  const { line, col } = src.lines.linePos(offset);
  return `${src.file}:${line}:${col}`;
}

/** `file:line:col` of the node at `path` (or of its nearest ancestor that exists). */
export function whereOf(src: YamlSource, path: Path): Where {
  return whereAt(src, locate(src, path).node?.range?.[0] ?? 0);
}

/** The InputError for a list of problems (the first MAX_PROBLEMS of them, in source order). */
export function problemsError(src: YamlSource, problems: Problem[]): InputError {
  const sorted = [...problems].sort((a, b) => a.offset - b.offset);
  const shown = sorted.slice(0, MAX_PROBLEMS).map((p) => formatProblem(src, p));
  if (sorted.length > MAX_PROBLEMS) shown.push(`${src.file}: … and ${sorted.length - MAX_PROBLEMS} more problems`);
  return new InputError(shown.join('\n'));
}

function formatProblem(src: YamlSource, p: Problem): string {
  const { line, col } = src.lines.linePos(p.offset);
  const field = p.path.length > 0 ? ` ${fieldPath(p.path)}` : '';
  const text = src.text.replace(/^\uFEFF/, '').split(/\r?\n/)[line - 1] ?? '';
  const gutter = String(line).length;
  // the caret sits under the column; tabs before it are kept so that it lines up in a terminal
  const pad = text.slice(0, col - 1).replace(/[^\t]/g, ' ');
  return `${src.file}:${line}:${col}${field}: ${p.message}\n  ${line} | ${text}\n  ${' '.repeat(gutter)} | ${pad}^`;
}

interface Located {
  /** The node at the path, or the deepest ancestor found. */
  node: Node | undefined;
  /** The pair holding the node, when it is a map value. */
  pair?: Pair<unknown, unknown>;
  /** True when the whole path was found. */
  found: boolean;
}

/** Walks the YAML tree along a data path (map keys, sequence indices). */
export function locate(src: YamlSource, path: Path): Located {
  let node = src.doc.contents as Node | null;
  let pair: Pair<unknown, unknown> | undefined;
  for (const key of path) {
    let next: Node | undefined;
    pair = undefined;
    if (isMap(node)) {
      pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === key) as Pair<unknown, unknown> | undefined;
      next = pair?.value as Node | undefined;
    } else if (isSeq(node) && typeof key === 'number') {
      next = node.items[key] as Node | undefined;
    }
    if (!next) return { node: node ?? undefined, found: false };
    node = next;
  }
  return { node: node ?? undefined, pair, found: true };
}

/** The text of a node as written in the file (`0123`, not 123). */
export function sourceText(src: YamlSource, node: Node | undefined): string {
  if (!node?.range) return '';
  return src.text.replace(/^\uFEFF/, '').slice(node.range[0], node.range[1]);
}

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : 'a string'} (${JSON.stringify(v)})`;
}

/** `quote it: '0123'` when the node is a plain scalar YAML read as a number, boolean or null. */
function quoteHint(src: YamlSource, path: Path): string {
  const { node, found } = locate(src, path);
  if (!found || !isScalar(node) || typeof node.value === 'string') return '';
  const text = sourceText(src, node);
  return text.includes("'") ? `; quote it: "${text}"` : `; quote it: '${text}'`;
}

/** Turns zod's issues about `src.data` into problems pointing at the nodes at fault. */
export function zodProblems(src: YamlSource, issues: readonly z.core.$ZodIssue[], prefix: Path = []): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === 'invalid_union' && issue.message.startsWith(KEYED_MARK)) out.push(...keyedProblems(src, issue, path));
    else if (issue.code === 'unrecognized_keys') {
      const allowed = issue.message.startsWith(ALLOWED_MARK) ? issue.message.slice(ALLOWED_MARK.length) : '';
      for (const key of issue.keys) out.push(atKey(src, [...path, key], `unknown field '${key}'; allowed: ${allowed}`));
    } else if (issue.code === 'invalid_key') {
      // a record's key (a capability name) broke its rule: point at the key, say the rule
      out.push(atKey(src, path, issue.issues.map((i) => i.message).join('; ')));
    } else out.push(at(src, path, messageOf(src, issue, path)));
  }
  return out;
}

/** A problem at the node of `path`; a missing node points at the object that lacks it. */
export function at(src: YamlSource, path: Path, message: string): Problem {
  const { node } = locate(src, path);
  return { offset: node?.range?.[0] ?? 0, path, message };
}

function atKey(src: YamlSource, path: Path, message: string): Problem {
  const { pair, node } = locate(src, path);
  const keyNode = pair?.key as Node | undefined;
  return { offset: keyNode?.range?.[0] ?? node?.range?.[0] ?? 0, path, message };
}

function messageOf(src: YamlSource, issue: z.core.$ZodIssue, path: Path): string {
  const value = valueAt(src.data, path);
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `missing: expected ${article(issue.expected)}`;
      if (issue.expected === 'string') {
        const hint = quoteHint(src, path);
        return hint ? `expected a string, not ${describeType(value).replace(/ \(.*/, '')}${hint}` : `expected a string, got ${describeType(value)}`;
      }
      return `expected ${article(issue.expected)}, got ${describeType(value)}`;
    case 'invalid_value': {
      const options = issue.values.map(String);
      const hint = issue.values.every((v) => typeof v === 'string') ? quoteHint(src, path) : '';
      return options.length === 1 ? `must be ${options[0]}${hint}` : `must be one of: ${options.join(', ')}${hint}`;
    }
    default:
      if (issue.message.endsWith(STRINGY_MARK)) return issue.message.slice(0, -STRINGY_MARK.length) + quoteHint(src, path);
      return issue.message;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * A keyed union failed: report the option the object's key names (its own issues), or that the
 * object names no option, or more than one.
 */
function keyedProblems(src: YamlSource, issue: z.core.$ZodIssueInvalidUnion, path: Path): Problem[] {
  const union = KEYED_UNIONS.get(issue.message.slice(KEYED_MARK.length));
  if (!union) throw new Error(`schema bug: keyed union ${issue.message} not registered`);
  const value = valueAt(src.data, path);
  const bare = union.bare ? `${union.bare.join(', ')}, or ` : '';
  const expected = `${bare}a mapping with one of the keys ${union.keys.join(', ')}`;
  if (typeof value === 'string' && union.bare) return [at(src, path, `unknown ${union.what} '${value}'; expected ${expected}`)];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [at(src, path, `expected ${expected}, got ${describeType(value)}${union.bare ? quoteHint(src, path) : ''}`)];
  }
  const keys = Object.keys(value);
  const kinds = keys.filter((k) => union.keys.includes(k));
  if (kinds.length === 1) {
    const index = union.keys.indexOf(kinds[0]) + (union.bare ? 1 : 0);
    return zodProblems(src, issue.errors[index], path);
  }
  if (kinds.length > 1) return [atKey(src, [...path, kinds[1]], `one ${union.what} per entry: found ${kinds.join(' and ')}`)];
  const stranger = keys.find((k) => !union.common.includes(k));
  if (stranger !== undefined) return [atKey(src, [...path, stranger], `unknown ${union.what} '${stranger}'; expected one of: ${union.keys.join(', ')}`)];
  return [at(src, path, `missing: expected one of the keys ${union.keys.join(', ')}`)];
}
