// Client-side copy of bot/mask_rules.py and bot/mask_metadata.py (public names in
// bot/masking.py): the widget never shows or stores a PIN,
// PUK or personnummer the user typed (the bot masks again on its side).
// tests/widget/test_mask_parity.py checks both give the same result; keep the
// files in step, rule by rule. Linear time: one scan with a regex that has
// no nested unbounded quantifier (see bot/mask_rules.py for the rules).
// JavaScript's \d, \s and \w are ASCII-only or differ from Python's, so digits
// are \p{Nd}, letters \p{L} and spaces are spelled out.

export const CODE_PLACEHOLDER = "[dold kod]";
export const PERSONNUMMER_PLACEHOLDER = "[dolt personnummer]";
export const MAX_MESSAGE_CHARS = 2000;

const SPACES =
  "\\t\\n\\u000b\\u000c\\r \\u00a0\\u00ad\\u1680\\u180e\\u2000-\\u200d\\u2028\\u2029" +
  "\\u202f\\u205f\\u2060\\u3000\\ufeff";
const JOINERS = "\\-\\u2010-\\u2015\\u2212\\ufe58\\ufe63\\uff0d/\\uff0f.\\uff0e,\\uff0c+\\uff0b_";
const SEP = `[${SPACES}${JOINERS}]`;
const URL = `https?://[^${SPACES}<>"']*`;
const KEYWORD = "pin|puk|kod|lösen|losen|passw|code";
// One scan: web addresses, code words, runs of digits; runs with 1-3
// separators between them are joined into one group below.
const SCAN = new RegExp(`(?<url>${URL})|(?<kw>${KEYWORD})|(?<num>\\p{Nd}+)`, "giu");
const DIGIT_SCAN = /(?<num>\p{Nd}+)/gu; // inside a web address: digits only
const SEPARATORS = new RegExp(`^${SEP}{1,3}$`, "u");
const MAX_SEPARATORS = 3;
const PRICE_AFTER = new RegExp(`[${SPACES}]{0,3}(?:kronor|kr|sek|:-)`, "iuy");
const LETTER = /\p{L}/u;

const WORD_START_KEYWORDS = ["pin", "puk", "lösen", "losen", "passw"];
const KEYWORD_WINDOW = 30;
const GLUED_LETTERS = 20;
const IDENTIFIER_JOINERS = "-_";

