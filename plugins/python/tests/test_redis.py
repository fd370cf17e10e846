"""The engine with Redis (docs/redis.md), against a real redis-server on a
free loopback port: the verdict cache, and fleet policy distribution
(an engine following the bundle `Redis.publish` announces). Skipped
without redis-server."""

import os
import shutil
import socket
import subprocess
import time

import pytest

import sluice


@pytest.fixture(scope="module")
def redis_addr(tmp_path_factory):
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("no redis-server")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir",
                             str(d)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    addr = "127.0.0.1:%d" % port
    r = sluice.Redis(addr)
    for _ in range(100):
        try:
            r.ping()
            break
        except sluice.RedisError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield addr
    proc.kill()
    proc.wait()


def test_the_verdict_cache_misses_then_hits(redis_addr, baseline, tmp_path):
    digest = sluice.Key.generate(str(tmp_path / "d"), digest=True)[0]
    with sluice.Engine(baseline, redis=redis_addr, cache=True,
                       digest_key=digest) as e:
        text = "call 13812345678, a text long enough to cache " + "x" * 50
        v1 = e.check(text)
        v2 = e.check(text)
        assert v1.cache == "miss" and v2.cache == "hit"
        assert v2.to_dict() == v1.to_dict()


def test_redis_down_is_the_fail_mode_not_a_hang(baseline, tmp_path):
    digest = sluice.Key.generate(str(tmp_path / "d"), digest=True)[0]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with sluice.Engine(baseline, redis=sluice.Redis(
            "127.0.0.1:%d" % port, timeout_ms=50), cache=True,
            digest_key=digest) as e:
        t0 = time.monotonic()
        v = e.check("call 13812345678")
        assert time.monotonic() - t0 < 2
        assert v.action == "redact" and v.cache == "unavailable"


def test_an_engine_follows_the_fleets_published_policy(redis_addr, cli,
                                                       tmp_path, keys):
    red = sluice.Redis(redis_addr, prefix="pyfleet:")
    bundles = []
    for version, term in ((1, "alphaword"), (2, "betaword")):
        d = tmp_path / ("p%d" % version)
        d.mkdir()
        (d / "policy.yaml").write_text(
            "policy: fleet-py\nversion: %d\nrules:\n  - {id: w, action: "
            "block, terms: [%s]}\n" % (version, term))
        b = str(tmp_path / ("p%d.bundle" % version))
        subprocess.run([cli, "build", str(d), "-o", b, "--sign", keys[0]],
                       check=True, capture_output=True)
        bundles.append(open(b, "rb").read())
    red.publish(bundles[0], trust=keys[1])
    with sluice.Engine(None, trust=keys[1], redis=red, fleet=True) as e:
        v = e.check("betaword")
        assert v.policy.version == 1 and v.policy.signed
        red.publish(bundles[1], trust=keys[1])
        for _ in range(200):
            if e.check("betaword").policy.version == 2:
                break
            time.sleep(0.02)
        assert e.check("betaword").action == "block"
        assert e.fleet_stats()["swaps"] >= 2
