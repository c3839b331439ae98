"""metrics.exposition: `vigil serve`'s /metrics with its worker child's series added in."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from vigil import metrics


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def child_exposition() -> str:
    registry = CollectorRegistry()
    Counter("vigil_evaluations", "", ["outcome"], registry=registry).labels("succeeded").inc(5)
    lag = Histogram("vigil_decision_lag_seconds", "", registry=registry)
    lag.observe(0.003)
    lag.observe(7.0)
    Counter("vigil_only_in_the_child", "", registry=registry).inc(2)
    Counter("process_cpu_seconds", "", registry=registry).inc(1000)
    return generate_latest(registry).decode()


def test_the_childs_series_are_summed_into_this_processs():
    own = samples(metrics.exposition().decode())
    merged = samples(metrics.exposition([child_exposition()]).decode())

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return merged.get(key, 0.0) - own.get(key, 0.0)

    assert delta("vigil_evaluations_total", outcome="succeeded") == 5
    assert delta("vigil_decision_lag_seconds_count") == 2
    assert delta("vigil_decision_lag_seconds_sum") == pytest.approx(7.003)
    assert delta("vigil_decision_lag_seconds_bucket", le="0.005") == 1
    assert delta("vigil_decision_lag_seconds_bucket", le="+Inf") == 2
    assert delta("vigil_only_in_the_child_total") == 2
    # One process's own series stay its own: the child's CPU is not added to this process's.
    assert delta("process_cpu_seconds_total") < 1000


def test_the_answer_has_one_family_per_name():
    text = metrics.exposition([child_exposition(), child_exposition()]).decode()
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(names) == len(set(names))
    assert samples(text)[("vigil_only_in_the_child_total", ())] == 4


def test_a_text_that_is_not_prometheus_format_is_left_out():
    """A cut answer (the child stopped while answering) must not cost this process's own series."""
    own = samples(metrics.exposition().decode())
    merged = samples(metrics.exposition(['vigil_evaluations_total{outcome="succ']).decode())
    assert set(merged) == set(own)


def test_a_failed_or_cut_scrape_of_the_child_answers_its_last_complete_text():
    """Counters that seem to drop to zero read as a reset to Prometheus: while the child does not
    answer completely, `vigil serve` repeats what it last said (api/ops.py: scrape_all)."""
    import asyncio

    from vigil.api.ops import scrape_all

    good = b"# TYPE vigil_evaluations_total counter\nvigil_evaluations_total 7.0\n"
    answers = [
        b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(good) + good,
        b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(good) + good[:20],  # cut
        b"HTTP/1.0 500 Oops\r\nContent-Length: 0\r\n\r\n",
        b"",  # closed at once
    ]

    async def go() -> list[list[str]]:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answers.pop(0))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        last: dict[int, str] = {}
        try:
            seen = [await scrape_all([port], last) for _ in range(4)]
        finally:
            server.close()
        seen.append(await scrape_all([port], last))  # nothing listens now
        seen.append(await scrape_all([], last))  # the child is gone: its text is forgotten
        assert last == {}
        return seen

    seen = asyncio.run(go())
    assert seen == [[good.decode()]] * 5 + [[]]


@pytest.mark.parametrize("amounts", [[], [0.0], [0.004, 0.005, 0.0051, 2.5, 2.5, 10.0, 11.0, 1e9, -1.0]])
def test_observe_many_counts_as_observe_does(amounts):
    """Bucket bounds are inclusive (0.005 lands in le="0.005"), +Inf takes the rest."""
    one_by_one, at_once = CollectorRegistry(), CollectorRegistry()
    single = Histogram("h", "", registry=one_by_one)
    for amount in amounts:
        single.observe(amount)
    metrics.observe_many(Histogram("h", "", registry=at_once), amounts)

    def observed(registry: CollectorRegistry) -> dict:
        return {k: v for k, v in samples(generate_latest(registry).decode()).items() if k[0] != "h_created"}

    assert observed(at_once) == observed(one_by_one)
    assert observed(at_once)[("h_count", ())] == len(amounts)
