#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the fuzz-edit seed corpus from the valid fuzz-parse seeds.

fuzz-edit reads: byte 0 = length N of the edit script, bytes 1..N = the
script (a stream of choices), then the document. Each seed here is a valid
document with a pseudo-random script in front (fixed seed: reruns give the
same files). Run from anywhere:  python3 tests/fuzz/gen-edit-corpus.py
"""
import pathlib
import random
import tomllib

here = pathlib.Path(__file__).resolve().parent
src = here / "corpus" / "parse"
dst = here / "corpus" / "edit"

rng = random.Random(20240501)
docs = []
for p in sorted(src.iterdir()):
    if not p.name.endswith(".toml"):
        continue
    if not (p.name.startswith("own-runner") or p.name.startswith("own-values")
            or p.name.startswith("own-tiny") or p.name.startswith("tt-valid-")):
        continue
    data = p.read_bytes()
    if not p.name.startswith("own-runner-bom"):
        try:
            tomllib.loads(data.decode("utf-8"))
        except Exception:
            continue
    docs.append((p.stem, data))

# Every own document; a spread of the suite's valid ones.
own = [d for d in docs if d[0].startswith("own-")]
suite = [d for d in docs if not d[0].startswith("own-")]
picked = own * 4 + rng.sample(suite, min(120, len(suite)))

for old in dst.glob("edit-*"):
    old.unlink()
for i, (stem, data) in enumerate(picked):
    n = rng.randrange(8, 96)
    script = bytes(rng.randrange(256) for _ in range(n))
    (dst / f"edit-{i:03d}-{stem}").write_bytes(bytes([n]) + script + data)
print(f"wrote {len(picked)} seeds to {dst}")
