# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/deb_guest.sh: the checks of the Debian packages' test (tests/vm/deb_check.sh), run
# as root inside the systemd QEMU guest by the oneshot tk-e2e.service (tests/vm/lib.sh,
# vm_sd_overlay, installs it as /tk/check.sh; run by /bin/sh). The packages are in /tk/debs;
# nothing of the project is installed otherwise. What is checked is what debian/README.Debian
# promises: dpkg -i creates the user from the sysusers.d file, enables and starts
# timekeeperd.service (timectl status answers) and leaves timekeeperd-wait-sync.service
# disabled; installing again restarts the daemon; dpkg -r stops it and keeps the
# configuration and state; dpkg --purge removes them and the unit.
#
# Output: tests/vm/guest_lib.sh, as /tk/lib.sh.

# shellcheck source=guest_lib.sh
. /tk/lib.sh
UNIT=timekeeperd
W=/tmp/tk-deb
mkdir -p "$W"
MA=x86_64-linux-gnu

active() { [ "$(systemctl is-active "$UNIT" 2>/dev/null)" = active ]; }
mainpid() { systemctl show -p MainPID --value "$UNIT" 2>/dev/null; }
status_of() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' '; }

note "guest: up ${T0}s when the test started"
run debs 10 ls -l /tk/debs
check "the timekeeper user does not exist before the installation" \
	sh -c '! getent passwd timekeeper >/dev/null'

# --- install ---------------------------------------------------------------------------------
t=$(cut -d' ' -f1 /proc/uptime)
run install 240 dpkg -i /tk/debs/timekeeperd_*.deb /tk/debs/libtimekeeper0_*.deb \
	/tk/debs/libtimekeeper-dev_*.deb
rc=$?
check "dpkg -i of the three packages exits 0 (got $rc, in $(since "$t")s)" [ $rc -eq 0 ]
for p in timekeeperd libtimekeeper0 libtimekeeper-dev; do
	s=$(status_of $p)
	check "$p is installed (dpkg status ${s:-none})" [ "$s" = ii ]
done
u=$(getent passwd timekeeper)
check "systemd-sysusers created the timekeeper user (${u:-none})" [ -n "$u" ]
g=$(getent group timekeeper)
check "and its group (${g:-none})" [ -n "$g" ]
e=$(systemctl is-enabled "$UNIT" 2>/dev/null)
check "$UNIT.service is enabled (got ${e:-nothing})" [ "$e" = enabled ]
if poll 60 active; then
	ok "$UNIT.service is active"
else
	not_ok "$UNIT.service is active (got $(systemctl is-active "$UNIT" 2>/dev/null))"
	run unit_status 10 systemctl status --no-pager "$UNIT"
	run unit_journal 10 journalctl -u "$UNIT" --no-pager
fi
e=$(systemctl is-enabled timekeeperd-wait-sync 2>/dev/null)
check "timekeeperd-wait-sync.service is installed, not enabled (got ${e:-nothing})" \
	[ "$e" = disabled ]
e=$(systemctl is-enabled timekeeperd.socket 2>/dev/null)
a=$(systemctl is-active timekeeperd.socket 2>/dev/null)
check "timekeeperd.socket (port 123) is installed, disabled, inactive (got ${e:-?}, ${a:-?})" \
	[ "$e/$a" = disabled/inactive ]
