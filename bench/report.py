"""The markdown a run prints: machine, settings, and one table per scenario with its goal."""

from __future__ import annotations

from collections import Counter

from bench.appends import AppendComparison
from bench.chain import BulkLoad
from bench.longreplay import LongReplay
from bench.memory import RssWatcher
from bench.probes import ProbeRow
from bench.replay import RAW_CURSOR, RAW_WINDOWS, READ_ALL, ReplayComparison
from bench.stats import median, percentile
from bench.writers import WritersRun

APPEND_GOAL = 0.7
REPLAY_GOAL = 0.8
MEMORY_GOAL_MB = 300
FLAT_TOLERANCE_MB = 10


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_section(facts: dict[str, str], server: str, command: str) -> str:
    rows = [[name, f"`{value}`" if name == "uname -a" else value] for name, value in facts.items()]
    rows.append(["server", server])
    return "\n\n".join(
        ["## Machine and software", _table(["", ""], rows), "## Command", f"```\n{command}\n```"]
    )


def append_section(comparisons: list[AppendComparison], sizes: dict[str, float]) -> str:
    first = comparisons[0]
    intro = (
        f"{first.events:,} events per run, one event per append, {sizes['streams']:.0f} shared "
        f"streams, expected version `any`; data + metadata {sizes['payload']:.0f} bytes as JSON, "
        f"{sizes['bson']:.0f} bytes per stored BSON document (means). Raw: the same documents, "
        f"pre-built, into a collection with the same indexes (`EventStore.ensure_indexes`). "
        f"Every run starts from an empty database. Each writer is a process with its own "
        f"client. Rates are medians of {len(first.store_runs)} runs; a run's rate is events / "
        f"(last writer's end - first writer's start)."
    )
    summary = _table(
        ["writers", "EventStore.append (events/s)", "raw insert_one (events/s)", "ratio", "goal"],
        [
            [
                str(c.writers),
                f"{c.store_rate:,.0f}",
                f"{c.raw_rate:,.0f}",
                f"{c.ratio:.2f}",
                f">= {APPEND_GOAL} {_met(c.ratio >= APPEND_GOAL)}",
            ]
            for c in comparisons
        ],
    )
    detail_rows = [
        _side_row(c.writers, side, runs)
        for c in comparisons
        for side, runs in (("store", c.store_runs), ("raw", c.raw_runs))
    ]
    detail = _table(
        [
            "writers",
            "side",
            "runs (events/s)",
            "latency p50 / p99 (ms)",
            "mean latency, first / last quarter (ms)",
            "conflicts per event",
            "appends retried",
            "max conflicts, one append",
            "conflicts per event, by index",
            "commands per event",
        ],
        detail_rows,
    )
    checks = []
    for c in comparisons:
        verdicts = ["ok" if check.ok else "; ".join(check.problems) for check in c.checks]
        heads = ", ".join(str(check.head_position) for check in c.checks)
        checks.append(
            f"- {c.writers} writer(s): {len(c.checks)} store runs verified "
            f"(positions dense 1..N, hashes recomputed, versions dense, times monotonic): "
            f"{', '.join(verdicts)}; heads at {heads}."
        )
    return "\n\n".join(
        ["## (a) Append throughput", intro, summary, "Per side, all runs together:", detail]
        + ["\n".join(checks)]
    )


def _side_row(writers: int, side: str, runs: list[WritersRun]) -> list[str]:
    """One side's runs pooled: latencies, conflicts and commands per stored event."""
    latencies = [value for run in runs for value in run.latencies]
    events = sum(run.events for run in runs)
    appends = [n for run in runs for n in run.conflicts_per_append]
    by_index: Counter[str] = Counter()
    commands: Counter[str] = Counter()
    for run in runs:
        by_index.update(run.conflicts_by_index)
        commands.update(run.commands)
    first_quarter = median([run.quarter_latency_ms(last=False) for run in runs])
    last_quarter = median([run.quarter_latency_ms(last=True) for run in runs])
    return [
        str(writers),
        side,
        ", ".join(f"{run.events_per_second:,.0f}" for run in runs),
        f"{percentile(latencies, 0.5) * 1000:.2f} / {percentile(latencies, 0.99) * 1000:.2f}",
        f"{first_quarter:.2f} / {last_quarter:.2f}",
        f"{sum(appends) / events:.2f}" if appends else "-",
        f"{sum(1 for n in appends if n) / len(appends):.0%}" if appends else "-",
        str(max(appends)) if appends else "-",
        ", ".join(f"{k} {v / events:.2f}" for k, v in sorted(by_index.items())) or "-",
        ", ".join(f"{k} {v / events:.3f}" for k, v in sorted(commands.items())),
    ]


