"""shop/metrics.py: Prometheus text exposition, bounded route labels."""

from __future__ import annotations

from starlette.routing import Route

from pytest_prodcheck.shop.metrics import BUCKETS, Metrics, route_template


def _lines(text: str, prefix: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(prefix)]


def test_counters_by_method_route_status():
    m = Metrics()
    for status in (200, 200, 404):
        m.observe("GET", "/api/products/{id}", status, 0.003)
    text = m.render()
    assert (
        'shop_http_requests_total{method="GET",route="/api/products/{id}",status="200"} 2' in text
    )
    assert (
        'shop_http_requests_total{method="GET",route="/api/products/{id}",status="404"} 1' in text
    )
    assert "# TYPE shop_http_requests_total counter" in text


def test_histogram_is_cumulative_with_inf_sum_and_count():
    m = Metrics()
    for seconds in (0.001, 0.02, 0.3, 42.0):
        m.observe("GET", "/", 200, seconds)
    buckets = _lines(m.render(), "shop_http_request_duration_seconds_bucket")
    assert len(buckets) == len(BUCKETS) + 1
    values = [int(b.split()[-1]) for b in buckets]
    assert values == sorted(values) and values[-1] == 4
    assert buckets[0].endswith(" 1") and 'le="0.005"' in buckets[0]
    assert buckets[-1] == 'shop_http_request_duration_seconds_bucket{route="/",le="+Inf"} 4'
    text = m.render()
    assert 'shop_http_request_duration_seconds_count{route="/"} 4' in text
    assert 'shop_http_request_duration_seconds_sum{route="/"} 42.321000' in text


def test_pool_stats_and_label_escaping():
    m = Metrics()
    m.observe("GET", 'we"ird\\route', 200, 0.1)
    text = m.render({"main": {"pool_size": 4, "pool_available": 3, "requests_waiting": 0}})
    assert 'route="we\\"ird\\\\route"' in text
    assert 'shop_db_pool_size{db="main"} 4' in text
    assert 'shop_db_pool_available{db="main"} 3' in text
    assert "# TYPE shop_db_pool_requests_total counter" in text
    assert text.endswith("\n")


def test_route_template_drops_convertors():
    async def view(request):  # pragma: no cover - never called
        return None

    assert (
        route_template(Route("/api/cart/items/{item_id:int}", view)) == "/api/cart/items/{item_id}"
    )
    assert route_template(None) == "unmatched"


def test_workers_snapshots_are_summed_and_dead_workers_keep_only_counters(tmp_path):
    import json
    import os

    from pytest_prodcheck.shop.metrics import SharedMetrics

    me, other = Metrics(), Metrics()
    me.observe("GET", "/", 200, 0.01)
    other.observe("GET", "/", 200, 0.02)
    other.observe("GET", "/", 200, 0.3)
    peer = other.snapshot({"main": {"pool_size": 4}})
    share = SharedMetrics(tmp_path)
    share.publish(me.snapshot())
    (tmp_path / "worker-1.json").write_text(json.dumps({**peer, "pid": os.getppid()}))
    (tmp_path / "worker-999999999.json").write_text(json.dumps({**peer, "pid": 999999999}))
    text = me.render({"main": {"pool_size": 2}}, share.peers())
    assert 'shop_http_requests_total{method="GET",route="/",status="200"} 5' in text
    assert 'shop_http_request_duration_seconds_count{route="/"} 5' in text
    assert 'shop_db_pool_size{db="main"} 6' in text  # the dead worker's pool is not counted
    assert "shop_workers 3" in text and "process_resident_memory_bytes " in text