const IDENTIFIER_KEYS = new Set([
  "id", "request_id", "job_id", "order_id", "reference", "pin_page_url",
  "confirm_page_url", "session_id", "tenant", "tenantId", "aadObjectId",
]);
const IDENTIFIER = /^[A-Za-z0-9._~:/?#=&%+-]{1,512}$/;

const isLetter = (ch) => ch !== undefined && LETTER.test(ch);

function digitValue(ch) {
  if (ch >= "0" && ch <= "9") return ch.charCodeAt(0) - 48;
  if (ch >= "\uff10" && ch <= "\uff19") return ch.charCodeAt(0) - 0xff10;
  return null;
}

function number(digits) {
  let value = 0;
  for (const ch of digits) {
    const v = digitValue(ch);
    if (v === null) return null;
    value = value * 10 + v;
  }
  return value;
}

const cpLength = (s) => Array.from(s).length;

function monthDayPossible(month, day) {
  const m = number(month);
  const d = number(day);
  if (m === null || d === null) return true;
  return m >= 1 && m <= 12 && ((d >= 1 && d <= 31) || (d >= 61 && d <= 91));
}

function isYear(digits) {
  const n = number(digits);
  return n !== null && cpLength(digits) === 4 && n >= 1900 && n <= 2099;
}

// 10 or 12 digits (however they were grouped) with a possible month and day.
function isPersonnummer(digits) {
  const chars = Array.from(digits);
  if (chars.length === 12) {
    const century = number(chars.slice(0, 2).join(""));
    if (century !== null && ![18, 19, 20].includes(century)) return false;
  } else if (chars.length !== 10) {
    return false;
  }
  const n = chars.length;
  return monthDayPossible(chars.slice(n - 8, n - 6).join(""), chars.slice(n - 6, n - 4).join(""));
}

function isDate(year, month, day) {
  const y = number(year);
  const m = number(month);
  const d = number(day);
  if (y === null || m === null || d === null) return false;
  return cpLength(year) === 4 && y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

function isDateOrYears(parts) {
  const sizes = parts.map(cpLength);
  if (sizes.join(",") === "4,4") return isYear(parts[0]) && isYear(parts[1]);
  if (sizes.join(",") === "4,2,2") return isDate(parts[0], parts[1], parts[2]);
  if (parts.length === 3 && sizes[2] === 4 && sizes[0] <= 2 && sizes[1] <= 2) {
    return isDate(parts[2], parts[1], parts[0]);
  }
  return false;
}

// 30/11/2025 14(:00): a date and an hour, not a personnummer.
function isDateAndHour(parts) {
  return parts.length === 4 && cpLength(parts[3]) <= 2 && isDateOrYears(parts.slice(0, 3));
}

// Code points around a position (a letter outside the BMP is two UTF-16 units).
function charBefore(text, index) {
  if (index <= 0) return undefined;
  const cp = text.codePointAt(index - 1);
  if (index >= 2 && cp >= 0xdc00 && cp <= 0xdfff) {
    return String.fromCodePoint(text.codePointAt(index - 2));
  }
  return String.fromCodePoint(cp);
}

function charAfter(text, index) {
  if (index >= text.length) return undefined;
  return String.fromCodePoint(text.codePointAt(index));
}

function gluedToKeyword(text, start, keywordEnd) {
  if (keywordEnd < 0 || start - keywordEnd > GLUED_LETTERS + 1) return false;
  let between = text.slice(keywordEnd, start);
  if (between && IDENTIFIER_JOINERS.includes(between[between.length - 1])) {
    between = between.slice(0, -1);
  }
  return Array.from(between).every(isLetter);
}

function attachedBefore(text, start) {
  const before = charBefore(text, start);
  if (before === undefined) return false;
  if (isLetter(before)) return true;
  return IDENTIFIER_JOINERS.includes(before) && isLetter(charBefore(text, start - 1));
}

function attachedAfter(text, end) {
  const after = charAfter(text, end);
  if (after === undefined) return false;
  if (isLetter(after)) return true;
  return IDENTIFIER_JOINERS.includes(after) && isLetter(charAfter(text, end + 1));
}

function isPrice(text, end) {
  PRICE_AFTER.lastIndex = end;
  const match = PRICE_AFTER.exec(text.slice(0, end + 12));
  if (!match) return false;
  return !isLetter(charAfter(text, PRICE_AFTER.lastIndex));
}

function classify(text, start, end, parts, keywordEnd, bare) {
  const digits = parts.join("");
  const count = cpLength(digits);
  if (bare) return isPersonnummer(digits) ? PERSONNUMMER_PLACEHOLDER : CODE_PLACEHOLDER;
  const nearKeyword = keywordEnd >= 0 && start - keywordEnd <= KEYWORD_WINDOW;
  const after = attachedAfter(text, end);
  // also glued to a word before it ("pnr8001011234")
  if (!after && isPersonnummer(digits) && !isDateAndHour(parts)) return PERSONNUMMER_PLACEHOLDER;
  if (attachedBefore(text, start)) {
    if (after) return null;
    if (nearKeyword && count >= 3 && gluedToKeyword(text, start, keywordEnd)) {
      return CODE_PLACEHOLDER;
    }
    return null;
  }
  if (isPrice(text, end)) return null;
  if (nearKeyword && count >= 3) return CODE_PLACEHOLDER;
  if (!after && count >= 6 && count <= 8 && !isDateOrYears(parts)) return CODE_PLACEHOLDER;
  return null;
}

// [kind, start, end, digit runs] for each web address, code word and digit group.
function* tokens(text, scan = SCAN) {
  let group = null;
  for (const match of text.matchAll(scan)) {
    const start = match.index;
    const end = start + match[0].length;
    const kind = match.groups.url !== undefined ? "url" : match.groups.kw !== undefined ? "kw" : "num";
    if (kind === "num") {
      if (
        group !== null &&
        start - group[2] <= MAX_SEPARATORS &&
        SEPARATORS.test(text.slice(group[2], start))
      ) {
        group[2] = end;
        group[3].push(match[0]);
        continue;
      }
      if (group !== null) yield group;
      group = ["num", start, end, [match[0]]];
      continue;
    }
    if (group !== null) {
      yield group;
      group = null;
    }
    yield [kind, start, end, []];
  }
  if (group !== null) yield group;
}

// A web address with each personnummer in it (?pnr=198001011234) masked; a digit
// group a letter touches (an id) and everything else is left as it is.
function maskUrl(url) {
  const out = [];
  let last = 0;
  let found = 0;
  for (const [, start, end, parts] of tokens(url, DIGIT_SCAN)) {
    if (isPersonnummer(parts.join("")) && !attachedBefore(url, start) && !attachedAfter(url, end)) {
      out.push(url.slice(last, start), PERSONNUMMER_PLACEHOLDER);
      last = end;
      found += 1;
    }
  }
  if (!found) return [url, 0];
  out.push(url.slice(last));
  return [out.join(""), found];
}

/** Replace codes and personnummer by the same placeholders as the bot. */
export function maskSensitive(text, { bareRule = true } = {}) {
  if (!text) return { text: text || "", found: false };
  const bare = bareRule && !LETTER.test(text);
  const out = [];
  let found = false;
  let last = 0;
  let keywordEnd = -1;
  for (const [kind, start, end, parts] of tokens(text)) {
    if (kind === "kw") {
      const word = text.slice(start, end).toLowerCase();
      if (WORD_START_KEYWORDS.includes(word) && isLetter(charBefore(text, start))) continue;
      keywordEnd = end;
      continue;
    }
    if (kind === "url") {
      // A web address is left as it is, but for a personnummer in it.
      const [url, inUrl] = maskUrl(text.slice(start, end));
      if (inUrl) {
        found = true;
        out.push(text.slice(last, start), url);
        last = end;
      }
      continue;
    }
    const placeholder = classify(text, start, end, parts, keywordEnd, bare);
    if (placeholder === null) continue;
    found = true;
    out.push(text.slice(last, start), placeholder);
    last = end;
  }
  if (!found) return { text, found: false };
  out.push(text.slice(last));
  return { text: out.join(""), found: true };
}

// Whether a personnummer is in a metadata value (as bot/mask_metadata.py's _kept_identifier).
function containsPersonnummer(value) {
  return maskSensitive(value, { bareRule: false }).text.includes(PERSONNUMMER_PLACEHOLDER);
}

/** Every string in metadata / a button payload masked (as bot/mask_metadata.py's mask_payload). */
export function maskPayload(obj) {
  if (typeof obj === "string") return maskSensitive(obj, { bareRule: false }).text;
  if (Array.isArray(obj)) return obj.map(maskPayload);
  if (obj && typeof obj === "object") {
    const out = {};
    for (const [key, value] of Object.entries(obj)) {
      const keep =
        IDENTIFIER_KEYS.has(key) &&
        typeof value === "string" &&
        IDENTIFIER.test(value) &&
        !containsPersonnummer(value);
      out[maskPayload(key)] = keep ? value : maskPayload(value);
    }
    return out;
  }
  return obj;
}
