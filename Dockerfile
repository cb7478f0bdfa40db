# relink-api as a container. Give it the Stripe settings (STRIPE_SECRET_KEY,
# STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET, RELINK_AUTH_JWT_SECRET or RELINK_AUTH_JWKS_URL):
# without a key `serve` refuses to start, and it never becomes the sandbox unless
# RELINK_SANDBOX=true and, as it listens on every address, RELINK_SANDBOX_ALLOW_REMOTE=true.
# Point DATABASE_URL at your PostgreSQL; without it the embedded server keeps its data in
# /data (mount a volume there).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELINK_HOST=0.0.0.0 \
    RELINK_PORT=8000 \
    RELINK_DATA_DIR=/data

RUN useradd --create-home --uid 10001 relink && mkdir /data && chown relink /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY static ./static
COPY docs/problems.md ./docs/problems.md
RUN pip install .

USER relink
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"RELINK_PORT\"]}/readyz', timeout=2)"
CMD ["relink-api", "serve"]
