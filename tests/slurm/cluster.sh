# shellcheck shell=bash
# A private single-node Slurm on localhost for tests. Source this file, then:
#
#   slurm_start DIR            start munged + slurmctld + slurmd with everything under DIR, export
#                              SLURM_CONF, wait (30 s at most) until the node is idle; slurm_stop
#                              runs on EXIT, before the EXIT trap you had set (set yours before
#                              slurm_start, or call slurm_stop from it). Non-zero + logs on failure.
#   slurm_stop                 cancel every job, stop exactly the daemons slurm_start started
#   slurm_wait_job ID [SECS]   wait (default 120 s) until job ID (every element of an array) has
#                              left the queue; print "ID STATE EXITCODE" per job record (array
#                              elements as ID_TASK); status 1 on timeout, printing the job's state
#   slurm_job_state ID         JobState of one job (12345 or 12345_3): COMPLETED, FAILED...
#   slurm_job_field ID KEY     one field of `scontrol show job` (ExitCode, Reason, Restarts...)
#   slurm_array_states ID      "TASKID STATE" per element of array job ID (pending ones collapsed
#                              by Slurm, e.g. "2-3 PENDING")
#   slurm_logs [LINES]         tail of the three daemon logs (for FAIL messages)
#
# Only Debian's packages are used (scripts/setup.sh installs them): nothing in /etc is read or
# written; the munge key, socket, state, spool, TmpFS, logs and pid files live under DIR; the
# ports are free ones picked at start and the first job id is random, so two clusters at once,
# or a cluster on the DIR of a killed run (its jobs are cancelled, its daemons stopped by their
# pid files), do not collide. slurm_start unsets SLURM_*/SBATCH_*/SRUN_*... variables of the
# calling shell. Needs root and a mounted /sys/fs/cgroup (slurmd 22.05 wants it even without
# cgroup plugins). Starts in ~1 s.
#
# Several hosts: PKD_SLURM_HOSTS=N (1..9) starts N nodes pkdn1..pkdnN instead of the localhost
# node, each in its own network namespace (tests/cluster/hosts.sh: own address in 198.18.0.0/15,
# own hostname, a shared hosts file) with its own slurmd; slurmctld and munged stay in this
# namespace, slurmctld reachable at $PKD_HOSTS_GATEWAY. PKD_SLURMD_TIMEOUT (default 300, Slurm's)
# is how long a silent node stays up before slurmctld marks it DOWN and requeues its jobs.
#
# Each node advertises PKD_SLURM_CPUS CPUs (default 4) whatever the machine has
# (SlurmdParameters=config_overrides): tests run two 2-rank jobs at once on a 2-core machine.
# Slurm hands out CPUs (CR_CPU) but binds nothing (task/none), so an over-advertised node only
# oversubscribes the cores. Memory is not a consumable resource (no --mem checks). MaxTime is
# 60 minutes; KillWait is Slurm's default 30 s.
#
# Facts for job scripts (tests/slurm/smoke.sh proves them):
# - sbatch exports the submitting environment (--export=ALL is the default), so SLURM_CONF,
#   PATH and OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (mpirun refuses root
#   without them or --allow-run-as-root) reach the job when set at submission; --export=NONE
#   drops them all. Plain `srun prog` of an Open MPI program needs none of them (PMIx).
# - the batch script runs in the submission directory (or --chdir); output goes to
#   slurm-%j.out there unless --output; --open-mode=append keeps the output of a requeued run.
# - SIGUSR1: `scancel -s USR1 --batch` and --signal=B:USR1@N reach the batch shell only;
#   `scancel -s USR1` reaches srun steps only (not the shell, not mpirun's ranks); --full reaches
#   all. A shell that traps USR1 and runs `kill -USR1 $launcher_pid` reaches every rank through
#   srun or mpirun, but only if the launcher runs in the background and the shell `wait`s:
#   bash runs a trap only after a foreground child exits. An untrapped USR1 kills the shell.
#   --signal=...@N is checked every 30 s by slurmctld: it comes up to ~30 s late.
# - `scontrol requeue $SLURM_JOB_ID` sends SIGTERM to the running batch step at once (a script
#   that traps it runs on, SIGKILL after KillWait); the rerun starts ~6 s (cred_expire=5 + 1 s)
#   after the first run has ended, with SLURM_RESTART_COUNT=1 (unset on the first run).

