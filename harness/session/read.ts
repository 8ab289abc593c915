/**
 * Reads a recorded session file back (./format.ts), checking every line: a malformed file is an
 * InputError (exit 2) naming `file:line`, the field and what is wrong; a header of another format or
 * version is refused rather than half understood.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../simulator/errors.ts';
import { SESSION_FORMAT, SESSION_VERSION, type SessionEvent, type SessionHeader } from './format.ts';

export interface Session {
  file: string;
  header: SessionHeader;
  /** Each event with its line number in the file. */
  events: Array<{ line: number; event: SessionEvent }>;
}

const HEX = /^(?:[0-9A-Fa-f]{2})*$/;
const POWER = new Set(['power-on', 'power-off', 'reset', 'remove', 'insert']);

class LineError extends Error {}

function need(o: Record<string, unknown>, field: string, kind: 'string' | 'number' | 'hex' | 'seq'): void {
  const v = o[field];
  if (kind === 'string' && typeof v !== 'string') throw new LineError(`field "${field}" must be a string`);
  if (kind === 'number' && (typeof v !== 'number' || !Number.isFinite(v))) throw new LineError(`field "${field}" must be a number`);
  if (kind === 'seq' && !(Number.isInteger(v) && (v as number) >= 1)) throw new LineError(`field "${field}" must be an integer from 1`);
  if (kind === 'hex' && (typeof v !== 'string' || !HEX.test(v))) throw new LineError(`field "${field}" must be hex (pairs of 0-9 A-F)`);
}

function checkHeader(o: Record<string, unknown>): SessionHeader {
  if (o.type !== 'header') throw new LineError('the first line must be the session header ({"type":"header", …})');
  if (o.format !== SESSION_FORMAT) throw new LineError(`field "format" is ${JSON.stringify(o.format)}; this is not a ${SESSION_FORMAT} file`);
  if (o.version !== SESSION_VERSION)
    throw new LineError(`unknown version ${JSON.stringify(o.version)}; this myna-hil reads ${SESSION_FORMAT} version ${SESSION_VERSION}`);
  need(o, 'target', 'string');
  need(o, 'atr', 'hex');
  if (typeof o.card !== 'object' || o.card === null) throw new LineError('field "card" must be an object');
  return o as unknown as SessionHeader;
}

function checkEvent(o: Record<string, unknown>, seen: Set<number>): SessionEvent {
  need(o, 't', 'number');
  const type = o.type;
  if (typeof type === 'string' && POWER.has(type)) return o as unknown as SessionEvent;
  switch (type) {
    case 'command':
      need(o, 'seq', 'seq');
      need(o, 'apdu', 'hex');
      if ((o.apdu as string).length < 8) throw new LineError('field "apdu": a command has at least its 4-byte header');
      if (seen.has(o.seq as number)) throw new LineError(`seq ${o.seq} is used by an earlier command`);
      seen.add(o.seq as number);
      break;
    case 'response':
      need(o, 'seq', 'seq');
      need(o, 'apdu', 'hex');
      need(o, 'ms', 'number');
      if (o.from !== undefined && o.from !== 'guard' && o.from !== 'fault') throw new LineError('field "from" must be "guard" or "fault" (absent: the card)');
      if (!seen.has(o.seq as number)) throw new LineError(`a response to seq ${o.seq}, which no earlier command has`);
      break;
    case 'no-response':
      need(o, 'seq', 'seq');
      need(o, 'reason', 'string');
      break;
    case 'fault':
      need(o, 'fault', 'string');
      if (o.cardSw !== undefined && !(typeof o.cardSw === 'string' && /^[0-9A-Fa-f]{4}$/.test(o.cardSw)))
        throw new LineError('field "cardSw" must be a status word, 4 hex digits (e.g. "9000")');
      break;
    case 'guard':
      if (typeof o.event !== 'object' || o.event === null) throw new LineError('field "event" must be an object');
      break;
    default:
      throw new LineError(`unknown event type ${JSON.stringify(type)}`);
  }
  return o as unknown as SessionEvent;
}

/** Parses the text of a session file; `file` names it in errors. */
export function parseSession(text: string, file: string): Session {
  const lines = text.split('\n');
  let header: SessionHeader | undefined;
  const events: Session['events'] = [];
  const seen = new Set<number>();
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    if (raw.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch {
      throw new InputError(`${where}: not a JSON object (each line of a session file is one JSON object; fix or remove the line)`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new InputError(`${where}: not a JSON object`);
    try {
      if (!header) header = checkHeader(o as Record<string, unknown>);
      else events.push({ line: i + 1, event: checkEvent(o as Record<string, unknown>, seen) });
    } catch (err) {
      if (err instanceof LineError) throw new InputError(`${where}: ${err.message}`);
      throw err;
    }
  });
  if (!header) throw new InputError(`${file}: empty; a session file starts with its header line`);
  return { file, header, events };
}

export function readSession(file: string): Session {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: cannot read it: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseSession(text, file);
}
