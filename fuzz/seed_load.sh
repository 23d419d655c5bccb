#!/bin/sh
# Seeds the `load` fuzz target's corpus (fuzz/corpus/load/, not in git) with
# a few real objects, for the raw mode, and one structured input per
# built-in seed object (no edits, digests recomputed: a valid object), for
# the structured mode. See fuzz_targets/load.rs.
set -eu
cd "$(dirname "$0")/.."
out=fuzz/corpus/load
mkdir -p "$out"
for src in examples/pop/*.pop; do
    cargo run -q -p safexc -- compile "$src" -o "$out/$(basename "$src" .pop).o"
done
cargo run -q -p safexc -- compile examples/pop/cpu_pid.pop --no-fuel -o "$out/cpu_pid_no_fuel.o"
for i in 0 1 2 3; do
    printf "\\000\\00$i\\001" > "$out/structured-$i"
done
ls -l "$out"
