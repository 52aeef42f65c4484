/**
 * A minimally typed handle on the `pg` driver (node-postgres) for the test
 * harness. `pg` ships no TypeScript declarations and `@types/pg` is not
 * installed, so it is loaded through `require` and given the small structural
 * type below. Only used by test support code; production code goes through
 * `@effect/sql-pg`.
 */
import { createRequire } from "node:module"

/** The subset of `pg.Client` the harness uses. */
export interface PgClient {
  connect(): Promise<unknown>
  query<Row = Record<string, unknown>>(
    text: string,
    values?: ReadonlyArray<unknown>
  ): Promise<{ readonly rows: Array<Row>; readonly rowCount: number | null }>
  end(): Promise<void>
  on(event: "error", listener: (error: Error) => void): unknown
  escapeIdentifier(identifier: string): string
}

/** Connection options accepted by `new pg.Client(...)` that we use. */
export interface PgClientConfig {
  readonly connectionString: string
  readonly connectionTimeoutMillis?: number
}

interface PgModule {
  readonly Client: new (config: PgClientConfig) => PgClient
}

const pg = createRequire(import.meta.url)("pg") as PgModule

/** Opens a `pg.Client` on `url`, runs `f`, and always closes the client. */
export const withPgClient = async <A>(
  url: string,
  f: (client: PgClient) => Promise<A>,
  options: { readonly connectionTimeoutMillis?: number } = {}
): Promise<A> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000 })
  // Without a listener, a server-side disconnect would be an unhandled 'error'.
  client.on("error", () => undefined)
  await client.connect()
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
