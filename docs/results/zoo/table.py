"""Rows of the zoo table from the logs of run.sh: `python docs/results/zoo/table.py LOG...`.

Per log (one recipe, perhaps several launches of a resumed run): the final precision @ 1 and
its step and TTA, the time to accuracy of each launch and their sum, the launches, the CPU
flags and commit each launch names, and the median examples/sec of the log lines.
"""

import re
import statistics
import sys

FINAL = re.compile(r"precision @ 1 = ([\d.]+) \((\d+) of (\d+) test examples; step (\d+), "
                   r"[^,]+, (\w+) TTA\)")
TIME = re.compile(r"time to accuracy ([\d.]+) s")
SPEED = re.compile(r"\(([\d.]+) examples/sec;")
LAUNCH = re.compile(r"^== launch \S+ on \S+: (.*)$")
COMMIT = re.compile(r"^== git (\w+)")
EXIT = re.compile(r"^== exit (\d+) .* wall from launch to exit ([\d.]+) s")


def row(path: str) -> dict[str, object]:
    """What the log at `path` says of its run."""
    final, times, speeds, flags, commits, walls = None, [], [], set(), set(), []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if match := FINAL.search(line):
                final = match
            elif match := TIME.search(line):
                times.append(float(match.group(1)))
            elif match := SPEED.search(line):
                speeds.append(float(match.group(1)))
            elif match := LAUNCH.match(line):
                flags.add(match.group(1).strip())
            elif match := COMMIT.match(line):
                commits.add(match.group(1))
            elif match := EXIT.match(line):
                walls.append(float(match.group(2)))
    name = path.rsplit("/", 1)[-1].removesuffix(".log")
    return {"recipe": name,
            "precision": float(final.group(1)) if final else None,
            "correct": f"{final.group(2)} of {final.group(3)}" if final else None,
            "step": int(final.group(4)) if final else None,
            "tta": final.group(5) if final else None,
            "launches": len(walls), "wall_s": sum(walls),
            "time_to_accuracy_s": times[-1] if times else None,
            "median_examples_per_sec": statistics.median(speeds[1:]) if len(speeds) > 1 else None,
            "cpu_flags": sorted(flags), "commits": sorted(commits)}


if __name__ == "__main__":
    for log in sys.argv[1:]:
        print(row(log))
