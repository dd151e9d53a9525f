#!/usr/bin/env bash
# Start a single-node SLURM cluster on 127.0.0.1 for the workflow's SLURM test.
#
# Why a real cluster: the test must prove that jobs go through sbatch/squeue of
# a real slurmctld, not a mock. Debian 12, run as root, no systemd: the daemons
# are started here in the background and remembered by PID, so that
# .ci/slurm-down.sh stops exactly them (and nothing else).
#
# Idempotent: if the daemons recorded in the PID file are alive and the node
# answers, it does nothing. State, spool, logs and PIDs live under
# $RECONLOSS_SLURM_DIR (default: ${TMPDIR:-/tmp}/reconloss-slurm).
# The config must be /etc/slurm/slurm.conf: the executor's job step drops
# SLURM_CONF from the job environment, so the inner srun reads the default path.
# An existing slurm.conf that this script did not write is never overwritten.
set -euo pipefail

STATE=${RECONLOSS_SLURM_DIR:-${TMPDIR:-/tmp}/reconloss-slurm}
PIDS=$STATE/pids
CONF=/etc/slurm/slurm.conf
MARKER="# written by reconloss .ci/slurm-up.sh"
PARTITION=${RECONLOSS_SLURM_PARTITION:-debug}
WAIT_S=${RECONLOSS_SLURM_WAIT_S:-60}
# Opt-in: advertise N GPUs (GRES backed by /dev/null) so that jobs requesting
# --gpus can be scheduled on a machine without GPUs; they see
# CUDA_VISIBLE_DEVICES but no device, and the code falls back to the CPU.
FAKE_GPUS=${RECONLOSS_SLURM_FAKE_GPUS:-0}
GRES_CONF=/etc/slurm/gres.conf

log() { echo "slurm-up: $*" >&2; }

alive() {  # alive PID: the process exists and is not a zombie (no procps needed)
    [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

node_idle() {
    local st
    st=$(sinfo -h -p "$PARTITION" -n localhost -o %T 2>/dev/null) || return 1
    [[ $st == idle* || $st == mixed* || $st == allocated* ]]
}

if [[ -f $PIDS ]]; then
    all_alive=1
    while read -r _name pid; do alive "$pid" || all_alive=0; done <"$PIDS"
    if ((all_alive)) && node_idle; then
        log "already running (PIDs in $PIDS)"
        exit 0
    fi
    log "stale or partial cluster in $STATE: stopping it first"
    bash "$(dirname "$0")/slurm-down.sh"
fi

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (starts munged, slurmctld and slurmd, writes $CONF)"
    exit 1
fi

# --- packages -------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    log "installing munge slurm-wlm slurm-client"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurm-wlm slurm-client >/dev/null
fi

mkdir -p "$STATE"/{ctld,spool,log,run}
: >"$PIDS"

# --- munge ------------------------------------------------------------------
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already answers: using it"
else
    if [[ ! -s /etc/munge/munge.key ]]; then
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 0755 /run/munge
    setsid setpriv --reuid=munge --regid=munge --init-groups \
        /usr/sbin/munged -F --force >"$STATE/log/munged.out" 2>&1 &
    echo "munged $!" >>"$PIDS"
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null || { log "munged does not answer"; cat "$STATE/log/munged.out" >&2; exit 1; }
fi

# --- slurm.conf -------------------------------------------------------------
if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
    log "$CONF exists and was not written by this script: not touching it"
    exit 1
fi
if [[ -e $GRES_CONF ]] && ! grep -qF "$MARKER" "$GRES_CONF"; then
    log "$GRES_CONF exists and was not written by this script: not touching it"
    exit 1
fi
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
mkdir -p /etc/slurm
node_gres=""
rm -f "$GRES_CONF"
if ((FAKE_GPUS > 0)); then
    node_gres="Gres=gpu:$FAKE_GPUS"
    {
        echo "$MARKER"
        for ((g = 0; g < FAKE_GPUS; g++)); do echo "NodeName=localhost Name=gpu File=/dev/null"; done
    } >"$GRES_CONF"
fi
cat >"$CONF" <<EOF
$MARKER
# Single-node test cluster; state under $STATE. Removed by .ci/slurm-down.sh.
ClusterName=reconloss
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# Keep finished jobs visible to squeue/scontrol for 10 minutes: without
# accounting, Snakemake's status command is squeue and must still see them.
MinJobAge=600
KillWait=5
InactiveLimit=0
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# SLURM's own record of every finished job (id, name, state, exit code).
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.log
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
DefMemPerCPU=1000
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb $node_gres State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

# --- daemons ----------------------------------------------------------------
setsid slurmctld -D -i >"$STATE/log/slurmctld.out" 2>&1 &
echo "slurmctld $!" >>"$PIDS"
setsid slurmd -D -N localhost >"$STATE/log/slurmd.out" 2>&1 &
echo "slurmd $!" >>"$PIDS"

for ((i = 0; i < WAIT_S * 5; i++)); do
    node_idle && break
    sleep 0.2
done
if ! node_idle; then
    log "node did not become idle within ${WAIT_S}s"
    sinfo -N -l >&2 || true
    for f in "$STATE"/log/*; do echo "== $f" >&2; tail -n 20 "$f" >&2; done
    exit 1
fi
log "up: partition $PARTITION, $cpus CPUs, ${mem_mb} MB, $FAKE_GPUS fake GPUs; PIDs in $PIDS; logs in $STATE/log"
sinfo >&2
