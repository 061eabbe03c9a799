# env.sh — environment for building and running pkd against the dependency prefix made by
# scripts/gpu/pack-deps.sh (.gpu/deps.tar.xz, 17.3 MB; 74 MB unpacked), on the lent GPU machine.
#
#   mkdir -p /tmp/pkd-deps && tar -xJf .gpu/deps.tar.xz -C /tmp/pkd-deps
#   source scripts/gpu/env.sh /tmp/pkd-deps
#   torch_prefix=$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
#   cmake -S . -B build -G Ninja $PKD_DEPS_CMAKE_ARGS -DCMAKE_PREFIX_PATH="$torch_prefix"
#   cmake --build build && (cd build && ctest)      # same shell: needs LD_LIBRARY_PATH
#
# Why each piece:
# - Debian's Open MPI relocates through OPAL_PREFIX (the mpicc/mpicxx wrappers read their
#   flags from $OPAL_PREFIX/share/openmpi and print include/lib dirs under it, which is what
#   FindMPI parses); PMIx needs its component path spelled out.
# - No fabric libraries are carried (UCX/OFI/verbs components were pruned), so Open MPI is
#   pinned to ob1 + self/vader (shared memory) and told not to look for the rest.
# - Commands run as root there, which mpirun refuses unless allowed.
# - Run time needs LD_LIBRARY_PATH over the prefix: RUNPATH does not reach indirect deps
#   (libicudata via libicuuc, libsz/libcurl via libhdf5), and ld needs them at link time too.
# - fallback/lib holds libssl3/zlib/libcurl(+closure)/libudev from Debian 12. Only the sonames
#   the machine lacks are linked into fallback/active (on LD_LIBRARY_PATH), so Ubuntu's own
#   newer copies are not shadowed for every process (python3 included).
# - PKD_DEPS_CMAKE_ARGS names every package's location explicitly (cache variables, *_DIR,
#   *_ROOT), so it does not touch CMAKE_PREFIX_PATH and composes with
#   -DCMAKE_PREFIX_PATH=<torch>. PKD_DEPS_PREFIX_PATH is exported for callers who prefer to
#   join it: -DCMAKE_PREFIX_PATH="$torch_prefix;$PKD_DEPS_PREFIX_PATH".
#   It is a plain word-split string, so PREFIX must not contain spaces (checked).
# - OpenSSL and zlib are linked against the system's libcrypto.so.3/libssl.so.3/libz.so.1
#   when present (same sonames, ABI-compatible with the packed 3.0 / 1.2.13 headers), else
#   against the fallback copies.
#
# This file is sourced, so it must not `set -euo pipefail` (that would change the caller's
# shell); it returns non-zero on errors instead.

