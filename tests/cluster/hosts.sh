# shellcheck shell=bash
# Several "hosts" on this one machine for multi-node tests. Source this file, then:
#
#   hosts_start DIR N [PATH...]
#                            N hosts pkdn1..pkdnN: each a network namespace with its own address
#                            on a private bridge, in 198.18.0.0/15 only (RFC 2544, reserved for
#                            network tests; a free /24 picked at random); writes DIR/hosts (every
#                            host's name and address) and exports PKD_HOSTS_DIR,
#                            PKD_HOSTS_NET (e.g. 198.18.37.0/24), PKD_HOSTS_GATEWAY (the bridge's
#                            address: this namespace, where slurmctld listens) and PKD_HOSTS_N.
#                            Each PATH (an existing directory) is node-local, like /tmp on a
#                            cluster: every host sees its own empty DIR/local/NAME/K there.
#   host_run NAME CMD...     runs CMD "on" host NAME: in its network namespace, with its hostname
#                            (a UTS namespace) and DIR/hosts-NAME bind-mounted on /etc/hosts (a
#                            private mount namespace); the filesystem is otherwise shared, like NFS.
#                            As on a Debian install, a host's own name resolves to 127.0.1.1 there
#                            (the peers' names to their addresses): a rendezvous that trusts the
#                            host name binds loopback, as it would on many real clusters.
#   host_exec NAME CMD...    the same, replacing the calling (sub)shell: `(host_exec ...) &`
#   host_address NAME        the host's address (pkdn2 -> 198.18.37.12)
#   host_ip NAME ARGS...     `ip ARGS` in the host's network namespace (extra interfaces, routes)
#   host_link NAME down|up   cuts or restores the host's link (the bridge's end of its veth pair)
#   host_pids NAME           pids of the processes in the host's network namespace
#   hosts_mpirun CMD...      `mpirun` started on pkdn1 with one rank of CMD on each host, through
#                            the namespaces' launch agent (agent.sh), TCP on the hosts' network;
#                            ranks not pinned (each host's daemon would pin its rank to its first
#                            core: every rank on core 0 of this one machine)
#   hosts_stop               kills every process in the namespaces, deletes the namespaces, veths
#                            and bridge this DIR created (recorded in DIR/created)
#
# A run killed before hosts_stop (SIGKILL, a test timeout) leaves its hosts behind; the next
# hosts_start removes them: every hosts_start registers its DIR and the pid of its shell under
# /run/pkd-hosts, and removes what the DIRs of dead pids recorded.
#
# Needs root, iproute2 and util-linux (nsenter, unshare). `ip netns exec` is not used: it
# remounts /sys, which hides /sys/fs/cgroup from slurmd. Nothing outside DIR, the namespaces and
# the interfaces named in DIR/created is created or changed; no traffic leaves the bridge (it has
# no uplink and no route beyond its /24).

_hosts_dir=
_hosts_tag=
_hosts_agent=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/agent.sh

_hosts_record() { echo "$1 $2" >> "$_hosts_dir/created"; }
_hosts_registry=/run/pkd-hosts

