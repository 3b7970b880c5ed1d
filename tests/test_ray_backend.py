"""The Ray backend: trials in parallel through AutoGluon's Ray Tune executor, locally and on a loopback cluster."""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is installed by `make test` (autogluon.core[raytune])")
pytestmark = pytest.mark.ray


def overlapping_pairs(trials):
    return sum(1 for a in trials for b in trials
               if a["trial_id"] < b["trial_id"] and a["start_time"] < b["end_time"] and b["start_time"] < a["end_time"])


def test_two_local_workers_run_trials_in_parallel_and_keep_their_times(tiny_corpus, tmp_path):
    from autoasr import ASRPredictor

    predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=0)
    started = time.time()
    try:
        predictor.fit(tiny_corpus, time_limit=60, backend="ray", num_workers=2)
    finally:
        ray.shutdown()
    assert time.time() - started <= 60 * 1.1 + 10
    trials = predictor.leaderboard().to_dict(orient="records")
    assert len(trials) >= 2
    assert overlapping_pairs(trials) >= 1, "no two trials ran at the same time"
    assert all(t["end_time"] >= t["start_time"] for t in trials)
    assert predictor.best_trial_id is not None


def test_two_node_cluster_on_loopback_runs_the_search(tiny_corpus, tmp_path):
    """A head and a worker node started with `ray start`, inside a private network namespace whose only
    interface is loopback, so every Ray connection stays on 127.0.0.1."""
    namespace = f"autoasr-ray-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", namespace], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace (needs root and iproute2)")
    inside = ["ip", "netns", "exec", namespace]
    ray_cli = str(Path(sys.executable).parent / "ray")
    # inside the namespace loopback is the only address, so Ray's multi-node mode stays on 127.0.0.1
    environment = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}
    port = "6391"
    common = ["--num-cpus", "1", "--disable-usage-stats"]

    def ray_start(*arguments):
        started = subprocess.run([*inside, ray_cli, "start", *arguments, *common], capture_output=True, text=True,
                                 env=environment, timeout=180)
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]

    try:
        subprocess.run([*inside, "ip", "link", "set", "lo", "up"], check=True)
        # the head's own short temp folder (Unix socket paths must stay short); a worker node on the
        # same machine keeps Ray's default one, as `ray start --address` expects
        ray_start("--head", "--port", port, "--include-dashboard", "false",
                  "--temp-dir", tempfile.mkdtemp(prefix="ray", dir="/tmp"))
        ray_start("--address", f"127.0.0.1:{port}")
        nodes = subprocess.run([*inside, sys.executable, "-c", f"import ray; ray.init(address='127.0.0.1:{port}'); "
                                "print(sorted(n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']))"],
                               capture_output=True, text=True, env=environment, timeout=120)
        assert nodes.stdout.strip().splitlines()[-1] == "['127.0.0.1', '127.0.0.1']", nodes.stderr[-2000:]
        output = tmp_path / "run"
        result = subprocess.run([*inside, sys.executable, "-m", "autoasr.cli", "fit", str(tiny_corpus),
                                 "--time-limit", "60", "--backend", "ray", "--num-workers", "2",
                                 "--ray-address", f"127.0.0.1:{port}", "--output", str(output), "--domain", "commands"],
                                capture_output=True, text=True, env=environment, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        trials = json.loads(subprocess.run([sys.executable, "-m", "autoasr.cli", "leaderboard", str(output), "--json"],
                                           capture_output=True, text=True, timeout=120).stdout)
        assert len(trials) >= 2 and overlapping_pairs(trials) >= 1
    finally:
        subprocess.run([*inside, ray_cli, "stop", "--force"], capture_output=True, env=environment, timeout=120)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
