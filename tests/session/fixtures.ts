/**
 * A suite and its profile in a temporary directory, for recording and replaying sessions: the harness's
 * own card actions (no client program), on a card every target can carry (no `card:` setup, so the pcsc
 * target runs it too). The scenario reads the auth certificate, signs with the auth key, and selects an
 * unknown AID (answered per `behaviour.unknownAidSw`, docs/card.md §5).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import type { SessionEvent, SessionHeader } from '../../harness/session/format.ts';

export const UNKNOWN_AID_SELECT = '00 A4 04 0C 05 A0 00 00 00 99';

/** `hosted`: the card is the suite's profile.json (sim, vpcd); without it, the card in the reader (pcsc). */
export const suiteText = (hosted: boolean): string => `version: 1
scenarios:
  - name: signs with the auth key, then selects an unknown application
    id: SESSION-001${hosted ? "\n    card: { profile: 'profile.json' }" : ''}
    steps:
      - card: { read: '000A', app: jpki }
      - card: { sign: auth, value: '{pins.auth}', data: 'DEADBEEF' }
      - card: { apdu: '${UNKNOWN_AID_SELECT}' }
        expect: { sw: '6A82' }
`;

export interface SuiteDir {
  dir: string;
  suite: string;
  profile: string;
}

/** Writes the suite and `profile` (as profile.json, and the same with `behaviour` overrides as changed.json). */
export function writeSuite(profile: Profile, changed?: Partial<Profile['behaviour']>, hosted = true): SuiteDir {
  const dir = mkdtempSync(join(tmpdir(), 'myna-hil-session-'));
  const suite = join(dir, 'suite.yaml');
  writeFileSync(suite, suiteText(hosted));
  const path = join(dir, 'profile.json');
  saveProfile(path, profile);
  if (changed) saveProfile(join(dir, 'changed.json'), { ...profile, behaviour: { ...profile.behaviour, ...changed } });
  return { dir, suite, profile: path };
}

export interface ReadBack {
  file: string;
  header: SessionHeader;
  events: SessionEvent[];
  text: string;
}

/** The session files in `dir`, parsed. */
export function sessionsIn(dir: string): ReadBack[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(dir, f), 'utf8');
      const [header, ...events] = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      return { file: f, header, events, text };
    });
}
