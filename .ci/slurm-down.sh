#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by .ci/slurm-up.sh.
#
# Stops exactly the daemons whose PIDs slurm-up.sh recorded (never by name),
# after cancelling the jobs still queued on that cluster, and removes the
# slurm.conf that slurm-up.sh wrote. Idempotent: with no PID file it does
# nothing. Logs stay in $STATE/log for inspection.
set -uo pipefail

STATE=${RECONLOSS_SLURM_DIR:-${TMPDIR:-/tmp}/reconloss-slurm}
PIDS=$STATE/pids
CONF=/etc/slurm/slurm.conf
MARKER="# written by reconloss .ci/slurm-up.sh"

log() { echo "slurm-down: $*" >&2; }

if [[ ! -f $PIDS ]]; then
    log "nothing to stop (no $PIDS)"
    exit 0
fi

alive() {  # alive PID: the process exists and is not a zombie (no procps needed)
    [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Cancel what is still queued or running on our cluster, so that no job step
# outlives the daemons (only when the config is ours).
if [[ -f $CONF ]] && grep -qF "$MARKER" "$CONF"; then
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
        log "cancelling jobs: $jobs"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -z $(timeout 5 squeue -h -t R,CG,PD -o %i 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
fi

# Stop in reverse start order: slurmd, slurmctld, munged.
mapfile -t entries < <(tac "$PIDS")
for entry in "${entries[@]}"; do
    read -r name pid <<<"$entry"
    [[ -n ${pid:-} ]] || continue
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.2; done
        if alive "$pid"; then
            log "$name ($pid) ignored TERM: killing"
            kill -KILL "$pid" 2>/dev/null
        fi
        log "stopped $name ($pid)"
    fi
done
rm -f "$PIDS"

for f in "$CONF" /etc/slurm/gres.conf; do
    if [[ -f $f ]] && grep -qF "$MARKER" "$f"; then rm -f "$f"; fi
done
log "down (logs kept in $STATE/log)"
