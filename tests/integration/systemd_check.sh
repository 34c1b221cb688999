#!/bin/sh
# systemd_check: runs inside a booted Debian root with ascale's .deb installed; drives the units, prints sections
#
# test_systemd.py copies this to /usr/local/bin/ascale-check, runs it from ascale-check.service
# and reads /var/tmp/ascale-check.out once the machine has powered off.
exec > /var/tmp/ascale-check.out 2>&1
section() { echo "== $1"; }

(umask 077; printf '1 %s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" > /etc/ascale/keys)
sed -i 's|^\[coordinator\]$|[coordinator]\nlisten = 127.0.0.1:7410\nkey_file = /etc/ascale/keys|' \
	/etc/ascale/ascoord.conf
cat > /etc/ascale/asagent.conf <<CONF
[agent]
deployment = blue
endpoint = my-endpoint
coordinator = 127.0.0.1:7410
key_file = /etc/ascale/keys
CONF
# a short watchdog: a daemon that stops pinging is killed and restarted within the test
for u in asagent ascoord; do
	mkdir -p /etc/systemd/system/$u.service.d
	printf '[Service]\nWatchdogSec=2s\n' > /etc/systemd/system/$u.service.d/watchdog.conf
done
systemctl daemon-reload

section start
systemctl start ascoord asagent
echo "rc=$?"
sleep 8
section active
systemctl is-active ascoord asagent
section restarts
systemctl show -p NRestarts --value ascoord asagent
section metrics
asctl metrics --json
section agents
asctl agents --json
section status
asctl status --json
section state_dir
ls /var/lib/ascale
section reload
systemctl reload asagent
echo "rc=$?"
systemctl is-active asagent
section reload_coordinator
pid=$(systemctl show -p MainPID --value ascoord)
systemctl reload ascoord
echo "rc=$?"
sleep 3
systemctl is-active ascoord
[ "$(systemctl show -p MainPID --value ascoord)" = "$pid" ] && echo same-pid
systemctl show -p NRestarts --value ascoord
asctl status >/dev/null && echo answers
section stopped
systemctl stop asagent
asctl metrics --json
section journal
journalctl -b -o cat --no-pager -u asagent -u ascoord
section end
systemctl poweroff --no-block
