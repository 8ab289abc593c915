#!/usr/bin/env bash
# The PC/SC stack myna-hil's virtual card plugs into: Debian's pcscd with vsmartcard's vpcd driver.
# Facts behind every choice here: docs/pcsc-stack.md (measured on this machine kind).
set -euo pipefail

STATE_DIR="${MYNA_HIL_PCSC_DIR:-/tmp/myna-hil-pcsc}"
PCSCD=/usr/sbin/pcscd
COMM=/run/pcscd/pcscd.comm
SYS_PIDFILE=/run/pcscd/pcscd.pid
PIDFILE="$STATE_DIR/pcscd.pid"             # "pid starttime" of the pcscd WE started
EXTERNAL="$STATE_DIR/pcscd.external"       # a pcscd we found running and did not start
LOG="$STATE_DIR/pcscd.log"
ROUTE_MARK="$STATE_DIR/quickack-route.set" # we set the loopback route attribute: stop undoes it
RCONF_DIR="$STATE_DIR/reader.conf.d"       # present = reversed mode: pcscd is started with -c this dir
READY_TIMEOUT="${MYNA_HIL_PCSC_READY_TIMEOUT:-15}"
STOP_TIMEOUT="${MYNA_HIL_PCSC_STOP_TIMEOUT:-10}"
VPCD_PORTS=(35963 35964)
PACKAGES=(pcscd vsmartcard-vpcd libpcsclite-dev opensc pcsc-tools python3-pyscard
  vsmartcard-vpicc python3-virtualsmartcard python3-pycryptodome
  libxml2-utils) # xmllint: tests/reporters validates the JUnit report against its schema
ROUTE=(local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1 table local)

