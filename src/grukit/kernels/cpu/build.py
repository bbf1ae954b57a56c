"""Building and loading the fused CPU extension (C++, compiled once per machine and cached).

The build uses torch.utils.cpp_extension with ninja, optimised for this machine's CPU
(``-march=native``). The build folder is named by a digest of everything the library
depends on (``build_directory``: the C++ sources, this file with the compiler's
arguments, the Python ABI, the torch build, the CPU's instruction-set flags), so a
library found there is current and later processes import it directly, without
cpp_extension or ninja; it is never used on a CPU or a torch it was not built for.
Cache folder: ``$GRUKIT_CACHE_DIR`` or ``~/.cache/grukit``. ``grukit build`` builds ahead of
time; otherwise the first fused forward pass builds it (about 30 s).

What is loaded from the cache is verified: the folder must not be writable by other users
(code planted there would run in this process), and the library must match the SHA-256
recorded when it was built (a truncated or replaced file is rebuilt instead of loaded).
Builds are serialised with an ``flock`` on ``build.lock``, which the kernel releases when
its holder dies, so a build killed half-way never leaves the next process waiting; torch's
own ``lock`` file, which a killed build leaves behind and which torch would wait on
forever, is cleared while the flock is held.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import logging
import os
import platform
import shutil
import stat
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import torch

EXTENSION_NAME = "grukit_cpu"
# -fopenmp: at::parallel_for is an inline OpenMP loop; without the flag it compiles to a
# serial one in this extension.
COMPILE_FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fopenmp")
LINK_FLAGS = ("-fopenmp",)


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
    """Where this machine's build of the current sources lives. Its name is a digest of
    everything the build depends on: the C++ sources and headers beside this file, this
    file (the compiler's arguments), the Python ABI, the torch build and install, the CPU's
    features. So a verified library found there is current, and is imported as it is."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*here.glob("*.cpp"), *here.glob("*.h"), Path(__file__)]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    abi = (
        sysconfig.get_config_var("EXT_SUFFIX"),
        torch.__version__,
        torch.version.git_version,
        torch._C._GLIBCXX_USE_CXX11_ABI,
        Path(torch.__file__).parent,
        platform.machine(),
        cpu_flags(),
    )
    digest.update("|".join(map(str, abi)).encode())
    return cache_root() / f"{EXTENSION_NAME}-{digest.hexdigest()[:16]}"


class BuildError(RuntimeError):
    """The fused extension could not be built here; the message says why."""


def check_cache_folder(folder: Path) -> None:
    """Raise BuildError when another user could plant code in ``folder``: it is writable by
    group or others, or owned by another user. (``auto`` then warns with this reason and
    runs the reference backend.)"""
    if not folder.exists():
        return
    info = folder.stat()
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        why = "writable by other users"
    elif info.st_uid != os.getuid():
        why = "owned by another user"
    else:
        return
    raise BuildError(
        f"the kernel cache folder {folder} is {why}; grukit does not load compiled code from "
        f"it (set GRUKIT_CACHE_DIR to a folder only you can write, or chmod go-w {folder})"
    )


def library_digest(library: Path) -> str:
    return hashlib.sha256(library.read_bytes()).hexdigest()


def library_is_verified(library: Path) -> bool:
    """Whether ``library`` matches the SHA-256 recorded beside it when it was built."""
    record = library.with_name(library.name + ".sha256")
    try:
        return record.read_text().strip() == library_digest(library)
    except OSError:
        return False


def record_library(library: Path) -> None:
    record = library.with_name(library.name + ".sha256")
    partial = record.with_name(record.name + f".tmp-{os.getpid()}")
    partial.write_text(library_digest(library) + "\n")
    os.replace(partial, record)


@contextlib.contextmanager
def build_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``directory/build.lock`` (say so if another process holds
    it), and clear a ``lock`` file torch's build left behind: under the flock no other
    grukit process is building, so such a file belongs to a dead build."""
    with open(directory / "build.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"grukit: waiting for another process building or loading the kernels in "
                f"{directory} ...",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            (directory / "lock").unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.cache
def load_extension(verbose: bool = False) -> ModuleType:
    """Build (first time) and import the extension; raise BuildError with the reason."""
    directory = build_directory()
    check_cache_folder(cache_root())
    cache_root().mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.mkdir(mode=0o700, exist_ok=True)
    check_cache_folder(directory)
    with build_lock(directory):
        return _build_and_import(directory, verbose)


def _build_and_import(directory: Path, verbose: bool) -> ModuleType:
    library = directory / f"{EXTENSION_NAME}.so"
    if library.exists():
        if library_is_verified(library):
            # Current by the directory's key and verified: import it as it is. Going through
            # cpp_extension.load would import setuptools and run ninja to find nothing to
            # do, a quarter of a second `grukit generate` would wait before its first token.
            try:
                return _import_library(library)
            except ImportError as error:  # e.g. a system library it links changed
                why = f"did not load ({error})"
        else:
            why = (
                "is not the library recorded when it was built (its SHA-256 differs or was "
                "never recorded: truncated, replaced or from an older grukit)"
            )
        print(f"grukit: {library} {why}; rebuilding it", file=sys.stderr, flush=True)
        library.unlink()
    from torch.utils import cpp_extension

    _put_ninja_on_path()
    # torch warns at length about an unexpected compiler; the error below says what matters.
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    # Half a minute of silence would look like a hang.
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
            extra_cflags=list(COMPILE_FLAGS),
            extra_ldflags=list(LINK_FLAGS),
            build_directory=str(directory),
            verbose=verbose,
        )
        record_library(library)
        seconds = time.perf_counter() - started
        print(f"grukit: kernels built in {seconds:.0f} s", file=sys.stderr, flush=True)
        return extension
    except Exception as error:  # compiler, ninja or linker missing or failing
        raise BuildError(f"the fused CPU extension could not be built: {_reason(error)}") from error
    finally:
        logger.setLevel(level)


def _import_library(library: Path) -> ModuleType:
    """Import the built extension module from its shared library."""
    spec = importlib.util.spec_from_file_location(EXTENSION_NAME, library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def constant_under_compile(function):
    """``torch.compiler.assume_constant_result`` (under torch.compile the function's answer
    is a constant of the graph, not something to trace) without its import of
    ``torch._dynamo``, which takes 1.4 s, as long as torch itself: a module-level decorator
    would make every ``import grukit`` pay for it, ``grukit generate`` included. It sets
    the marker torch's decorator sets (tests/kernels check they stay the same)."""
    function._dynamo_marked_constant = True
    return function


_availability: tuple[bool, str] | None = None


# Under torch.compile the answer is a constant of the graph, not something to trace.
@constant_under_compile
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
