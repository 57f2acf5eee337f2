"""``hongbao serve`` arguments: refusals are clear and exit 2; several workers share a Redis store."""

from __future__ import annotations

import httpx
import pytest

from hongbao.harness.cli import main
from hongbao.loadtests.exitcodes import Exit
from tests.support.grab_checks import check_ledger, check_outcomes, check_shares, race_over_http, requests_for
from tests.support.redis_server import free_port, redis_server
from tests.support.service_proc import service_process


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--host", "0.0.0.0"], "--allow-remote"),
        (["--host", "192.168.1.10"], "not a loopback address"),
        (["--workers", "2"], "--workers 1"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--port", "70000"], "--port must be 1..65535"),
        (["--store", "postgres://x"], "--store must be memory, redis://"),
        (["--store", "python:only-two"], "python:MODULE:CLASS"),
    ],
)
def test_serve_refuses_with_a_clear_message(capsys, argv, needle):
    assert main(["serve", *argv]) == Exit.UNUSABLE
    assert needle in capsys.readouterr().err


def test_serve_refuses_an_unreachable_redis(capsys):
    port = free_port()  # nothing listens there
    assert main(["serve", "--store", f"redis://127.0.0.1:{port}/0"]) == Exit.UNUSABLE
    assert "cannot open --store" in capsys.readouterr().err


def test_serve_help_names_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = capsys.readouterr().out
    for option in ("--store", "--host", "--port", "--workers", "--seed", "--allow-remote", "--keep-alive-s"):
        assert option in text


@pytest.mark.redis
def test_two_workers_share_one_redis_store():
    """Two uvicorn worker processes race on_grab compare-and-set on one hot envelope."""
    with redis_server() as srv, service_process(srv.url, workers=2, seed=4) as svc:
        env = httpx.post(
            svc.base_url + "/envelopes",
            json={"sender": "boss", "total_cents": 99_999, "count": 120, "algorithm": "beta", "mode": "on_grab"},
        ).json()
        url = f"{svc.base_url}/envelopes/{env['id']}/grab"
        requests = requests_for(160, seed=8)

        results = race_over_http(url, requests)
        firsts = check_outcomes(results, requests, count=120)
        assert len(firsts) == 120
        check_shares(firsts, env, seed=4)
        check_ledger(httpx.get(svc.base_url + "/ledger").json(), env["id"])
        assert len(svc.pids()) >= 3  # the server and its two workers
