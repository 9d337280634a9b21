"""OpenTelemetry traces, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then the spans the
Teams SDK records (each Bot Connector call, token and turn) go to that collector over
OTLP/HTTP, batched, named by `OTEL_SERVICE_NAME` (default "plaudit"). The exporter is an
optional extra (`pip install 'plaudit[tracing]'`); without it the server says so and runs
untraced."""

from __future__ import annotations

import logging
from typing import Any

from bot.process_settings import ProcessSettings

log = logging.getLogger("plaudit.tracing")
_configured: list[Any] = []  # the provider set for this process, once


def configure(settings: ProcessSettings) -> Any | None:
    """Send this process's spans to the configured collector; the tracer provider, or None
    when tracing is off (no endpoint) or cannot start (the exporter is not installed)."""
    if not settings.otel_endpoint:
        return None
    if _configured:
        return _configured[0]
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.error(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed "
            "(pip install 'plaudit[tracing]'): running without traces"
        )
        return None
    endpoint = settings.otel_endpoint.rstrip("/") + "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured.append(provider)
    log.info("traces go to %s as service %s", endpoint, settings.otel_service)
    return provider