_pkd_env_main() {
  local P=${1:-}
  if [[ -z "$P" || ! -d "$P/usr" ]]; then
    echo "usage: source scripts/gpu/env.sh PREFIX   (PREFIX: where deps.tar.xz was unpacked)" >&2
    return 1
  fi
  P=$(cd "$P" && pwd) || return 1
  if [[ "$P" == *[[:space:]]* ]]; then
    echo "env.sh: PREFIX must not contain whitespace ($P)" >&2
    return 1
  fi
  local U="$P/usr" A=x86_64-linux-gnu
  local L="$U/lib/$A"

  # -- fallback runtime libs: activate only what the system lacks ------------------------
  local active="$P/fallback/active" f so
  rm -rf "$active" && mkdir -p "$active" || return 1
  _pkd_syslib() { # soname -> path of the system's copy, if any
    local d
    for d in /lib/$A /usr/lib/$A /lib64 /usr/lib64 /usr/local/lib; do
      [[ -e "$d/$1" ]] && { echo "$d/$1"; return 0; }
    done
    # No early `exit` in awk: under a caller's pipefail, SIGPIPE in ldconfig would read as "absent".
    ldconfig -p 2>/dev/null | awk -v s="$1" '$1 == s && /x86-64/ && !f { print $NF; f = 1 } END { exit !f }'
  }
  local activated=""
  for f in "$P"/fallback/lib/lib*.so.*; do
    [[ -e "$f" ]] || continue
    so=$(basename "$f")
    # Only the soname entries (libfoo.so.N), not the fully versioned files they point to.
    [[ "$so" =~ \.so\.[0-9]+$ ]] || continue
    # PKD_DEPS_FORCE_FALLBACK=1 uses them all (testing on a full machine; escape hatch).
    if [[ "${PKD_DEPS_FORCE_FALLBACK:-0}" == 1 ]] || ! _pkd_syslib "$so" >/dev/null; then
      ln -sfn "$f" "$active/$so"
      activated+=" $so"
    fi
  done
  [[ -n "$activated" ]] && echo "env.sh: using packed fallback libs:$activated" >&2
  _pkd_pick() { # soname -> the active fallback copy if any, else the system's
    if [[ -e "$active/$1" ]]; then echo "$active/$1"; else _pkd_syslib "$1"; fi
  }
  local crypto ssl zlib
  crypto=$(_pkd_pick libcrypto.so.3) && ssl=$(_pkd_pick libssl.so.3) && zlib=$(_pkd_pick libz.so.1) || {
    echo "env.sh: cannot find libcrypto.so.3 / libssl.so.3 / libz.so.1" >&2
    return 1
  }

  # -- run time ---------------------------------------------------------------------------
  export PATH="$U/bin${PATH:+:$PATH}"
  export LD_LIBRARY_PATH="$L:$L/openmpi/lib:$L/hdf5/serial/lib:$active${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OPAL_PREFIX="$U"
  # Debian configured sysconfdir=/etc (not under the prefix): use the packed defaults.
  export OPAL_SYSCONFDIR="$P/etc"
  export PMIX_MCA_mca_base_component_path="$L/pmix2/lib/pmix"
  export PMIX_MCA_pcompress_base_silence_warning=1
  export OMPI_MCA_pml=ob1
  export OMPI_MCA_btl=self,vader
  export OMPI_MCA_mtl='^ofi,psm,psm2'
  export OMPI_MCA_osc='^ucx'
  export OMPI_MCA_mca_base_component_show_load_errors=0
  export OMPI_ALLOW_RUN_AS_ROOT=1
  export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

  # -- CMake ------------------------------------------------------------------------------
  export PKD_DEPS_PREFIX="$P"
  export PKD_DEPS_PREFIX_PATH="$U"
  # HDF5: Debian ships no hdf5-config.cmake and its h5cc (not packed) hardcodes /usr, so
  # FindHDF5 takes the plain find_path/find_library branch under HDF5_ROOT (which also makes
  # its searches NO_DEFAULT_PATH, so a stray system HDF5 cannot win).
  # MPI: the wrappers, interrogated by FindMPI under OPAL_PREFIX (set above).
  export PKD_DEPS_CMAKE_ARGS="\
 -DMPI_C_COMPILER=$U/bin/mpicc -DMPI_CXX_COMPILER=$U/bin/mpicxx\
 -DHDF5_ROOT=$L/hdf5/serial -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON -DHDF5_PREFER_PARALLEL=OFF\
 -Dtoml11_DIR=$U/share/cmake/toml11 -Dnlohmann_json_DIR=$U/share/cmake/nlohmann_json\
 -DGTest_DIR=$L/cmake/GTest\
 -DICU_ROOT=$U -DICU_INCLUDE_DIR=$U/include -DICU_UC_LIBRARY_RELEASE=$L/libicuuc.so\
 -DOPENSSL_ROOT_DIR=$U -DOPENSSL_INCLUDE_DIR=$U/include\
 -DOPENSSL_CRYPTO_LIBRARY=$crypto -DOPENSSL_SSL_LIBRARY=$ssl\
 -DZLIB_ROOT=$U -DZLIB_INCLUDE_DIR=$U/include -DZLIB_LIBRARY=$zlib"

  # -- sanity: everything the prefix's key libraries need must resolve now ---------------
  local missing
  missing=$(for f in "$L"/libhdf5_serial.so.103 "$L"/libmpi.so.40 "$L"/libicuuc.so.72 "$U"/bin/orterun; do
    ldd "$f" 2>/dev/null | awk -v f="$(basename "$f")" '/not found/ { print f ": " $1 }'
  done)
  if [[ -n "$missing" ]]; then
    echo "env.sh: unresolved libraries (build/run will fail):" >&2
    echo "$missing" >&2
    return 1
  fi
  return 0
}
_pkd_env_main "$@"
_pkd_env_rc=$?
unset -f _pkd_env_main _pkd_syslib _pkd_pick
# `return` works when sourced; a plain `bash env.sh` just exits with the status.
return $_pkd_env_rc 2>/dev/null || exit $_pkd_env_rc