# The hosts of earlier runs whose shell is gone: /run/pkd-hosts/TAG holds "PID DIR".
_hosts_remove_orphans() {
  local entry pid dir
  for entry in "$_hosts_registry"/*; do
    [[ -f $entry ]] || continue
    read -r pid dir < "$entry" || continue
    kill -0 "$pid" 2> /dev/null && continue
    echo "hosts: removing the hosts of a run that ended without hosts_stop ($dir)" >&2
    _hosts_remove_recorded "$dir"
    rm -f "$entry"
  done
}

# Removes what DIR/created lists (namespaces: their processes first; then links).
_hosts_remove_recorded() {
  local dir=$1 kind name pid i
  [[ -f $dir/created ]] || return 0
  while read -r kind name; do
    [[ $kind == netns ]] || continue
    [[ -e /run/netns/$name ]] || continue
    for pid in $(ip netns pids "$name" 2> /dev/null); do kill -KILL "$pid" 2> /dev/null || true; done
    for ((i = 0; i < 50; i++)); do
      [[ -z $(ip netns pids "$name" 2> /dev/null) ]] && break
      sleep 0.1
    done
    ip netns del "$name" 2> /dev/null || true
  done < "$dir/created"
  while read -r kind name; do
    [[ $kind == link ]] || continue
    ip link show "$name" > /dev/null 2>&1 && ip link del "$name" 2> /dev/null || true
  done < "$dir/created"
  rm -f "$dir/created"
}

# A /24 of 198.18.0.0/15 that no interface of this namespace uses: prints its third octet.
_hosts_free_subnet() {
  local used octet tries
  used=$(ip -4 -o addr show 2> /dev/null | awk '{print $4}')
  for ((tries = 0; tries < 100; tries++)); do
    octet=$((RANDOM % 256))
    grep -q "^198\.18\.$octet\." <<< "$used" || { echo "$octet"; return 0; }
  done
  return 1
}

hosts_start() {
  local dir=${1:?usage: hosts_start DIR N [PATH...]} n=${2:?usage: hosts_start DIR N [PATH...]}
  local i k ns veth octet path
  shift 2
  [[ $(id -u) -eq 0 ]] || { echo "hosts_start: needs root (network namespaces)" >&2; return 1; }
  for cmd in ip nsenter unshare; do
    command -v "$cmd" > /dev/null || { echo "hosts_start: '$cmd' not found" >&2; return 1; }
  done
  [[ -z $_hosts_dir ]] || { echo "hosts_start: hosts already up under $_hosts_dir" >&2; return 1; }
  ((n >= 1 && n <= 9)) || { echo "hosts_start: 1 to 9 hosts, got $n" >&2; return 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  _hosts_remove_orphans
  _hosts_remove_recorded "$dir"
  _hosts_dir=$dir
  # Interface names are at most 15 characters: pkd + 4 hex + role.
  _hosts_tag=pkd$(printf '%04x' $((RANDOM % 65536)))
  octet=$(_hosts_free_subnet) || { echo "hosts_start: no free /24 in 198.18.0.0/16" >&2; return 1; }
  export PKD_HOSTS_DIR=$dir PKD_HOSTS_N=$n
  export PKD_HOSTS_NET=198.18.$octet.0/24 PKD_HOSTS_GATEWAY=198.18.$octet.1
  : > "$dir/created"
  mkdir -p "$_hosts_registry" && echo "$$ $dir" > "$_hosts_registry/$_hosts_tag"
  {
    echo "# Written by tests/cluster/hosts.sh: the test cluster's hosts."
    echo "127.0.0.1 localhost"
    echo "$PKD_HOSTS_GATEWAY pkdctl"
    for ((i = 1; i <= n; i++)); do echo "198.18.$octet.$((10 + i)) pkdn$i"; done
  } > "$dir/hosts"
  for ((i = 1; i <= n; i++)); do
    { echo "127.0.1.1 pkdn$i"; cat "$dir/hosts"; } > "$dir/hosts-pkdn$i"
  done
  echo "$_hosts_tag" > "$dir/tag"
  rm -rf "$dir/local" && : > "$dir/local-paths"
  k=0
  for path in "$@"; do
    [[ -d $path ]] || { echo "hosts_start: node-local '$path' is not a directory" >&2; hosts_stop; return 1; }
    for ((i = 1; i <= n; i++)); do mkdir -p "$dir/local/pkdn$i/$k" && chmod 1777 "$dir/local/pkdn$i/$k"; done
    (cd "$path" && pwd -P) >> "$dir/local-paths"
    k=$((k + 1))
  done

  local bridge=${_hosts_tag}br
  ip link add "$bridge" type bridge || { hosts_stop; return 1; }
  _hosts_record link "$bridge"
  ip addr add "$PKD_HOSTS_GATEWAY/24" dev "$bridge" && ip link set "$bridge" up || { hosts_stop; return 1; }
  for ((i = 1; i <= n; i++)); do
    ns=${_hosts_tag}n$i veth=${_hosts_tag}v$i
    ip netns add "$ns" || { hosts_stop; return 1; }
    _hosts_record netns "$ns"
    ip link add "$veth" type veth peer name eth1 netns "$ns" || { hosts_stop; return 1; }
    _hosts_record link "$veth"
    ip link set "$veth" master "$bridge" && ip link set "$veth" up &&
      ip -n "$ns" addr add "198.18.$octet.$((10 + i))/24" dev eth1 &&
      ip -n "$ns" link set eth1 up && ip -n "$ns" link set lo up || { hosts_stop; return 1; }
  done
  echo "hosts: pkdn1..pkdn$n on $PKD_HOSTS_NET (bridge $bridge, gateway $PKD_HOSTS_GATEWAY)"
}

# host_run is also called by tests/cluster/agent.sh in processes that only know PKD_HOSTS_DIR.
_hosts_netns() {
  local dir=${PKD_HOSTS_DIR:-$_hosts_dir} name=$1
  [[ $name =~ ^pkdn[1-9]$ ]] || { echo "hosts: no host '$name' (pkdn1..pkdn9)" >&2; return 1; }
  [[ -f $dir/tag ]] || { echo "hosts: no hosts under '$dir' (hosts_start first)" >&2; return 1; }
  echo "$(< "$dir/tag")n${name#pkdn}"
}

host_run() { (host_exec "$@"); }

# host_run replacing the calling (sub)shell, so that `(host_exec ...) &` gives $! = CMD's pid.
host_exec() {
  local name=${1:?usage: host_exec NAME CMD...} ns
  shift
  ns=$(_hosts_netns "$name") || return 1
  exec nsenter --net="/run/netns/$ns" -- unshare --uts --mount --propagation private -- \
    bash -c 'dir=$1 name=$2 k=0
      mount --bind "$dir/hosts-$name" /etc/hosts && hostname "$name" || exit 1
      while read -r path; do
        mount --bind "$dir/local/$name/$k" "$path" || exit 1
        k=$((k + 1))
      done < "$dir/local-paths"
      shift 2 && exec "$@"' host_run "${PKD_HOSTS_DIR:-$_hosts_dir}" "$name" "$@"
}

host_address() {
  awk -v h="${1:?usage: host_address NAME}" '$2 == h { print $1 }' "${PKD_HOSTS_DIR:-$_hosts_dir}/hosts"
}

host_link() {
  local name=${1:?usage: host_link NAME up|down} state=${2:?usage: host_link NAME up|down}
  _hosts_netns "$name" > /dev/null || return 1
  ip link set "$(< "${PKD_HOSTS_DIR:-$_hosts_dir}/tag")v${name#pkdn}" "$state"
}

host_ip() {
  local ns
  ns=$(_hosts_netns "${1:?usage: host_ip NAME ARGS...}") || return 1
  shift
  ip -n "$ns" "$@"
}

host_pids() {
  local ns
  ns=$(_hosts_netns "${1:?usage: host_pids NAME}") || return 1
  ip netns pids "$ns"
}

hosts_mpirun() {
  local n=${PKD_HOSTS_N:?hosts_mpirun: hosts_start first} list=pkdn1 i
  for ((i = 2; i <= n; i++)); do list+=",pkdn$i"; done
  host_run pkdn1 env OMPI_MCA_plm_rsh_agent="$_hosts_agent" \
    OMPI_MCA_btl_tcp_if_include="$PKD_HOSTS_NET" OMPI_MCA_oob_tcp_if_include="$PKD_HOSTS_NET" \
    mpirun --bind-to none --host "$list" -np "$n" "$@" 2>&1 | { grep -v "setpgid" || true; }
}

hosts_stop() {
  [[ -n $_hosts_dir ]] || return 0
  _hosts_remove_recorded "$_hosts_dir"
  [[ -f $_hosts_dir/tag ]] && rm -f "$_hosts_registry/$(< "$_hosts_dir/tag")"
  rm -f "$_hosts_dir/tag"
  _hosts_dir=
  unset PKD_HOSTS_DIR PKD_HOSTS_NET PKD_HOSTS_GATEWAY PKD_HOSTS_N
}
