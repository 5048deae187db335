"""agg.py LOG: sums onednn_verbose exec times (ms) of the measured step by primitive."""

import collections
import sys

lines = open(sys.argv[1]).read().split("=== MEASURED", 1)[1].split("=== END")[0].splitlines()
kind, shape, total = collections.Counter(), collections.Counter(), 0.0
for line in lines:
    if not line.startswith("onednn_verbose") or ",exec," not in line:
        continue
    f = line.split(",")
    prim, impl, prop, ms = f[5], f[6], f[7], float(f[-1])
    desc = f[-2]
    kind[(prim, prop)] += ms
    shape[(prim, prop, impl.split(":")[0], desc[:60])] += ms
    total += ms
print(f"total oneDNN exec {total:.1f} ms")
for k, v in kind.most_common():
    print(f"{v:8.2f}  {k}")
print("-- top shapes")
for k, v in shape.most_common(25):
    print(f"{v:8.2f}  {k}")
