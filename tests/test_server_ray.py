"""eager serve --ray on a real two-node Ray cluster (ray.cluster_utils.Cluster on this machine)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

if importlib.util.find_spec("ray") is None or importlib.util.find_spec("uvicorn") is None:
    if "ray" in {b.strip() for b in os.environ.get("EAGEREXEC_REQUIRE_BACKENDS", "").split(",")}:
        raise RuntimeError("ray is required here (EAGEREXEC_REQUIRE_BACKENDS) but not installed")
    pytest.skip("ray or the server extra is not installed", allow_module_level=True)

from test_server_live import AUTH, program, running_server, stdout
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

PROGRAM = "import socket\nvals = [i * i for i in range(5)]\nprint(sum(vals))\nprint(vals[7])\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    try:
        yield c, worker
    finally:
        c.shutdown()


def test_sessions_spread_over_nodes_results_match_and_a_lost_node_says_so(cluster: Any) -> None:
    c, worker = cluster
    with running_server("--pool", "0") as (plain, _):
        async def single() -> dict[str, Any]:
            async with connect(f"{plain}/v1/stream", additional_headers=AUTH) as ws:
                return (await program(ws, [PROGRAM]))[-1]["result"]

        reference = asyncio.run(single())

    with running_server("--ray", c.address, "--pool", "0") as (url, _):
        async def go() -> None:
            async with connect(f"{url}/v1/stream", additional_headers=AUTH) as a, connect(
                f"{url}/v1/stream", additional_headers=AUTH
            ) as b:
                ra, rb = await asyncio.gather(program(a, [PROGRAM]), program(b, list(PROGRAM)))
                nodes = {ra[-1]["result"]["node"], rb[-1]["result"]["node"]}
                assert nodes == {c.head_node.node_id, worker.node_id}  # one session on each node
                for msgs in (ra, rb):  # (stopped_early depends on whether `end` beat the error: not compared)
                    result = msgs[-1]["result"]
                    for key in ("stdout", "stderr", "state_lost", "exit_code"):
                        assert result[key] == reference[key], key
                    for key in ("type", "message", "line", "line_text", "chunk"):
                        assert result["error"][key] == reference["error"][key], key
                    assert result["error"]["type"] == "IndexError"
                    assert [m["error"]["type"] for m in msgs if m["type"] == "error"] == ["IndexError"]
                assert ra[-1]["result"]["code"] == reference["code"]
                assert stdout(await program(a, ["print(len(vals))\n"])) == "5\n"  # state stays on its actor

                on_worker = a if ra[-1]["result"]["node"] == worker.node_id else b
                other = b if on_worker is a else a
                await on_worker.send(json.dumps({"type": "delta", "text": "import time\nprint('go', flush=True)\n"}))
                while json.loads(await on_worker.recv())["type"] != "output":
                    pass
                await on_worker.send(json.dumps({"type": "delta", "text": "time.sleep(120)\n"}))
                await on_worker.send(json.dumps({"type": "end"}))
                await asyncio.to_thread(c.remove_node, worker)
                records = []
                try:
                    async with asyncio.timeout(120):
                        while True:
                            records.append(json.loads(await on_worker.recv()))
                except ConnectionClosed:
                    pass
                kinds = [r["type"] for r in records]
                assert "state_lost" in kinds
                error = next(r for r in records if r["type"] == "error")
                assert error["stop"] is True and "lost" in error["error"]["message"]
                assert on_worker.close_code == 1011
                assert stdout(await program(other, ["print('head alive')\n"])) == "head alive\n"

        asyncio.run(go())
