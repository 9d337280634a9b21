# syntax=docker/dockerfile:1
# Plaudit's image: the locked dependencies and the wheel in a virtualenv, built by the same
# script CI runs in a clean virtualenv (scripts/container_build.sh), run as a non-root user.
#   docker build -t plaudit .          docker compose up -d   (see compose.yaml)
ARG PYTHON_VERSION=3.13

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY . /src
RUN sh scripts/container_build.sh /src /opt/plaudit

FROM python:${PYTHON_VERSION}-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/plaudit/bin:$PATH \
    PLAUDIT_HOST=0.0.0.0 \
    PLAUDIT_PORT=3000 \
    PLAUDIT_CONFIG=/etc/plaudit/plaudit.yaml \
    PLAUDIT_DATABASE_URL=sqlite:////var/lib/plaudit/plaudit.db
RUN groupadd --system --gid 10001 plaudit \
    && useradd --system --uid 10001 --gid plaudit --home-dir /var/lib/plaudit \
       --create-home --shell /usr/sbin/nologin plaudit \
    && mkdir -p /etc/plaudit
COPY --from=build /opt/plaudit /opt/plaudit
USER plaudit
WORKDIR /var/lib/plaudit
VOLUME ["/var/lib/plaudit"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PLAUDIT_PORT', '3000') + '/healthz', timeout=4)"]
# Plaudit (uvicorn) finishes its requests and shuts down on SIGTERM; the exec form runs it as
# PID 1 with no shell in between, so the signal reaches it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["plaudit"]
CMD ["serve"]
