// `--log-format text`: a pino JSON line (already redacted by the logger) as one line for a person reading a
// terminal: `2026-11-30T17:00:00.000Z WARN  pooltuner-controller: message key=value key="with space"`.
// Values are the user's and the servers' text: quoted and escaped when they hold anything but plain characters,
// so a newline or a bidi control in a value cannot forge or disguise a line.

const LEVELS: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const PLAIN = /^[^\s"=\\\p{Cc}\p{Cf}\u2028\u2029]+$/u;
const FORMAT_CHARS = /[\p{Cf}\u2028\u2029]/gu;

/** One JSON log line as text (with its newline); a line that is not JSON is passed on, escaped. */
export function textLogLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return `${quoted(json.trimEnd())}\n`;
  }
  const { time, level, name, msg, ...fields } = record;
  const head = [
    typeof time === "string" ? time : "",
    (typeof level === "number" ? (LEVELS[level] ?? String(level)) : String(level ?? "")).padEnd(5),
  ]
    .filter((p) => p !== "")
    .join(" ");
  const who = typeof name === "string" ? `${shown(name)}: ` : "";
  const message = msg === undefined ? "" : escapeText(String(msg));
  const rest = Object.entries(fields).map(([k, v]) => `${shown(k)}=${shown(v)}`);
  return `${[`${head} ${who}${message}`.trimEnd(), ...rest].join(" ")}\n`;
}

function shown(value: unknown): string {
  if (typeof value === "string") return PLAIN.test(value) ? value : quoted(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return escapeFormat(JSON.stringify(value) ?? "undefined");
}

/** JSON string quoting escapes quotes, backslashes and control characters; format characters are escaped too. */
function quoted(text: string): string {
  return escapeFormat(JSON.stringify(text));
}

/** The message stays unquoted, but a control or format character is escaped, never written as it is. */
function escapeText(text: string): string {
  return escapeFormat(JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"'));
}

function escapeFormat(text: string): string {
  return text.replace(FORMAT_CHARS, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);
}
