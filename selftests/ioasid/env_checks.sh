#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest environment the tests rely on, checked first (kselftest TAP format).
#
# An environment check is not a test of ioasid: when it holds it prints a "# env ok:"
# comment and counts nothing, when it does not it is a failing test ("not ok"), since the
# tests that need it would otherwise skip or fail for the wrong reason. The one test of
# this repository here is the udev rule's.
fail=0 pass=0 skip=0 n=0
RESULTS=/tmp/env_checks.tap
: >"$RESULTS"
env_check() { # DESCRIPTION COMMAND...
	what=$1
	shift
	if "$@"; then
		echo "# env ok: $what"
	else
		n=$((n + 1)) fail=$((fail + 1))
		echo "not ok $n environment: $what" >>"$RESULTS"
	fi
}
ok() { n=$((n + 1)) pass=$((pass + 1)); echo "ok $n $1" >>"$RESULTS"; }
notok() { n=$((n + 1)) fail=$((fail + 1)); echo "not ok $n $1" >>"$RESULTS"; }
skip() { n=$((n + 1)) skip=$((skip + 1)); echo "ok $n $1 # SKIP $2" >>"$RESULTS"; }
echo "TAP version 13"

fault_injection() {
	[ -d /sys/kernel/debug/failslab ] && [ -d /sys/kernel/debug/fail_page_alloc ] &&
		[ -e /sys/kernel/debug/kmemleak ]
}
env_check "fault injection and kmemleak are available" fault_injection

# The emulated IOMMU is on and translating (qemu-test/run's machines).
iommu_on() {
	[ -n "$(ls /sys/class/iommu 2>/dev/null)" ] || return 1
	case "$(uname -m)" in
	x86_64)
		dmesg | grep -q 'DMAR: Intel(R) Virtualization Technology for Directed I/O' &&
			dmesg | grep -q 'DMAR-IR: Enabled IRQ remapping'
		;;
	aarch64) dmesg | grep -q 'arm-smmu-v3.*oas 44-bit' ;;
	*) return 1 ;;
	esac
}
env_check "the IOMMU is enabled (/sys/class/iommu, kernel log)" iommu_on

# Four edu devices, each in an IOMMU group; two of them (00:10.0 and 00:10.1) share one.
edus_grouped() {
	edus=0 grouped=0
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ] || continue
		edus=$((edus + 1))
		[ -e "$d/iommu_group" ] && grouped=$((grouped + 1))
	done
	g0=$(readlink /sys/bus/pci/devices/*:00:10.0/iommu_group)
	g1=$(readlink /sys/bus/pci/devices/*:00:10.1/iommu_group)
	[ "$edus" -eq 4 ] && [ "$grouped" -eq 4 ] && [ -n "$g0" ] && [ "$g0" = "$g1" ]
}
env_check "four edu devices in IOMMU groups, two sharing one" edus_grouped

# The x86_64 guest runs dynamically linked programs from the Debian root.
if [ "$(uname -m)" = x86_64 ]; then
	debian_dynamic() {
		[ "$(in-debian /bin/sh -c 'ldd /bin/ls >/dev/null && echo dynamic-ok')" = dynamic-ok ]
	}
	env_check "a dynamically linked Debian program runs in the guest" debian_dynamic
fi

# The udev rule gives /dev/ioasid mode 0660 and group kvm, as /dev/iommu has.
case "$(uname -m)" in
x86_64)
	rules=/ioasid/70-ioasid.rules
	if [ -f "$rules" ] && mount -t tmpfs tmpfs /debian/etc/udev/rules.d 2>/dev/null; then
		cp "$rules" /debian/etc/udev/rules.d/
		out=$(in-debian udevadm test --action=add /sys/class/misc/ioasid 2>&1)
		umount /debian/etc/udev/rules.d
		kvm=$(sed -n 's/^kvm:[^:]*:\([0-9]*\):.*/\1/p' /debian/etc/group)
		if echo "$out" | grep -q 'ioasid.rules:.* MODE 0660$' &&
			echo "$out" | grep -Eq "ioasid.rules:.* GROUP ($kvm|kvm)\$"; then
			ok "udev rule sets mode 0660 and group kvm"
		else
			echo "$out" | grep -i 'ioasid\|MODE\|GROUP' | sed 's/^/# /'
			notok "udev rule sets mode 0660 and group kvm"
		fi
	else
		notok "udev rule sets mode 0660 and group kvm"
	fi
	;;
*) skip "udev rule sets mode 0660 and group kvm" "needs the Debian root (x86_64 guest)" ;;
esac

echo "1..$n"
cat "$RESULTS"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail -eq 0 ]
