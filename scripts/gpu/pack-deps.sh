#!/usr/bin/env bash
# pack-deps.sh — build .gpu/deps.tar.xz: pkd's non-Torch build/run dependencies as a
# relocatable prefix for the lent GPU machine.
#
# Why: the GPU machine (Ubuntu 24.04-ish, glibc 2.39, torch 2.11 CUDA wheel, NO network)
# has no Open MPI, HDF5, toml11, nlohmann_json, ICU 72 or GTest dev packages, and nothing can
# be installed there. Debian 12 (glibc 2.36) binaries run on it, so we take bookworm's .debs,
# `dpkg -x` them into a staging prefix (never into /), prune what pkd does not need and pack
# the result. On the GPU machine: `tar -xJf .gpu/deps.tar.xz -C PREFIX` and
# `source scripts/gpu/env.sh PREFIX` (see there).
#
# Layout of the archive (relative to PREFIX):
#   usr/...          the Debian /usr tree: headers, .so, Open MPI tree, CMake configs
#   etc/openmpi      Open MPI's default MCA params (env.sh points OPAL_SYSCONFDIR here)
#   fallback/lib     runtime libs the GPU machine very probably has already (libssl3,
#                    zlib, libcurl4 and its closure, libudev1). They are NOT put on
#                    LD_LIBRARY_PATH wholesale (that would shadow Ubuntu's newer copies for
#                    every process, python included); env.sh links in only the sonames the
#                    machine lacks. HDF5 hard-needs libcurl.so.4 (ROS3 driver) at load time.
#   pkd-deps.txt     the exact .deb versions packed
#
# Run here as root on Debian 12; needs only apt's lists (downloads 38 .debs once, cached
# in .gpu/debs; the staging tree is removed after packing). Idempotent: if .gpu/deps.tar.xz exists and the stamp (this script + the
# exact .deb file names/hashes apt would download) is unchanged, it exits at once.
# Measured (2026-11): 38 .debs (20 + 18 fallback, 40 MB); 74 MB unpacked after pruning;
# archive 17.3 MB (16.5 MiB, xz -9; ICU 72's data library alone is 7.5 MB of it). A full
# pack takes ~1.5 min (mostly xz); unpacking there ~2 s.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
gpu="$repo/.gpu"
out="$gpu/deps.tar.xz"
stamp="$gpu/deps.stamp"
debs="$gpu/debs"
stage="$gpu/stage"
arch=x86_64-linux-gnu

# Installed into the prefix proper (on LD_LIBRARY_PATH there).
main_pkgs=(
  libhdf5-dev libhdf5-103-1 libaec0 libsz2
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common
  libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libmunge2
  libtoml11-dev nlohmann-json3-dev
  libicu-dev libicu72          # ICU 72 on purpose: the tokenizer goldens are Unicode 15.0
  libssl-dev zlib1g-dev        # headers only: env.sh names their runtime .so explicitly
  libgtest-dev
)
# Only used where the GPU machine lacks the soname (see header): libssl3, zlib1g, libudev1,
# and libcurl4 with the part of its Depends closure that a bare Ubuntu/Debian base lacks.
# Left out, i.e. assumed present (Ubuntu 24.04's base has them: apt links GnuTLS and
# OpenSSL, dpkg links zstd): GnuTLS, nettle/hogweed, GMP, p11-kit, libtasn1, libffi,
# libidn2, libzstd; also libc6/libgcc-s1/libstdc++6, which must stay the
# system's; and libsasl2-modules-db/libdb5.3 (a dlopened SASL plugin, LDAP auth only).
fallback_pkgs=(
  libssl3 zlib1g libudev1
  libcurl4 libbrotli1 libcom-err2 libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3
  libkrb5support0 libldap-2.5-0 libnghttp2-14 libpsl5 librtmp1 libsasl2-2 libssh2-1
  libunistring2   # libpsl5 needs .so.2; Ubuntu 24.04 ships only libunistring.so.5
)
fallback_assumed=" $(echo libgnutls.so.30 libhogweed.so.6 libnettle.so.8 libgmp.so.10 libp11-kit.so.0 \
 libtasn1.so.6 libffi.so.8 libidn2.so.0 libzstd.so.1) "

if [[ $(id -u) -ne 0 ]]; then
  echo "pack-deps.sh: run as root (dpkg -x keeps modes; apt-get download as _apt)" >&2
  exit 1
