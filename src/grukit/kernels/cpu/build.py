"""Building and loading the fused CPU extension (C++, compiled once per machine and cached).

The build uses torch.utils.cpp_extension with ninja, optimised for this machine's CPU
(``-march=native``); the cache key holds the sources, the torch and Python versions and the
CPU's instruction-set flags, so a cache is never used on a CPU it was not built for.
Cache folder: ``$GRUKIT_CACHE_DIR`` or ``~/.cache/grukit``. ``grukit build`` builds ahead of
time; otherwise the first fused forward pass builds it (about 30 s).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType

import torch

SOURCES = ("recurrence.cpp", "math.h", "buffers.h", "bf16.h", "team.h")
EXTENSION_NAME = "grukit_cpu"


def cache_root() -> Path:
    return Path(os.environ.get("GRUKIT_CACHE_DIR", Path.home() / ".cache" / "grukit"))


def cpu_flags() -> str:
    """This CPU's feature flags as /proc/cpuinfo lists them (the processor's name elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def build_directory() -> Path:
    """Where this machine's build of the current sources lives."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in SOURCES:
        digest.update((here / name).read_bytes())
    digest.update(
        f"{torch.__version__}|{sys.version_info[:2]}|{platform.machine()}|{cpu_flags()}".encode()
    )
    return cache_root() / f"{EXTENSION_NAME}-{digest.hexdigest()[:16]}"


class BuildError(RuntimeError):
    """The fused extension could not be built here; the message says why."""


@functools.cache
def load_extension(verbose: bool = False) -> ModuleType:
    """Build (first time) and import the extension; raise BuildError with the reason."""
    from torch.utils import cpp_extension

    directory = build_directory()
    directory.mkdir(parents=True, exist_ok=True)
    _put_ninja_on_path()
    # torch warns at length about an unexpected compiler; the error below says what matters.
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    first_build = not (directory / f"{EXTENSION_NAME}.so").exists()
    if first_build:  # half a minute of silence would look like a hang
        print(
            f"grukit: compiling the fused CPU kernels for this machine, once (about 35 s; "
            f"cached in {directory}) ...",
            file=sys.stderr,
            flush=True,
        )
    started = time.perf_counter()
    try:
        extension = cpp_extension.load(
            name=EXTENSION_NAME,
            sources=[str(Path(__file__).parent / "recurrence.cpp")],
            # -fopenmp: at::parallel_for is an inline OpenMP loop; without the flag it
            # compiles to a serial one in this extension.
            extra_cflags=["-O3", "-march=native", "-fno-math-errno", "-fopenmp"],
            extra_ldflags=["-fopenmp"],
            build_directory=str(directory),
            verbose=verbose,
        )
        if first_build:
            seconds = time.perf_counter() - started
            print(f"grukit: kernels built in {seconds:.0f} s", file=sys.stderr, flush=True)
        return extension
    except Exception as error:  # compiler, ninja or linker missing or failing
        raise BuildError(f"the fused CPU extension could not be built: {_reason(error)}") from error
    finally:
        logger.setLevel(level)


def _put_ninja_on_path() -> None:
    """torch runs `ninja` from PATH; a virtualenv's ninja wheel is not there unless the
    environment was activated, so add its folder when no other ninja is found."""
    if shutil.which("ninja") is not None:
        return
    try:
        import ninja
    except ImportError:
        return  # the build then fails and says ninja is missing
    os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")


def _reason(error: Exception) -> str:
    """The line of a build failure that says why (a compiler error, a missing program)."""
    # Skip torch's "Error building extension" header and ninja's echo of the command.
    lines = [
        line.strip()
        for line in str(error).splitlines()
        if line.strip() and not line.startswith(("Error building extension", "[", "FAILED"))
    ]
    for line in lines:
        lowered = line.lower()
        if "error:" in lowered or "not found" in lowered or "no such file" in lowered:
            return line
    return lines[-1] if lines else type(error).__name__


_availability: tuple[bool, str] | None = None


# Under torch.compile the answer is a constant of the graph, not something to trace.
@torch.compiler.assume_constant_result
def availability() -> tuple[bool, str]:
    """(available, reason): whether the fused backend can run here, and why not."""
    global _availability
    if _availability is None:
        try:
            load_extension()
            _availability = (True, f"built in {build_directory()}")
        except BuildError as error:
            _availability = (False, str(error))
    return _availability
