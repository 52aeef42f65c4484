/**
 * Benchmark plumbing: sizes from the environment, progress lines on stderr,
 * best-of-N measurement alternating eventfold and the raw baseline, the result
 * rows and the final table.
 */

/** A positive integer from the environment, or the default. */
export const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  return value
}

/** Sizes of every case. `BENCH_EVENTS` scales the event counts of the read and batch cases. */
export interface Sizes {
  /** Events of the read stream (cases 1 and 2) and of the batched append (case 3). */
  readonly events: number
  /** Events per append in case 3. */
  readonly batch: number
  /** Calls of case 4 (one event each). */
  readonly singleAppends: number
  /** Commands of case 5 and the streams they are spread over. */
  readonly commands: number
  readonly commandStreams: number
  /** Commands of case 6, all on one stream. */
  readonly contendedCommands: number
  /** Concurrent fibers (or raw workers) of cases 5 and 6. */
  readonly fibers: number
  /** Events of the small and large memory runs. */
  readonly memorySmall: number
  readonly memoryLarge: number
  /**
   * Measured repetitions of each side of each case (the best one is kept). Reads
   * are first warmed up (`BENCH_WARMUP` unmeasured runs of each side, default 3); appends and commands,
   * whose runs are long, do not.
   */
  readonly repeats: number
}


/** Reads the sizes: `BENCH_EVENTS`, `BENCH_BATCH`, `BENCH_SINGLE`, `BENCH_COMMANDS`, ... */
export const sizesFromEnv = (): Sizes => {
  const events = envInt("BENCH_EVENTS", 100_000)
  const scale = Math.min(1, events / 100_000)
  return {
    events,
    batch: envInt("BENCH_BATCH", 100),
    singleAppends: envInt("BENCH_SINGLE", Math.max(100, Math.round(5_000 * scale))),
    commands: envInt("BENCH_COMMANDS", Math.max(100, Math.round(2_000 * scale))),
    commandStreams: envInt("BENCH_COMMAND_STREAMS", 1_000),
    contendedCommands: envInt("BENCH_CONTENDED", Math.max(50, Math.round(500 * scale))),
    fibers: envInt("BENCH_FIBERS", 8),
    memorySmall: envInt("BENCH_MEMORY_SMALL", Math.max(1_000, Math.round(10_000 * scale))),
    memoryLarge: envInt("BENCH_MEMORY_LARGE", Math.max(10_000, Math.round(1_000_000 * scale))),
    repeats: envInt("BENCH_REPEATS", 3)
  }
}

/** One line of progress on stderr. */
export const progress = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

/** One timed run: how many units (events or commands) took how long. */
export interface Run {
  readonly units: number
  readonly ms: number
  /** Anything else the run counted (retries, ...). */
  readonly extra?: Readonly<Record<string, number>>
}

/** Units per second of a run. */
export const rate = (run: Run): number => run.units / (run.ms / 1000)

/** Times an async function that returns the units it processed. */
export const timed = async (f: () => Promise<number>): Promise<Run> => {
  const start = performance.now()
  const units = await f()
  return { units, ms: performance.now() - start }
}

/** One row of the results. */
export interface CaseResult {
  readonly id: string
  readonly title: string
  readonly backend: "sqlite" | "postgres" | "file"
  readonly unit: "events" | "commands"
  /** Units per second; `null` when not measured. */
  readonly eventfold: number | null
  readonly baseline: number | null
  readonly ratio: number | null
  /** Every measured run, for the JSON file. */
  readonly runs: { readonly eventfold: ReadonlyArray<Run>; readonly baseline: ReadonlyArray<Run> }
  /** Extra per-unit figures, e.g. retries per command. */
  readonly extra?: Readonly<Record<string, number>>
  /** Why a side was not measured, or how. */
  readonly note?: string
}