fi
mkdir -p "$debs"

# The URIs carry exact file names (name_version_arch.deb) and hashes: a cheap, offline
# fingerprint of what would be packed. Asked from an empty dir: apt-get download
# --print-uris silently omits files already present in the current directory.
empty=$(mktemp -d)
uris=$(cd "$empty" && apt-get download --print-uris "${main_pkgs[@]}" "${fallback_pkgs[@]}")
rmdir "$empty"
want=$(printf '%s\n' "$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)" "$uris" | sha256sum | cut -d' ' -f1)
if [[ -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "pack-deps.sh: $out is up to date ($(du -h "$out" | cut -f1))"
  exit 0
fi

# Download only the missing .debs (the cache survives re-runs; apt-get download would
# otherwise fetch everything again).
missing=()
while read -r _uri file _size _hash; do
  [[ -f "$debs/$file" ]] || missing+=("$(cut -d_ -f1 <<<"$file")")
done <<<"$uris"
if ((${#missing[@]})); then
  # _apt must be able to write there, or apt warns and downloads unsandboxed.
  chown _apt "$debs" 2>/dev/null || true
  (cd "$debs" && apt-get download -q "${missing[@]}")
fi
deb_of() { # package -> its cached .deb path (the exact version apt resolved)
  local f
  f=$(awk -v p="$1" '{ split($2, a, "_"); if (a[1] == p) print $2 }' <<<"$uris")
  [[ -n "$f" && -f "$debs/$f" ]] || { echo "pack-deps.sh: no .deb for $1" >&2; return 1; }
  echo "$debs/$f"
}

rm -rf "$stage"
p="$stage/prefix"
mkdir -p "$p" "$stage/fb" "$p/fallback/lib"
: >"$p/pkd-deps.txt"
for pkg in "${main_pkgs[@]}"; do
  dpkg -x "$(deb_of "$pkg")" "$p"
  echo "$(basename "$(deb_of "$pkg")")" >>"$p/pkd-deps.txt"
done
for pkg in "${fallback_pkgs[@]}"; do
  dpkg -x "$(deb_of "$pkg")" "$stage/fb"
  echo "fallback: $(basename "$(deb_of "$pkg")")" >>"$p/pkd-deps.txt"
done
# Fallback: only the shared objects (files and soname links), flattened into one dir.
# bookworm still has some in /lib (no usrmerge in the .debs).
for d in "$stage/fb/lib/$arch" "$stage/fb/usr/lib/$arch"; do
  [[ -d "$d" ]] && find "$d" -maxdepth 1 -name 'lib*.so.*' -exec cp -a {} "$p/fallback/lib/" \;
done
rm -f "$p"/fallback/lib/libbrotlienc.so*   # curl only decodes

cd "$p"
# --- pruning ----------------------------------------------------------------------------
rm -rf usr/share/{doc,man,lintian,bug,info,doc-base,java,icu,gdb} usr/lib/$arch/icu \
       usr/lib/$arch/fortran usr/lib/$arch/openmpi/lib/pkgconfig usr/lib/$arch/pkgconfig
# Static libs are dead weight (we link shared), except GTest's: Debian ships only .a.
find . -name '*.a' ! -name 'libgtest*.a' ! -name 'libgmock*.a' -delete
find . -name '*.mod' -delete   # Fortran modules
# ICU: pkd links ICU::uc only (which needs data); drop i18n/io/test/tu.
rm -f usr/lib/$arch/libicu{i18n,io,test,tu}.so*
# HDF5: C only; the C++/Fortran/HL runtime libs are not packed (their dev links dangle and
# get swept below).
# Open MPI: pkd uses the C/C++ API only; OpenSHMEM, Fortran, Java and the tracing library go.
rm -f usr/lib/$arch/lib{oshmem,ompitrace,mpi_java,mpi_mpifh,mpi_usempi}*.so* \
      usr/lib/$arch/openmpi/lib/openmpi3/mca_{spml,sshmem,scoll,memheap,atomic}_*.so \
      usr/lib/$arch/openmpi/include/{shmem,pshmem,shmemx,pshmemx}.h* usr/lib/$arch/openmpi/include/mpif*.h
rm -rf usr/lib/$arch/openmpi/include/openshmem usr/lib/$arch/openmpi/include/mpp
# Open MPI binaries: keep the launcher, daemon, compiler wrapper and ompi_info (debugging).
keep_bins=" $(echo orterun orted opal_wrapper ompi_info mpirun.openmpi mpiexec.openmpi \
  mpicc.openmpi mpicxx.openmpi mpic++.openmpi mpiCC.openmpi) "
for f in usr/bin/*; do
  [[ "$keep_bins " == *" $(basename "$f") "* ]] || rm -f "$f"
done
# The alternatives dpkg -x does not run (openmpi-bin / libopenmpi-dev postinst). Relative,
# so the prefix relocates. opal_wrapper picks <argv0>-wrapper-data.txt, which Debian ships
# for the plain names too.
for n in mpirun mpiexec mpicc mpicxx mpic++ mpiCC; do ln -sfn "$n.openmpi" "usr/bin/$n"; done
# OpenSSL's arch headers (configuration.h, opensslconf.h) live in /usr/include/<arch>, which
# gcc only searches for the real /usr; merge them so one -I<prefix>/usr/include suffices.
if [[ -d usr/include/$arch/openssl ]]; then
  cp -a usr/include/$arch/openssl/. usr/include/openssl/
  rm -rf usr/include/$arch/openssl
fi
[[ -f usr/include/$arch/zconf.h ]] && mv usr/include/$arch/zconf.h usr/include/
rmdir usr/include/$arch 2>/dev/null || true
# zlib1g-dev's libz.so is an absolute link into /lib; env.sh names the zlib (and OpenSSL)
# runtime explicitly instead (the system's, or the fallback copy). libssl.so/libcrypto.so
# are relative links to the fallback-only libssl3 and get swept as dangling below.
rm -f usr/lib/$arch/libz.so

# Shared-object closure: every ELF we keep must resolve its NEEDED sonames from the prefix,
# the fallback dir, or the always-present base (glibc, libstdc++, libgcc_s). Open MPI
# components/libs that need fabric stacks (libfabric, UCX, verbs, PSM, Java, gfortran) would
# only fail to dlopen on the GPU machine, so they are removed; repeat until stable, since
# removing libmca_common_ucx etc. orphans the components linking it.
base_sonames=" libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2
 libutil.so.1 libstdc++.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2 "
removed=()
while :; do
  have=" $(echo $base_sonames) "   # echo: newlines -> spaces for the " x " match
  while read -r f; do have+="$(basename "$f") "; done < <(find . -name '*.so*' \( -type f -o -type l \))
  changed=0
  while read -r f; do
    readelf -h "$f" >/dev/null 2>&1 || continue   # skip scripts, text
    for need in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      if [[ "$have" != *" $need "* ]]; then
        case "$f" in
          ./usr/lib/$arch/openmpi/*|./usr/lib/$arch/libmca_common_*|./usr/lib/$arch/libmpi_*|./usr/lib/$arch/liboshmem*|./usr/lib/$arch/libompitrace*|./usr/lib/$arch/pmix2/*)
            rm -f "$f"; removed+=("${f#./} (needs $need)"); changed=1; break ;;
          ./fallback/*) [[ "$fallback_assumed" == *" $need "* ]] && continue
             echo "pack-deps.sh: $f needs $need, neither packed nor assumed" >&2; exit 1 ;;
          *) echo "pack-deps.sh: $f needs $need, which is not packed" >&2; exit 1 ;;
        esac
      fi
    done
  done < <(find . -type f \( -name '*.so*' -o -path './usr/bin/*' \))
  # Dangling links (HDF5 C++/Fortran dev links, removed libs' soname links) go too.
  find . -xtype l -delete
  ((changed)) || break
done
((${#removed[@]})) && printf 'pruned (unresolvable on the GPU machine): %s\n' "${removed[@]}" >&2
# Absolute symlinks would point into the GPU machine's /; there must be none.
if abs=$(find . -type l -lname '/*' | head -1) && [[ -n "$abs" ]]; then
  echo "pack-deps.sh: absolute symlink $abs" >&2
  exit 1
fi

# --- pack -------------------------------------------------------------------------------
tmp="$out.tmp"
tar --sort=name --owner=0 --group=0 --numeric-owner -cf - . | xz -9 -T0 >"$tmp"
mv "$tmp" "$out"
echo "$want" >"$stamp"
echo "pack-deps.sh: wrote $out ($(du -h "$out" | cut -f1); $(du -sh . | cut -f1) unpacked)"
cd "$repo" && rm -rf "$stage"   # 74 MB of no further use; .gpu/debs stays as the cache