def replay_section(comparison: ReplayComparison, verified: str) -> str:
    intro = (
        f"{comparison.events:,} events bulk-loaded as a valid chain ({verified}); each reader "
        f"walks the whole log; medians of {len(comparison.seconds[READ_ALL])} runs, order "
        f"rotated between runs."
    )
    rows = []
    for reader, seconds in comparison.seconds.items():
        rows.append(
            [
                reader,
                f"{comparison.rate(reader):,.0f}",
                ", ".join(f"{comparison.events / s:,.0f}" for s in seconds),
                f"{median(comparison.first_event_seconds[reader]) * 1000:,.1f}",
                f"{comparison.ratio(reader, RAW_CURSOR):.2f}",
            ]
        )
    ratio = comparison.ratio(READ_ALL, RAW_CURSOR)
    goal = (
        f"Goal: read_all >= {REPLAY_GOAL} of the raw cursor: {ratio:.2f}, "
        f"{_met(ratio >= REPLAY_GOAL)}. "
        f"Against the same windows read raw: "
        f"{comparison.ratio(READ_ALL, RAW_WINDOWS):.2f}."
    )
    table = _table(
        ["reader", "events/s (median)", "runs (events/s)", "first event (ms)", "vs raw cursor"],
        rows,
    )
    return "\n\n".join(["## (b) Replay throughput", intro, table, goal])


def long_replay_section(
    load: BulkLoad, load_server: RssWatcher, replay: LongReplay, replay_server: RssWatcher
) -> str:
    plain, traced = replay.plain, replay.traced
    intro = (
        f"{load.events:,} events bulk-loaded with insert_many (batches of 1,000; building and "
        f"hashing the documents included) at {load.events / load.seconds:,.0f} events/s "
        f"({load.seconds:,.0f} s). Replayed by "
        f"`read_all` in a fresh process: {plain.events_per_second:,.0f} events/s "
        f"({plain.seconds:,.1f} s); last event read: position {plain.head_position:,}, "
        f"hash {'matches' if plain.head_hash == load.head_hash else 'DIFFERS from'} the loaded "
        f"head."
    )
    rss = [sample.rss_mb for sample in plain.samples]
    growth = rss[-1] - rss[0] if rss else 0.0
    peak = max(replay.startup_peak_rss_mb, plain.peak_rss_mb)
    ok = peak < MEMORY_GOAL_MB and abs(growth) < FLAT_TOLERANCE_MB
    summary = _table(
        ["", "value"],
        [
            ["RSS before replay (imports, client)", f"{replay.baseline_rss_mb:.1f} MiB"],
            ["peak RSS while starting (VmHWM)", f"{replay.startup_peak_rss_mb:.1f} MiB"],
            [
                "peak RSS during the replay (VmHWM"
                + (", reset at its start)" if plain.peak_reset else ", whole process)"),
                f"{plain.peak_rss_mb:.1f} MiB",
            ],
            [
                "ru_maxrss at the end (counts the parent's RSS at fork, see notes)",
                f"{plain.ru_maxrss_mb:.1f} MiB",
            ],
            [
                "RSS growth, first to last sample",
                f"{growth:+.1f} MiB (samples {min(rss, default=0):.1f} to "
                f"{max(rss, default=0):.1f})",
            ],
            [
                "server RSS during replay (start / peak)",
                f"{replay_server.first_mb:.0f} / {replay_server.peak_mb:.0f} MiB"
                if replay_server.peak_mb
                else "not sampled (external server)",
            ],
            [
                "server RSS during load (start / peak)",
                f"{load_server.first_mb:.0f} / {load_server.peak_mb:.0f} MiB"
                if load_server.peak_mb
                else "not sampled (external server)",
            ],
            [
                f"goal: flat (growth < {FLAT_TOLERANCE_MB} MiB), peak < {MEMORY_GOAL_MB} MiB",
                f"{_met(ok)}: growth {growth:+.1f} MiB, peak {peak:.1f} MiB",
            ],
        ],
    )
    header = ["events read", "elapsed (s)", "RSS (MiB)"]
    if traced:
        header += ["traced heap (MiB)", "traced peak (MiB)", "elapsed, traced pass (s)"]
    rows = []
    for index, sample in enumerate(plain.samples):
        row = [f"{sample.events:,}", f"{sample.seconds:.1f}", f"{sample.rss_mb:.1f}"]
        if traced and index < len(traced.samples):
            other = traced.samples[index]
            row += [f"{other.heap_mb:.2f}", f"{other.heap_peak_mb:.2f}", f"{other.seconds:.1f}"]
        rows.append(row)
    parts = ["## (c) Long replay and memory", intro, summary, _table(header, rows)]
    if traced:
        heap = [sample.heap_mb or 0.0 for sample in traced.samples]
        parts.append(
            f"Second pass under tracemalloc ({traced.events_per_second:,.0f} events/s, slower "
            f"because of tracing; its peak RSS {traced.peak_rss_mb:.1f} MiB): Python heap "
            f"{min(heap, default=0):.2f} to "
            f"{max(heap, default=0):.2f} MiB across samples; median "
            f"{median(heap):.2f} MiB."
        )
    return "\n\n".join(parts)


def probe_section(rows: list[ProbeRow]) -> str:
    names = list(rows[0].milliseconds)
    header = ["log size (events)", "events in the probed stream", *[f"{n} (ms)" for n in names]]
    table = _table(
        header,
        [
            [f"{row.log_events:,}", f"{row.stream_events:,}"]
            + [f"{row.milliseconds[name]:.2f}" for name in names]
            for row in rows
        ],
    )
    intro = (
        "Median of 3 timed calls after a warm-up, on the logs of (b) (while loading) and (c). "
        "The probed stream is the one of the head event. The `$eq` row is not a store call: it "
        'is the store\'s stream_version query with the filter written as `{"$eq": stream}`.'
    )
    return "\n\n".join(["## Point reads of the append path, by log size", intro, table])
