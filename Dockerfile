# sclerosched: the API on 0.0.0.0:8000. Point SCLEROSCHED_DATABASE_URL at PostgreSQL in
# production; the default SQLite file lives in the /data volume. The image runs in production
# mode: it will not start without SCLEROSCHED_SECRET_KEY (32 random characters or more).

# Build stage: the locked dependencies first (a layer that changes only with the lock), then
# the service's wheel, all into one virtual environment that the runtime stage copies.
FROM python:3.11.12-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/sclerosched
WORKDIR /src
COPY requirements.lock ./
RUN /opt/sclerosched/bin/pip install --no-deps --requirement requirements.lock

COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/sclerosched/bin/pip install --no-deps .

# Runtime stage: no build tools, no source tree (the migrations ship inside the package).
FROM python:3.11.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/sclerosched/bin:$PATH \
    SCLEROSCHED_DATABASE_URL=sqlite:////data/sclerosched.db \
    SCLEROSCHED_ENVIRONMENT=production

RUN groupadd --system --gid 10001 clinic \
    && useradd --system --uid 10001 --gid clinic --home-dir /data --no-create-home clinic \
    && mkdir -p /data \
    && chown clinic:clinic /data

COPY --from=build /opt/sclerosched /opt/sclerosched

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"]

# `serve` applies pending migrations first, then starts uvicorn.
CMD ["sclerosched", "serve", "--host", "0.0.0.0", "--port", "8000"]
