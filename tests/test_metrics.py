"""metrics.exposition: `vigil serve`'s /metrics with its worker child's series added in."""

from __future__ import annotations

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
    assert delta("vigil_decision_lag_seconds_sum") == 7.003
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
