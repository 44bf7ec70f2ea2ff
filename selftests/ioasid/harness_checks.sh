#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# TAP checks of the guest environment the other tests rely on, in the kselftest format.
pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1"; }
skip() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $1 # SKIP $2"; }
echo "TAP version 13"
echo "1..3"

# Fault injection and kmemleak are available to the tests.
if [ -d /sys/kernel/debug/failslab ] && [ -d /sys/kernel/debug/fail_page_alloc ] &&
	[ -e /sys/kernel/debug/kmemleak ]; then
	ok "fault injection and kmemleak are available"
else
	notok "fault injection and kmemleak are available"
fi

# The x86_64 guest runs dynamically linked programs from the Debian root.
case "$(uname -m)" in
x86_64)
	if out=$(in-debian /bin/sh -c 'ldd /bin/ls >/dev/null && echo dynamic-ok') &&
		[ "$out" = dynamic-ok ]; then
		ok "a dynamically linked Debian program runs in the guest"
	else
		notok "a dynamically linked Debian program runs in the guest"
	fi
	;;
*) skip "a dynamically linked Debian program runs in the guest" "x86_64 only" ;;
esac

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

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail -eq 0 ]
