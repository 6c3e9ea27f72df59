// Values read from files, labels and env may be secrets: compose interpolates labels and env from the CI
// environment, an env var named by `workers-env` may hold a URL with a password, an env file may be anything.
// Findings, Events and errors therefore print a value only when it is short and looks like what these fields
// hold (a number, a percentage, a size or quantity, a yes/no word); anything else is described, never quoted.

const MAX_SHOWN = 24;
const LOOKS_EXPECTED =
  /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?(?:%|[A-Za-z]{1,3})?|true|false|yes|no|on|off|auto)$/i;

/** `"4x"` when safe to print, else `<a 42-character value, not shown>`. */
export function shownValue(value: string): string {
  if (value.length <= MAX_SHOWN && LOOKS_EXPECTED.test(value.trim())) return JSON.stringify(value);
  if (value.trim() === "") return "<empty>";
  return `<a ${value.length}-character value, not shown>`;
}

const MAX_FIELD = 100;

/**
 * A key as findings print it: a label or annotation key is the user's own text, so control and format characters
 * (a newline would forge a second log line, U+202E reverses the text shown) are escaped and a long key is cut.
 */
export function shownField(field: string): string {
  const chars = [...field];
  const cut = chars.length > MAX_FIELD ? `${chars.slice(0, MAX_FIELD).join("")}… (${chars.length} characters)` : field;
  return cut.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

/** `field=value` for findings, with the value through shownValue. */
export function fieldWithValue(field: string, value: string | undefined): string {
  const shown = shownField(field);
  return value === undefined ? shown : `${shown}=${shownValue(value)}`;
}
