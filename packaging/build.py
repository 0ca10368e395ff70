"""Build the one-folder desktop app with PyInstaller: packaging/dist/lookalike/lookalike[.exe].

pip install pyinstaller && python packaging/build.py [--with-cuda]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(with_cuda: bool = False) -> Path:
    env = {**os.environ, "LOOKALIKE_WITH_CUDA": "1" if with_cuda else "0"}
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(HERE / "dist"),
            "--workpath",
            str(HERE / "build"),
            str(HERE / "lookalike.spec"),
        ],
        check=True,
        env=env,
    )
    out = HERE / "dist" / "lookalike"
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"built {out} in {time.perf_counter() - t0:.0f} s, {size / 1e6:.0f} MB")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--with-cuda", action="store_true", help="keep onnxruntime's CUDA/TensorRT providers")
    build(ap.parse_args().with_cuda)
