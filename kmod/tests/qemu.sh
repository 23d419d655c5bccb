#!/usr/bin/env bash
# Builds the SafeX module against Debian's kernel headers, boots Debian's
# own kernel under QEMU (TCG) with a busybox initramfs holding the module
# and the checks (client.c, init; the last of them a short run of the
# paper's experiment with the module as its kernel-level side, setup B
# under SCHED_FIFO), and passes if the guest prints
# "SAFEX-RESULT: PASS". Needs: gcc, make, binutils, openssl,
# qemu-system-x86, busybox-static, cpio, linux-headers-amd64 (`.ci/run`
# installs them); the kernel image is taken from /boot or extracted from its
# .deb (`apt-get download`).
#
# Without KVER it tests every Debian kernel it has headers for among
# bookworm's default (6.1, linux-headers-amd64's) and the newest 6.12;
# with KVER=VERSION, that one.
#
# With BENCH=1 the guest also runs `safexc experiment --bench` (its in-kernel
# row) and bench/src/bin/kmod_bench.rs (a release
# build) after the checks: the kernel module against the user-space host;
# its `bench:` lines are printed.
#
# Exit: 0 pass, 1 a check failed or the guest crashed, 2 setup or build
# failed, 124 the guest hung past TIMEOUT seconds.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KMOD=$(dirname "$HERE")
OUT=${OUT:-$(mktemp -d /tmp/safex-qemu.XXXXXX)}
BENCH=${BENCH:-}
if [[ -n $BENCH ]]; then TIMEOUT=${TIMEOUT:-900}; else TIMEOUT=${TIMEOUT:-300}; fi

die() { echo "qemu.sh: $*" >&2; exit 2; }

if [[ -z ${KVER:-} ]]; then
	# The kernel the headers metapackage points at, then the newest 6.12.
	default=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
		grep -oE 'linux-headers-[^ ,(]+' | head -1 | sed 's/^linux-headers-//')
	[[ -n $default && -e /lib/modules/$default/build/Makefile ]] ||
		die "no kernel headers (apt-get install linux-headers-amd64)"
	newest_612=$(ls -d /lib/modules/6.12.*+deb12-amd64/build 2>/dev/null | sort -V | tail -1 | cut -d/ -f4)
	for kver in $default $newest_612; do
		KVER=$kver "$0" || exit $?
	done
	exit 0
fi
[[ -e /lib/modules/$KVER/build/Makefile ]] || die "no headers for $KVER (apt-get install linux-headers-$KVER)"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
BUSYBOX=/bin/busybox # busybox-static's: the guest has no libraries
[[ -x $BUSYBOX ]] || die "no $BUSYBOX (apt-get install busybox-static)"

# The guest kernel: /boot's, else the one in linux-image-$KVER's .deb.
VMLINUZ=/boot/vmlinuz-$KVER
if [[ ! -r $VMLINUZ ]]; then
	CACHE=${CACHE:-$HOME/.cache/safex-kmod}
	mkdir -p "$CACHE"
	VMLINUZ=$CACHE/vmlinuz-$KVER
	if [[ ! -s $VMLINUZ ]]; then
		(cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "linux-image-$KVER" >/dev/null) ||
			die "cannot download linux-image-$KVER"
		dpkg-deb --fsys-tarfile "$CACHE"/linux-image-"$KVER"_*.deb |
			tar -xO "./boot/vmlinuz-$KVER" >"$VMLINUZ" || die "no vmlinuz in the .deb"
	fi
fi

