#!/usr/bin/env python3
"""Checks that the module graph stays the one docs/ARCHITECTURE.md draws.

Reads the targets, their sources and their dependencies from CMake's file API in a configured
build tree (re-running cmake there once to ask for it), scans every project source for its
#include "..." lines and fails, naming each violation, when:

  1. a file includes a project header whose library is neither its own target nor one the
     target depends on (directly or through other libraries): an include that only compiles
     because every library sees src/;
  2. a target outside the master links the master's pure core (mc_master_core): the client,
     node, CLI, Python module and master client speak the shared store types and the RPC
     codec, never the core's object table. Tests may reach it through the in-process master
     (mc_master_in_process), which puts the core behind MasterApi for client unit tests;
  3. a file outside src/master/core, src/master/service and bench/micro includes a
     master/core/ header;
  4. the libraries' dependencies form a cycle (dependencies run one way);
  5. something that is not a test links the test helpers (mc_testing).

Usage: scripts/check_deps.py --build-dir build-test     (exit 0 when clean, 1 on violations)
Standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)

# Public headers (include/mooncake/...) and generated ones: the library each belongs to. Headers
# under src/ belong to the library that compiles the .cc files of their folder (see OwnerOf).
PUBLIC_HEADER_OWNERS = {
    "mooncake/common/cluster_secret.h": "mc_auth",
    "mooncake/common/": "mc_common",
    "mooncake/store/types.h": "mc_store_types",
    "mooncake/store/client.h": "mc_store_client",
    "mooncake/transfer/": "mc_transfer",
    "mooncake/p2p/": "mc_p2p",
    "mooncake/proto/": "mc_master_proto",
}

# Only these may link the master core, besides targets whose every source is in one of
# CORE_FOLDERS (the core's and the service's own tests, the core's micro-benchmarks).
CORE_LIBRARY = "mc_master_core"
CORE_LINKERS = {"mc_master_service", "mooncake_master"}
CORE_FOLDERS = ("src/master/core/", "src/master/service/", "bench/micro/")

# The core behind MasterApi in a test's own process: tests (and only tests) may link the core
# through it.
CORE_TEST_DOOR = "mc_master_in_process"

TESTING_LIBRARY = "mc_testing"


def load_codemodel(build_dir: Path):
    """Targets of the build tree as {name: {"type", "sources", "deps"}} (paths relative to ROOT).

    Re-runs cmake in the build tree (a second or so when nothing changed), which writes the
    file-API reply for the query placed there."""
    query = build_dir / ".cmake/api/v1/query/codemodel-v2"
    reply_dir = build_dir / ".cmake/api/v1/reply"
    cache = build_dir / "CMakeCache.txt"
    if not cache.exists():
        sys.exit(f"check_deps: {build_dir} is not a configured CMake build tree")
    # Always ask afresh: a reply left from an earlier configure may predate a CMakeLists change.
    query.parent.mkdir(parents=True, exist_ok=True)
    query.touch()
    subprocess.run(["cmake", str(build_dir)], check=True, stdout=subprocess.DEVNULL)
    indexes = sorted(reply_dir.glob("index-*.json"))
    if not indexes:
        sys.exit(f"check_deps: cmake wrote no file-API reply in {reply_dir}")
    index = json.loads(indexes[-1].read_text())
    codemodel_file = index["reply"]["codemodel-v2"]["jsonFile"]
    codemodel = json.loads((reply_dir / codemodel_file).read_text())
    source_root = Path(codemodel["paths"]["source"])
    by_id = {}
    for entry in codemodel["configurations"][0]["targets"]:
        target = json.loads((reply_dir / entry["jsonFile"]).read_text())
        sources = []
        for source in target.get("sources", []):
            path = Path(source["path"])
            if path.is_absolute():
                try:
                    path = path.relative_to(source_root)
                except ValueError:
                    continue  # generated in the build tree (protobuf)
            sources.append(path.as_posix())
        by_id[target["id"]] = {
            "name": target["name"],
            "type": target["type"],
            "sources": sources,
            "dep_ids": [d["id"] for d in target.get("dependencies", [])],
        }
    targets = {}
    for t in by_id.values():
        deps = [by_id[i]["name"] for i in t["dep_ids"] if i in by_id]
        targets[t["name"]] = {"type": t["type"], "sources": t["sources"], "deps": deps}
    return targets


def libraries(targets):
    return {n for n, t in targets.items() if t["type"] == "STATIC_LIBRARY"}


def link_closure(name, targets, libs):
    """Every library `name` depends on, with the path that reaches each: {lib: [name, ..., lib]}."""
    paths = {}
    stack = [[name]]
    while stack:
        path = stack.pop()
        for dep in targets[path[-1]]["deps"]:
            if dep in libs and dep not in paths:
                paths[dep] = path + [dep]
                stack.append(paths[dep])
    return paths


def header_owners(targets, libs):
    """{folder: {stem: lib}} and {folder: set(libs)} from the libraries' .cc sources."""
    by_stem, by_folder = {}, {}
    for lib in libs:
        for source in targets[lib]["sources"]:
            folder, file = os.path.split(source)
            stem = file.rsplit(".", 1)[0]
            by_stem.setdefault(folder, {})[stem] = lib
            by_folder.setdefault(folder, set()).add(lib)
    return by_stem, by_folder


