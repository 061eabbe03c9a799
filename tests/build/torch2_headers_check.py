#!/usr/bin/env python3
"""Build check `build.torch2_headers`: compiles pkd's version- and CUDA-dependent translation
units against LibTorch 2.x headers, as the GPU machines build them.

CI has Debian's LibTorch 1.13 (CPU) only, so the code behind `TORCH_VERSION_MAJOR >= 2` and
behind PKD_WITH_CUDA would otherwise first be compiled on a lent GPU machine, where a build error
costs scarce device time. This takes every translation unit under src/ and tools/ whose source
names TORCH_VERSION, PKD_TORCH_AT_LEAST (model/torch_version.h), PKD_WITH_CUDA or
PKD_CUDA_COMPILE_CHECK, takes its compile command from the
build's compile_commands.json, and recompiles it (syntax and types, no code) with
  - LibTorch 2.x's headers (Debian 13's libtorch-dev, unpacked by scripts/setup.sh) in front of
    Debian 12's LibTorch 1.13 headers,
  - PKD_WITH_CUDA=1 and the CUDA toolkit's headers ($CUDA_HOME), as a CUDA LibTorch build,
  - PKD_WITH_GLOO=0, as the 2.x wheels, which ship no Gloo headers (gloo_reducer.cpp is skipped).
Any error, or any warning in pkd's own files, fails the check.

Usage: torch2_headers_check.py BUILD_DIR SOURCE_DIR [HEADERS_DIR]
  HEADERS_DIR: default $PKD_TORCH2_HEADERS, else /var/cache/pkd/libtorch2 (scripts/setup.sh).
"""
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys

MARKERS = re.compile(r"\b(TORCH_VERSION\w*|PKD_TORCH_AT_LEAST|PKD_WITH_CUDA|PKD_CUDA_COMPILE_CHECK)\b")
# Built only with Gloo headers, which LibTorch 2.x wheels lack (CMakeLists.txt, PKD_WITH_GLOO).
SKIPPED = {"src/parallel/gloo_reducer.cpp"}


def torch2_command(command, include):
    """The compile command rewritten for LibTorch 2.x + CUDA, syntax only."""
    args, out, i = shlex.split(command), [], 0
    torch_api = "/usr/include/torch/csrc/api/include"
    while i < len(args):
        a = args[i]
        if a == "-o":  # no object file
            i += 2
            continue
        if a == "-isystem" and args[i + 1] == torch_api:
            i += 1
            a = "-I" + torch_api
        if a == "-I" + torch_api:
            # Before /usr/include (implicit, where LibTorch 1.13's ATen and c10 live).
            out += ["-isystem", include, "-isystem", include + "/torch/csrc/api/include"]
        elif a.startswith("-DPKD_WITH_CUDA="):
            out.append("-DPKD_WITH_CUDA=1")
        elif a.startswith("-DPKD_WITH_GLOO="):
            out.append("-DPKD_WITH_GLOO=0")
        elif a not in ("-DUSE_C10D_GLOO",) and not a.startswith("-O"):
            out.append(a)
        i += 1
    cuda = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    return out + ["-O0", "-fsyntax-only", "-DC10_CUDA_NO_CMAKE_CONFIGURE_FILE",
                  "-isystem", cuda + "/include"]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    build, source = sys.argv[1], os.path.realpath(sys.argv[2])
    headers = sys.argv[3] if len(sys.argv) == 4 else os.environ.get(
        "PKD_TORCH2_HEADERS", "/var/cache/pkd/libtorch2")
    include = os.path.join(headers, "usr/include")
    version_h = os.path.join(include, "torch/csrc/api/include/torch/version.h")
    if not os.path.isfile(version_h):
        sys.exit(f"torch2_headers_check: no LibTorch 2.x headers at {headers} "
                 f"({version_h} missing); run scripts/setup.sh as root")
    version = re.search(r'TORCH_VERSION\s*\\?\s*"([^"]+)"', open(version_h).read())
    version = version.group(1) if version else "?"
    if not version.startswith("2."):
        sys.exit(f"torch2_headers_check: {version_h} is LibTorch {version}, expected 2.x")
    database = os.path.join(build, "compile_commands.json")
    if not os.path.isfile(database):
        sys.exit(f"torch2_headers_check: {database} missing (CMAKE_EXPORT_COMPILE_COMMANDS)")

    jobs, seen = [], set()
    for entry in json.load(open(database)):
        path = os.path.realpath(entry["file"])
        rel = os.path.relpath(path, source)
        if not (rel.startswith("src/") or rel.startswith("tools/")) or rel in SKIPPED:
            continue
        if rel in seen or not MARKERS.search(open(path).read()):
            continue
        seen.add(rel)
        jobs.append((rel, torch2_command(entry["command"], include), entry["directory"]))
    if not jobs:
        sys.exit("torch2_headers_check: no translation unit names TORCH_VERSION or "
                 "PKD_WITH_CUDA: compile_commands.json is not pkd's")

    def compile_one(job):
        rel, args, cwd = job
        r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
        own_warnings = [l for l in r.stderr.splitlines()
                        if "warning:" in l and l.startswith(source)]
        return rel, r.returncode, own_warnings, r.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for rel, rc, warnings, err in pool.map(compile_one, jobs):
            ok = rc == 0 and not warnings
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {rel}")
            if not ok:
                print(err[-6000:])
    print(f"LibTorch {version} headers, PKD_WITH_CUDA=1: {len(jobs) - failed} of {len(jobs)} "
          f"translation units compile")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
