"""The scale-out path through the real command line: import → batch → retrain → export on a Spark
standalone cluster (spark://) and over Spark Connect (sc://) gives byte for byte the export of a
local[*] run; a cluster master without a shared checkpoint directory refuses to start.

`make test-cluster` (.ci/test-cluster) starts the services and sets TASTEMAKER_TEST_SPARK_MASTER,
TASTEMAKER_TEST_SPARK_CHECKPOINT_DIR (shared by driver and executors, outside /tmp),
TASTEMAKER_TEST_SPARK_WORKER_TMP ("private" when the worker has its own /tmp) and
TASTEMAKER_TEST_SPARK_REMOTE; without them those tests skip. Run this file on its own: the session
fixture's application would hold the cluster's cores.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

MASTER = os.environ.get("TASTEMAKER_TEST_SPARK_MASTER", "")
SHARED_CKPT = os.environ.get("TASTEMAKER_TEST_SPARK_CHECKPOINT_DIR", "")
WORKER_TMP = os.environ.get("TASTEMAKER_TEST_SPARK_WORKER_TMP", "")
REMOTE = os.environ.get("TASTEMAKER_TEST_SPARK_REMOTE", "")

needs_cluster = pytest.mark.skipif(
    not (MASTER.startswith("spark://") and SHARED_CKPT),
    reason="no Spark cluster: TASTEMAKER_TEST_SPARK_MASTER / _CHECKPOINT_DIR unset (make test-cluster)",
)
needs_private_tmp = pytest.mark.skipif(
    WORKER_TMP != "private",
    reason=f"the cluster's worker shares the driver's /tmp ({WORKER_TMP or 'no cluster'})",
)
needs_connect = pytest.mark.skipif(
    not REMOTE,
    reason="no Spark Connect server: TASTEMAKER_TEST_SPARK_REMOTE unset (make test-cluster sets it)",
)


def _cli(*args: str, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    """``tastemaker ARGS`` with the Spark settings in ``env`` only (none inherited)."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_SPARK") and k != "SPARK_REMOTE"
    }
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**base, "COLUMNS": "200", "TASTEMAKER_ALS_RANK": "8", **env},
    )
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def _plays_csv(path: Path, community: int) -> Path:
    """A deterministic community: 30 members, each with 12–25 tracks of 80 artists (3 tracks
    each), popular artists more often, 1–20 plays each in November 2026."""
    rnd = random.Random(community)
    weights = [1 / (a + 1) for a in range(80)]
    lines = ["user,artist,track,played_at,count"]
    for m in range(30):
        for a in sorted(set(rnd.choices(range(80), weights=weights, k=rnd.randint(12, 25)))):
            track = rnd.randrange(3)
            when = f"2026-11-{rnd.randint(1, 28):02d}T12:00:00"
            lines.append(f"m{community}-{m},Artist {a},Song {a}-{track},{when},{rnd.randint(1, 20)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(tmp: Path, spark_env: dict[str, str]) -> dict[str, bytes]:
    """Import two communities, fold and retrain, export both kinds; the export files' bytes."""
    tmp.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{tmp / 'tastemaker.db'}"
    env = {**spark_env, "TMPDIR": str(tmp)}  # the local default checkpoint base: checked below
    for community in (1, 2):
        _cli("import", "csv", str(_plays_csv(tmp / f"c{community}.csv", community)),
             "--community", f"c{community}", "--db", db, env=env)  # fmt: skip
    _cli("batch", "--retrain", "--db", db, env=env)
    out = {}
    for kind in ("artist", "track"):
        tsv = tmp / f"{kind}.tsv"
        _cli("export", "recommendations", "--db", db, "--kind", kind, "--out", str(tsv), env=env)
        out[kind] = tsv.read_bytes()
    assert not list(tmp.glob("tastemaker-ckpt-*")), "a retrain left its checkpoint folder behind"
    return out


@pytest.fixture(scope="module")
def local_export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    export = _run(tmp_path_factory.mktemp("local"), {"TASTEMAKER_SPARK_MASTER": "local[*]"})
    assert all(export[kind].count(b"\n") > 100 for kind in export)  # every member has picks
    return export


def test_a_cluster_master_without_a_checkpoint_directory_refuses_in_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tastemaker.db'}"
    r = _cli(
        "batch", "--retrain", "--db", db, env={"TASTEMAKER_SPARK_MASTER": "spark://127.0.0.1:9"}, ok=False
    )
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "error: Spark master spark://127.0.0.1:9 is a cluster: set TASTEMAKER_SPARK_CHECKPOINT_DIR to a path "
        "or URI that the driver and every executor share (an NFS mount, hdfs://…, s3a://…)"
    ]
    assert not (tmp_path / "tastemaker.db").exists()  # refused before anything started


@needs_cluster
def test_the_cluster_export_equals_the_local_one(tmp_path: Path, local_export: dict[str, bytes]) -> None:
    before = set(os.listdir(SHARED_CKPT))
    export = _run(
        tmp_path,
        {"TASTEMAKER_SPARK_MASTER": MASTER, "TASTEMAKER_SPARK_CHECKPOINT_DIR": SHARED_CKPT,
         "SPARK_LOCAL_IP": "127.0.0.1"},
    )  # fmt: skip
    assert export == local_export
    assert set(os.listdir(SHARED_CKPT)) == before  # the retrain's checkpoints were removed


@needs_cluster
@needs_private_tmp
def test_a_checkpoint_directory_the_executors_cannot_see_fails_in_one_line(tmp_path: Path) -> None:
    """The worker has its own /tmp: a checkpoint folder in the driver's /tmp (the old default) is
    not where the executors write, and ALS fails; the operator reads one line, the trace is logged."""
    ckpt = Path("/tmp") / f"{tmp_path.name}-ckpt"
    ckpt.mkdir()
    try:
        env = {"TASTEMAKER_SPARK_MASTER": MASTER, "TASTEMAKER_SPARK_CHECKPOINT_DIR": str(ckpt),
               "SPARK_LOCAL_IP": "127.0.0.1"}  # fmt: skip
        db = f"sqlite:///{tmp_path / 'tastemaker.db'}"
        _cli(
            "import", "csv", str(_plays_csv(tmp_path / "c1.csv", 1)), "--community", "c1", "--db", db, env=env
        )
        r = _cli("batch", "--retrain", "--db", db, env=env, ok=False)
        assert r.returncode == 1
        assert (
            "error: job retrain failed: the Spark executors cannot use the checkpoint directory" in r.stderr
        )
        assert "Traceback" not in r.stderr and "\tat " not in r.stderr
        assert not list(ckpt.iterdir())  # the failed fit's folder is removed too
    finally:
        ckpt.rmdir()


@needs_connect
def test_the_spark_connect_export_equals_the_local_one(
    tmp_path: Path, local_export: dict[str, bytes]
) -> None:
    assert _run(tmp_path, {"TASTEMAKER_SPARK_REMOTE": REMOTE}) == local_export