# Build the module (in a copy: Kbuild writes next to its sources).
mkdir -p "$OUT/build" "$OUT/root/bin" "$OUT/root/proc" "$OUT/root/sys" "$OUT/root/dev" "$OUT/root/tmp"
cp "$KMOD"/Kbuild "$KMOD"/Makefile "$KMOD"/*.c "$KMOD"/*.h "$OUT/build/"
make -s -C "/lib/modules/$KVER/build" M="$OUT/build" modules >"$OUT/build.log" 2>&1 ||
	{ cat "$OUT/build.log" >&2; die "module build failed"; }
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/root/client" "$HERE/client.c" ||
	die "client build failed"

# Signed objects: a key of the test's own (deterministic: not a secret),
# the paper's PID object signed with it and with another key, and unsigned.
SAFEXC=${SAFEXC:-"cargo run -q --manifest-path $KMOD/../Cargo.toml -p safexc --"}
mkdir -p "$OUT/keys" "$OUT/root/objects"
$SAFEXC keygen -o "$OUT/keys/test" --insecure-seed 1 | sed -n 's/^pubkey=//p' >"$OUT/root/objects/pubkey" ||
	die "safexc keygen failed"
[[ -s $OUT/root/objects/pubkey ]] || die "safexc keygen printed no pubkey= line"
$SAFEXC keygen -o "$OUT/keys/other" --insecure-seed 2 >/dev/null || die "safexc keygen failed"
OBJECT=$KMOD/../examples/obj/cpu_pid.o
$SAFEXC sign "$OBJECT" --key "$OUT/keys/test.key" -o "$OUT/root/objects/signed.o" || die "safexc sign failed"
$SAFEXC sign "$OBJECT" --key "$OUT/keys/other.key" -o "$OUT/root/objects/wrong-key.o" || die "safexc sign failed"
cp "$OBJECT" "$OUT/root/objects/unsigned.o"
# What `safexc sign` refuses to sign, signed by a key holder anyway (with
# OpenSSL): the module checks the object's shape itself. A --no-fuel object,
# and bytes that are no object at all.
openssl_sign() { # openssl_sign IN OUT: IN, its signature by the test key, the trailer
	openssl dgst -sha256 -sign "$OUT/keys/test.key" -out "$OUT/keys/sig" "$1" || die "openssl cannot sign"
	{ cat "$1" "$OUT/keys/sig"; printf '\000\001\000\000SXSIG01\000'; } >"$2"
}
command -v openssl >/dev/null || die "no openssl (apt-get install openssl)"
$SAFEXC compile "$KMOD/../examples/pop/cpu_pid.pop" --no-fuel -o "$OUT/keys/nofuel.o" 2>/dev/null ||
	die "safexc compile --no-fuel failed"
openssl_sign "$OUT/keys/nofuel.o" "$OUT/root/objects/nofuel-signed.o"
printf 'not an object, but signed' >"$OUT/keys/junk"
openssl_sign "$OUT/keys/junk" "$OUT/root/objects/junk-signed.o"
# An object of another extension ABI (99): .safex.meta's version changed and
# its self-digest recomputed, then signed.
objcopy --dump-section .safex.meta="$OUT/keys/meta" "$OBJECT" "$OUT/keys/scratch.o" || die "objcopy failed"
meta_len=$(stat -c %s "$OUT/keys/meta")
printf '\143' | dd of="$OUT/keys/meta" bs=1 seek=8 conv=notrunc status=none
head -c $((meta_len - 32)) "$OUT/keys/meta" | openssl dgst -sha256 -binary |
	dd of="$OUT/keys/meta" bs=1 seek=$((meta_len - 32)) conv=notrunc status=none
objcopy --update-section .safex.meta="$OUT/keys/meta" "$OBJECT" "$OUT/keys/abi99.o" || die "objcopy failed"
openssl_sign "$OUT/keys/abi99.o" "$OUT/root/objects/abi99-signed.o"
# Signed by a key holder, but not what codegen emits, so the module's own
# checks must refuse them: an extra section; a call whose relocation (its
# addend -4 made -3) lands past its callee's first byte.
AVG=$KMOD/../examples/obj/cpu_avg.o
objcopy --add-section .extra="$OUT/keys/junk" "$AVG" "$OUT/keys/extra.o" || die "objcopy failed"
openssl_sign "$OUT/keys/extra.o" "$OUT/root/objects/extra-section-signed.o"
rela=$(readelf -SW "$AVG" | sed -n 's/.*\] \.rela\.text *RELA *[0-9a-f]* \([0-9a-f]*\).*/\1/p')
[[ -n $rela ]] || die "no .rela.text in $AVG"
cp "$AVG" "$OUT/keys/bad-reloc.o"
printf '\375' | dd of="$OUT/keys/bad-reloc.o" bs=1 seek=$((0x$rela + 16)) conv=notrunc status=none
openssl_sign "$OUT/keys/bad-reloc.o" "$OUT/root/objects/bad-reloc-signed.o"
# The prebuilt timeslice guard, an extension with calls between its
# functions (relocations), the tracer (tests/tracer.pop), the runaway
# (tests/runaway.pop), signed.
$SAFEXC sign "$KMOD/../examples/obj/cpu_avg.o" --key "$OUT/keys/test.key" -o "$OUT/root/objects/avg.o" ||
	die "safexc sign failed"
$SAFEXC sign "$KMOD/../stdlib/obj/timeslice_guard.o" --key "$OUT/keys/test.key" -o "$OUT/root/objects/guard.o" ||
	die "safexc sign failed"
