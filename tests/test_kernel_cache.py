"""numba's cache is keyed per file; the kernels' cache directory is keyed by all their sources (kernels/__init__)."""

import shutil
import subprocess
import sys
from pathlib import Path

import numba

import workbench.kernels as kernels
from workbench.kernels.scan import _scan_segments_parallel


def test_the_cache_directory_is_named_by_the_kernels_sources():
    assert numba.config.CACHE_DIR == kernels.CACHE_DIR
    assert kernels.CACHE_DIR.endswith("numba-" + kernels.source_hash())
    # the kernels' dispatchers were created after the directory was set: they cache there
    assert _scan_segments_parallel._cache._cache_path.startswith(kernels.CACHE_DIR)


def test_editing_any_kernel_file_changes_the_hash(tmp_path):
    """The bug this catches: the hash of one file only (or of the names only), so editing run_sums.py kept
    scan.py's stale compiled code."""
    copy = tmp_path / "kernels"
    shutil.copytree(Path(kernels.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = kernels.source_hash(copy)
    assert before == kernels.source_hash()
    path = copy / "run_sums.py"
    path.write_bytes(path.read_bytes() + b"\n# an edit\n")
    assert kernels.source_hash(copy) != before


def test_a_users_numba_cache_dir_is_kept_as_the_root(tmp_path):
    code = "import workbench.kernels as k; print(k.CACHE_DIR)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path)}).stdout.strip()
    assert out == str(tmp_path / f"numba-{kernels.source_hash()}")