source "$(dirname "${BASH_SOURCE[0]}")/../cluster/hosts.sh"

_slurm_dir=
_slurm_nodes=()    # node names
_slurm_pids=()     # pids of the daemons we started, in start order (munged, slurmctld, slurmd)
_slurm_names=()

# Alive and not a zombie (PID 1 may reap our dead children late).
_slurm_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# TERM, wait up to $2 seconds, then KILL.
_slurm_kill_pid() {
  local pid=$1 secs=${2:-10} i
  _slurm_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    _slurm_alive "$pid" || return 0
    sleep 0.1
  done
  echo "slurm: pid $pid ignored SIGTERM for ${secs} s, killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    _slurm_alive "$pid" || return 0
    sleep 0.1
  done
  echo "slurm: pid $pid survived SIGKILL" >&2
  return 1
}

# Daemons a previous run on the same DIR left behind (killed before its cleanup ran): only pids
# from DIR's pid files whose command line names DIR. Their jobs are cancelled first if that
# cluster still answers.
_slurm_stale_pid() {
  local f=$1/run/$2.pid pid
  [[ -f $f ]] || return 1
  pid=$(tr -dc 0-9 < "$f")
  [[ -n $pid ]] && _slurm_alive "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qF -- "$1/" || return 1
  echo "$pid"
}

_slurm_kill_stale() {
  local dir=$1 name pid ids i conf=$1/etc/slurm.conf
  if _slurm_stale_pid "$dir" slurmctld > /dev/null && [[ -f $conf ]]; then
    ids=$(SLURM_CONF=$conf timeout 10 squeue -h -o %F 2> /dev/null | sort -u)
    if [[ -n $ids ]]; then
      echo "slurm: cancelling jobs ${ids//$'\n'/ } of a previous run on $dir" >&2
      # shellcheck disable=SC2086
      SLURM_CONF=$conf timeout 10 scancel $ids 2> /dev/null || true
      for ((i = 0; i < 300; i++)); do
        [[ -z $(SLURM_CONF=$conf timeout 10 squeue -h -o %i 2> /dev/null) ]] && break
        sleep 0.1
      done
    fi
  fi
  local names=(slurmctld munged)
  for f in "$dir"/run/slurmd*.pid; do
    [[ -f $f ]] && names=("$(basename "$f" .pid)" "${names[@]}")
  done
  for name in "${names[@]}"; do
    pid=$(_slurm_stale_pid "$dir" "$name") || continue
    echo "slurm: stopping stale $name (pid $pid) of a previous run on $dir" >&2
    _slurm_kill_pid "$pid" 10
  done
}

# N distinct TCP ports that nothing on this machine uses, from a random start in 20000-39999.
_slurm_free_ports() {
  local n=$1 used p got=0
  # Local ports in use: the hex port after the colon of /proc/net/tcp*'s second column (bash
  # arithmetic, not awk: Debian's default mawk has no strtonum).
  used=$(for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] && tail -n +2 "$f"
  done | while read -r _ address _; do echo $((16#${address##*:})); done | sort -un)
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 20000))
  while ((got < n)); do
    if ! grep -qx "$p" <<< "$used"; then
      echo "$p"
      got=$((got + 1))
    fi
    p=$((p + 1))
  done
}

slurm_logs() {
  local lines=${1:-30} f
  [[ -n $_slurm_dir ]] || return 0
  for f in "$_slurm_dir/munge/munged.out" "$_slurm_dir/log/slurmctld.log" "$_slurm_dir"/log/slurmd*.log; do
    echo "----- tail -n $lines $f"
    tail -n "$lines" "$f" 2>/dev/null || echo "(missing)"
  done
}

_slurm_fail() {
  echo "slurm_start: $*" >&2
  slurm_logs 40 >&2
  slurm_stop
  return 1
}

