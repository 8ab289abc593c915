/**
 * Japanese era (和暦) years, for 照合番号B and the 券面事項確認AP birth-date key (docs/card.md §4.4: era YYMMDD)
 * and for the era digit of the JPKI signature certificate's birth date (`EYYYYMMDD`, E = 1 明治 …
 * 5 令和, pki.world-tls.com/kojinbango-card quoted in the Qiita/blog notes on the certificate) [1].
 *
 * Era start dates (first day of year 1): 令和 2019-05-01, 平成 1989-01-08, 昭和 1926-12-25,
 * 大正 1912-07-30, 明治 1868-01-25 (Gregorian date of 明治元年1月1日). Dates are ISO `YYYY-MM-DD`
 * strings, compared as strings.
 */

export interface Era {
  name: '明治' | '大正' | '昭和' | '平成' | '令和';
  /** JPKI certificate era digit. */
  digit: number;
  /** First day, YYYY-MM-DD. */
  start: string;
}

export const ERAS: readonly Era[] = [
  { name: '令和', digit: 5, start: '2019-05-01' },
  { name: '平成', digit: 4, start: '1989-01-08' },
  { name: '昭和', digit: 3, start: '1926-12-25' },
  { name: '大正', digit: 2, start: '1912-07-30' },
  { name: '明治', digit: 1, start: '1868-01-25' },
];

export const EARLIEST_ERA_DATE = ERAS[ERAS.length - 1].start;

/** The era of a date and the year within it (1-based), or undefined before 明治. */
export function toEra(isoDate: string): { era: Era; year: number } | undefined {
  const era = ERAS.find((e) => isoDate >= e.start);
  if (!era) return undefined;
  return { era, year: Number(isoDate.slice(0, 4)) - Number(era.start.slice(0, 4)) + 1 };
}

/** Era `YYMMDD` (6 ASCII digits), e.g. 1980-02-17 → `550217`. Throws RangeError before 明治. */
export function eraYymmdd(isoDate: string): string {
  const e = toEra(isoDate);
  if (!e) throw new RangeError(`${isoDate} is before the 明治 era (${EARLIEST_ERA_DATE})`);
  if (e.year > 99) throw new RangeError(`${isoDate} is year ${e.year} of ${e.era.name}: does not fit in two digits`);
  return String(e.year).padStart(2, '0') + isoDate.slice(5, 7) + isoDate.slice(8, 10);
}
