# sclerosched: the API on 0.0.0.0:8000. Point SCLEROSCHED_DATABASE_URL at PostgreSQL in
# production; the default SQLite file lives in the /data volume. The image runs in production
# mode: it will not start without SCLEROSCHED_SECRET_KEY (32 random characters or more).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SCLEROSCHED_DATABASE_URL=sqlite:////data/sclerosched.db \
    SCLEROSCHED_ENVIRONMENT=production

RUN groupadd --system --gid 10001 clinic \
    && useradd --system --uid 10001 --gid clinic --home-dir /srv/sclerosched --no-create-home clinic \
    && mkdir -p /data \
    && chown clinic:clinic /data

WORKDIR /srv/sclerosched
# The migrations are read from this directory at start-up, beside alembic.ini.
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir .

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"]

# `serve` applies pending migrations first, then starts uvicorn.
CMD ["sclerosched", "serve", "--host", "0.0.0.0", "--port", "8000"]
