/**
 * Child process of the memory benchmark: builds one card from a profile file, exercises it, and
 * prints its peak resident set size (VmHWM) as JSON.
 */
import { readFileSync } from 'node:fs';
import { cardFromProfile } from '../simulator/card/build.ts';
import { loadProfile } from '../simulator/profile/io.ts';

const profile = loadProfile(process.argv[2]);
const card = cardFromProfile(profile);
card.powerUp();
const cmds = ['00A4040C0AD392F000260100000001', '00A4020C02000A', '00B0000000', '00A4020C020018', '00200080'].map((h) => Buffer.from(h, 'hex'));
for (let i = 0; i < 20000; i++) card.transmit(cmds[i % cmds.length]);
const status = readFileSync('/proc/self/status', 'utf8');
const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
console.log(JSON.stringify({ vmHwmKb: kb('VmHWM'), vmRssKb: kb('VmRSS') }));