def owners_of(include, by_stem, by_folder):
    """The libraries a project header may belong to (one, or a folder's several for a header
    with no .cc of its own in a folder shared by libraries); None when it is not ours."""
    for prefix, lib in PUBLIC_HEADER_OWNERS.items():
        if include.startswith(prefix):
            return {lib}
    # Includes are by full path from src/ (apps' shared helpers: from the repository root).
    path = next((p for p in ("src/" + include, include) if (ROOT / p).is_file()), None)
    if path is None:
        return None
    folder, file = os.path.split(path)
    stem = file.rsplit(".", 1)[0]
    if stem in by_stem.get(folder, {}):
        return {by_stem[folder][stem]}
    return by_folder.get(folder) or set()


def includes_of(path):
    try:
        return INCLUDE_RE.findall((ROOT / path).read_text(errors="replace"))
    except OSError:
        return []


def is_test_target(name, t):
    if name.endswith("_test") or name.endswith("_bench"):
        return True
    return bool(t["sources"]) and all(
        s.startswith(("tests/", "src/testing/", "bench/micro/")) or s.endswith("_test.cc")
        for s in t["sources"])


def find_cycle(targets, libs):
    state, stack = {}, []

    def visit(lib):
        state[lib] = 1
        stack.append(lib)
        for dep in targets[lib]["deps"]:
            if dep not in libs:
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[lib] = 2
        return None

    for lib in sorted(libs):
        if lib not in state:
            cycle = visit(lib)
            if cycle:
                return cycle
    return None


def check(targets):
    libs = libraries(targets)
    by_stem, by_folder = header_owners(targets, libs)
    problems = []

    for name in sorted(targets):
        t = targets[name]
        if t["type"] not in ("STATIC_LIBRARY", "EXECUTABLE", "MODULE_LIBRARY", "SHARED_LIBRARY"):
            continue
        closure = link_closure(name, targets, libs)
        reachable = set(closure) | {name}

        # 1 + 3: includes, of the target's sources and of the headers beside them.
        files = list(t["sources"])
        for source in t["sources"]:
            folder = os.path.dirname(source)
            stem = os.path.basename(source).rsplit(".", 1)[0]
            header = f"{folder}/{stem}.h"
            if (ROOT / header).exists():
                files.append(header)
        for path in files:
            for include in includes_of(path):
                if include.startswith("master/core/") and not path.startswith(CORE_FOLDERS):
                    problems.append(f"{path}: includes {include}: only src/master/core, "
                                    "src/master/service and bench/micro may include the core")
                owners = owners_of(include, by_stem, by_folder)
                if owners is None or not owners:
                    continue  # a third-party header, or a header-only folder nobody links
                if not owners & reachable:
                    problems.append(
                        f"{path}: includes {include} of {'/'.join(sorted(owners))}, which "
                        f"{name} does not depend on (add it to {name}'s DEPS, or do not use it)")

        # 2: the master core.
        if CORE_LIBRARY in closure and name not in CORE_LINKERS and name != CORE_LIBRARY:
            through_door = CORE_TEST_DOOR in closure and is_test_target(name, t)
            if not all(s.startswith(CORE_FOLDERS) for s in t["sources"]) and not through_door:
                problems.append(f"{name} links {CORE_LIBRARY} (" + " -> ".join(closure[CORE_LIBRARY]) +
                                "): outside the master, speak store_types and the codec")

        # 5: test helpers.
        if TESTING_LIBRARY in closure and not is_test_target(name, t):
            problems.append(f"{name} links {TESTING_LIBRARY} (" +
                            " -> ".join(closure[TESTING_LIBRARY]) + "), which is for tests only")

    # 4: cycles.
    cycle = find_cycle(targets, libs)
    if cycle:
        problems.append("library dependency cycle: " + " -> ".join(cycle))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", required=True, type=Path)
    args = parser.parse_args()
    targets = load_codemodel(args.build_dir.resolve())
    problems = check(targets)
    for problem in problems:
        print("check_deps:", problem)
    if problems:
        print(f"check_deps: {len(problems)} violation(s)")
        return 1
    print(f"check_deps: {len(targets)} targets, {len(libraries(targets))} libraries: "
          "module graph OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
