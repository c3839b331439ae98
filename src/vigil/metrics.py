"""Prometheus metrics, one registry per process, served at /metrics."""

from prometheus_client import Counter, Gauge, Histogram

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
