#!/usr/bin/env bash
# A throwaway single-node SLURM cluster on localhost, for tests/workflow/test_slurm.py and by
# hand (issue 15). Everything it starts lives in one folder: the config, the munge key and
# socket, the controller's state, the node's spool, the job completion record and the logs.
#
#   slurm_cluster.sh install     install slurmctld, slurmd, the client commands and munge
#                                (Debian packages, apt-get) unless they are there already
#   slurm_cluster.sh start DIR   write DIR/slurm.conf and a fresh munge key, start munged,
#                                slurmctld and slurmd, wait until the node takes jobs; then
#                                print the environment the cluster's users need:
#                                  export SLURM_CONF=DIR/slurm.conf
#                                  export PATH=DIR/bin:$PATH
#   slurm_cluster.sh stop DIR    stop the three daemons and delete DIR
#
# Exit status 3 means "cannot be done here" (not root, no apt-get, the packages cannot be
# installed); the reason is the last line on stderr. The daemons run as root (slurmd must,
# to start jobs as their users); nothing is written outside DIR except by `install`.
# DIR/bin/srun: inside a job, the slurm-jobstep executor starts the rule with srun after
# dropping the SLURM_* variables, SLURM_CONF among them; a real cluster's srun finds its
# config in /etc/slurm or through slurmd (configless), this one is told again by the wrapper.
# Accounting: there is no slurmdbd (it needs a database server); finished jobs are recorded
# by jobcomp/filetxt in DIR/jobcomp.txt, which `sacct --completion` reads.
set -euo pipefail

PACKAGES=(slurmctld slurmd slurm-client munge)
COMMANDS=(slurmctld slurmd sbatch squeue sacct scontrol munged)

cannot() {
    echo "slurm_cluster.sh: $*" >&2
    exit 3
}

missing_commands() {
    local c
    for c in "${COMMANDS[@]}"; do
        command -v "$c" >/dev/null || PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null ||
            echo "$c"
    done
}

install() {
    local missing
    missing=$(missing_commands)
    [[ -z $missing ]] && return 0
    [[ $(id -u) -eq 0 ]] || cannot "SLURM is not installed (missing: $(echo $missing)) and" \
        "installing it needs root (apt-get install ${PACKAGES[*]})"
    command -v apt-get >/dev/null || cannot "SLURM is not installed (missing:" \
        "$(echo $missing)) and there is no apt-get to install ${PACKAGES[*]}"
    local log policy=/usr/sbin/policy-rc.d added=""
    log=$(mktemp)
    # The packages' maintainer scripts would start munge and slurmd as system services
    # with the system's config: a policy-rc.d that says no keeps them stopped.
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added=1
    fi
    local ok=""
    for attempt in install update-then-install; do
        if [[ $attempt == update-then-install ]]; then
            apt-get update -q >>"$log" 2>&1 || true
        fi
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${PACKAGES[@]}" >>"$log" 2>&1; then
            ok=1
            break
        fi
    done
    [[ -n $added ]] && rm -f "$policy"
    if [[ -z $ok ]]; then
        tail -n 5 "$log" >&2
        rm -f "$log"
        cannot "apt-get could not install ${PACKAGES[*]} (output above)"
    fi
    rm -f "$log"
    missing=$(missing_commands)
    [[ -z $missing ]] || cannot "installed ${PACKAGES[*]} but still missing: $(echo $missing)"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1
    [[ $(id -u) -eq 0 ]] || cannot "starting slurmd needs root (it starts jobs as their users)"
    [[ -z $(missing_commands) ]] || cannot "SLURM is not installed (run: $0 install)"
    export PATH="$PATH:/usr/sbin:/sbin"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ ! -e $dir/slurm.conf ]] || cannot "$dir already holds a cluster (stop it first)"
    mkdir -p "$dir"/{state,spool,log,bin}
    printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$dir/slurm.conf" "$(command -v srun)" \
        >"$dir/bin/srun"
    chmod 755 "$dir/bin/srun"
    chmod 700 "$dir"

    # munge: a fresh key and a private socket (the system's munge, if any, is left alone)
    head -c 1024 /dev/urandom >"$dir/munge.key"
    chmod 400 "$dir/munge.key"
    munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" \
        --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munged.seed"

    local host node cpus mem ctld_port node_port
    host=$(hostname -s)
    # the node as slurmd itself sees it (CPUs, sockets, cores, memory)
    node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    ctld_port=$(free_port)
    node_port=$(free_port)
    cat >"$dir/slurm.conf" <<EOF
# written by tests/workflow/slurm_cluster.sh: a single-node cluster on localhost
ClusterName=smdownscale-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$node_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups (containers rarely allow them): processes tracked by group, no binding
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
# finished jobs stay visible to squeue for an hour (the executor's status queries)
MinJobAge=3600
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
$node State=UNKNOWN NodeAddr=127.0.0.1
# two jobs may share a core: on a 2-CPU machine, rules that ask for 2 threads would otherwise
# run one at a time, where a real cluster runs a batch of them side by side (most of a
# small job is the start of its two Snakemake processes, on one core); memory stays a
# consumable resource, so each job still gets the memory it asks for
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:2
EOF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    local i state=""
    for i in $(seq 1 60); do
        state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
        [[ $state == idle ]] && break
        sleep 0.5
    done
    if [[ $state != idle ]]; then
        tail -n 20 "$dir"/log/*.log >&2 || true
        echo "slurm_cluster.sh: the node did not come up (state '$state'; logs above)" >&2
        stop "$dir"
        exit 1
    fi
    echo "# $cpus CPUs, $mem MB; ports $ctld_port (slurmctld) and $node_port (slurmd)" >&2
    echo "export SLURM_CONF=$SLURM_CONF"
    echo "export PATH=$dir/bin:\$PATH"
}

stop_daemon() {
    local pidfile=$1 pid i
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
}

stop() {
    local dir=$1
    [[ -d $dir ]] || return 0
    dir=$(cd "$dir" && pwd)
    export PATH="$PATH:/usr/sbin:/sbin"
    # jobs still queued or running (a run that failed or timed out) are cancelled first:
    # without cgroups a job's processes would outlive slurmd
    if [[ -s $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
        local i
        SLURM_CONF=$dir/slurm.conf scancel --partition=test 2>/dev/null || true
        for i in $(seq 1 40); do
            [[ -z $(SLURM_CONF=$dir/slurm.conf squeue -h -t PD,R,CG 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    # then the node, the controller and munge
    stop_daemon "$dir/slurmd.pid"
    stop_daemon "$dir/slurmctld.pid"
    stop_daemon "$dir/munged.pid"
    rm -rf "$dir"
}

case "${1:-}" in
install) install ;;
start) start "${2:?usage: $0 start DIR}" ;;
stop) stop "${2:?usage: $0 stop DIR}" ;;
*)
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
