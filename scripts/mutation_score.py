"""The mutation score of each module from mutmut's results (`make mutation` prints it).

Killed, timed-out and suspicious mutants count as caught; survivors and untested ones
(no test covers them) as missed; mutants left unchecked are reported apart.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict

CAUGHT = {"killed", "timeout", "suspicious", "caught by type check"}
MISSED = {"survived", "no tests"}
LINE = re.compile(r"^\s*(?P<name>\S+)__mutmut_\d+: (?P<status>.+)$")


def module_of(mutant: str) -> str:
    """`allodiscri.platform.store.xǁEventStoreǁappend__mutmut_3` -> its file's path."""
    dotted = mutant.split(".xǁ")[0] if ".xǁ" in mutant else mutant.rsplit(".x_", 1)[0]
    return dotted.replace(".", "/") + ".py"


def main() -> int:
    results = subprocess.run(
        [sys.executable, "scripts/mutation.py", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors: list[str] = []
    for line in results.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        status = match["status"].strip()
        module = module_of(match["name"])
        counts[module][status] += 1
        if status in MISSED:
            survivors.append(f"{line.strip()}")
    print("| module | mutants | caught | missed | unchecked | score |")
    print("|---|---:|---:|---:|---:|---:|")
    for module in sorted(counts):
        tally = counts[module]
        caught = sum(tally[s] for s in CAUGHT)
        missed = sum(tally[s] for s in MISSED)
        unchecked = sum(tally.values()) - caught - missed
        score = 100.0 * caught / (caught + missed) if caught + missed else 100.0
        print(
            f"| `{module}` | {sum(tally.values())} | {caught} | {missed} | {unchecked} "
            f"| {score:.1f} % |"
        )
    print("\nSurviving mutants:")
    print("\n".join(survivors) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