$SAFEXC compile "$HERE/tracer.pop" -o "$OUT/keys/tracer.o" 2>/dev/null || die "safexc compile failed"
$SAFEXC sign "$OUT/keys/tracer.o" --key "$OUT/keys/test.key" -o "$OUT/root/objects/tracer.o" ||
	die "safexc sign failed"
$SAFEXC compile "$HERE/runaway.pop" -o "$OUT/keys/runaway.o" 2>/dev/null || die "safexc compile failed"
$SAFEXC sign "$OUT/keys/runaway.o" --key "$OUT/keys/test.key" -o "$OUT/root/objects/runaway.o" ||
	die "safexc sign failed"
# What the user-space host computes over the trace (the guest compares the
# kernel's table with it): the PID extension for an application promised 3 ms
# every 10 ms, 20 ticks (client.c's TRACE_TICKS).
cp "$HERE/trace.csv" "$OUT/root/objects/trace.csv"
$SAFEXC run "$OBJECT" --app calc --set period=10000 --set target_cpu=3000 --set target_util=300 \
	--trace "$HERE/trace.csv" --ticks 20 | grep '^| [0-9]' >"$OUT/root/objects/expected.txt" ||
	die "safexc run failed"
[[ $(wc -l <"$OUT/root/objects/expected.txt") -ge 15 ]] || die "the host's table is too short"

# add_program BIN DEST: the program BIN, stripped, at DEST in the guest, with
# the libraries it links (the guest has none).
add_program() {
	strip -o "$OUT/root$2" "$1" || die "strip $1 failed"
	for lib in $(ldd "$1" | grep -oE '/[^ ]+\.so[^ ]*'); do
		mkdir -p "$OUT/root$(dirname "$lib")"
		cp -L "$lib" "$OUT/root$lib"
	done
}
TARGET_DIR=$(cargo metadata -q --format-version 1 --no-deps --manifest-path "$KMOD/../Cargo.toml" |
	sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
cargo build -q --manifest-path "$KMOD/../Cargo.toml" -p safexc || die "cargo build -p safexc failed"
add_program "$TARGET_DIR/debug/safexc" /bin/safexc
# A release safexc for the paper's experiment with the module as its
# kernel-level side (`experiment --real --kernel`), and with BENCH=1 for
# `experiment --bench`.
cargo build -q --release --manifest-path "$KMOD/../Cargo.toml" -p safexc ||
	die "cargo build --release -p safexc failed"
add_program "$TARGET_DIR/release/safexc" /safexc-release
# The benchmark: the trivial extension signed (the PID extension and the
# guard are above), kmod_bench, a release safexc for `experiment --bench`,
# and /bench, which tells init to run them.
if [[ -n $BENCH ]]; then
	$SAFEXC compile "$HERE/trivial.pop" -o "$OUT/keys/trivial.o" 2>/dev/null || die "safexc compile failed"
	$SAFEXC sign "$OUT/keys/trivial.o" --key "$OUT/keys/test.key" -o "$OUT/root/objects/trivial.o" ||
		die "safexc sign failed"
	cargo build -q --release --manifest-path "$KMOD/../Cargo.toml" -p bench --bin kmod_bench ||
		die "cargo build --release -p bench --bin kmod_bench failed"
	add_program "$TARGET_DIR/release/kmod_bench" /kmod_bench
	touch "$OUT/root/bench"
fi
cp "$OUT/build/safex.ko" "$OUT/root/"
cp "$BUSYBOX" "$OUT/root/bin/busybox"
cp "$HERE/init" "$OUT/root/init"
chmod 755 "$OUT/root/init"
(cd "$OUT/root" && find . | cpio -o -H newc --quiet) >"$OUT/initramfs.cpio"

echo "qemu.sh: booting $KVER under TCG" >&2
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
	-nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
	-kernel "$VMLINUZ" -initrd "$OUT/initramfs.cpio" \
	-append 'console=ttyS0 panic=-1 oops=panic loglevel=4' </dev/null >"$OUT/console.log" 2>&1
rc=$?
set -e
grep -E '^(PASS|FAIL|guest:|bench:|experiment:)' "$OUT/console.log" | tr -d '\r'
[[ $rc == 124 ]] && { echo "qemu.sh: the guest hung (console: $OUT/console.log)" >&2; exit 124; }
if grep -q 'SAFEX-RESULT: PASS' "$OUT/console.log"; then
	rm -rf "$OUT"
	echo "SAFEX-RESULT: PASS"
	exit 0
fi
echo "qemu.sh: FAIL (console: $OUT/console.log)" >&2
exit 1
