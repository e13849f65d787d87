"""ALS fit time and peak memory: tastemaker's Spark path versus the `implicit` library, on the same
synthetic power-law matrices (rank 64, 10 iterations), plus Spark with Java vs native BLAS.

Each fit runs in its own process; the parent samples the RSS of the whole process tree (the JVM
included) every 100 ms."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time

import numpy as np
import psutil
from common import ROOT, Section

RANK, ITERS, REG, ALPHA = 64, 10, 0.1, 1.0


def matrix(nnz: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power-law users and items, log-normal play counts; duplicates summed."""
    rng = np.random.default_rng(seed)
    users = max(1000, nnz // 50)
    items = max(2000, nnz // 25)
    pu = np.arange(1, users + 1, dtype=np.float64) ** -0.6
    pi = np.arange(1, items + 1, dtype=np.float64) ** -0.9
    u = rng.choice(users, size=int(nnz * 1.1), p=pu / pu.sum())
    i = rng.choice(items, size=int(nnz * 1.1), p=pi / pi.sum())
    key = np.unique(u.astype(np.int64) * items + i)[:nnz]
    plays = np.maximum(1, rng.lognormal(1.5, 1.2, size=len(key)).astype(np.int64))
    return (key // items).astype(np.int32), (key % items).astype(np.int32), plays


def worker(kind: str, nnz: int, native: bool, blocks: int) -> dict:
    u, i, p = matrix(nnz)
    if kind == "implicit":
        import scipy.sparse as sp
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        conf = sp.csr_matrix((1.0 + ALPHA * np.log1p(p.astype(np.float32)), (u, i)))
        model = AlternatingLeastSquares(
            factors=RANK,
            regularization=REG,
            alpha=1.0,
            iterations=ITERS,
            random_state=1,
            calculate_training_loss=False,
        )
        with threadpool_limits(1, "blas"):
            t = time.perf_counter()
            model.fit(conf, show_progress=False)
            return {"seconds": time.perf_counter() - t}
    import pyarrow as pa

    from config.settings import Settings
    from engine.als import AlsParams
    from engine.recommender import AlsRecommender
    from engine.session import build_session

    java = (
        ""
        if native
        else "-Ddev.ludovic.netlib.blas.allowNative=false -Ddev.ludovic.netlib.lapack.allowNative=false"
    )
    spark = build_session(
        Settings(
            spark_master="local[2]",
            spark_shuffle_partitions=blocks,
            spark_driver_memory="6g",
            spark_java_options=java,
        )
    )
    pairs = spark.createDataFrame(pa.table({"user": u, "item": i, "plays": p})).cache()
    pairs.count()
    params = AlsParams(rank=RANK, reg_param=REG, alpha=ALPHA, iterations=ITERS, seed=1)
    t = time.perf_counter()
    AlsRecommender(params).fit(pairs, blocks=blocks)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    AlsRecommender(params).fit(pairs, blocks=blocks)  # the long-lived session's case: JIT warm
    warm = time.perf_counter() - t
    blas = spark.sparkContext._jvm.dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName()  # type: ignore[union-attr]
    spark.stop()
    return {"seconds": warm, "cold": cold, "blas": blas}


def measure(kind: str, nnz: int, native: bool = True, blocks: int = 2) -> tuple[float, float, str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--nnz",
        str(nnz),
        "--native",
        str(int(native)),
        "--blocks",
        str(blocks),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        p = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    done.set()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} fit failed ({proc.returncode})")
    res = json.loads(out.strip().splitlines()[-1])
    return res["seconds"], peak / 2**20, res.get("blas", ""), res.get("cold", res["seconds"])


def run(quick: bool) -> Section:
    sizes = [200_000] if quick else [1_000_000, 5_000_000]
    cmd = "python bench/als_fit.py" + (" --quick" if quick else "")
    sec = Section(
        f"ALS fit: Spark (tastemaker) vs implicit, rank {RANK}, {ITERS} iterations",
        cmd,
        [
            "non-zeros",
            "fit",
            "BLAS",
            "seconds (warm)",
            "first fit in process (s)",
            "peak RSS, process tree (MiB)",
            "warm ratio to implicit",
        ],
    )
    for nnz in sizes:
        t_imp, m_imp, _, _ = measure("implicit", nnz)
        sec.rows.append(
            [nnz, "implicit 0.7 (CPU, 1 BLAS thread, 2 cores)", "OpenBLAS", t_imp, "-", m_imp, 1.0]
        )
        for native in (False, True):
            t, m, blas, cold = measure("spark", nnz, native=native, blocks=2)
            sec.rows.append([nnz, "Spark MLlib ALS, local[2], 2 blocks", blas, t, cold, m, t / t_imp])
            target = "met" if t / t_imp <= 3 else "missed"
            sec.notes.append(
                f"{nnz:,} non-zeros, {blas}: Spark / implicit = {t / t_imp:.1f}x (target <= 3x: {target})."
            )
    sec.notes.append(
        "What bounds Spark here: every iteration shuffles the factor blocks between the two local "
        "partitions through Spark's block manager, in the JVM, while implicit solves in place with "
        "native code on one CSR matrix. Fewer blocks (2 instead of Spark's default 10) and native BLAS "
        "are what helped; the gap is the price of a path that runs unchanged on a cluster. Retraining "
        "is off the request path (members get fold-in picks in milliseconds meanwhile)."
    )
    sec.notes.append(
        "Spark times exclude the session start (about 10 s, paid once per worker process) and include "
        "pulling the factors to the driver; 'warm' is the second fit in the same session (tastemaker keeps "
        "one session alive), 'first fit' includes JIT warm-up. implicit fits a CSR matrix with the same "
        "log1p confidence. VectorBLAS is Spark's pure-Java BLAS (JDK vector API); JNIBLAS is native "
        "OpenBLAS (Debian libopenblas0-pthread, installed by make install)."
    )
    return sec


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker")
    ap.add_argument("--nnz", type=int, default=200_000)
    ap.add_argument("--native", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=2)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.nnz, bool(a.native), a.blocks)))
    else:
        print(run(a.quick).markdown())
