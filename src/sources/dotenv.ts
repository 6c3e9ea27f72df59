// docker-compose's variable syntax: `.env` / `env_file` files and `${VAR}` interpolation, as compose v2 reads them.

export type Lookup = (name: string) => string | undefined;

export interface Interpolated {
  readonly value: string;
  /** Variables used without a default and not set: compose substitutes "" and warns. */
  readonly missing: readonly string[];
  /** `${VAR:?message}` with VAR unset, or a malformed `${...}`. */
  readonly errors: readonly string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * `$$` (a literal `$`), `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`,
 * `${VAR:+alt}`, `${VAR+alt}`; defaults may nest. `:` forms treat an empty value like an unset one.
 */
export function interpolate(text: string, lookup: Lookup): Interpolated {
  const missing: string[] = [];
  const errors: string[] = [];
  const value = expand(text, lookup, missing, errors);
  return { value, missing, errors };
}

function expand(text: string, lookup: Lookup, missing: string[], errors: string[]): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (next === "{") {
      const end = closingBrace(text, i + 2);
      if (end < 0) {
        // Never quote the text: it may come from an env file full of secrets.
        errors.push(`unclosed "\${"`);
        return out + text.slice(i);
      }
      out += braced(text.slice(i + 2, end), lookup, missing, errors);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m) {
      const v = lookup(m[0]);
      if (v === undefined) missing.push(m[0]);
      out += v ?? "";
      i += 1 + m[0].length;
      continue;
    }
    out += "$";
    i++;
  }
  return out;
}

function braced(body: string, lookup: Lookup, missing: string[], errors: string[]): string {
  const m = NAME.exec(body);
  if (!m) {
    errors.push(`invalid interpolation "\${...}" (expected \${NAME}, \${NAME:-default}, \${NAME:?error})`);
    return "";
  }
  const name = m[0];
  const rest = body.slice(name.length);
  const v = lookup(name);
  if (rest === "") {
    if (v === undefined) missing.push(name);
    return v ?? "";
  }
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (!op) {
    errors.push(`invalid interpolation "\${...}" (expected \${NAME}, \${NAME:-default}, \${NAME:?error})`);
    return "";
  }
  const word = () => expand(rest.slice(op.length), lookup, missing, errors);
  const unset = op.startsWith(":") ? v === undefined || v === "" : v === undefined;
  switch (op.replace(":", "")) {
    case "-":
      return unset ? word() : (v as string);
    case "+":
      return unset ? "" : word();
    default: {
      if (!unset) return v as string;
      const msg = word();
      errors.push(`required variable ${name} is missing a value${msg ? `: ${msg}` : ""}`);
      return "";
    }
  }
}

function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}" && --depth === 0) {
      return i;
    }
  }
  return -1;
}

export interface EnvFileResult {
  readonly vars: ReadonlyMap<string, string>;
  readonly errors: readonly { readonly line: number; readonly message: string }[];
  readonly missing: readonly string[];
}

/**
 * An env file: `KEY=VALUE` lines, `export KEY=VALUE`, `#` comments, blank lines, single quotes (literal),
 * double quotes (escapes, interpolation), unquoted values (trimmed, ` #` starts a comment, interpolation).
 * A bare `KEY` takes the value from `lookup` when set. Interpolation sees earlier keys of the file, then `lookup`.
 */
export function parseEnvFile(text: string, lookup: Lookup = () => undefined): EnvFileResult {
  const vars = new Map<string, string>();
  const errors: { line: number; message: string }[] = [];
  const missing: string[] = [];
  const scoped: Lookup = (name) => vars.get(name) ?? lookup(name);
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const body = trimmed.replace(/^export\s+/, "");
    const eq = body.indexOf("=");
    const key = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      // The line number only: the line may be a secret (a private key, a password file).
      errors.push({ line, message: "is not KEY=VALUE (content not shown)" });
      return;
    }
    if (eq < 0) {
      const v = lookup(key);
      if (v !== undefined) vars.set(key, v);
      return;
    }
    const rawValue = body.slice(eq + 1).trim();
    const q = rawValue[0];
    if (q === "'" || q === '"') {
      const close = rawValue.indexOf(q, 1);
      const endsQuoted = q === '"' ? closingDoubleQuote(rawValue) : close;
      if (endsQuoted < 0) {
        errors.push({ line, message: `${key}: unterminated ${q === "'" ? "single" : "double"} quote` });
        return;
      }
      const inner = rawValue.slice(1, endsQuoted);
      if (q === "'") {
        vars.set(key, inner);
      } else {
        const unescaped = inner.replace(/\\([\\"nrt$])/g, (_, ch: string) =>
          ch === "n" ? "\n" : ch === "r" ? "\r" : ch === "t" ? "\t" : ch === "$" ? "$$" : ch,
        );
        const r = interpolate(unescaped, scoped);
        missing.push(...r.missing);
        for (const e of r.errors) errors.push({ line, message: `${key}: ${e}` });
        vars.set(key, r.value);
      }
      return;
    }
    const unquoted = rawValue.replace(/\s+#.*$/, "");
    const r = interpolate(unquoted, scoped);
    missing.push(...r.missing);
    for (const e of r.errors) errors.push({ line, message: `${key}: ${e}` });
    vars.set(key, r.value);
  });
  return { vars, errors, missing };
}

function closingDoubleQuote(s: string): number {
  for (let i = 1; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === '"') return i;
  }
  return -1;
}