usage() {
  cat <<EOF
Usage: bash scripts/pcsc-stack.sh <command>

Runs the PC/SC stack the virtual My Number Card is served into: pcscd (pcsc-lite) with vsmartcard's
vpcd driver, which gives two readers, "Virtual PCD 00 00" (TCP port 35963) and "Virtual PCD 00 01"
(35964). A card is served into them with \`myna-hil serve\`.

Commands:
  install               apt-get install the stack (skips what is already installed):
                        ${PACKAGES[*]}
                        (--no-install-recommends)
  start                 start pcscd --foreground --info in the background, log in \$STATE_DIR/pcscd.log.
                        Idempotent: if a pcscd already runs (ours or anyone's) no second one is started,
                        and one we did not start is never stopped by us. Ready when $COMM is a socket
                        and ports ${VPCD_PORTS[*]} listen (polled every 50 ms, deadline ${READY_TIMEOUT} s;
                        MYNA_HIL_PCSC_READY_TIMEOUT). On failure prints pcscd's log and exits 1.
  stop                  stop the pcscd this script started (SIGTERM by pid, wait until it is gone;
                        SIGKILL after ${STOP_TIMEOUT} s) and undo \`quickack-route on\` if we set it.
                        A pcscd we did not start is left alone.
  restart               stop, then start (refused when a pcscd we did not start is running)
  status                what runs, who started it, readers' ports, route attribute, reversed mode
  quickack-route on|off set/clear the loopback route attribute "quickack 1" (docs/pcsc-stack.md §6.3 b): removes
                        the 40 ms vpcd stall machine-wide for all TCP on 127.0.0.1, for cards without the
                        card-side TCP_QUICKACK fix. Needs root. \`stop\` undoes it if we set it.
  reversed-mode on|off  on: write a reader.conf for vpcd's reversed mode on 127.0.0.1 (vpcd connects to a
                        card listening on 127.0.0.1:35963/35964, \`myna-hil serve --reversed\`) and start
                        pcscd with it from then on; off: back to the system's /etc/reader.conf.d.
                        Takes effect at the next start (restart if running).
  help, --help, -h      this text

install, start, stop, restart and quickack-route need root; the script re-runs itself under sudo if needed.

Security: in vpcd's normal mode (Debian's default) pcscd listens on 0.0.0.0:35963 and 0.0.0.0:35964,
so ANY host that can reach this machine on those ports can insert a card into its readers. Firewall
those ports, or use reversed mode, in which vpcd only connects out to 127.0.0.1.

Reversed mode caveat (Debian 12, vpcd 0.8): its reversed mode has a bug fixed upstream in vpcd 0.9
(vsmartcard commit 76543ea): whenever a slot has no card connected (a card not yet listening when
pcscd starts, or any removal) pcscd aborts with "bit out of range 0 - FD_SETSIZE on fd_set". With
Debian's vpcd, start cards on BOTH slots before pcscd and never remove them; prefer normal mode.

Environment:
  MYNA_HIL_PCSC_DIR            state dir (default /tmp/myna-hil-pcsc): pcscd.log, pid file, markers
  MYNA_HIL_PCSC_READY_TIMEOUT  seconds to wait for readiness (default 15)
  MYNA_HIL_PCSC_STOP_TIMEOUT   seconds to wait for pcscd to exit after SIGTERM (default 10)
EOF
}

log() { printf 'pcsc-stack: %s\n' "$*"; }
die() {
  printf 'pcsc-stack: error: %s\n' "$*" >&2
  exit 1
}

# Commands that touch pcscd, packages or routes need root: re-run this script under sudo if needed.
need_root() {
  [ "$(id -u)" = 0 ] && return 0
  command -v sudo >/dev/null 2>&1 || die "'$1' needs root (or sudo)"
  exec sudo --preserve-env=MYNA_HIL_PCSC_DIR,MYNA_HIL_PCSC_READY_TIMEOUT,MYNA_HIL_PCSC_STOP_TIMEOUT bash "$0" "$@"
}

now_ms() { date +%s%3N; }

# wait_until <timeout-seconds> <command...>: polls the command every 50 ms until it succeeds or the
# deadline passes (returns 1). This waits on state; it is not a fixed sleep.
wait_until() {
  local timeout_s="$1"
  shift
  local deadline=$(($(now_ms) + timeout_s * 1000))
  until "$@"; do
    if [ "$(now_ms)" -ge "$deadline" ]; then return 1; fi
    sleep 0.05
  done
}

# ---- processes --------------------------------------------------------------------------------

starttime_of() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

is_pcscd_pid() {
  local pid="$1"
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pcscd ] &&
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

# Gone, or a zombie (dead, not yet reaped by its parent).
pid_gone() { ! [ -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# The pcscd we started, if it still runs (pid and start time both match): prints its pid.
our_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid start
  read -r pid start <"$PIDFILE" || return 1
  is_pcscd_pid "$pid" && [ "$(starttime_of "$pid")" = "$start" ] && printf '%s\n' "$pid"
}

# Any running pcscd: prints its pid.
any_pid() {
  local pid=""
  if [ -r "$SYS_PIDFILE" ]; then pid="$(tr -dc '0-9' <"$SYS_PIDFILE" || true)"; fi
  if is_pcscd_pid "$pid"; then
    printf '%s\n' "$pid"
    return 0
  fi
  pid="$(pgrep -x pcscd | head -n1 || true)"
  is_pcscd_pid "$pid" && printf '%s\n' "$pid"
}

# ---- readiness ----------------------------------------------------------------------------------

comm_is_socket() { [ -S "$COMM" ]; }

# vpcd's listeners, checked with ss (never by connecting: a connection to 35963 is a card insertion).
ports_listening() {
  local out p
  out="$(ss -Hltn 2>/dev/null)" || return 1
  for p in "${VPCD_PORTS[@]}"; do
    grep -Eq "[:.]${p}[[:space:]]" <<<"$out" || return 1
  done
}

reversed_on() { [ -f "$RCONF_DIR/vpcd" ]; }

daemon_ready_logged() { [ -f "$LOG" ] && grep -q 'daemon ready' "$LOG"; }

ready() {
  comm_is_socket || return 1
  if reversed_on; then daemon_ready_logged; else ports_listening; fi
}

ready_or_dead() { ready || pid_gone "$1"; }

print_log() {
  if [ -f "$LOG" ]; then
    printf -- '---- %s (last 60 lines) ----\n' "$LOG" >&2
    tail -n 60 "$LOG" >&2
    printf -- '---- end of log ----\n' >&2
  fi
}

# ---- commands ----------------------------------------------------------------------------------

cmd_install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "all packages already installed: ${PACKAGES[*]}"
  else
    log "installing: ${missing[*]}"
    env DEBIAN_FRONTEND=noninteractive apt-get update
    env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  local tool
  for tool in make g++ python3; do
    command -v "$tool" >/dev/null 2>&1 ||
      log "warning: '$tool' not found: npm cannot build the native PC/SC binding 'pcsclite' without it (apt-get install build-essential python3)"
  done
}

cmd_start() {
  mkdir -p "$STATE_DIR"
  local pid
  if pid="$(our_pid)"; then
    log "pcscd already running (started by this script, pid $pid)"
  elif pid="$(any_pid)"; then
    printf '%s\n' "$pid" >"$EXTERNAL"
    rm -f "$PIDFILE"
    log "a pcscd not started by this script is already running (pid $pid); using it, and \`stop\` will leave it alone"
    if reversed_on; then log "warning: reversed mode is on here, but that pcscd was not started with it"; fi
  else
    [ -x "$PCSCD" ] || die "$PCSCD not found; run: bash scripts/pcsc-stack.sh install"
    rm -f "$EXTERNAL" "$PIDFILE"
    if [ -f "$LOG" ]; then mv -f "$LOG" "$LOG.1"; fi
    local args=(--foreground --info)
    if reversed_on; then
      args+=(-c "$RCONF_DIR")
      log "reversed mode: vpcd will connect to cards on 127.0.0.1:${VPCD_PORTS[0]} and :${VPCD_PORTS[1]} (see --help for vpcd 0.8's caveat)"
    fi
    # setsid: pcscd gets its own session, so a Ctrl-C in this terminal does not reach it. No
    # --auto-exit: it would quit after 60 s without PC/SC clients, even with a card connected.
    setsid "$PCSCD" "${args[@]}" >"$LOG" 2>&1 </dev/null &
    pid=$!
    if ! wait_until "$READY_TIMEOUT" ready_or_dead "$pid"; then
      print_log
      # Do not leave a half-started pcscd behind.
      kill -TERM "$pid" 2>/dev/null || true
      wait_until "$STOP_TIMEOUT" pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
      die "pcscd (pid $pid) not ready within ${READY_TIMEOUT} s; stopped it"
    fi
    # pcscd writes its own pid file: trust it over $! (setsid forks when it must).
    local real=""
    if [ -r "$SYS_PIDFILE" ]; then real="$(tr -dc '0-9' <"$SYS_PIDFILE" || true)"; fi
    if is_pcscd_pid "$real"; then pid="$real"; fi
    if ! is_pcscd_pid "$pid"; then
      print_log
      die "pcscd exited during start-up"
    fi
    printf '%s %s\n' "$pid" "$(starttime_of "$pid")" >"$PIDFILE"
    log "started pcscd (pid $pid), log: $LOG"
  fi
  if ! wait_until "$READY_TIMEOUT" ready; then
    print_log
    die "pcscd (pid $pid) not ready within ${READY_TIMEOUT} s: $COMM a socket: $(comm_is_socket && echo yes || echo no); vpcd ports ${VPCD_PORTS[*]} listening: $(ports_listening && echo yes || echo no)"
  fi
  if reversed_on; then
    log "ready: $COMM is a socket, pcscd logged 'daemon ready' (reversed mode)"
  else
    log "ready: $COMM is a socket, vpcd listens on ${VPCD_PORTS[*]} (readers 'Virtual PCD 00 00', 'Virtual PCD 00 01')"
  fi
}

route_has_quickack() { ip route show table local 127.0.0.1 2>/dev/null | grep -q 'quickack 1'; }

route_quickack() {
  case "$1" in
  on) ip route change "${ROUTE[@]}" quickack 1 ;;
  off) ip route change "${ROUTE[@]}" ;;
  esac
}

cmd_stop() {
  local pid rc=0
  if pid="$(our_pid)"; then
    log "stopping pcscd (pid $pid, SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until "$STOP_TIMEOUT" pid_gone "$pid"; then
      log "pcscd (pid $pid) still running after ${STOP_TIMEOUT} s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      if ! wait_until 5 pid_gone "$pid"; then
        log "error: pcscd (pid $pid) did not go away"
        rc=1
      elif [ -r "$SYS_PIDFILE" ] && [ "$(tr -dc '0-9' <"$SYS_PIDFILE")" = "$pid" ]; then
        # Killed, it could not clean up; while its pid lingers (a zombie) a new pcscd would refuse to
        # start because of this file ("Another pcscd seems to be running").
        rm -f "$SYS_PIDFILE" "$COMM"
      fi
    fi
    if [ "$rc" = 0 ]; then log "pcscd stopped"; fi
  elif [ -f "$EXTERNAL" ]; then
    log "pcscd (pid $(cat "$EXTERNAL")) was not started by this script; leaving it running"
  else
    log "no pcscd started by this script is running"
  fi
  if [ "$rc" = 0 ]; then rm -f "$PIDFILE" "$EXTERNAL"; fi
  if [ -f "$ROUTE_MARK" ]; then
    if route_has_quickack; then route_quickack off && log "loopback route attribute quickack removed (we had set it)"; fi
    rm -f "$ROUTE_MARK"
  fi
  return "$rc"
}

cmd_restart() {
  if ! our_pid >/dev/null && any_pid >/dev/null; then
    die "the running pcscd (pid $(any_pid)) was not started by this script; not restarting it"
  fi
  # A restart keeps the route attribute: set the marker aside so stop does not undo it.
  local keep_route=""
  if [ -f "$ROUTE_MARK" ]; then
    keep_route=1
    mv -f "$ROUTE_MARK" "$ROUTE_MARK.keep"
  fi
  local rc=0
  cmd_stop || rc=$?
  if [ -n "$keep_route" ]; then mv -f "$ROUTE_MARK.keep" "$ROUTE_MARK"; fi
  [ "$rc" = 0 ] || return "$rc"
  cmd_start
}

cmd_status() {
  local pid=""
  if pid="$(our_pid)"; then
    log "pcscd: running, started by this script (pid $pid), log $LOG"
  elif pid="$(any_pid)"; then
    log "pcscd: running, NOT started by this script (pid $pid)"
  else
    log "pcscd: not running"
  fi
  if comm_is_socket; then
    log "client socket $COMM: present$([ -n "$pid" ] || echo ' (stale: left by a pcscd that is gone)')"
  else
    log "client socket $COMM: absent"
  fi
  local out p
  out="$(ss -Hltn 2>/dev/null || true)"
  for p in "${VPCD_PORTS[@]}"; do
    if grep -Eq "[:.]${p}[[:space:]]" <<<"$out"; then
      log "vpcd port $p: listening on $(grep -E "[:.]${p}[[:space:]]" <<<"$out" | awk '{print $4}' | head -n1)"
    else
      log "vpcd port $p: not listening"
    fi
  done
  if route_has_quickack; then
    log "loopback route quickack: on$([ -f "$ROUTE_MARK" ] && echo ' (set by this script)' || echo ' (not set by this script)')"
  else
    log "loopback route quickack: off"
  fi
  log "reversed mode: $(reversed_on && echo "on ($RCONF_DIR)" || echo off)"
  log "state dir: $STATE_DIR"
}

cmd_quickack_route() {
  case "${1:-}" in
  on)
    if route_has_quickack; then
      log "loopback route already has quickack 1$([ -f "$ROUTE_MARK" ] && echo ' (set by this script)' || echo ' (not set by this script; stop will not undo it)')"
    else
      mkdir -p "$STATE_DIR"
      route_quickack on
      touch "$ROUTE_MARK"
      log "loopback route attribute quickack 1 set (all TCP on 127.0.0.1, machine-wide); stop undoes it"
    fi
    ;;
  off)
    if route_has_quickack; then route_quickack off && log "loopback route attribute quickack removed"; else log "loopback route has no quickack attribute"; fi
    rm -f "$ROUTE_MARK"
    ;;
  *) die "usage: quickack-route on|off" ;;
  esac
}

cmd_reversed_mode() {
  case "${1:-}" in
  on)
    local libpath=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
    if [ -r /etc/reader.conf.d/vpcd ]; then
      libpath="$(awk '$1 == "LIBPATH" {print $2}' /etc/reader.conf.d/vpcd | head -n1)"
    fi
    mkdir -p "$RCONF_DIR"
    cat >"$RCONF_DIR/vpcd" <<EOF
# Written by myna-hil scripts/pcsc-stack.sh reversed-mode on.
# vpcd's reversed mode: a host name instead of /dev/null makes vpcd CONNECT to the card at
# 127.0.0.1:35963 + slot; nothing listens on 0.0.0.0. Serve cards with: myna-hil serve --reversed
FRIENDLYNAME "Virtual PCD"
DEVICENAME   127.0.0.1:0x8C7B
LIBPATH      $libpath
CHANNELID    0x8C7B
EOF
    log "reversed mode on: $RCONF_DIR/vpcd (pcscd will be started with -c $RCONF_DIR)"
    log "warning: Debian 12's vpcd 0.8 aborts pcscd when a slot has no card connected (see --help); start cards on both slots before pcscd"
    if our_pid >/dev/null || any_pid >/dev/null; then log "pcscd is running: restart it for this to take effect"; fi
    ;;
  off)
    rm -rf "$RCONF_DIR"
    log "reversed mode off: pcscd uses /etc/reader.conf.d (vpcd listens on 0.0.0.0:35963/35964)"
    if our_pid >/dev/null || any_pid >/dev/null; then log "pcscd is running: restart it for this to take effect"; fi
    ;;
  *) die "usage: reversed-mode on|off" ;;
  esac
}

main() {
  local cmd="${1:-help}"
  shift || true
  case "$cmd" in
  install | start | stop | restart | quickack-route) need_root "$cmd" "$@" ;;
  esac
  case "$cmd" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_restart ;;
  status) cmd_status ;;
  quickack-route) cmd_quickack_route "$@" ;;
  reversed-mode) cmd_reversed_mode "$@" ;;
  help | --help | -h) usage ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