slurm_start() {
  local dir=${1:?usage: slurm_start DIR}
  local cpus=${PKD_SLURM_CPUS:-4}
  local host mem ports ctld_port slurmd_port first_job i hosts=${PKD_SLURM_HOSTS:-0}

  if [[ $(id -u) -ne 0 ]]; then
    echo "slurm_start: needs root (slurmd runs jobs as their user)" >&2
    return 1
  fi
  local cmd
  for cmd in munged mungekey slurmctld slurmd sinfo sbatch squeue scontrol scancel srun; do
    command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    command -v "$cmd" >/dev/null 2>&1 || {
      echo "slurm_start: '$cmd' not found: run scripts/setup.sh" >&2
      return 1
    }
  done
  if [[ -n $_slurm_dir ]]; then
    echo "slurm_start: a cluster is already running under $_slurm_dir" >&2
    return 1
  fi

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  _slurm_kill_stale "$dir"
  rm -rf "${dir:?}/etc" "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/tmp"
  mkdir -p "$dir/etc" "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/tmp"
  chmod 1777 "$dir/tmp"
  # munged refuses a key readable by others and a socket directory writable by others.
  chmod 0755 "$dir" "$dir/munge"
  _slurm_dir=$dir
  _slurm_pids=()
  _slurm_names=()
  _slurm_nodes=()

  # Our clients must read our config only, not variables of an enclosing Slurm job or user.
  local v
  for v in $(compgen -e); do
    case $v in SLURM_* | SBATCH_* | SRUN_* | SALLOC_* | SQUEUE_* | SINFO_* | SCONTROL_*)
      unset "$v" ;;
    esac
  done

  host=$(hostname -s)
  local ctld_addr=127.0.0.1 node_lines=() n
  if ((hosts > 0)); then
    # TmpFS is node-local: the PMIx plugin makes the same directory names on every node.
    hosts_start "$dir/hosts" "$hosts" "$dir/tmp" || { _slurm_fail "cannot create $hosts hosts"; return 1; }
    ctld_addr=$PKD_HOSTS_GATEWAY
    for ((n = 1; n <= hosts; n++)); do _slurm_nodes+=("pkdn$n"); done
  else
    _slurm_nodes=("$host")
  fi
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  mem=$(( ${mem:-2048} * 3 / 4 ))
  mapfile -t ports < <(_slurm_free_ports 2)
  ctld_port=${ports[0]} slurmd_port=${ports[1]}
  first_job=$((1000 * (1 + RANDOM % 30000)))

  # Cleanup on exit, then whatever EXIT trap the caller had set (set yours before slurm_start,
  # or call slurm_stop from it). INT/TERM exit through it unless the caller traps them.
  local prev
  prev=$(trap -p EXIT)
  if [[ $prev != *_slurm_on_exit* ]]; then
    _slurm_prev_exit_trap=
    if [[ -n $prev ]]; then
      local -a parts
      eval "parts=($prev)"   # trap -- 'COMMAND' EXIT
      _slurm_prev_exit_trap=${parts[2]}
    fi
    trap _slurm_on_exit EXIT
  fi
  [[ -n $(trap -p INT) ]] || trap 'exit 130' INT
  [[ -n $(trap -p TERM) ]] || trap 'exit 143' TERM

  # ---- munge: own key and socket
  mungekey -c -k "$dir/munge/munge.key" >/dev/null 2>&1 || { _slurm_fail "mungekey failed"; return 1; }
  chmod 0600 "$dir/munge/munge.key"
  munged --foreground --force --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket" --pid-file="$dir/run/munged.pid" \
    --seed-file="$dir/munge/munged.seed" > "$dir/munge/munged.out" 2>&1 &
  _slurm_pids+=($!) _slurm_names+=(munged)
  for ((i = 0; i < 100; i++)); do
    [[ -S $dir/munge/munge.socket ]] && break
    _slurm_alive "${_slurm_pids[0]}" || break
    sleep 0.1
  done
  [[ -S $dir/munge/munge.socket ]] || {
    cat "$dir/munge/munged.out" >&2
    _slurm_fail "munged did not create its socket"
    return 1
  }

  # ---- slurm.conf
  : > "$dir/etc/plugstack.conf"
  cat > "$dir/etc/slurm.conf" << EOF
