#!/usr/bin/env bash
# Installs everything pkd needs on a fresh Debian 12 (bookworm) machine, as root, from Debian's
# packages only. A no-op when everything is present. Used by the README and by .ci/run.
set -euo pipefail

packages=(
  # toolchain and build cache
  g++ cmake make pkg-config ccache git
  # LibTorch (CPU) and its distributed backend; OpenBLAS listed explicitly because libtorch only
  # *recommends* it and the reference BLAS is ~10x slower (see docs/performance.md).
  libtorch-dev libgloo-dev libopenblas0-openmp
  # MPI, HDF5 (serial build only: the MPI build flips pkg-config), config and JSON parsing
  libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libtoml11-dev nlohmann-json3-dev
  # Unicode data for the tokenizer, hashing, compression
  libicu-dev libssl-dev zlib1g-dev
  # tests
  libgtest-dev
  # libFuzzer targets (fuzz/, docs/fuzzing.md): clang++ and its runtime (libFuzzer, ASan, UBSan)
  clang libclang-rt-14-dev
  # single-node Slurm for the job-script tests (tests/slurm/): controller, node daemon, clients
  # (sbatch, srun, squeue...), munge authentication. The mpi/pmix plugin (slurm-wlm-basic-plugins)
  # dlopens pmix2/lib/libpmix.so, the unversioned link shipped by libpmix-dev (not libpmix2):
  # without it plain `srun` cannot start Open MPI programs (MpiDefault=pmix).
  slurmctld slurmd slurm-client munge libpmix-dev
  # several hosts on one machine for the multi-node tests (tests/cluster/): network namespaces,
  # veth pairs and a bridge (ip), and nsenter/unshare for each host's hostname and /etc/hosts
  iproute2 util-linux
  # references for benchmarks and goldens: PyTorch eager (same LibTorch version), HDF5 from Python
  python3 python3-torch python3-h5py python3-numpy
)
# Node runs HuggingFace `tokenizers` (npm) in the benchmarks; any Node >= 18 will do, so only
# install Debian's when none is on the PATH (some images ship their own).
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this script as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} Debian packages present"
fi

# LibTorch must resolve libblas.so.3 to OpenBLAS, not the reference BLAS. The alternative is
# switched automatically when libopenblas0-openmp is installed; make sure nobody pinned it back.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *)
    echo "setup: libblas.so.3 resolves to '${blas:-nothing}', switching to OpenBLAS"
    update-alternatives --set libblas.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
    ;;
esac

# LibTorch 2.x headers, unpacked (not installed) for the build check `build.torch2_headers`
# (tests/build/torch2_headers_check.py): the code that branches on <torch/version.h> or on
# PKD_WITH_CUDA is compiled here against them, as the GPU machines' LibTorch 2.x builds it.
# Debian 13's libtorch-dev (2.6) is the newest LibTorch that Debian packages.
torch2=${PKD_TORCH2_HEADERS:-/var/cache/pkd/libtorch2}
if [[ ! -f $torch2/usr/include/torch/csrc/api/include/torch/version.h ]]; then
  if [[ $(id -u) -ne 0 && ! -w $(dirname "$torch2") ]]; then
    echo "setup: LibTorch 2 headers missing at $torch2; run this script as root" >&2
    exit 1
  fi
  echo "setup: fetching Debian 13's libtorch-dev headers into $torch2"
  apt_dir=$(mktemp -d)
  trap 'rm -rf "$apt_dir"' EXIT
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  # The Debian mirror this machine's apt uses (deb822 or one-line sources), else Debian's CDN.
  mirror=$(sed -n 's|^URIs: *\([^ ]*/debian\)/\?$|\1|p; s|^deb  *\(http[^ ]*/debian\)/\? .*|\1|p' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1) || true
  echo "deb ${mirror:-http://deb.debian.org/debian} trixie main" >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
            -o APT::Sandbox::User=root -qq)
  apt-get "${apt_opts[@]}" update
  (cd "$apt_dir" && apt-get "${apt_opts[@]}" download libtorch-dev)
  mkdir -p "$torch2.partial"
  dpkg-deb -x "$apt_dir"/libtorch-dev_*.deb "$torch2.partial"
  rm -rf "$torch2" && mv "$torch2.partial" "$torch2"
fi
