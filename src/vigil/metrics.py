"""Prometheus metrics, one registry per process, served at /metrics."""

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable, Sequence

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

HTTP_REQUESTS = Counter("vigil_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"])
HTTP_SECONDS = Histogram("vigil_http_request_seconds", "HTTP request duration by route", ["method", "route"])
OBJECTS_INGESTED = Counter("vigil_objects_ingested_total", "Objects accepted and committed", ["kind"])
INGEST_COMMIT_SECONDS = Histogram(
    "vigil_ingest_commit_seconds", "Duration of one shared ingest transaction (group commit)"
)
INGEST_COMMIT_SUBMISSIONS = Histogram(
    "vigil_ingest_commit_submissions",
    "Requests sharing one ingest transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
QUEUE_DEPTH = Gauge("vigil_queue_depth", "Jobs waiting or running, by kind", ["kind"])
EVALUATIONS = Counter("vigil_evaluations_total", "Object versions evaluated, by outcome", ["outcome"])
EVALUATION_SECONDS = Histogram(
    "vigil_evaluation_seconds",
    "Policy evaluation time of one object version",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
WORKER_BATCH_JOBS = Histogram(
    "vigil_worker_batch_jobs",
    "Evaluation jobs in one claimed batch (bigger batches cost less per object)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100, 250, 500, 1000),
)
DECISION_LAG_SECONDS = Histogram("vigil_decision_lag_seconds", "Time from an object's commit to its decision's commit")
WEBHOOK_DELIVERIES = Counter("vigil_webhook_deliveries_total", "Webhook delivery attempts, by outcome", ["outcome"])
WEBHOOK_SECONDS = Histogram("vigil_webhook_delivery_seconds", "Duration of one webhook delivery attempt")
WEBHOOK_ENDPOINT_PENDING = Gauge(
    "vigil_webhook_endpoint_pending_messages", "Messages not yet delivered, per endpoint", ["endpoint_id"]
)
WEBHOOK_ENDPOINT_OLDEST_SECONDS = Gauge(
    "vigil_webhook_endpoint_oldest_undelivered_seconds",
    "Age of the oldest undelivered message, per endpoint",
    ["endpoint_id"],
)
WEBHOOK_ENDPOINT_DISABLED = Gauge("vigil_webhook_endpoint_disabled", "1 if the endpoint is disabled", ["endpoint_id"])
WEBHOOK_ENDPOINT_SUCCESS_RATE = Gauge(
    "vigil_webhook_endpoint_success_rate_24h", "Share of delivery attempts that succeeded over 24 h", ["endpoint_id"]
)


def observe_many(histogram: Histogram, amounts: Sequence[float]) -> None:
    """`histogram.observe(a)` for each of `amounts`, at once: one locked add per bucket that
    gets any and one to the sum, where observe() takes two locks a value (a worker observes
    two histograms per evaluated object). Falls back to observe() should prometheus-client's
    internals (read, not changed) ever differ."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if not amounts:
        return
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for amount in amounts:
            histogram.observe(amount)
        return
    # observe() puts an amount in the first bucket whose bound is >= it (the last is +Inf).
    for index, count in Tally(bisect_left(bounds, amount) for amount in amounts).items():
        buckets[index].inc(count)
    total.inc(sum(amounts))


class _Families:
    """A registry's face for generate_latest: these families, as they are."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def exposition(others: Sequence[str] = ()) -> bytes:
    """This process's metrics in Prometheus' text format, with the `vigil_*` series of other
    processes' expositions added in (`vigil serve` and its worker child, worker/child.py).

    A series both processes have is summed: Vigil's counters and histograms count events of
    either process, and its gauges are set by one process only (the API's /metrics handler).
    The other processes' `process_*`/`python_*` series and `_created` timestamps are left out:
    those describe one process, and this answer is `vigil serve`'s own."""
    if not others:
        return generate_latest()
    families = {family.name: family for family in REGISTRY.collect()}
    for text in others:
        try:
            parsed = list(text_string_to_metric_families(text))
        except ValueError:
            continue  # not Prometheus' format: this process's own series still answer
        for family in parsed:
            # The parser gives each `_created` series a family of its own: skipped here whole.
            if not family.name.startswith("vigil_") or family.name.endswith("_created"):
                continue
            mine = families.get(family.name)
            if mine is None:
                families[family.name] = family
            elif mine.type == family.type:
                _add_samples(mine, family)
    return generate_latest(_Families(list(families.values())))  # type: ignore[arg-type]


def _add_samples(into: Metric, other: Metric) -> None:
    where = {(s.name, tuple(sorted(s.labels.items()))): n for n, s in enumerate(into.samples)}
    for sample in other.samples:
        n = where.get((sample.name, tuple(sorted(sample.labels.items()))))
        if n is None:
            into.samples.append(sample)
        else:
            into.samples[n] = into.samples[n]._replace(value=into.samples[n].value + sample.value)
