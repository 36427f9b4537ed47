"""Prometheus metrics of the service, in a registry of its own (no global state)."""

from __future__ import annotations

import collections
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from scholar_stats.outputs.catalogue import ROUTE_LABELS
from scholar_stats.service.fastpath import COUNTED

if TYPE_CHECKING:
    from scholar_stats.service.mirror import Service


class Metrics:
    """Prometheus metrics in a registry of this app's own (nothing global)."""

    def __init__(self, service: Service) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        from scholar_stats.sources.registry import sources

        self.registry = CollectorRegistry()
        # Counted on every public request: a plain dict bumped by the event loop (a prometheus
        # Counter takes a lock per increment, a method call costs a frame), turned into a
        # counter family when scraped.
        self.request_counts: defaultdict[tuple[str, int], int] = defaultdict(int)
        # ... and the 200s of the paths asked for most, by their place in fastpath.COUNTED
        self.ok_counts = [0] * len(COUNTED)
        self.registry.register(_RequestCounts(self.request_counts, self.ok_counts))
        self.registry.register(_StoreActivity(service))
        self.fetches = Counter(
            "scholar_stats_fetch_outcomes", "Fetch attempts made by this process, by outcome",
            ["outcome"], registry=self.registry,
        )
        self.fetches_by_source = Counter(
            "scholar_stats_fetches_by_source",
            "Fetch attempts made by this process, by the source that gave the answer "
            f"({', '.join(source.name for source in sources())}) and outcome",
            ["source", "outcome"], registry=self.registry,
        )
        self.scholar_requests = Counter(
            "scholar_stats_scholar_requests", "HTTP requests sent to Scholar by this process",
            registry=self.registry,
        )
        oldest = Gauge(
            "scholar_stats_oldest_data_age_seconds",
            "Age of the oldest successful fetch among authors with data", registry=self.registry,
        )
        oldest.set_function(service.oldest_data_age)
        tracked = Gauge("scholar_stats_authors", "Authors being served", registry=self.registry)
        tracked.set_function(service.snapshot.tracked)
        cache = service.snapshot.cache
        items = Gauge("scholar_stats_reply_cache_items",
                      "Rendered badges, charts, paper endpoints and parsed profiles in memory",
                      registry=self.registry)
        items.set_function(lambda: len(cache))
        held = Gauge("scholar_stats_reply_cache_bytes", "Bytes those items take (estimated)",
                     registry=self.registry)
        held.set_function(lambda: cache.bytes)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _RequestCounts:
    """A prometheus collector reading ``Metrics.request_counts`` and ``ok_counts`` at scrape
    time."""

    def __init__(self, counts: Mapping[tuple[str, int], int], ok_counts: list[int]) -> None:
        self.counts = counts
        self.ok_counts = ok_counts

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily("scholar_stats_http_requests", "HTTP requests answered",
                                     labels=["route", "status"])
        counts = collections.Counter(dict(self.counts))
        for path, ok in zip(COUNTED, self.ok_counts, strict=True):
            counts[ROUTE_LABELS[path], 200] += ok
        for (route, status), value in sorted(counts.items()):
            if not value:
                continue
            family.add_metric([route, str(status)], value)
        yield family


class _StoreActivity:
    """What every process using the store did (the scheduler may run in another process, e.g.
    the supervisor of ``serve --workers``): outcomes of the last day, requests of the last hour."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from scholar_stats.sources.registry import sources as registered

        store = self.service.store
        now = datetime.now(timezone.utc)
        outcomes = GaugeMetricFamily(
            "scholar_stats_store_fetch_outcomes_24h",
            "Fetch attempts recorded in the store in the last 24 hours, by any process",
            labels=["outcome"])
        for outcome, count in sorted(store.outcomes_since(now - timedelta(days=1)).items()):
            outcomes.add_metric([outcome], count)
        yield outcomes
        sources = GaugeMetricFamily(
            "scholar_stats_store_successes_by_source_24h",
            "Successful fetches recorded in the store in the last 24 hours, by source",
            labels=["source"])
        for source, count in sorted(store.sources_since(now - timedelta(days=1)).items()):
            sources.add_metric([source], count)
        yield sources
        for kind in registered():  # what each source's own budget counts (SerpApi's)
            for name, (about, value) in kind.gauges(store, now).items():
                yield GaugeMetricFamily(name, about, value=value)
        yield GaugeMetricFamily(
            "scholar_stats_store_scholar_requests_1h",
            "Scholar requests counted against the shared hourly budget in the last hour",
            value=len(store.recent_requests(now, timedelta(hours=1))))
