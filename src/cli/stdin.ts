// `-` as a path: a compose file or manifests piped in (`helm template ... | pooltuner check -`). Read under the same
// cap as a file; a terminal is refused at once rather than waiting for someone to type YAML and press Ctrl-D.
import type { InputFile, ReadLimits } from "../sources/input-file.js";
import { tooLarge } from "../sources/input-file.js";

export async function readStdin(limits: ReadLimits, stdin: NodeJS.ReadStream = process.stdin): Promise<InputFile> {
  if (stdin.isTTY) {
    return { ok: false, missing: false, message: "is a terminal: pipe a file into it (pooltuner check - < file.yml)" };
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stdin) {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
      length += buffer.length;
      // Stop reading at the cap: whatever the writer still has is never buffered.
      if (length > limits.maxBytes) {
        stdin.destroy();
        return { ok: false, missing: false, message: tooLarge(undefined, limits) };
      }
      chunks.push(buffer);
    }
  } catch (err) {
    return {
      ok: false,
      missing: false,
      message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? "unknown error"}`,
    };
  }
  return { ok: true, text: Buffer.concat(chunks).toString("utf8") };
}