/** A side of a case: `prepare` and `cleanup` run untimed around every run (fresh files, ...). */
export interface Side {
  readonly prepare?: () => Promise<void>
  readonly run: () => Promise<Run>
  readonly cleanup?: () => Promise<void>
}

/**
 * Runs `BENCH_WARMUP` (default 3) warm-up runs of each side, then `repeats` runs of each, alternating
 * (baseline, eventfold, baseline, ...), and keeps the best rate of each.
 */
export const compare = async (
  label: string,
  options: {
    readonly id: string
    readonly title: string
    readonly backend: CaseResult["backend"]
    readonly unit: CaseResult["unit"]
    readonly repeats: number
    readonly warmup?: boolean
    readonly eventfold: Side
    readonly baseline: Side
    /** Extra figures of the kept runs, e.g. retries per command. */
    readonly extra?: (best: { readonly eventfold: Run; readonly baseline: Run }) => Record<string, number>
    readonly note?: string
  }
): Promise<CaseResult> => {
  const selected = process.env["BENCH_CASES"]
  if (selected !== undefined && selected.trim() !== "" && !selected.split(",").map((c) => c.trim()).includes(options.id)) {
    return notMeasured(options.id, options.title, options.backend, options.unit, "skipped (BENCH_CASES)")
  }
  const once = async (side: Side): Promise<Run> => {
    if (side.prepare !== undefined) await side.prepare()
    try {
      return await side.run()
    } finally {
      if (side.cleanup !== undefined) await side.cleanup()
    }
  }
  if (options.warmup !== false) {
    // Several runs of each side, so that both are measured with their code
    // optimized by the JIT (eventfold runs more code than the raw driver and
    // takes a few more runs to get there): steady-state throughput.
    const warmups = envInt("BENCH_WARMUP", 3)
    progress(`${label}: warm-up (${warmups} runs of each side)`)
    for (let i = 0; i < warmups; i++) {
      await once(options.baseline)
      await once(options.eventfold)
    }
  }
  const eventfold: Array<Run> = []
  const baseline: Array<Run> = []
  for (let i = 1; i <= options.repeats; i++) {
    const b = await once(options.baseline)
    baseline.push(b)
    const e = await once(options.eventfold)
    eventfold.push(e)
    progress(
      `${label}: run ${i}/${options.repeats}: eventfold ${formatRate(rate(e))}/s, baseline ${formatRate(rate(b))}/s, ratio ${
        (rate(e) / rate(b)).toFixed(2)
      }`
    )
  }
  const best = (runs: ReadonlyArray<Run>) => runs.reduce((a, b) => (rate(b) > rate(a) ? b : a))
  const bestEventfold = best(eventfold)
  const bestBaseline = best(baseline)
  const result: CaseResult = {
    id: options.id,
    title: options.title,
    backend: options.backend,
    unit: options.unit,
    eventfold: rate(bestEventfold),
    baseline: rate(bestBaseline),
    ratio: rate(bestEventfold) / rate(bestBaseline),
    runs: { eventfold, baseline },
    ...(options.extra === undefined ? {} : { extra: options.extra({ eventfold: bestEventfold, baseline: bestBaseline }) }),
    ...(options.note === undefined ? {} : { note: options.note })
  }
  progress(`${label}: done, ratio ${result.ratio!.toFixed(2)}`)
  return result
}

/** A row for a case that could not be measured. */
export const notMeasured = (
  id: string,
  title: string,
  backend: CaseResult["backend"],
  unit: CaseResult["unit"],
  note: string
): CaseResult => ({ id, title, backend, unit, eventfold: null, baseline: null, ratio: null, runs: { eventfold: [], baseline: [] }, note })

/** `812k`, `1.20M`, `950`. */
export const formatRate = (value: number | null): string => {
  if (value === null) return "-"
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`
  if (value >= 1e4) return `${Math.round(value / 1e3)}k`
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`
  return value.toFixed(0)
}

/** Renders rows as a fixed-width text table. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
