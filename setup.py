"""Builds the extension mooncake._mooncake with the project's CMake build (see pyproject.toml).

The CMake tree is build-pip/ (MOONCAKE_BUILD_DIR overrides it), built as Release
(MOONCAKE_BUILD_TYPE) for the Python running pip; only the extension's target is built.
Nothing is downloaded: every dependency comes from Debian (scripts/install-deps.sh).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(os.environ.get("MOONCAKE_BUILD_DIR", ROOT / "build-pip")).resolve()
        configure = ["cmake", "-S", str(ROOT), "-B", str(build_dir),
                     "-DCMAKE_BUILD_TYPE=" + os.environ.get("MOONCAKE_BUILD_TYPE", "Release"),
                     "-DPython3_EXECUTABLE=" + sys.executable]
        if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        subprocess.check_call(configure)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "mooncake_python",
                               "-j", jobs])
        built = sorted((build_dir / "python" / "mooncake").glob("_mooncake*.so"))
        if not built:
            raise RuntimeError(f"no _mooncake*.so in {build_dir}/python/mooncake")
        destination = Path(self.get_ext_fullpath(ext.name))
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], destination)


(ROOT / "build-pip").mkdir(exist_ok=True)
setup(
    ext_modules=[CMakeExtension("mooncake._mooncake")],
    cmdclass={"build_ext": CMakeBuild},
    # setuptools' own build/ would land inside CMake's Release tree build/.
    options={"build": {"build_base": "build-pip/setuptools"},
             "egg_info": {"egg_base": "build-pip"}},
)