# Written by tests/slurm/cluster.sh: a private cluster (${#_slurm_nodes[@]} node(s)).
ClusterName=pkdtest
SlurmctldHost=$host($ctld_addr)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Our munged; a short credential lifetime: a requeued job may start again after it (+1 s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
# The PMIx plugin makes TmpFS/spmix_appdir_UID_JOBID.STEP, and Open MPI derives its session
# directory from the job id: a private TmpFS and a random first job id keep two clusters running
# at once (or a killed run's leftovers) apart. Job ids are not 1, 2, 3...
TmpFS=$dir/tmp
FirstJobId=$first_job
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
# CPUs are consumable one by one, so several small jobs share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Plain srun starts Open MPI programs (Debian's Open MPI has no Slurm PMI/PMI2 support).
MpiDefault=pmix
# afterok on a failed job cancels the dependent job instead of leaving it pending forever.
DependencyParameters=kill_invalid_depend
# A request the partition can never satisfy is refused at submission instead of pending forever.
EnforcePartLimits=ALL
# The main scheduler every 1 s (default 60): a requeued job becomes eligible cred_expire+1 s
# later, which is no state change, so backfill (run only on changes) leaves it pending ~1 min.
SchedulerParameters=bf_interval=1,sched_interval=1
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=${PKD_SLURMD_TIMEOUT:-300}
# Finished jobs stay visible to scontrol/squeue -t all for 10 minutes.
MinJobAge=600
# The node below is what this file says, not what the hardware has (CPU over-advertising).
SlurmdParameters=config_overrides
EOF
  local node addr nodes
  for node in "${_slurm_nodes[@]}"; do
    addr=127.0.0.1
    ((hosts > 0)) && addr=$(host_address "$node")
    echo "NodeName=$node NodeAddr=$addr NodeHostname=$node CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN" >> "$dir/etc/slurm.conf"
  done
  nodes=$(IFS=,; echo "${_slurm_nodes[*]}")
  echo "PartitionName=debug Nodes=$nodes Default=YES MaxTime=60 State=UP" >> "$dir/etc/slurm.conf"
  mkdir -p "${_slurm_nodes[@]/#/$dir/spool/}"
  export SLURM_CONF=$dir/etc/slurm.conf

  # ---- daemons, in the foreground of background jobs (so $! is the daemon)
  ( cd "$dir/log" && exec slurmctld -D -c -f "$SLURM_CONF" ) > "$dir/log/slurmctld.out" 2>&1 &
  _slurm_pids+=($!) _slurm_names+=(slurmctld)
  for ((i = 0; i < 100; i++)); do
    scontrol ping 2>/dev/null | grep -q 'is UP' && break
    _slurm_alive "${_slurm_pids[1]}" || break
    sleep 0.1
  done
  scontrol ping 2>/dev/null | grep -q 'is UP' || { _slurm_fail "slurmctld did not come up in 10 s"; return 1; }

  for node in "${_slurm_nodes[@]}"; do
    if ((hosts > 0)); then
      ( cd "$dir/log" && host_exec "$node" slurmd -D -f "$SLURM_CONF" -N "$node" ) > "$dir/log/slurmd-$node.out" 2>&1 &
    else
      ( cd "$dir/log" && exec slurmd -D -f "$SLURM_CONF" -N "$node" ) > "$dir/log/slurmd-$node.out" 2>&1 &
    fi
    _slurm_pids+=($!) _slurm_names+=("slurmd-$node")
    disown $!  # a test may kill it: no "Killed" report from this shell
  done

  local states=
  for ((i = 0; i < 300; i++)); do
    states=$(sinfo -h -N -o %T 2>/dev/null | sort -u | tr '\n' ' ')
    [[ $states == "idle " ]] && break
    for ((n = 2; n < ${#_slurm_pids[@]}; n++)); do
      _slurm_alive "${_slurm_pids[n]}" || break 2
    done
    sleep 0.1
  done
  if [[ $states != "idle " ]]; then
    _slurm_fail "nodes ${_slurm_nodes[*]} are '${states:-unknown}', not all idle, after 30 s"
    return 1
  fi
  echo "slurm: cluster up under $dir (nodes ${_slurm_nodes[*]}, $cpus CPUs each, ports $ctld_port/$slurmd_port)"
}

_slurm_prev_exit_trap=
_slurm_on_exit() {
  local rc=$?
  set +e   # the shell is exiting: run all of the cleanup, whatever fails
  slurm_stop
  if [[ -n $_slurm_prev_exit_trap ]]; then
    (exit "$rc")   # the caller's trap sees the exit status in $?
    eval "$_slurm_prev_exit_trap"
  fi
}

slurm_stop() {
  [[ -n $_slurm_dir ]] || return 0
  local i ids rc=0
  # Jobs first: slurmstepd outlives slurmd, and a step killed with it would keep running.
  if _slurm_alive "${_slurm_pids[1]:-0}"; then
    ids=$(squeue -h -o %F 2>/dev/null | sort -u)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null || true
      for ((i = 0; i < 400; i++)); do
        [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
        sleep 0.1
      done
      [[ -z $(squeue -h -o %i 2>/dev/null) ]] || {
        echo "slurm_stop: jobs still there after 40 s:" >&2
        squeue >&2
      }
    fi
  fi
  # Reverse start order: slurmd(s), slurmctld, munged; then the hosts (and what still runs there).
  for ((i = ${#_slurm_pids[@]} - 1; i >= 0; i--)); do
    _slurm_kill_pid "${_slurm_pids[i]}" 15 || rc=1
  done
  hosts_stop
  _slurm_dir=
  _slurm_pids=()
  _slurm_names=()
  _slurm_nodes=()
  unset SLURM_CONF
  return $rc
}

# Field KEY of the first record of `scontrol -o show job ID`; status 1 if Slurm does not know the
# job (never submitted, or purged MinJobAge after it ended).
slurm_job_field() {
  local id=${1:?usage: slurm_job_field JOBID KEY} key=${2:?usage: slurm_job_field JOBID KEY} out
  out=$(scontrol -o show job "$id" 2> /dev/null) || return 1
  awk -v key="$key=" 'NR == 1 {
    for (i = 1; i <= NF; i++) if (index($i, key) == 1) { print substr($i, length(key) + 1); exit }
  }' <<< "$out"
}

slurm_job_state() {
  slurm_job_field "${1:?usage: slurm_job_state JOBID}" JobState
}

# "TASKID STATE" for each record of array job ID (Slurm collapses pending elements: "4-9 PENDING").
slurm_array_states() {
  local id=${1:?usage: slurm_array_states ARRAY_JOBID} out
  out=$(scontrol -o show job "$id" 2> /dev/null) || return 1
  awk '{
    t = ""; s = ""
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^ArrayTaskId=/) t = substr($i, 13)
      else if ($i ~ /^JobState=/) s = substr($i, 10)
    }
    print t, s
  }' <<< "$out" | sort -n
}

# "JOBID STATE EXITCODE" per record (one per array element once they have run: ID_TASK).
_slurm_job_summary() {
  local out
  out=$(scontrol -o show job "$1" 2> /dev/null) || { echo "$1 UNKNOWN (purged?)"; return 0; }
  awk '{
    j = ""; a = ""; t = ""; s = ""; e = ""
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^JobId=/) j = substr($i, 7)
      else if ($i ~ /^ArrayJobId=/) a = substr($i, 12)
      else if ($i ~ /^ArrayTaskId=/) t = substr($i, 13)
      else if ($i ~ /^JobState=/) s = substr($i, 10)
      else if ($i ~ /^ExitCode=/) e = substr($i, 10)
    }
    print (t != "" ? a "_" t : j), s, e
  }' <<< "$out"
}

slurm_wait_job() {
  local id=${1:?usage: slurm_wait_job JOBID [TIMEOUT_SECONDS]} secs=${2:-120}
  local deadline=$((SECONDS + secs)) out
  while :; do
    if out=$(squeue -h -j "$id" -o %i 2>&1); then
      [[ -z $out ]] && break
    elif [[ $out == *"Invalid job id"* ]]; then
      break   # purged already
    fi
    if ((SECONDS >= deadline)); then
      echo "slurm_wait_job: job $id not finished after $secs s:" >&2
      squeue -j "$id" -o '%.12i %.10T %.20r %.10M' >&2 2>/dev/null || true
      _slurm_job_summary "$id" >&2
      return 1
    fi
    sleep 0.5
  done
  _slurm_job_summary "$id"
  return 0
}
