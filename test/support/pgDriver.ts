/**
 * The `pg` driver (node-postgres) for the test harness and for tests that need
 * a connection of their own, outside any `@effect/sql` pool (to hold a lock, or
 * to terminate a pool's backend). Typed by the `@types/pg` devDependency.
 * Production code never imports this: it goes through `@effect/sql-pg`.
 */
import pg from "pg"

/** A single `pg` connection. */
export type PgClient = pg.Client

/** Opens a `pg.Client` on `url`; the caller must `end()` it. */
export const connectPg = async (
  url: string,
  options: { readonly connectionTimeoutMillis?: number } = {}
): Promise<PgClient> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000 })
  // Without a listener, a server-side disconnect would be an unhandled 'error'.
  client.on("error", () => undefined)
  await client.connect()
  return client
}

/** Opens a `pg.Client` on `url`, runs `f`, and always closes the client. */
export const withPgClient = async <A>(
  url: string,
  f: (client: PgClient) => Promise<A>,
  options: { readonly connectionTimeoutMillis?: number } = {}
): Promise<A> => {
  const client = await connectPg(url, options)
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Removes the password from a connection URL, for error messages and logs. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<unparseable connection URL>"
  }
}
