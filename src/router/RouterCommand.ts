/** How the router's command line is built: `--router-cmd` placeholders, the default uvicorn line, the start gate. */

export const shellQuote = (s: string): string => (/^[A-Za-z0-9_.\/:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/**
 * `--router-cmd` expansion: `{host}` `{port}` `{workers}` `{config}` are substituted (shell-quoted
 * where needed); when none of `{host}` `{port}` `{workers}` appears, `--host H --port P
 * --workers N` is appended.
 */
export const expandCommand = (
  template: string,
  values: { readonly host: string; readonly port: number; readonly workers: number; readonly config: string }
): string => {
  const placed = /\{(host|port|workers)\}/.test(template)
  const expanded = template.replace(/\{(host|port|workers|config)\}/g, (_, key: keyof typeof values) => shellQuote(String(values[key])))
  return placed ? expanded : `${expanded} --host ${shellQuote(values.host)} --port ${values.port} --workers ${values.workers}`
}

/**
 * The start gate: the shell waits for one line ("go") on its stdin before it runs the router, and
 * exits if stdin closes first. nomyo-load writes it only once the watchdog knows the process
 * group, so a nomyo-load killed in between leaves nothing running.
 */
const GATE = "IFS= read -r nomyo_go || exit 0\nunset nomyo_go\n"
export const GO = "go\n"

export interface RouterCommand {
  /** As shown to the user. */
  readonly text: string
  readonly file: string
  readonly args: ReadonlyArray<string>
}

/**
 * The spawn line: `/bin/sh -c` with the gate, then either the `--router-cmd` text or (default)
 * `exec uvicorn router:app --host H --port P --workers N` (so a missing uvicorn is exit 127, as
 * a missing custom command is).
 */
export const routerCommand = (
  cmd: string | undefined,
  values: { readonly host: string; readonly port: number; readonly workers: number; readonly config: string }
): RouterCommand => {
  if (cmd !== undefined) {
    const text = expandCommand(cmd, values)
    return { text, file: "/bin/sh", args: ["-c", GATE + text] }
  }
  const argv = ["router:app", "--host", values.host, "--port", String(values.port), "--workers", String(values.workers)]
  return {
    text: `uvicorn ${argv.map(shellQuote).join(" ")}`,
    file: "/bin/sh",
    args: ["-c", GATE + 'exec uvicorn "$@"', "uvicorn", ...argv]
  }
}