uid=$(id -u timekeeper 2>/dev/null)
pid=$(mainpid)
duid=$(awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
check "the daemon (pid ${pid:-?}) runs as timekeeper (uid ${uid:-?}, got ${duid:-?})" \
	[ "${duid:-none}" = "${uid:-unknown}" ]

# timectl answers once the daemon's socket is up (it is, after READY=1: poll all the same).
if poll 60 timectl status; then
	run tstatus 20 timectl status
	ok "timectl status answers (exit 0)"
else
	run tstatus 20 timectl status
	not_ok "timectl status answers (exit $?)"
fi
lib=$(ldd /usr/bin/timectl 2>/dev/null | awk '$1 == "libtimekeeper.so.0" { print $3 }')
case $lib in
"/usr/lib/$MA/libtimekeeper.so.0" | "/lib/$MA/libtimekeeper.so.0") lib_ok=1 ;;
*) lib_ok=0 ;;
esac
check "timectl uses the packaged libtimekeeper.so.0 (${lib:-not found})" [ $lib_ok = 1 ]
check "the state directory /var/lib/timekeeper exists" [ -d /var/lib/timekeeper ]
check "/etc/timekeeperd.conf is a conffile of timekeeperd" \
	sh -c "dpkg-query -W -f='\${Conffiles}' timekeeperd | grep -q '^ /etc/timekeeperd.conf '"

# --- upgrade: installing again restarts the daemon ------------------------------------------
pid1=$(mainpid)
run reinstall 180 dpkg -i /tk/debs/timekeeperd_*.deb
rc=$?
restarted()
{
	[ $rc -eq 0 ] && poll 60 active && pid2=$(mainpid) && [ -n "$pid2" ] &&
		[ "$pid2" != 0 ] && [ "$pid2" != "$pid1" ]
}
pid2=
if restarted; then r=0; else r=1; fi
check "dpkg -i again exits 0 and restarts the daemon (pid $pid1 -> ${pid2:-?}, exit $rc)" \
	[ $r -eq 0 ]

# --- remove: stopped, the programs gone, configuration and state kept ------------------------
run remove 120 dpkg -r timekeeperd
rc=$?
check "dpkg -r timekeeperd exits 0 (got $rc)" [ $rc -eq 0 ]
check "after dpkg -r the service is not running ($(systemctl is-active "$UNIT" 2>/dev/null))" \
	sh -c "! systemctl is-active -q $UNIT"
check "after dpkg -r /usr/sbin/timekeeperd is gone" [ ! -e /usr/sbin/timekeeperd ]
check "after dpkg -r /etc/timekeeperd.conf is kept" [ -f /etc/timekeeperd.conf ]
check "after dpkg -r /var/lib/timekeeper is kept" [ -d /var/lib/timekeeper ]
s=$(status_of timekeeperd)
check "timekeeperd's dpkg status is rc (got ${s:-none})" [ "$s" = rc ]

# --- purge: configuration, state and the unit's enablement go --------------------------------
run purge 120 dpkg --purge timekeeperd
rc=$?
check "dpkg --purge timekeeperd exits 0 (got $rc)" [ $rc -eq 0 ]
check "after purge /etc/timekeeperd.conf is gone" [ ! -e /etc/timekeeperd.conf ]
check "after purge /var/lib/timekeeper is gone" [ ! -e /var/lib/timekeeper ]
links=$(find /etc/systemd/system -name 'timekeeperd*' 2>/dev/null | paste -sd' ' -)
check "after purge no unit links are left in /etc/systemd/system (${links:-none})" [ -z "$links" ]
ls=$(systemctl show -p LoadState --value "$UNIT" 2>/dev/null)
check "after purge systemd knows no $UNIT.service (LoadState ${ls:-?})" [ "$ls" = not-found ]
s=$(status_of timekeeperd)
check "timekeeperd is purged from dpkg's database (status ${s:-none})" \
	[ "${s:-un}" = un ]
note "the timekeeper user is kept, as Debian keeps system users: $(getent passwd timekeeper)"

run purge_libs 120 dpkg --purge libtimekeeper-dev libtimekeeper0
rc=$?
check "dpkg --purge libtimekeeper-dev libtimekeeper0 exits 0 (got $rc)" [ $rc -eq 0 ]
left=$(find /usr /etc /var/lib -name '*timekeeper*' 2>/dev/null | paste -sd' ' -)
check "no file of the packages is left (${left:-none})" [ -z "$left" ]

note "guest: checks took $(since "$T0")s"
printf '@@TK-%s DONE@@\n' "$TK_NONCE"
