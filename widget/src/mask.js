// Client-side copy of bot/masking.py: the widget never shows or stores a PIN,
// PUK or personnummer the user typed (the bot masks again on its side).
// tests/widget/test_mask_parity.py checks both give the same result.
// JavaScript's \w and \b are ASCII-only, so letters are spelled out with \p{L}.

export const CODE_PLACEHOLDER = "[dold kod]";
export const PERSONNUMMER_PLACEHOLDER = "[dolt personnummer]";

const W = "[\\p{L}\\p{N}_]";
const NW = "[^\\p{L}\\p{N}_]";
const B_START = `(?<!${W})`;
const B_END = `(?!${W})`;

const PERSONNUMMER = /(?<![\d-])(?:19|20)?\d{6}\s?[-+]?\s?\d{4}(?![\d-])/gu;
const LONG_DIGITS = /(?<![\d-])\d{2,4}(?:[ -]?\d{2,4}){1,3}(?![\d-])/gu;
const CODE_WORD = new RegExp(
  `${B_START}((?:pin${W}*|puk${W}*|${W}*kod${W}*|lösen${W}*|losen${W}*|password|code)${B_END}` +
    `(?:${NW}+${W}+){0,3}?${NW}+)(\\d{4,8})(?!\\d)`,
  "giu",
);

function digitCount(s) {
  let n = 0;
  for (const ch of s) if (ch >= "0" && ch <= "9") n += 1;
  return n;
}

/** Replace codes and personnummer by the same placeholders as the bot. */
export function maskSensitive(text) {
  if (!text || !/\d/.test(text)) return { text: text || "", found: false };
  let found = false;
  let out = text.replace(PERSONNUMMER, () => {
    found = true;
    return PERSONNUMMER_PLACEHOLDER;
  });
  out = out.replace(LONG_DIGITS, (m) => {
    const n = digitCount(m);
    if (n >= 6 && n <= 8) {
      found = true;
      return CODE_PLACEHOLDER;
    }
    return m;
  });
  out = out.replace(CODE_WORD, (_m, prefix) => {
    found = true;
    return prefix + CODE_PLACEHOLDER;
  });
  return { text: out, found };
}
