"""Top frames of a py-spy profile: `py-spy record -f raw -o X.raw -p PID`, then

    .venv/bin/python scripts/profile_top.py X.raw [--top 25] [--filter realtime/]

Prints the frames with the most samples on top of the stack (self) and in the stack
(inclusive), as a share of all samples; the figures recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", default="", help="only frames whose text contains this")
    args = parser.parse_args()
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in args.raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    for title, counter in (("self", own), ("inclusive", incl)):
        print(f"--- {title} (of {total} samples)")
        shown = 0
        for frame, n in counter.most_common():
            if args.filter and args.filter not in frame:
                continue
            print(f"{100 * n / total:6.1f}%  {frame}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
